//! What a job did and where it is recorded: each unit of work's
//! [`ItemResult`], the job's [`JobSummary`] (the command line's output and
//! the Lambda response), a row per unit in the global `job_run` table
//! ([`dash_store::jobs`]) and a log line.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use dash_store::error::AppError;
use dash_store::jobs::{self, RunEnd};
use shared::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Ok,
    /// Another run held the line's lock.
    Busy,
    /// Nothing to do (no output area, table not partitioned, …).
    Skipped,
    Failed,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Ok => "ok",
            ItemStatus::Busy => "busy",
            ItemStatus::Skipped => "skipped",
            ItemStatus::Failed => "failed",
        }
    }
}

/// One unit of work: a line (downtime, partitions), a tenant, or the whole job.
#[derive(Debug, Clone, Serialize)]
pub struct ItemResult {
    pub tenant_id: Option<i64>,
    pub line_id: Option<i64>,
    pub status: ItemStatus,
    /// Detections processed (downtime), partitions added (partitions), rows touched (housekeeping).
    pub rows: u64,
    pub duration_ms: u64,
    pub detail: Value,
    /// An optional part that did not work although the item did (a line's
    /// stops stored, its rollup not refreshed): logged, shown, not a failure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobSummary {
    pub job: &'static str,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub ok: usize,
    pub busy: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Items with a warning (whatever their status).
    pub warned: usize,
    pub items: Vec<ItemResult>,
}

impl JobSummary {
    pub fn new(
        job: &'static str,
        started_at: DateTime<Utc>,
        started: Instant,
        items: Vec<ItemResult>,
    ) -> Self {
        let count = |s: ItemStatus| items.iter().filter(|i| i.status == s).count();
        JobSummary {
            job,
            started_at,
            duration_ms: started.elapsed().as_millis() as u64,
            ok: count(ItemStatus::Ok),
            busy: count(ItemStatus::Busy),
            skipped: count(ItemStatus::Skipped),
            failed: count(ItemStatus::Failed),
            warned: items.iter().filter(|i| !i.warnings.is_empty()).count(),
            items,
        }
    }

    pub fn is_success(&self) -> bool {
        self.failed == 0
    }

    /// One line per item and a total, for the command line and cron mail.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for i in &self.items {
            let who = match (i.tenant_id, i.line_id) {
                (Some(t), Some(l)) => format!("tenant {t} line {l}"),
                (Some(t), None) => format!("tenant {t}"),
                _ => "global".to_string(),
            };
            let detail = match &i.detail {
                Value::Object(m) if m.is_empty() => String::new(),
                Value::Null => String::new(),
                d => format!(" {d}"),
            };
            out.push_str(&format!(
                "{:<8} {who}: {} rows in {} ms{detail}\n",
                i.status.as_str().to_uppercase(),
                i.rows,
                i.duration_ms
            ));
            for w in &i.warnings {
                out.push_str(&format!("WARNING    {who}: {w}\n"));
            }
        }
        out.push_str(&format!(
            "{} finished in {} ms: {} ok, {} busy, {} skipped, {} failed, {} with warnings\n",
            self.job, self.duration_ms, self.ok, self.busy, self.skipped, self.failed, self.warned
        ));
        out
    }
}

/// A unit of work that ended with `err`.
pub fn failed(
    tenant_id: Option<i64>,
    line_id: Option<i64>,
    started: Instant,
    err: &AppError,
) -> ItemResult {
    ItemResult {
        tenant_id,
        line_id,
        status: ItemStatus::Failed,
        rows: 0,
        duration_ms: started.elapsed().as_millis() as u64,
        detail: json!({ "error": err.to_string() }),
        warnings: Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// Recording: job_run (global) and logs
// ---------------------------------------------------------------------------

/// Records the start of a unit of work in `job_run`; `None` (logged) when
/// it cannot: recording never stops the work.
pub async fn job_run_start(
    state: &AppState,
    job: &str,
    tenant_id: Option<i64>,
    line_id: Option<i64>,
) -> Option<i64> {
    let started_at = state.now().naive_utc();
    match jobs::record_start(state.db(), job, tenant_id, line_id, started_at).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(job, tenant_id, line_id, error = %e, "could not record the job run");
            None
        }
    }
}

/// Records how the unit of work of `run_id` ended (a failure is logged).
pub async fn job_run_finish(state: &AppState, run_id: Option<i64>, item: &ItemResult) {
    let Some(run_id) = run_id else {
        return;
    };
    let detail = item.detail.to_string();
    let end = RunEnd {
        finished_at: state.now().naive_utc(),
        status: item.status.as_str(),
        rows: item.rows,
        detail: &detail,
    };
    if let Err(e) = jobs::record_finish(state.db(), run_id, &end).await {
        tracing::warn!(run_id, error = %e, "could not record the end of the job run");
    }
}

/// Logs an item that failed before its run could be recorded, and records it.
pub async fn record_failed(state: &AppState, job: &str, item: &ItemResult) {
    log_item(job, item);
    let run_id = job_run_start(state, job, item.tenant_id, item.line_id).await;
    job_run_finish(state, run_id, item).await;
}

/// One log line per unit of work: an error when it failed.
pub fn log_item(job: &str, item: &ItemResult) {
    match item.status {
        ItemStatus::Failed => tracing::error!(
            job,
            tenant_id = item.tenant_id,
            line_id = item.line_id,
            duration_ms = item.duration_ms,
            detail = %item.detail,
            "job item failed"
        ),
        status => tracing::info!(
            job,
            tenant_id = item.tenant_id,
            line_id = item.line_id,
            status = status.as_str(),
            rows = item.rows,
            duration_ms = item.duration_ms,
            detail = %item.detail,
            "job item done"
        ),
    }
}
