//! An exact pre-aggregation of detections: counts per stored minute, area and
//! product, so long windows never count raw rows (docs/operations.md#performance-targets: a year-long OEE
//! under a second, 30 days under 300 ms).
//!
//! # Where it lives
//! In the product's own table `dash_rollup` of the client database
//! (infra/sql/client/product.sql), beside the detections it counts:
//! one row per line, stored (`data_timezone`) date and area, entry
//! `rollup_min:YYYY-MM-DD:<area_id>`, value `{"v":1,"rows":n,"c":{"<product>":
//! [[first_minute, n, n, …], …]}}` (runs of consecutive minutes of the day;
//! product `""` = none), and one `rollup_min_watermark` row per line holding
//! the highest `detection_id` folded in. A 30-day OEE reads 60 such rows, a
//! year 730. [`refresh_line`] (run by the `jobs`
//! binary after the downtime engine) folds in the detections with a higher id,
//! page by page, each page and its watermark in one transaction.
//!
//! # Why it is exact
//! Let `W` be the watermark. The rollup holds exactly the rows with
//! `detection_id <= W`, binned by the minute of their stored value. When
//! [`super::count_segments`] counts a segment `[a, b)` (naive bounds):
//! - a minute `[m, m + 1)` lying wholly inside one segment takes the rollup's
//!   count (those rows are in that segment and nowhere else);
//! - a minute cut by a bound ("partial") is counted from the raw rows with
//!   `detection_id <= W` (see [`partial_minute_ranges`]);
//! - rows with `detection_id > W` are always counted raw.
//!
//! Every row with `id <= W` lies in exactly one minute, which is either whole
//! (rollup) or partial (raw) — never both — and every row with `id > W` is
//! raw: each detection is counted once, in the segment holding its stored
//! value, which is the raw path's answer. Late detections (an old
//! `detected_at`) arrive with new ids, so they are raw until the next refresh
//! folds them in. The argument assumes detections are only ever inserted,
//! committed in id order (sensors insert with autocommit); a client that
//! rewrites or deletes history runs [`reset_line`] and the next refresh
//! rebuilds from scratch.
//!
//! # Only a cache
//! Nothing depends on the rollup being there or being right in form: a missing
//! `dash_rollup`, one of another shape, or a document or watermark that does
//! not parse makes a count read the raw detections (and log a warning; see
//! `counts::count_naive`), and makes the refresh report the line's rollup as
//! skipped or rebuild it — never a failed count or a line without stops.
//!
//! # The parts
//! `document` (the stored day document), `minutes` (reading it for a count),
//! `fast` and `stream` (its two readers: a byte scanner for what the refresh
//! writes, and a complete streaming JSON reader for anything else),
//! `refresh` (writing it); here, the constants, the watermark and the
//! statements a count plans.

mod document;
mod fast;
mod minutes;
mod refresh;
mod stream;
#[cfg(test)]
mod tests;

pub(super) use minutes::add_minute_counts;
pub use refresh::{record_last_run, refresh_line, refresh_tenant, reset_line, RefreshReport};

use chrono::{Duration, NaiveDate, NaiveDateTime, Timelike};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};

use super::{placeholders, DetectionTable};
use crate::error::{AppError, AppResult};
use crate::schema;
use document::day_entry;

/// The product's table holding the rollup in a client database.
pub const TABLE: &str = "dash_rollup";
/// `dash_rollup.entry` of a line's rollup watermark.
pub const WATERMARK_ENTRY: &str = "rollup_min_watermark";
/// Prefix of the per-day-and-area rollup rows (`rollup_min:2026-04-01:3`).
pub const DAY_PREFIX: &str = "rollup_min:";
/// Beyond this many rows a read asks for a range of entries instead of a list.
const MAX_LISTED_ROWS: usize = 3000;
/// Ids folded in per transaction by default.
pub const DEFAULT_BATCH_IDS: i64 = 500_000;

fn minute() -> Duration {
    Duration::minutes(1)
}

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// `` `db`.`dash_rollup` `` of the line's client database.
fn rollup_table(table: &DetectionTable) -> AppResult<String> {
    let db = schema::quote_ident(&table.db_name).map_err(super::schema_err)?;
    Ok(format!("{db}.`{TABLE}`"))
}

/// Whether a failed rollup read or write means "do without the rollup" (a
/// missing or foreign table, an unreadable document) rather than a database
/// that cannot be reached, which every other read would meet too.
pub fn is_unusable(e: &AppError) -> bool {
    !matches!(e, AppError::Unavailable { .. })
}

/// The line's watermark: the highest `detection_id` in the rollup, or `None`
/// when the line has never been rolled up. An error when the table is missing
/// or foreign or the watermark does not parse (see [`is_unusable`]).
pub async fn watermark(conn: &mut Conn, table: &DetectionTable) -> AppResult<Option<i64>> {
    let rollup = rollup_table(table)?;
    let row: Option<Option<String>> = conn
        .exec_first(
            format!(
                "SELECT CAST(value_json AS CHAR) FROM {rollup} WHERE line_id = ? AND entry = ?"
            ),
            (table.line_id, WATERMARK_ENTRY),
        )
        .await?;
    let Some(text) = row.flatten() else {
        return Ok(None);
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|j| j.get("detection_id").and_then(serde_json::Value::as_i64))
        .map(Some)
        .ok_or_else(|| {
            AppError::internal(format!(
                "the rollup watermark of line {} in {} does not parse: {text:.80}",
                table.line_id, table.db_name
            ))
        })
}

fn floor_minute(n: NaiveDateTime) -> NaiveDateTime {
    n.with_second(0)
        .and_then(|n| n.with_nanosecond(0))
        .unwrap_or(n)
}

/// The parts of `ranges` lying in a minute that some bound cuts (a bound that
/// is not a whole minute): there the rollup's minute count would mix
/// segments, so those rows are counted raw. Sorted and merged.
pub fn partial_minute_ranges(
    bounds: &[NaiveDateTime],
    ranges: &[(NaiveDateTime, NaiveDateTime)],
) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    let mut out: Vec<(NaiveDateTime, NaiveDateTime)> = Vec::new();
    for &b in bounds {
        let m = floor_minute(b);
        if m == b {
            continue;
        }
        let (ms, me) = (m, m + minute());
        // Ranges overlapping [ms, me): the first whose end is after ms.
        let mut i = ranges.partition_point(|r| r.1 <= ms);
        while i < ranges.len() && ranges[i].0 < me {
            let (a, e) = (ranges[i].0.max(ms), ranges[i].1.min(me));
            if e > a {
                match out.last_mut() {
                    Some(last) if last.1 >= a => last.1 = last.1.max(e),
                    _ => out.push((a, e)),
                }
            }
            i += 1;
        }
    }
    out
}

/// The statement reading the rollup rows a count over `ranges` (naive,
/// sorted) needs: every stored date they touch, for `areas`.
pub(super) fn rows_sql(
    table: &DetectionTable,
    ranges: &[(NaiveDateTime, NaiveDateTime)],
    areas: &[i64],
) -> AppResult<Option<(String, Vec<Value>)>> {
    let rollup = rollup_table(table)?;
    let mut days: Vec<NaiveDate> = Vec::new();
    for &(a, b) in ranges {
        let mut d = a.date();
        let last = (b - Duration::milliseconds(1)).date();
        while d <= last {
            if days.last() != Some(&d) {
                days.push(d);
            }
            let Some(next) = d.succ_opt() else { break };
            d = next;
        }
    }
    let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
        return Ok(None);
    };
    if days.len() * areas.len() > MAX_LISTED_ROWS {
        let to = last.succ_opt().unwrap_or(last);
        return Ok(Some((
            format!(
                "SELECT entry, CAST(value_json AS CHAR) FROM {rollup} \
                 WHERE line_id = ? AND entry >= ? AND entry < ?"
            ),
            vec![
                Value::Int(table.line_id),
                Value::from(format!("{DAY_PREFIX}{}", first.format("%Y-%m-%d"))),
                Value::from(format!("{DAY_PREFIX}{}", to.format("%Y-%m-%d"))),
            ],
        )));
    }
    let mut params: Vec<Value> = vec![Value::Int(table.line_id)];
    for d in &days {
        for a in areas {
            params.push(Value::from(day_entry(*d, *a)));
        }
    }
    Ok(Some((rows_in_sql(&rollup, params.len() - 1), params)))
}

/// Reads `n` named rows of a line: the parameters are the line, then the
/// `n` entries.
fn rows_in_sql(rollup: &str, n: usize) -> String {
    format!(
        "SELECT entry, CAST(value_json AS CHAR) FROM {rollup} WHERE line_id = ? AND entry IN ({})",
        placeholders(n)
    )
}
