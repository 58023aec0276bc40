//! A line's stored stops, `downtime_events_<code>` (docs/downtime.md): the
//! table's validated name, the rows as written and as read, and the engine's
//! writes and reads by start time. Windows are read through
//! [`super::window`] only; justifications are written by [`super::justify`].

use chrono::{DateTime, NaiveDateTime, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::clock::DataClock;
use super::detector::Event;
use super::reconcile::{Justification, StoredEvent};
use super::store::{fmt_naive, schema_err};
use crate::error::{AppError, AppResult};
use crate::{query, schema};

/// Rows per INSERT or DELETE statement.
const BATCH: usize = 1000;
/// Largest `duration_seconds` a `DECIMAL(12,3)` holds, in ms.
const MAX_DURATION_MS: i64 = 999_999_999_999;

/// One line's `downtime_events_<code>` in one client database, its name built
/// from the validated line code (never from a request) and quoted.
#[derive(Debug, Clone)]
pub struct EventsTable {
    db_name: String,
    /// `downtime_events_<code>`
    name: String,
    /// `` `db`.`downtime_events_<code>` ``
    qualified: String,
}

impl EventsTable {
    /// The table, by name only: the engine's statements fail on a missing
    /// table as `client_database_incomplete` (the MySQL error mapping).
    pub fn named(db_name: &str, line_code: &str) -> AppResult<EventsTable> {
        let db = schema::quote_ident(db_name).map_err(schema_err)?;
        let name = schema::downtime_table(line_code).map_err(schema_err)?;
        Ok(EventsTable {
            db_name: db_name.to_string(),
            qualified: format!("{db}.`{name}`"),
            name,
        })
    }

    /// The table, checked against `information_schema` (once per process):
    /// a missing table is `client_database_incomplete` (503).
    pub async fn open(conn: &mut Conn, db_name: &str, line_code: &str) -> AppResult<EventsTable> {
        let table = EventsTable::named(db_name, line_code)?;
        query::verify_table(conn, &table.db_name, &table.name).await?;
        Ok(table)
    }

    /// The table if it exists: `None` for a line whose table was never
    /// provisioned (it has no stops yet).
    pub async fn find(
        conn: &mut Conn,
        db_name: &str,
        line_code: &str,
    ) -> AppResult<Option<EventsTable>> {
        let table = EventsTable::named(db_name, line_code)?;
        match query::verify_table(conn, &table.db_name, &table.name).await {
            Ok(()) => Ok(Some(table)),
            Err(AppError::ClientSchema { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The qualified name to splice into a statement.
    pub fn sql_name(&self) -> &str {
        &self.qualified
    }
}

/// A stop (or micro-stop) as written: the stored wall times of the two
/// detections around the gap and the real elapsed time between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRow {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub duration_ms: i64,
    pub detection_id: i64,
    pub is_micro: bool,
}

fn duration_text(ms: i64) -> String {
    let ms = ms.clamp(0, MAX_DURATION_MS);
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Inserts stops in multi-row INSERTs (the values are ours: dates, numbers).
pub async fn insert_events<Q: Queryable>(
    q: &mut Q,
    t: &EventsTable,
    line_id: i64,
    rows: &[EventRow],
) -> AppResult<()> {
    for chunk in rows.chunks(BATCH) {
        let mut sql = String::with_capacity(96 + chunk.len() * 80);
        sql.push_str("INSERT INTO ");
        sql.push_str(t.sql_name());
        sql.push_str(" (start_time, end_time, duration_seconds, detection_id, is_micro) VALUES ");
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            if r.duration_ms > MAX_DURATION_MS {
                tracing::warn!(line_id, start = %fmt_naive(&r.start), "stop longer than 31 years; duration capped");
            }
            sql.push_str(&format!(
                "('{}','{}',{},{},{})",
                fmt_naive(&r.start),
                fmt_naive(&r.end),
                duration_text(r.duration_ms),
                r.detection_id,
                u8::from(r.is_micro)
            ));
        }
        q.query_drop(sql).await?;
    }
    Ok(())
}

/// Columns of [`StopRow`], in order. `updated_at` is read twice: as stored
/// (the version an update compares) and as UTC, converted by the server from
/// the session's `time_zone` — the zone `CURRENT_TIMESTAMP(3)` wrote it in
/// (nothing sets it: the server's default, `SYSTEM` unless configured).
pub const STOP_COLUMNS: &str = "downtime_id, start_time, end_time, \
     CAST(ROUND(duration_seconds * 1000) AS SIGNED), detection_id, is_micro, failure_id, \
     justification, justified_by, justified_at, updated_at, \
     CONVERT_TZ(updated_at, @@session.time_zone, '+00:00')";

/// A row of `downtime_events_<code>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopRow {
    pub downtime_id: i64,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub duration_ms: i64,
    pub detection_id: i64,
    pub is_micro: bool,
    pub failure_id: Option<i64>,
    pub justification: Option<String>,
    pub justified_by: Option<i64>,
    /// Stored wall time in `data_timezone`, written by the product.
    pub justified_at: Option<NaiveDateTime>,
    /// As stored: written by the database's clock (`CURRENT_TIMESTAMP(3)`)
    /// in the connection's time zone, not `data_timezone`. The row's version
    /// (compared as is by [`super::justify::justify`]); never shown as a time.
    pub updated_at: NaiveDateTime,
    /// The instant of `updated_at`, what the API shows.
    pub updated_instant: DateTime<Utc>,
}

impl StopRow {
    /// Reads a row selected with [`STOP_COLUMNS`].
    pub fn from_row(mut row: mysql_async::Row) -> AppResult<StopRow> {
        fn req<T: mysql_async::prelude::FromValue>(
            row: &mut mysql_async::Row,
            i: usize,
        ) -> AppResult<T> {
            row.take_opt::<T, usize>(i)
                .and_then(Result::ok)
                .ok_or_else(|| {
                    AppError::internal(format!("unexpected value in downtime column {i}"))
                })
        }
        fn opt<T: mysql_async::prelude::FromValue>(
            row: &mut mysql_async::Row,
            i: usize,
        ) -> AppResult<Option<T>> {
            match row.take_opt::<Option<T>, usize>(i) {
                Some(Ok(v)) => Ok(v),
                _ => Err(AppError::internal(format!(
                    "unexpected value in downtime column {i}"
                ))),
            }
        }
        Ok(StopRow {
            downtime_id: req(&mut row, 0)?,
            start: req(&mut row, 1)?,
            end: req(&mut row, 2)?,
            duration_ms: req(&mut row, 3)?,
            detection_id: req(&mut row, 4)?,
            is_micro: req(&mut row, 5)?,
            failure_id: opt(&mut row, 6)?,
            justification: opt(&mut row, 7)?,
            justified_by: opt(&mut row, 8)?,
            justified_at: opt(&mut row, 9)?,
            updated_at: req(&mut row, 10)?,
            updated_instant: req::<NaiveDateTime>(&mut row, 11)?.and_utc(),
        })
    }

    /// As the detector's reconciliation sees it.
    pub fn to_stored(&self, clock: &mut DataClock) -> StoredEvent {
        let start_ms = clock.to_ms(&self.start);
        let end_ms = clock.to_ms(&self.end);
        StoredEvent {
            downtime_id: self.downtime_id,
            event: Event {
                start_ms,
                end_ms,
                duration_ms: self.duration_ms,
                detection_id: self.detection_id,
                is_micro: self.is_micro,
            },
            justification: Justification {
                failure_id: self.failure_id,
                justification: self.justification.clone(),
                justified_by: self.justified_by,
                justified_at: self.justified_at.map(|j| clock.to_ms(&j)),
            },
        }
    }
}

/// Stops whose start lies in `[from, to)` (stored wall times), in start order.
pub async fn stops_starting_in(
    conn: &mut Conn,
    t: &EventsTable,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> AppResult<Vec<StopRow>> {
    let rows: Vec<mysql_async::Row> = conn
        .exec(
            format!(
                "SELECT {STOP_COLUMNS} FROM {} WHERE start_time >= ? AND start_time < ? ORDER BY start_time",
                t.sql_name()
            ),
            (from, to),
        )
        .await?;
    rows.into_iter().map(StopRow::from_row).collect()
}

/// The stored stop that spans the instant `at` (`start < at < end`), if any.
pub async fn stop_spanning(
    conn: &mut Conn,
    t: &EventsTable,
    at: NaiveDateTime,
) -> AppResult<Option<(NaiveDateTime, NaiveDateTime)>> {
    let row: Option<(NaiveDateTime, NaiveDateTime)> = conn
        .exec_first(
            format!(
                "SELECT start_time, end_time FROM {} WHERE start_time < ? AND end_time > ? \
                 ORDER BY start_time DESC LIMIT 1",
                t.sql_name()
            ),
            (at, at),
        )
        .await?;
    Ok(row)
}

/// The latest end among stops starting in `[from, to)`.
pub async fn max_end_of_stops_starting_in(
    conn: &mut Conn,
    t: &EventsTable,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> AppResult<Option<NaiveDateTime>> {
    let v: Option<Option<NaiveDateTime>> = conn
        .exec_first(
            format!(
                "SELECT MAX(end_time) FROM {} WHERE start_time >= ? AND start_time < ?",
                t.sql_name()
            ),
            (from, to),
        )
        .await?;
    Ok(v.flatten())
}

/// Deletes stops by id.
pub async fn delete_stops<Q: Queryable>(q: &mut Q, t: &EventsTable, ids: &[i64]) -> AppResult<()> {
    for chunk in ids.chunks(BATCH) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        q.query_drop(format!(
            "DELETE FROM {} WHERE downtime_id IN ({list})",
            t.sql_name()
        ))
        .await?;
    }
    Ok(())
}

/// Points a kept stop at the detection that now ends it.
pub async fn set_stop_detection<Q: Queryable>(
    q: &mut Q,
    t: &EventsTable,
    downtime_id: i64,
    detection_id: i64,
) -> AppResult<()> {
    q.exec_drop(
        format!(
            "UPDATE {} SET detection_id = ? WHERE downtime_id = ?",
            t.sql_name()
        ),
        (detection_id, downtime_id),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_decimal_text() {
        assert_eq!(duration_text(120_001), "120.001");
        assert_eq!(duration_text(5), "0.005");
        assert_eq!(duration_text(-1), "0.000");
        assert_eq!(duration_text(i64::MAX), "999999999.999");
    }
}
