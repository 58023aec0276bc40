//! `jobs housekeeping`: the auth tables' clean-up
//! ([`dash_store::housekeeping`]) and the `job_run` history older than
//! [`JOB_RUN_KEEP_DAYS`].

use std::time::Instant;

use serde_json::json;

use crate::report::{
    failed, job_run_finish, job_run_start, log_item, ItemResult, ItemStatus, JobSummary,
};
use dash_store::error::AppResult;
use shared::state::AppState;

/// `job_run` rows older than this are deleted.
const JOB_RUN_KEEP_DAYS: i64 = 90;

/// Runs the housekeeping job: one unit of work.
pub async fn run(state: &AppState) -> JobSummary {
    let started_at = state.now();
    let started = Instant::now();
    let run_id = job_run_start(state, "housekeeping", None, None).await;
    let result: AppResult<ItemResult> = async {
        let auth = shared::auth::housekeeping(state.db(), state.now()).await?;
        let cutoff = (state.now() - chrono::Duration::days(JOB_RUN_KEEP_DAYS)).naive_utc();
        let job_runs = dash_store::jobs::delete_runs_before(state.db(), cutoff).await?;
        let rows = auth.rate_limit_rows_deleted
            + auth.sessions_expired
            + auth.refresh_hashes_cleared
            + job_runs;
        Ok(ItemResult {
            tenant_id: None,
            line_id: None,
            status: ItemStatus::Ok,
            rows,
            duration_ms: started.elapsed().as_millis() as u64,
            detail: json!({ "auth": auth, "job_runs_deleted": job_runs }),
            warnings: Vec::new(),
        })
    }
    .await;
    let item = result.unwrap_or_else(|e| failed(None, None, started, &e));
    log_item("housekeeping", &item);
    job_run_finish(state, run_id, &item).await;
    JobSummary::new("housekeeping", started_at, started, vec![item])
}
