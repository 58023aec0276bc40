//! The scheduled jobs' statements on the global database: one `job_run` row
//! per unit of work (started, then finished with its outcome), the history
//! trimmed by housekeeping, and the tenants a run covers.

use chrono::NaiveDateTime;
use mysql_async::prelude::Queryable;

use crate::db::Db;
use crate::error::AppResult;

/// `job_run` rows one DELETE removes at most, so trimming a long history
/// never holds a long lock.
const DELETE_BATCH: u64 = 5000;

/// Inserts a `running` row; its `run_id`.
pub async fn record_start(
    db: &Db,
    job: &str,
    tenant_id: Option<i64>,
    line_id: Option<i64>,
    started_at: NaiveDateTime,
) -> AppResult<i64> {
    let mut conn = db.global().await?;
    conn.exec_drop(
        "INSERT INTO job_run (job, tenant_id, line_id, started_at, status) VALUES (?, ?, ?, ?, 'running')",
        (job, tenant_id, line_id, started_at),
    )
    .await?;
    Ok(conn.last_insert_id().map(|id| id as i64).unwrap_or(0))
}

/// How a unit of work ended.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd<'a> {
    pub finished_at: NaiveDateTime,
    /// `ok`, `busy`, `skipped` or `failed`.
    pub status: &'a str,
    pub rows: u64,
    /// JSON text.
    pub detail: &'a str,
}

/// Completes the row of `run_id`.
pub async fn record_finish(db: &Db, run_id: i64, end: &RunEnd<'_>) -> AppResult<()> {
    let mut conn = db.global().await?;
    conn.exec_drop(
        "UPDATE job_run SET finished_at = ?, status = ?, rows_processed = ?, detail = ? WHERE run_id = ?",
        (end.finished_at, end.status, end.rows, end.detail, run_id),
    )
    .await?;
    Ok(())
}

/// Deletes the runs started before `cutoff`; how many.
pub async fn delete_runs_before(db: &Db, cutoff: NaiveDateTime) -> AppResult<u64> {
    let mut conn = db.global().await?;
    let mut deleted = 0;
    loop {
        conn.exec_drop(
            format!("DELETE FROM job_run WHERE started_at < ? LIMIT {DELETE_BATCH}"),
            (cutoff,),
        )
        .await?;
        let n = conn.affected_rows();
        deleted += n;
        if n < DELETE_BATCH {
            return Ok(deleted);
        }
    }
}

/// The ids of the active tenants in id order, or `only` if it is one of them
/// (empty when it is not).
pub async fn active_tenant_ids(db: &Db, only: Option<i64>) -> AppResult<Vec<i64>> {
    let mut conn = db.global().await?;
    let ids = match only {
        Some(id) => {
            conn.exec(
                "SELECT tenant_id FROM tenant WHERE tenant_id = ? AND is_active = 1",
                (id,),
            )
            .await?
        }
        None => {
            conn.query("SELECT tenant_id FROM tenant WHERE is_active = 1 ORDER BY tenant_id")
                .await?
        }
    };
    Ok(ids)
}
