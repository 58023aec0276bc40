//! The downtime summary of a window, built once for `GET /downtime/summary`
//! and the dashboard's `kpi_downtime` and `downtime_pareto` widgets: the stops
//! come from the one reader ([`super::window`]), the figures from
//! [`dash_core::downtime::summary`], the plant's reasons, shifts and zone from
//! its metadata, and the labels from the caller, in its reader's language.
//!
//! It reads every stop overlapping the window (their clipped time counts) and
//! leaves counting to the core: a stop counts only in the window it starts
//! in (`dash_core::downtime::summary::starts_in`), so the counts of adjacent
//! windows add up (docs/downtime.md#counts-and-durations-in-windows).

use std::collections::BTreeMap;

use mysql_async::Conn;

use super::clock::DataClock;
use super::window::{self, LinesQuery, MicroStops};
use crate::error::AppResult;
use crate::metrics::Plant;
use dash_core::downtime::summary::{self, Labels, ReasonInfo, Summary, SummaryInput, SummaryStop};

/// A summary and the stops it was made of (micro-stops included): every stop
/// overlapping the window, also those that began before it and so are not
/// counted in it.
#[derive(Debug, Clone)]
pub struct WindowSummary {
    pub summary: Summary,
    pub stops: Vec<SummaryStop>,
}

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
/// reported: `q.filter.micro` only decides whether micro-stops also count in
/// the totals and Paretos (`Exclude`: not; `Include`: as stops; `Only`:
/// nothing else counts).
pub async fn summarize(
    conn: &mut Conn,
    plant: &Plant<'_>,
    q: &LinesQuery,
    labels: Labels<'_>,
) -> AppResult<WindowSummary> {
    let include_micro = q.filter.micro != MicroStops::Exclude;
    let mut read = q.clone();
    if !include_micro {
        read.filter.micro = MicroStops::Include;
    }
    let rows = window::of_lines(conn, plant, &read).await?;
    let mut clock = DataClock::new(plant.tenant.data_timezone());
    let stops: Vec<SummaryStop> = rows
        .iter()
        .map(|(line_id, r)| SummaryStop {
            line_id: *line_id,
            start: clock.to_utc(&r.start),
            end: clock.to_utc(&r.end),
            is_micro: r.is_micro,
            failure_id: r.failure_id,
        })
        .collect();
    let summary = summary::summarize(&SummaryInput {
        window: q.window,
        now: plant.now,
        lines: q.line_ids.len(),
        stops: &stops,
        include_micro,
        reasons: &reasons(plant),
        shifts: &plant.shifts,
        tz: plant.tz(),
        labels,
    });
    Ok(WindowSummary { summary, stops })
}
