//! The one reader of the stops of a window (docs/downtime.md#counts-and-durations-in-windows).
//! Every list, summary, dashboard widget and the OEE engine read stored stops
//! through [`in_window`], so they all agree on which stops a window holds.
//!
//! Stops and windows are half-open, `[start, end)`: a stop overlaps the window
//! when `start_time < window.end AND end_time > window.start`. A stop that
//! ends exactly when the window starts, or starts exactly when it ends, is not
//! in it. `end_time` is never NULL: the gap after a line's newest detection is
//! never stored (docs/downtime.md#open-gaps; the engine reports it apart).
//! Rows come whole (with their full duration); clipping them to the window is
//! the reader's business, and so is counting: a stop counts only in the
//! window it starts in (`dash_core::downtime::summary::starts_in`), and the
//! stops overlapping a window include every stop starting in it (a stored
//! stop lasts more than 0 s), so this one read serves lists, durations and
//! counts alike.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use chrono_tz::Tz;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::events::{EventsTable, StopRow, STOP_COLUMNS};
use crate::error::{AppError, AppResult};
use crate::metrics::Plant;
use crate::query::naive_bound;
use dash_core::timeutil::Window;

/// Which micro-stops a read returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MicroStops {
    Exclude,
    #[default]
    Include,
    Only,
}

/// What a read keeps besides the window; the default keeps every stop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub micro: MicroStops,
    /// Only stops at least this long.
    pub min_duration_ms: Option<i64>,
    /// Only justified (`true`) or unjustified (`false`) stops.
    pub justified: Option<bool>,
    /// Only stops justified with this reason.
    pub failure_id: Option<i64>,
}

impl EventFilter {
    /// Whether the filter keeps a stop already read: the rule [`statement`]
    /// writes as SQL, applied to a row in memory (a summary reads every stop
    /// of a window once, since planned time depends on all of them, and
    /// keeps those the filter asks for).
    pub fn keeps(&self, row: &StopRow) -> bool {
        self.keeps_stop(row.is_micro, row.duration_ms, row.failure_id)
    }

    /// Whether it keeps the running stop of `duration_ms` so far (never a
    /// micro-stop, never justified).
    pub fn keeps_running(&self, duration_ms: i64) -> bool {
        self.keeps_stop(false, duration_ms, None)
    }

    fn keeps_stop(&self, is_micro: bool, duration_ms: i64, failure_id: Option<i64>) -> bool {
        let micro = match self.micro {
            MicroStops::Exclude => !is_micro,
            MicroStops::Only => is_micro,
            MicroStops::Include => true,
        };
        micro
            && self.min_duration_ms.is_none_or(|min| duration_ms >= min)
            && self
                .justified
                .is_none_or(|justified| failure_id.is_some() == justified)
            && self.failure_id.is_none_or(|id| failure_id == Some(id))
    }

    /// Every stop, and the micro-stops too when `include_micro`.
    pub fn every_stop(include_micro: bool) -> EventFilter {
        EventFilter {
            micro: if include_micro {
                MicroStops::Include
            } else {
                MicroStops::Exclude
            },
            ..EventFilter::default()
        }
    }
}

/// Where a page of the newest stops of several lines ended: the last row
/// given, in the order (`start_time`, `line_id`, `downtime_id`) descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub start: NaiveDateTime,
    pub line_id: i64,
    pub downtime_id: i64,
}

/// On one line, the rows that come after a [`Position`] (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    /// `start_time <= at`: a line ordered before the position's line.
    StartAtOrBefore(NaiveDateTime),
    /// `start_time < at`: a line ordered after it.
    StartBefore(NaiveDateTime),
    /// (`start_time`, `downtime_id`) < (`at`, `id`): the position's own line.
    Row {
        start: NaiveDateTime,
        downtime_id: i64,
    },
}

impl Position {
    /// The rows of `line_id` that come after this position.
    pub fn before_on(&self, line_id: i64) -> Before {
        match line_id.cmp(&self.line_id) {
            std::cmp::Ordering::Less => Before::StartAtOrBefore(self.start),
            std::cmp::Ordering::Greater => Before::StartBefore(self.start),
            std::cmp::Ordering::Equal => Before::Row {
                start: self.start,
                downtime_id: self.downtime_id,
            },
        }
    }
}

/// The order and length of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Every matching row, in no particular order.
    Any,
    /// Newest first (`start_time`, then `downtime_id`, descending), at most
    /// `limit` rows, only those after `before`.
    NewestFirst {
        before: Option<Before>,
        limit: usize,
    },
}

/// The latest stored wall time whose instant is at or before `t`: stored
/// values have millisecond precision (`DATETIME(3)`), so `end_time > it`
/// holds exactly when the stop ends after `t`, also in a fall-back hour.
fn latest_at_or_before(t: DateTime<Utc>, data_tz: Tz) -> NaiveDateTime {
    let ms = Duration::milliseconds(1);
    naive_bound(t + ms, data_tz) - ms
}

/// The statement [`in_window`] runs: the overlap rule, the filter and the
/// order, every value bound (the benchmarks also run it bare).
pub fn statement(
    table: &EventsTable,
    window: &Window,
    data_tz: Tz,
    filter: &EventFilter,
    order: &Order,
) -> (String, Vec<mysql_async::Value>) {
    let mut sql = format!(
        "SELECT {STOP_COLUMNS} FROM {} WHERE start_time < ? AND end_time > ?",
        table.sql_name()
    );
    let mut params: Vec<mysql_async::Value> = vec![
        naive_bound(window.end, data_tz).into(),
        latest_at_or_before(window.start, data_tz).into(),
    ];
    match filter.micro {
        MicroStops::Exclude => sql.push_str(" AND is_micro = 0"),
        MicroStops::Only => sql.push_str(" AND is_micro = 1"),
        MicroStops::Include => {}
    }
    if let Some(ms) = filter.min_duration_ms {
        sql.push_str(" AND duration_seconds >= ?");
        params.push(format!("{}.{:03}", ms / 1000, ms % 1000).into());
    }
    match filter.justified {
        Some(true) => sql.push_str(" AND failure_id IS NOT NULL"),
        Some(false) => sql.push_str(" AND failure_id IS NULL"),
        None => {}
    }
    if let Some(id) = filter.failure_id {
        sql.push_str(" AND failure_id = ?");
        params.push(id.into());
    }
    if let Order::NewestFirst { before, limit } = order {
        match before {
            None => {}
            Some(Before::StartAtOrBefore(at)) => {
                sql.push_str(" AND start_time <= ?");
                params.push((*at).into());
            }
            Some(Before::StartBefore(at)) => {
                sql.push_str(" AND start_time < ?");
                params.push((*at).into());
            }
            Some(Before::Row { start, downtime_id }) => {
                sql.push_str(" AND (start_time < ? OR (start_time = ? AND downtime_id < ?))");
                params.extend([(*start).into(), (*start).into(), (*downtime_id).into()]);
            }
        }
        sql.push_str(&format!(
            " ORDER BY start_time DESC, downtime_id DESC LIMIT {limit}"
        ));
    }
    (sql, params)
}

/// The stops of one line's table that overlap `window` (bounds converted
/// from instants to the stored wall times of `data_tz`) and pass `filter`.
pub async fn in_window(
    conn: &mut Conn,
    table: &EventsTable,
    window: &Window,
    data_tz: Tz,
    filter: &EventFilter,
    order: &Order,
) -> AppResult<Vec<StopRow>> {
    let (sql, params) = statement(table, window, data_tz, filter, order);
    let rows: Vec<mysql_async::Row> = conn.exec(sql, params).await?;
    rows.into_iter().map(StopRow::from_row).collect()
}

/// What a read of several lines does with a line whose table does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMissing {
    /// Refuse: the plant's database is incomplete (503).
    Fail,
    /// The line has no stops yet (its table was never provisioned).
    NoStops,
}

/// The events table of a line of the plant, opened as `if_missing` says.
async fn line_table(
    conn: &mut Conn,
    plant: &Plant<'_>,
    line_id: i64,
    if_missing: IfMissing,
) -> AppResult<Option<EventsTable>> {
    let line = plant.meta.line(line_id).ok_or(AppError::NotFound)?;
    let db_name = plant.db_name();
    match if_missing {
        IfMissing::Fail => EventsTable::open(conn, &db_name, &line.line_code)
            .await
            .map(Some),
        IfMissing::NoStops => {
            let table = EventsTable::find(conn, &db_name, &line.line_code).await?;
            if table.is_none() {
                tracing::warn!(
                    line_id,
                    "downtime events table missing; run dashctl provision-client"
                );
            }
            Ok(table)
        }
    }
}

/// The stops of several lines a read asks for: those of `line_ids` that
/// overlap `window` and pass `filter`.
#[derive(Debug, Clone)]
pub struct LinesQuery {
    pub line_ids: Vec<i64>,
    pub window: Window,
    pub filter: EventFilter,
    pub if_missing: IfMissing,
}

/// Each line's rows in `order_of(line)`, with the line.
async fn read_lines(
    conn: &mut Conn,
    plant: &Plant<'_>,
    q: &LinesQuery,
    order_of: impl Fn(i64) -> Order,
) -> AppResult<Vec<(i64, StopRow)>> {
    let data_tz = plant.tenant.data_timezone();
    let mut out = Vec::new();
    for &line_id in &q.line_ids {
        let Some(table) = line_table(conn, plant, line_id, q.if_missing).await? else {
            continue;
        };
        let order = order_of(line_id);
        let rows = in_window(conn, &table, &q.window, data_tz, &q.filter, &order).await?;
        out.extend(rows.into_iter().map(|r| (line_id, r)));
    }
    Ok(out)
}

/// The stops the query asks for, each with its line, in no particular order.
pub async fn of_lines(
    conn: &mut Conn,
    plant: &Plant<'_>,
    q: &LinesQuery,
) -> AppResult<Vec<(i64, StopRow)>> {
    read_lines(conn, plant, q, |_| Order::Any).await
}

/// The newest `limit` stops the query asks for that come after `after`,
/// newest first across the lines (ties by line, then id).
pub async fn newest_of_lines(
    conn: &mut Conn,
    plant: &Plant<'_>,
    q: &LinesQuery,
    limit: usize,
    after: Option<&Position>,
) -> AppResult<Vec<(i64, StopRow)>> {
    let mut out = read_lines(conn, plant, q, |line_id| Order::NewestFirst {
        before: after.map(|p| p.before_on(line_id)),
        limit,
    })
    .await?;
    out.sort_by(|(la, a), (lb, b)| {
        (b.start, *lb, b.downtime_id).cmp(&(a.start, *la, a.downtime_id))
    });
    out.truncate(limit);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::downtime::store::parse_naive;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn naive(s: &str) -> NaiveDateTime {
        parse_naive(s).unwrap()
    }

    fn table() -> EventsTable {
        EventsTable::named("dashboard_client_1", "linea_1").unwrap()
    }

    #[test]
    fn the_window_is_half_open_on_both_sides() {
        let w = Window::new(utc("2026-04-01T06:00:00Z"), utc("2026-04-01T14:00:00Z")).unwrap();
        let (sql, params) = statement(
            &table(),
            &w,
            chrono_tz::UTC,
            &EventFilter::default(),
            &Order::Any,
        );
        assert_eq!(
            sql,
            "SELECT ".to_string()
                + STOP_COLUMNS
                + " FROM `dashboard_client_1`.`downtime_events_linea_1` \
                   WHERE start_time < ? AND end_time > ?"
        );
        assert_eq!(
            params,
            vec![
                naive("2026-04-01 14:00:00").into(),
                naive("2026-04-01 06:00:00").into()
            ]
        );
    }

    #[test]
    fn a_window_starting_in_the_repeated_hour_keeps_stops_ending_after_it() {
        // Madrid falls back at 03:00 CEST = 01:00Z: wall times 02:00–03:00
        // come twice, and a stored value in that hour reads as the earlier
        // instant. A window starting at 01:30Z (the second 02:30) holds a
        // stop ending at the stored 03:00 (02:00Z), not one ending at 02:59.
        let madrid = chrono_tz::Europe::Madrid;
        let bound = latest_at_or_before(utc("2026-10-25T01:30:00Z"), madrid);
        assert!(naive("2026-10-25 03:00:00") > bound);
        assert!(naive("2026-10-25 02:59:59.999") <= bound);
        assert_eq!(
            latest_at_or_before(utc("2026-04-01T06:00:00Z"), chrono_tz::UTC),
            naive("2026-04-01 06:00:00")
        );
    }

    #[test]
    fn filters_and_pages_are_bound_values() {
        let w = Window::new(utc("2026-04-01T06:00:00Z"), utc("2026-04-01T14:00:00Z")).unwrap();
        let filter = EventFilter {
            micro: MicroStops::Only,
            min_duration_ms: Some(90_500),
            justified: Some(true),
            failure_id: Some(4),
        };
        let at = naive("2026-04-01 10:00:00");
        let position = Position {
            start: at,
            line_id: 2,
            downtime_id: 9,
        };
        let (sql, params) = statement(
            &table(),
            &w,
            chrono_tz::UTC,
            &filter,
            &Order::NewestFirst {
                before: Some(position.before_on(2)),
                limit: 11,
            },
        );
        assert!(sql.ends_with(
            "AND is_micro = 1 AND duration_seconds >= ? AND failure_id IS NOT NULL \
             AND failure_id = ? AND (start_time < ? OR (start_time = ? AND downtime_id < ?)) \
             ORDER BY start_time DESC, downtime_id DESC LIMIT 11"
        ));
        assert_eq!(params[2], "90.500".into());
        assert_eq!(params.len(), 7);
        assert_eq!(position.before_on(1), Before::StartAtOrBefore(at));
        assert_eq!(position.before_on(3), Before::StartBefore(at));
    }
}
