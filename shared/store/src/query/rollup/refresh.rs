//! Writing the rollup: [`refresh_line`] folds the detections above a line's
//! watermark into its day rows, page by page, each page and its watermark in
//! one transaction; [`reset_line`] forgets it; [`refresh_tenant`] refreshes
//! every line of a tenant. A day document that does not parse makes the
//! refresh forget the line's rollup and rebuild it from the detections.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::NaiveDate;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, TxOpts, Value};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::document::{day_entry, decode_day, encode_day, parse_day_entry, AreaDay};
use super::{rollup_table, rows_in_sql, watermark, DAY_PREFIX, WATERMARK_ENTRY};
use crate::error::{AppError, AppResult};
use crate::line_state;
use crate::metadata::TenantMetadata;
use crate::query::DetectionTable;
use crate::store::Store;
use crate::tenancy::Tenant;

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
    /// Why the rollup was forgotten and rebuilt from scratch (a watermark or
    /// day document that did not parse), if it was.
    pub rebuilt: Option<String>,
}

/// Writes one `dash_rollup` row of a line (entry, line, value), or replaces
/// its value.
fn upsert_sql(rollup: &str) -> String {
    format!(
        "INSERT INTO {rollup} (entry, line_id, value_json) VALUES (?, ?, ?) \
         ON DUPLICATE KEY UPDATE value_json = VALUES(value_json)"
    )
}

pub(super) fn lock_name(db_name: &str, line_id: i64) -> String {
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
    let mut result = refresh_locked(conn, table, batch_ids.max(1), &mut report).await;
    if let Err(AppError::Internal(why)) = &result {
        // Our own readers failed on what is stored (a corrupt document or
        // watermark): the rollup is only a cache, so start it again.
        tracing::warn!(db = %table.db_name, line_id = table.line_id, error = %why,
            "the rollup does not parse: forgetting it and rebuilding from the detections");
        report.rebuilt = Some(why.clone());
        result = match reset_line(conn, table).await {
            Ok(()) => refresh_locked(conn, table, batch_ids.max(1), &mut report).await,
            Err(e) => Err(e),
        };
    }
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
    let rollup = rollup_table(table)?;
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
        let entries: Vec<String> = days.keys().map(|(d, a)| day_entry(*d, *a)).collect();
        for chunk in entries.chunks(500) {
            let mut params: Vec<Value> = vec![Value::Int(table.line_id)];
            params.extend(chunk.iter().map(|m| Value::from(m.clone())));
            let existing: Vec<(String, Option<String>)> = tx
                .exec(
                    format!("{} FOR UPDATE", rows_in_sql(&rollup, chunk.len())),
                    params,
                )
                .await?;
            for (entry, text) in existing {
                let (Some(key), Some(text)) = (parse_day_entry(&entry), text) else {
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
                upsert_sql(&rollup),
                (day_entry(*date, *area), table.line_id, encode_day(counts)),
            )
            .await?;
            report.days += 1;
        }
        tx.exec_drop(
            upsert_sql(&rollup),
            (
                WATERMARK_ENTRY,
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

/// Records the outcome of the line's last refresh in `dash_line_state`
/// (`rollup_last_run`).
pub async fn record_last_run(
    conn: &mut Conn,
    table: &DetectionTable,
    value: &serde_json::Value,
) -> AppResult<()> {
    line_state::put(
        conn,
        &table.db_name,
        table.line_id,
        line_state::ROLLUP_LAST_RUN,
        &value.to_string(),
    )
    .await
}

/// Forgets the line's rollup (day rows and watermark): the next refresh
/// rebuilds it, and until then every count is raw.
pub async fn reset_line(conn: &mut Conn, table: &DetectionTable) -> AppResult<()> {
    let rollup = rollup_table(table)?;
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    tx.exec_drop(
        format!("DELETE FROM {rollup} WHERE line_id = ? AND (entry = ? OR entry LIKE ?)"),
        (
            table.line_id,
            WATERMARK_ENTRY,
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
    store: &Store,
    tenant: &Tenant,
    meta: &TenantMetadata,
    batch_ids: i64,
) -> AppResult<Vec<RefreshReport>> {
    let location = tenant.db_location();
    let mut conn = store.db().client(&location).await?;
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
