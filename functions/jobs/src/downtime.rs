//! `jobs downtime`: per active line of every tenant run, the recomputation
//! from `--from` (late data) and the incremental downtime run
//! ([`dash_store::downtime::engine`]), then the line's minute rollup brought
//! up to date; each line's outcome recorded in `job_run` and in the product's
//! `dash_line_state`. Stops come first: the rollup is optional (a cache), so
//! its failure is reported beside the line's stops and never fails the line.

use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Value};

use crate::report::{
    failed, job_run_finish, job_run_start, log_item, record_failed, ItemResult, ItemStatus,
    JobSummary,
};
use crate::tenants::{for_each_tenant, tenants_to_run};
use crate::DowntimeArgs;
use dash_core::timeutil::format_instant;
use dash_store::downtime::clock::DataClock;
use dash_store::downtime::engine::{self, EngineOptions, LineSpec, RecomputeOutcome, RunOutcome};
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::TenantMetadata;
use dash_store::query::{rollup, DetectionTable};
use dash_store::tenancy::Tenant;
use shared::state::AppState;

/// Runs the downtime job.
pub async fn run(state: &AppState, args: &DowntimeArgs) -> JobSummary {
    let started_at = state.now();
    let started = Instant::now();
    let tenants = match tenants_to_run(state, args.tenant).await {
        Ok(t) => t,
        Err(e) => {
            let item = failed(args.tenant, args.line, started, &e);
            record_failed(state, "downtime", &item).await;
            return JobSummary::new("downtime", started_at, started, vec![item]);
        }
    };
    let args = args.clone();
    let items = for_each_tenant(state, tenants, move |state, tenant| {
        let args = args.clone();
        async move { downtime_for_tenant(&state, &tenant, &args).await }
    })
    .await;
    JobSummary::new("downtime", started_at, started, items)
}

async fn downtime_for_tenant(
    state: &AppState,
    tenant: &Tenant,
    args: &DowntimeArgs,
) -> Vec<ItemResult> {
    let started = Instant::now();
    let tid = Some(tenant.tenant_id);
    let location = tenant.db_location();
    let meta = match async {
        let mut conn = state.db().client(&location).await?;
        dash_store::metadata::load(&mut conn, &location.db_name).await
    }
    .await
    {
        Ok(m) => m,
        Err(e) => {
            let item = failed(tid, args.line, started, &e);
            record_failed(state, "downtime", &item).await;
            return vec![item];
        }
    };
    let from = match &args.from {
        None => None,
        Some(text) => match dash_core::timeutil::parse_instant(text, tenant.timezone(), "from") {
            Ok(t) => Some(t),
            Err(e) => {
                let item = failed(
                    tid,
                    args.line,
                    started,
                    &AppError::validation("from", e.message()),
                );
                record_failed(state, "downtime", &item).await;
                return vec![item];
            }
        },
    };
    let line_ids: Vec<i64> = match args.line {
        Some(id) if meta.line(id).is_some() => vec![id],
        Some(id) => {
            let item = failed(
                tid,
                Some(id),
                started,
                &AppError::validation(
                    "line",
                    format!("line {id} does not exist in tenant {}", tenant.tenant_id),
                ),
            );
            record_failed(state, "downtime", &item).await;
            return vec![item];
        }
        None => meta
            .lines
            .iter()
            .filter(|l| l.is_active)
            .map(|l| l.line_id)
            .collect(),
    };
    let mut items = Vec::with_capacity(line_ids.len());
    for line_id in line_ids {
        let run_id = job_run_start(state, "downtime", tid, Some(line_id)).await;
        let mut item = downtime_for_line(state, tenant, &meta, line_id, from).await;
        rollup_for_line(state, tenant, &meta, &mut item).await;
        log_item("downtime", &item);
        job_run_finish(state, run_id, &item).await;
        items.push(item);
    }
    items
}

/// The engine options for this process (`DOWNTIME_PAGE_SIZE` may tune the page).
fn engine_options() -> EngineOptions {
    let mut opts = EngineOptions::default();
    if let Some(n) = std::env::var("DOWNTIME_PAGE_SIZE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (100..=1_000_000).contains(n))
    {
        opts.page_size = n;
    }
    opts
}

/// Detection ids folded into the rollup per transaction (`ROLLUP_BATCH_IDS`
/// may tune it).
fn rollup_batch_ids() -> i64 {
    std::env::var("ROLLUP_BATCH_IDS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|n| (1_000..=10_000_000).contains(n))
        .unwrap_or(rollup::DEFAULT_BATCH_IDS)
}

/// After a line's downtime run: folds its new detections into the exact
/// minute rollup ([`rollup::refresh_line`]), so long data and metrics windows
/// read pre-aggregated counts. The outcome is the item's `detail.rollup` and
/// the line's `rollup_last_run` entry in `dash_line_state`. The rollup is a
/// cache: when it fails (its table missing or foreign, the server refusing)
/// the line's stops stand, its counts are read raw, and the part is reported
/// as `failed` (or `skipped`) with a warning — the item keeps the status of
/// its stops. Another run holding the line is not an error.
async fn rollup_for_line(
    state: &AppState,
    tenant: &Tenant,
    meta: &TenantMetadata,
    item: &mut ItemResult,
) {
    let Some(line_id) = item.line_id else {
        return;
    };
    let started = Instant::now();
    let location = tenant.db_location();
    let mut table = None;
    let result: AppResult<Value> = async {
        let line = meta.line(line_id).ok_or(AppError::NotFound)?;
        let mut conn = state.db().client(&location).await?;
        let t =
            match DetectionTable::open(&mut conn, &location.db_name, line, tenant.data_timezone())
                .await
            {
                Ok(t) => t,
                Err(AppError::ClientSchema { detail }) => {
                    return Ok(json!({ "status": "skipped", "reason": detail }));
                }
                Err(e) => return Err(e),
            };
        table = Some(t.clone());
        let r = match rollup::refresh_line(&mut conn, &t, rollup_batch_ids()).await {
            Ok(r) => r,
            Err(AppError::ClientSchema { detail }) => {
                return Ok(json!({
                    "status": "skipped",
                    "reason": format!(
                        "{detail}: counts are read raw; `dashctl provision-client --tenant {}` \
                         creates the product's {} table",
                        tenant.tenant_id,
                        rollup::TABLE
                    ),
                }));
            }
            Err(e) => return Err(e),
        };
        let mut detail = if r.busy {
            json!({ "status": "busy" })
        } else {
            json!({
                "status": "ok",
                "rows": r.rows,
                "days": r.days,
                "transactions": r.transactions,
                "watermark": r.to_id,
                "duration_ms": started.elapsed().as_millis() as u64,
            })
        };
        if let Some(why) = r.rebuilt {
            detail["rebuilt"] = json!(why);
        }
        Ok(detail)
    }
    .await;
    let detail = match result {
        Ok(v) => v,
        Err(e) => json!({ "status": "failed", "error": e.to_string() }),
    };
    let warning = match detail["status"].as_str() {
        Some("failed") => Some(format!(
            "rollup failed ({}); counts are read raw until it is refreshed",
            detail["error"].as_str().unwrap_or("")
        )),
        Some("skipped") => detail["reason"]
            .as_str()
            .map(|r| format!("rollup skipped: {r}")),
        _ => detail["rebuilt"]
            .as_str()
            .map(|why| format!("rollup did not parse ({why}); rebuilt from the detections")),
    };
    if let Some(w) = warning {
        tracing::warn!(tenant_id = tenant.tenant_id, line_id, warning = %w, "rollup");
        item.warnings.push(w);
    }
    // A rollup held by another run (or by a killed run's lock, until the server
    // notices) is caught up by the next run; the summary says so.
    if detail["status"] == "busy" && item.status == ItemStatus::Ok {
        item.status = ItemStatus::Busy;
    }
    if let Some(t) = &table {
        if detail["status"] != "busy" {
            let record = json!({
                "status": detail["status"],
                "finished_at": state.now().to_rfc3339(),
                "detail": detail,
            });
            let recorded: AppResult<()> = async {
                let mut conn = state.db().client(&location).await?;
                rollup::record_last_run(&mut conn, t, &record).await
            }
            .await;
            if let Err(e) = recorded {
                tracing::warn!(tenant_id = tenant.tenant_id, line_id, error = %e, "could not record the rollup run in dash_line_state");
            }
        }
    }
    if let Value::Object(m) = &mut item.detail {
        m.insert("rollup".into(), detail);
    } else {
        item.detail = json!({ "rollup": detail });
    }
    item.duration_ms += started.elapsed().as_millis() as u64;
}

/// Recomputes (when `from` is given) and then runs the incremental
/// calculation for one line; records its outcome in `dash_line_state`.
async fn downtime_for_line(
    state: &AppState,
    tenant: &Tenant,
    meta: &TenantMetadata,
    line_id: i64,
    from: Option<DateTime<Utc>>,
) -> ItemResult {
    let started = Instant::now();
    let tid = Some(tenant.tenant_id);
    let location = tenant.db_location();
    let result: AppResult<ItemResult> = async {
        let spec = LineSpec::from_metadata(meta, tenant, line_id)?;
        let opts = engine_options();
        let mut conn = state.db().client(&location).await?;
        let mut detail = serde_json::Map::new();
        let mut status = ItemStatus::Ok;
        let mut rows = 0u64;
        if let Some(from) = from {
            match engine::recompute(&mut conn, &location.db_name, &spec, from, None, &opts).await? {
                RecomputeOutcome::Done(r) => {
                    rows += r.detections;
                    let mut recompute = json!(r.counts());
                    recompute["note"] = json!(r.note);
                    recompute["changed_justified"] = changed_justified_json(&r, tenant);
                    detail.insert("recompute".into(), recompute);
                }
                RecomputeOutcome::Busy => status = ItemStatus::Busy,
                RecomputeOutcome::Skipped { reason } => {
                    status = ItemStatus::Skipped;
                    detail.insert("reason".into(), json!(reason));
                }
            }
        }
        if status == ItemStatus::Ok {
            match engine::run_incremental(&mut conn, &location.db_name, &spec, &opts).await? {
                RunOutcome::Done(r) => {
                    rows += r.detections;
                    detail.insert("detections".into(), json!(r.detections));
                    detail.insert("stops".into(), json!(r.stops));
                    detail.insert("micro_stops".into(), json!(r.micro_stops));
                    detail.insert("pages".into(), json!(r.pages));
                    detail.insert(
                        "watermark".into(),
                        json!(r.watermark.map(|w| json!({
                            "detection_id": w.detection_id,
                            "detected_at": instant(&w.detected_at, tenant),
                        }))),
                    );
                }
                RunOutcome::Busy => status = ItemStatus::Busy,
                RunOutcome::Skipped { reason } => {
                    status = ItemStatus::Skipped;
                    detail.insert("reason".into(), json!(reason));
                }
            }
        }
        let item = ItemResult {
            tenant_id: tid,
            line_id: Some(line_id),
            status,
            rows,
            duration_ms: started.elapsed().as_millis() as u64,
            detail: Value::Object(detail),
            warnings: Vec::new(),
        };
        if status != ItemStatus::Busy && !spec.output_areas.is_empty() {
            let record = json!({
                "status": status.as_str(),
                "rows": item.rows,
                "duration_ms": item.duration_ms,
                "finished_at": state.now().to_rfc3339(),
                "detail": item.detail,
            });
            if let Err(e) = engine::record_last_run(&mut conn, &location.db_name, &spec, &record).await {
                tracing::warn!(tenant_id = tenant.tenant_id, line_id, error = %e, "could not record the run in dash_line_state");
            }
        }
        Ok(item)
    }
    .await;
    result.unwrap_or_else(|e| failed(tid, Some(line_id), started, &e))
}

/// The instant of a stored wall time (`data_timezone`), with the plant's
/// offset, as every instant of an answer is written.
fn instant(stored: &NaiveDateTime, tenant: &Tenant) -> String {
    let mut clock = DataClock::new(tenant.data_timezone());
    format_instant(clock.to_utc(stored), tenant.timezone())
}

/// The justified stops a recomputation changed, with what replaced them.
fn changed_justified_json(r: &engine::RecomputeReport, tenant: &Tenant) -> Value {
    r.changed_justified
        .iter()
        .map(|c| {
            let replaced_by: Vec<Value> = c
                .replaced_by
                .iter()
                .map(|e| {
                    json!({
                        "start_time": instant(&e.start, tenant),
                        "end_time": instant(&e.end, tenant),
                        "is_micro": e.is_micro,
                    })
                })
                .collect();
            json!({
                "downtime_id": c.old.downtime_id,
                "start_time": instant(&c.old.start, tenant),
                "end_time": instant(&c.old.end, tenant),
                "failure_id": c.old.failure_id,
                "replaced_by": replaced_by,
            })
        })
        .collect()
}
