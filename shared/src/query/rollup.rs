//! An exact pre-aggregation of detections: counts per stored minute, area and
//! product, so long windows never count raw rows (SPEC §14: a year-long OEE
//! under a second, 30 days under 300 ms).
//!
//! # Where it lives
//! The client database may only be written in `downtime_events_<code>` and
//! `system_monitor`, so the counts are app-owned rows of `system_monitor`:
//! one row per line, stored (`data_timezone`) date and area, metric
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

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Duration, NaiveDate, NaiveDateTime, Timelike};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, TxOpts, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{placeholders, DetectionTable, KeyCounts};
use crate::error::{AppError, AppResult};
use crate::metadata::TenantMetadata;
use crate::schema;
use crate::state::AppState;
use crate::tenancy::Tenant;

/// `system_monitor.metric` of a line's rollup watermark.
pub const WATERMARK_METRIC: &str = "rollup_min_watermark";
/// Prefix of the per-day-and-area rollup rows (`rollup_min:2026-04-01:3`).
pub const DAY_PREFIX: &str = "rollup_min:";
/// Beyond this many rows a read asks for a range of metrics instead of a list.
const MAX_LISTED_ROWS: usize = 3000;
/// Ids folded in per transaction by default.
pub const DEFAULT_BATCH_IDS: i64 = 500_000;

const ER_NO_SUCH_TABLE: u16 = 1146;

fn minute() -> Duration {
    Duration::minutes(1)
}

const MINUTE_MS: i64 = 60_000;

fn monitor_table(table: &DetectionTable) -> AppResult<String> {
    let db = schema::quote_ident(&table.db_name).map_err(super::schema_err)?;
    Ok(format!("{db}.`system_monitor`"))
}

/// One day's counts of one area: product → minute of day → detections.
type AreaDay = BTreeMap<Option<i64>, BTreeMap<u32, u64>>;

/// The stored form of one day of one area: `c` maps the product id (`""`
/// for none) to runs `[first_minute, n, n, …]` of consecutive minutes.
#[derive(Debug, Default, Serialize, Deserialize)]
struct AreaDoc {
    v: u32,
    rows: u64,
    c: BTreeMap<String, Vec<Vec<u64>>>,
}

fn product_key(product: Option<i64>) -> String {
    product.map(|p| p.to_string()).unwrap_or_default()
}

fn parse_product_key(key: &str) -> AppResult<Option<i64>> {
    if key.is_empty() {
        return Ok(None);
    }
    key.parse()
        .map(Some)
        .map_err(|_| AppError::internal("unreadable rollup product key"))
}

fn encode_day(day: &AreaDay) -> String {
    let mut doc = AreaDoc {
        v: 1,
        ..AreaDoc::default()
    };
    for (product, minutes) in day {
        let mut runs: Vec<Vec<u64>> = Vec::new();
        let mut next: Option<u32> = None;
        for (&m, &n) in minutes {
            if n == 0 {
                continue;
            }
            doc.rows += n;
            match (next, runs.last_mut()) {
                (Some(expected), Some(run)) if expected == m => run.push(n),
                _ => runs.push(vec![u64::from(m), n]),
            }
            next = Some(m + 1);
        }
        if !runs.is_empty() {
            doc.c.insert(product_key(*product), runs);
        }
    }
    serde_json::to_string(&doc).unwrap_or_else(|_| "{}".into())
}

fn parse_doc(text: &str) -> AppResult<AreaDoc> {
    serde_json::from_str(text)
        .map_err(|e| AppError::internal(format!("unreadable rollup row: {e}")))
}

fn decode_day(text: &str) -> AppResult<AreaDay> {
    let mut day = AreaDay::new();
    for (key, runs) in parse_doc(text)?.c {
        let minutes = day.entry(parse_product_key(&key)?).or_default();
        for run in runs {
            let Some((&first, counts)) = run.split_first() else {
                continue;
            };
            for (k, &n) in counts.iter().enumerate() {
                let m = u32::try_from(first)
                    .unwrap_or(u32::MAX)
                    .saturating_add(k as u32);
                *minutes.entry(m).or_insert(0) += n;
            }
        }
    }
    Ok(day)
}

fn row_metric(date: NaiveDate, area: i64) -> String {
    format!("{DAY_PREFIX}{}:{area}", date.format("%Y-%m-%d"))
}

/// `(date, area)` of a rollup row's metric.
fn parse_metric(metric: &str) -> Option<(NaiveDate, i64)> {
    let rest = metric.strip_prefix(DAY_PREFIX)?;
    let (date, area) = rest.split_once(':')?;
    Some((
        NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?,
        area.parse().ok()?,
    ))
}

/// Whether a MySQL error says the table is missing.
fn is_missing_table(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == ER_NO_SUCH_TABLE)
}

/// The line's watermark: the highest `detection_id` in the rollup, or `None`
/// when the line has never been rolled up (or the client database has no
/// `system_monitor`, in which case everything is counted raw).
pub async fn watermark(conn: &mut Conn, table: &DetectionTable) -> AppResult<Option<i64>> {
    let monitor = monitor_table(table)?;
    let row: Result<Option<Option<String>>, _> = conn
        .exec_first(
            format!(
                "SELECT CAST(value_json AS CHAR) FROM {monitor} WHERE metric = ? AND line_id = ?"
            ),
            (WATERMARK_METRIC, table.line_id),
        )
        .await;
    match row {
        Ok(v) => Ok(v
            .flatten()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|j| j.get("detection_id").and_then(serde_json::Value::as_i64))),
        Err(e) if is_missing_table(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
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
    let monitor = monitor_table(table)?;
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
                "SELECT metric, CAST(value_json AS CHAR) FROM {monitor} \
                 WHERE metric >= ? AND metric < ? AND line_id = ?"
            ),
            vec![
                Value::from(format!("{DAY_PREFIX}{}", first.format("%Y-%m-%d"))),
                Value::from(format!("{DAY_PREFIX}{}", to.format("%Y-%m-%d"))),
                Value::Int(table.line_id),
            ],
        )));
    }
    let mut params: Vec<Value> = vec![Value::Int(table.line_id)];
    for d in &days {
        for a in areas {
            params.push(Value::from(row_metric(*d, *a)));
        }
    }
    Ok(Some((
        format!(
            "SELECT metric, CAST(value_json AS CHAR) FROM {monitor} WHERE line_id = ? AND metric IN ({})",
            placeholders(params.len() - 1)
        ),
        params,
    )))
}

/// Adds the rollup's whole-minute counts read by `sql` to `out` (one map per
/// segment of `bounds`), skipping minutes that hold part of `partial`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn add_minute_counts(
    conn: &mut Conn,
    sql: &str,
    params: &[Value],
    bounds: &[NaiveDateTime],
    wanted: &[bool],
    partial: &[(NaiveDateTime, NaiveDateTime)],
    areas: &[i64],
    products: Option<&[i64]>,
    out: &mut [KeyCounts],
) -> AppResult<()> {
    // Integer milliseconds of the naive axis: the loop below runs once per
    // stored minute (43 200 per area for 30 days), so it stays arithmetic.
    let bounds_ms: Vec<i64> = bounds.iter().map(super::naive_ms).collect();
    let (Some(&first), Some(&last)) = (bounds_ms.first(), bounds_ms.last()) else {
        return Ok(());
    };
    let mut partial_minutes: Vec<i64> = partial
        .iter()
        .map(|r| super::naive_ms(&floor_minute(r.0)))
        .collect();
    partial_minutes.dedup();
    let rows: Vec<(String, Option<String>)> = conn.exec(sql, params.to_vec()).await?;
    for (metric, text) in rows {
        let Some((date, area)) = parse_metric(&metric) else {
            continue;
        };
        let (Some(text), true) = (text, areas.contains(&area)) else {
            continue;
        };
        let day_ms = super::naive_ms(&date.and_time(chrono::NaiveTime::MIN));
        for (pkey, runs) in parse_doc(&text)?.c {
            let product = parse_product_key(&pkey)?;
            if let Some(products) = products {
                if !product.is_some_and(|p| products.contains(&p)) {
                    continue;
                }
            }
            let key = super::CountKey {
                area_id: area,
                product_id: product,
            };
            let mut flush = |seg: usize, n: u64| {
                if n > 0 {
                    if let Some(slot) = out.get_mut(seg) {
                        *slot.entry(key).or_insert(0) += n;
                    }
                }
            };
            for run in runs {
                let Some((&m0, counts)) = run.split_first() else {
                    continue;
                };
                if m0 >= 1440 {
                    continue; // not a minute of a day: never written by refresh_line
                }
                let mut t = day_ms + m0 as i64 * MINUTE_MS;
                let mut seg = bounds_ms.partition_point(|b| *b <= t).saturating_sub(1);
                let (mut acc_seg, mut acc) = (usize::MAX, 0u64);
                for &n in counts {
                    let start = t;
                    t += MINUTE_MS;
                    if start < first || t > last || n == 0 {
                        continue;
                    }
                    while seg + 1 < bounds_ms.len() && bounds_ms[seg + 1] <= start {
                        seg += 1;
                    }
                    if !wanted.get(seg).copied().unwrap_or(false)
                        || partial_minutes.binary_search(&start).is_ok()
                    {
                        continue;
                    }
                    if seg != acc_seg {
                        flush(acc_seg, acc);
                        (acc_seg, acc) = (seg, 0);
                    }
                    acc += n;
                }
                flush(acc_seg, acc);
            }
        }
    }
    Ok(())
}

/// What one [`refresh_line`] did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RefreshReport {
    pub line_id: i64,
    /// Another run holds the line's lock: nothing done.
    pub busy: bool,
    /// Watermark before and after.
    pub from_id: i64,
    pub to_id: i64,
    /// Detections folded in.
    pub rows: u64,
    /// Day rows written.
    pub days: u64,
    pub transactions: u64,
    pub ms: u64,
}

fn lock_name(db_name: &str, line_id: i64) -> String {
    let name = format!("dash:rollup:{db_name}:{line_id}");
    if name.len() <= 64 {
        return name;
    }
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    format!("dash:rollup:{}", &digest[..40])
}

/// Folds the line's detections with an id above the watermark into the
/// rollup, `batch_ids` ids per transaction (day rows and watermark together).
/// Safe to run concurrently (a per-line lock makes the second run a no-op) and
/// to kill half-way (the watermark only moves with the rows it covers).
pub async fn refresh_line(
    conn: &mut Conn,
    table: &DetectionTable,
    batch_ids: i64,
) -> AppResult<RefreshReport> {
    let started = Instant::now();
    let mut report = RefreshReport {
        line_id: table.line_id,
        ..RefreshReport::default()
    };
    let lock = lock_name(&table.db_name, table.line_id);
    let got: Option<Option<i64>> = conn
        .exec_first("SELECT GET_LOCK(?, 0)", (lock.clone(),))
        .await?;
    if got.flatten() != Some(1) {
        report.busy = true;
        return Ok(report);
    }
    let result = refresh_locked(conn, table, batch_ids.max(1), &mut report).await;
    let released: Result<Option<Option<i64>>, _> =
        conn.exec_first("SELECT RELEASE_LOCK(?)", (lock,)).await;
    if let Err(e) = released {
        tracing::warn!(error = %e, "could not release the rollup lock");
    }
    result?;
    report.ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

async fn refresh_locked(
    conn: &mut Conn,
    table: &DetectionTable,
    batch_ids: i64,
    report: &mut RefreshReport,
) -> AppResult<()> {
    let monitor = monitor_table(table)?;
    let mut w = watermark(conn, table).await?.unwrap_or(0);
    report.from_id = w;
    report.to_id = w;
    let max_id: Option<Option<i64>> = conn
        .query_first(format!(
            "SELECT MAX(detection_id) FROM {}",
            table.sql_name()
        ))
        .await?;
    let Some(max_id) = max_id.flatten() else {
        return Ok(());
    };
    while w < max_id {
        let hi = w.saturating_add(batch_ids).min(max_id);
        let rows: Vec<(NaiveDate, i64, i64, Option<i64>, i64)> = conn
            .exec(
                format!(
                    "SELECT DATE(detected_at), HOUR(detected_at) * 60 + MINUTE(detected_at), area_id, product_id, COUNT(*) \
                     FROM {} WHERE detection_id > ? AND detection_id <= ? GROUP BY 1, 2, 3, 4",
                    table.sql_name()
                ),
                (w, hi),
            )
            .await?;
        let mut days: BTreeMap<(NaiveDate, i64), AreaDay> = BTreeMap::new();
        for (date, m, area, product, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            report.rows += n;
            *days
                .entry((date, area))
                .or_default()
                .entry(product)
                .or_default()
                .entry(u32::try_from(m).unwrap_or(0))
                .or_insert(0) += n;
        }
        let mut tx = conn.start_transaction(TxOpts::default()).await?;
        let metrics: Vec<String> = days.keys().map(|(d, a)| row_metric(*d, *a)).collect();
        for chunk in metrics.chunks(500) {
            let mut params: Vec<Value> = vec![Value::Int(table.line_id)];
            params.extend(chunk.iter().map(|m| Value::from(m.clone())));
            let existing: Vec<(String, Option<String>)> = tx
                .exec(
                    format!(
                        "SELECT metric, CAST(value_json AS CHAR) FROM {monitor} WHERE line_id = ? AND metric IN ({}) FOR UPDATE",
                        placeholders(chunk.len())
                    ),
                    params,
                )
                .await?;
            for (metric, text) in existing {
                let (Some(key), Some(text)) = (parse_metric(&metric), text) else {
                    continue;
                };
                let day = days.entry(key).or_default();
                for (product, minutes) in decode_day(&text)? {
                    let slot = day.entry(product).or_default();
                    for (m, n) in minutes {
                        *slot.entry(m).or_insert(0) += n;
                    }
                }
            }
        }
        for ((date, area), counts) in &days {
            tx.exec_drop(
                format!(
                    "INSERT INTO {monitor} (metric, line_id, value_json) VALUES (?, ?, ?) \
                     ON DUPLICATE KEY UPDATE value_json = VALUES(value_json)"
                ),
                (row_metric(*date, *area), table.line_id, encode_day(counts)),
            )
            .await?;
            report.days += 1;
        }
        tx.exec_drop(
            format!(
                "INSERT INTO {monitor} (metric, line_id, value_json) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE value_json = VALUES(value_json)"
            ),
            (
                WATERMARK_METRIC,
                table.line_id,
                serde_json::json!({ "detection_id": hi }).to_string(),
            ),
        )
        .await?;
        tx.commit().await?;
        report.transactions += 1;
        w = hi;
        report.to_id = w;
    }
    Ok(())
}

/// Forgets the line's rollup (day rows and watermark): the next refresh
/// rebuilds it, and until then every count is raw.
pub async fn reset_line(conn: &mut Conn, table: &DetectionTable) -> AppResult<()> {
    let monitor = monitor_table(table)?;
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    tx.exec_drop(
        format!("DELETE FROM {monitor} WHERE line_id = ? AND (metric = ? OR metric LIKE ?)"),
        (
            table.line_id,
            WATERMARK_METRIC,
            format!("{}%", DAY_PREFIX.replace('_', "\\_")),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Refreshes every line of a tenant whose detection table exists (what the
/// `jobs` run calls after the downtime engine).
pub async fn refresh_tenant(
    state: &AppState,
    tenant: &Tenant,
    meta: &TenantMetadata,
    batch_ids: i64,
) -> AppResult<Vec<RefreshReport>> {
    let location = tenant.db_location();
    let mut conn = state.db().client(&location).await?;
    let mut out = Vec::new();
    for line in &meta.lines {
        let table = match DetectionTable::open(
            &mut conn,
            &location.db_name,
            line,
            tenant.data_timezone(),
        )
        .await
        {
            Ok(t) => t,
            Err(AppError::ClientSchema { detail }) => {
                tracing::warn!(line_id = line.line_id, %detail, "no detection table: rollup skipped");
                continue;
            }
            Err(e) => return Err(e),
        };
        out.push(refresh_line(&mut conn, &table, batch_ids).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn day_docs_round_trip_in_runs() {
        let mut day = AreaDay::new();
        let m = day.entry(Some(1)).or_default();
        m.insert(0, 5);
        m.insert(1, 6);
        m.insert(7, 1);
        day.entry(None).or_default().insert(1439, 2);
        let text = encode_day(&day);
        assert!(text.contains("\"1\":[[0,5,6],[7,1]]"), "{text}");
        assert!(text.contains("\"\":[[1439,2]]"), "{text}");
        assert!(text.contains("\"rows\":14"), "{text}");
        assert_eq!(decode_day(&text).unwrap(), day);
        assert!(decode_day("{\"v\":1,\"rows\":0,\"c\":{\"x\":[]}}").is_err());
        let metric = row_metric(NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(), 12);
        assert_eq!(metric, "rollup_min:2026-04-01:12");
        assert_eq!(
            parse_metric(&metric),
            Some((NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(), 12))
        );
        assert_eq!(parse_metric("rollup_min_watermark"), None);
    }

    #[test]
    fn partial_minutes_are_the_cut_ones_inside_wanted_ranges() {
        let b = [
            naive("2026-01-01 06:00:00"),
            naive("2026-01-01 06:10:30.5"),
            naive("2026-01-01 07:00:00"),
            naive("2026-01-01 07:00:59"),
        ];
        let ranges = [(b[0], b[3])];
        let p = partial_minute_ranges(&b, &ranges);
        assert_eq!(
            p,
            vec![
                (naive("2026-01-01 06:10:00"), naive("2026-01-01 06:11:00")),
                (naive("2026-01-01 07:00:00"), naive("2026-01-01 07:00:59")),
            ]
        );
        // A cut minute outside every wanted range needs nothing.
        let p = partial_minute_ranges(&b, &[(b[2], b[3])]);
        assert_eq!(
            p,
            vec![(naive("2026-01-01 07:00:00"), naive("2026-01-01 07:00:59"))]
        );
    }

    #[test]
    fn lock_names_fit() {
        assert!(lock_name(&"x".repeat(64), 1).len() <= 64);
        assert_eq!(lock_name("db", 3), "dash:rollup:db:3");
    }
}
