//! The downtime summary of a window, built once for `GET /downtime/summary`
//! and the dashboard's `kpi_downtime`, `downtime_pareto` and `downtime_table`
//! widgets: the stops come from the one reader ([`super::window`]), mapped as
//! the OEE engine maps them ([`crate::metrics::engine_stop`]), with each line's
//! running stop as the OEE reads it ([`crate::metrics::load_open_stop`]); the
//! figures from [`dash_core::downtime::summary`], which builds the OEE's own
//! time model, so its downtime is the OEE's downtime; the plant's reasons,
//! shifts and zone from its metadata, and the labels from the caller, in its
//! reader's language.
//!
//! It reads every stop overlapping the window, whatever the filter: a stop
//! the filter leaves out (a changeover, say) still takes its time out of
//! planned time. The filter then picks the stops the figures are about
//! ([`EventFilter::keeps`], the SQL rule in memory), and the core counts
//! each in the window it starts in
//! (docs/downtime.md#counts-and-durations-in-windows).

use std::collections::BTreeMap;

use mysql_async::Conn;

use super::clock::DataClock;
use super::window::{self, EventFilter, IfMissing, LinesQuery, MicroStops};
use crate::error::{AppError, AppResult};
use crate::metrics::{engine_stop, load_open_stop, Plant};
use dash_core::downtime::summary::{
    self, Labels, LineStops, ReasonInfo, Summary, SummaryInput, SummaryStop,
};

/// The plant's reason codes as the summary labels them.
fn reasons(plant: &Plant<'_>) -> BTreeMap<i64, ReasonInfo> {
    plant
        .meta
        .failures
        .iter()
        .map(|f| {
            (
                f.failure_id,
                ReasonInfo {
                    code: f.failure_code.clone(),
                    name: f.failure_name.clone(),
                    category: f.failure_category.clone(),
                },
            )
        })
        .collect()
}

/// Summarizes the stops the query asks for. Micro-stop figures are always
/// reported: `q.filter.micro` only decides whether micro-stops also count as
/// stops (`Exclude`: not; `Include`: as stops, their time in planned time
/// then downtime; `Only`: nothing else counts).
pub async fn summarize(
    conn: &mut Conn,
    plant: &Plant<'_>,
    q: &LinesQuery,
    labels: Labels<'_>,
) -> AppResult<Summary> {
    let micro_as_stops = q.filter.micro != MicroStops::Exclude;
    // Micro-stops are always read and picked by the rest of the filter, for
    // the micro-stop figures.
    let picks = EventFilter {
        micro: if micro_as_stops {
            q.filter.micro
        } else {
            MicroStops::Include
        },
        ..q.filter.clone()
    };
    let every = LinesQuery {
        filter: EventFilter::default(),
        ..q.clone()
    };
    let rows = window::of_lines(conn, plant, &every).await?;
    let mut clock = DataClock::new(plant.tenant.data_timezone());
    let mut stops: BTreeMap<i64, Vec<SummaryStop>> =
        q.line_ids.iter().map(|id| (*id, Vec::new())).collect();
    for (line_id, row) in &rows {
        stops.entry(*line_id).or_default().push(SummaryStop {
            stop: engine_stop(plant, &mut clock, row),
            selected: picks.keeps(row),
        });
    }
    let mut open = BTreeMap::new();
    for &line_id in &q.line_ids {
        let running = match load_open_stop(conn, plant, line_id).await {
            Ok(running) => running,
            // A line whose tables are not there yet has no stops and no
            // state, when the read allows missing tables.
            Err(AppError::ClientSchema { detail }) if q.if_missing == IfMissing::NoStops => {
                tracing::warn!(line_id, %detail, "cannot tell whether the line is stopped");
                None
            }
            Err(e) => return Err(e),
        };
        open.insert(line_id, running);
    }
    let lines: Vec<LineStops<'_>> = stops
        .iter()
        .map(|(line_id, stops)| {
            let open_stop = open.get(line_id).copied().flatten();
            LineStops {
                line_id: *line_id,
                stops,
                open_stop,
                open_selected: open_stop.is_some_and(|o| {
                    picks.keeps_running((plant.now - o.last_detection).num_milliseconds())
                }),
            }
        })
        .collect();
    Ok(summary::summarize(&SummaryInput {
        window: q.window,
        now: plant.now,
        tz: plant.tz(),
        shifts: &plant.shifts,
        breaks: &plant.breaks,
        lines: &lines,
        micro_as_stops,
        reasons: &reasons(plant),
        labels,
    }))
}
