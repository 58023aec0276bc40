//! The scheduled work of the `jobs` function (docs/api.md#routes, §13):
//!
//! * `downtime` — the incremental downtime calculation for every active tenant
//!   and line (or one tenant / line), optionally recomputing from a time first
//!   (`--from`, for late data), then each line's minute rollup of detections
//!   brought up to date ([`dash_store::query::rollup`]: the exact pre-aggregation
//!   long data and metrics windows read);
//! * `partitions` — monthly partitions of every line's detection table, a few
//!   months ahead (rows are never dropped);
//! * `housekeeping` — expired sessions, old rate-limit rows, old job history.
//!
//! On AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set) an EventBridge scheduled event
//! picks the job: `detail.job`, else the rule name in `resources` (containing
//! `downtime`, `partitions` or `housekeeping`), else a plain `{"job": ...}`
//! input. Anywhere else (cron on cPanel) the command line does:
//! `jobs downtime [--tenant N] [--line N] [--from T]`, `jobs partitions
//! [--months N]`, `jobs housekeeping`.
//!
//! One failing tenant or line never stops the others. Every unit of work is
//! logged and recorded: a row in the global `job_run` table and, for downtime,
//! the line's `downtime_last_run` and `rollup_last_run` in the client's
//! `system_monitor`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use mysql_async::prelude::Queryable;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use dash_store::downtime::engine::{self, EngineOptions, LineSpec, RecomputeOutcome, RunOutcome};
use dash_store::downtime::store::fmt_naive;
use dash_store::error::{AppError, AppResult};
use dash_store::query::{rollup, DetectionTable};
use dash_store::tenancy::{self, Tenant};
use dash_store::HostKind;
use shared::config::{self, Config};
use shared::state::AppState;

/// Months of partitions kept ahead of the current one.
pub const DEFAULT_PARTITION_MONTHS: u32 = 3;
/// `job_run` rows older than this are deleted by housekeeping.
pub const JOB_RUN_KEEP_DAYS: i64 = 90;
/// Tenants processed at the same time.
const TENANT_CONCURRENCY: usize = 4;

const USAGE: &str = "\
jobs — scheduled work of Dashboard SaaS Industrial

USAGE:
    jobs downtime [--tenant ID] [--line ID] [--from TIME]
    jobs partitions [--tenant ID] [--months N]
    jobs housekeeping
    jobs help

COMMANDS:
    downtime      Incremental downtime calculation for every active tenant and line
                  (docs/downtime.md#downtime). --tenant / --line restrict it; --from TIME first
                  recomputes the stops from TIME on (late data), keeping the
                  justification of every stop that did not change. TIME is ISO 8601
                  (2026-04-01 or 2026-04-01T06:00), plant-local without an offset.
                  Then folds each line's new detections into the minute rollup
                  that long data and metrics queries read.
    partitions    Creates the next months' partitions of every line's detection
                  table (default 3 months ahead); never drops data.
    housekeeping  Marks expired sessions, deletes old rate-limit rows and job history.

OPTIONS:
    --json        Print the summary as JSON instead of text.
    -h, --help    Show this help.

Configuration comes from the environment or an env file (DASHBOARD_ENV_FILE,
.env beside the binary, or .env in the working directory): DATABASE_URL,
DB_GLOBAL_NAME, CLIENT_DB_URL, JWT_SECRET. Exit status: 0 when every unit of
work succeeded (or was busy / had nothing to do), 1 when any failed, 2 for a
usage or configuration error.

Cron line (cPanel), every 15 minutes:
    */15 * * * * /home/USER/dashboard/jobs downtime >> /home/USER/logs/jobs.log 2>&1
";

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Downtime(DowntimeArgs),
    Partitions { tenant: Option<i64>, months: u32 },
    Housekeeping,
}

impl Job {
    pub fn name(&self) -> &'static str {
        match self {
            Job::Downtime(_) => "downtime",
            Job::Partitions { .. } => "partitions",
            Job::Housekeeping => "housekeeping",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DowntimeArgs {
    pub tenant: Option<i64>,
    pub line: Option<i64>,
    /// Recompute from this time (plant-local unless it has an offset).
    pub from: Option<String>,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Run { job: Job, json: bool },
}

fn parse_id(flag: &str, value: Option<&String>) -> Result<i64, String> {
    let v = value.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{flag} must be a positive whole number, got {v:?}"))
}

/// Parses `jobs <command> [options]` (without the program name).
pub fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter();
    let Some(cmd) = it.next() else {
        return Err("no command given".into());
    };
    if matches!(cmd.as_str(), "help" | "-h" | "--help") {
        return Ok(Command::Help);
    }
    let mut tenant = None;
    let mut line = None;
    let mut from = None;
    let mut months = None;
    let mut json = false;
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned());
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "--json" => json = true,
            "--tenant" => tenant = Some(parse_id("--tenant", value().as_ref())?),
            "--line" => line = Some(parse_id("--line", value().as_ref())?),
            "--from" => {
                let v = value()
                    .filter(|v| !v.trim().is_empty())
                    .ok_or("--from needs a time")?;
                dash_core::timeutil::parse_instant(&v, chrono_tz::UTC, "from")
                    .map_err(|e| format!("--from: {e}"))?;
                from = Some(v);
            }
            "--months" => {
                let v = value().ok_or("--months needs a number")?;
                months = Some(
                    v.parse::<u32>()
                        .ok()
                        .filter(|m| (1..=36).contains(m))
                        .ok_or_else(|| format!("--months must be between 1 and 36, got {v:?}"))?,
                );
            }
            other => return Err(format!("unknown option {other:?} for {cmd}")),
        }
    }
    let job = match cmd.as_str() {
        "downtime" => {
            if months.is_some() {
                return Err("--months applies to partitions only".into());
            }
            Job::Downtime(DowntimeArgs { tenant, line, from })
        }
        "partitions" => {
            if line.is_some() || from.is_some() {
                return Err("partitions takes --tenant and --months only".into());
            }
            Job::Partitions {
                tenant,
                months: months.unwrap_or(DEFAULT_PARTITION_MONTHS),
            }
        }
        "housekeeping" => {
            if tenant.is_some() || line.is_some() || from.is_some() || months.is_some() {
                return Err("housekeeping takes no options".into());
            }
            Job::Housekeeping
        }
        other => return Err(format!("unknown command {other:?}")),
    };
    Ok(Command::Run { job, json })
}

fn opt_id(v: &Value, key: &str) -> Result<Option<i64>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => x
            .as_i64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| format!("{key} must be a positive whole number")),
    }
}

fn job_named(name: &str, opts: &Value) -> Result<Job, String> {
    match name {
        "downtime" => {
            let from = match opts.get("from") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => {
                    dash_core::timeutil::parse_instant(s, chrono_tz::UTC, "from")
                        .map_err(|e| e.to_string())?;
                    Some(s.clone())
                }
                Some(_) => return Err("from must be an ISO 8601 string".into()),
            };
            Ok(Job::Downtime(DowntimeArgs {
                tenant: opt_id(opts, "tenant_id")?,
                line: opt_id(opts, "line_id")?,
                from,
            }))
        }
        "partitions" => Ok(Job::Partitions {
            tenant: opt_id(opts, "tenant_id")?,
            months: match opts.get("months").and_then(Value::as_u64) {
                Some(m) if (1..=36).contains(&m) => m as u32,
                Some(_) => return Err("months must be between 1 and 36".into()),
                None => DEFAULT_PARTITION_MONTHS,
            },
        }),
        "housekeeping" => Ok(Job::Housekeeping),
        other => Err(format!(
            "unknown job {other:?}: use downtime, partitions or housekeeping"
        )),
    }
}

const JOB_NAMES: [&str; 3] = ["downtime", "partitions", "housekeeping"];

/// The job an invocation asks for: an EventBridge event (`detail.job`, else
/// the rule name in `resources`) or a plain `{"job": ...}` input. Options
/// (`tenant_id`, `line_id`, `from`, `months`) come from the same object.
pub fn job_from_event(event: &Value) -> Result<Job, String> {
    let is_eventbridge = event.get("detail-type").is_some() && event.get("source").is_some();
    if is_eventbridge {
        let parsed: aws_lambda_events::eventbridge::EventBridgeEvent<Value> =
            serde_json::from_value(event.clone())
                .map_err(|e| format!("not an EventBridge event: {e}"))?;
        if let Some(name) = parsed.detail.get("job").and_then(Value::as_str) {
            return job_named(name, &parsed.detail);
        }
        let resources = parsed.resources.unwrap_or_default();
        for name in JOB_NAMES {
            if resources
                .iter()
                .any(|r| r.to_ascii_lowercase().contains(name))
            {
                return job_named(name, &parsed.detail);
            }
        }
        return Err(format!(
            "cannot tell which job to run: give detail.job or a rule name containing {} (resources: {resources:?})",
            JOB_NAMES.join(", ")
        ));
    }
    match event.get("job").and_then(Value::as_str) {
        Some(name) => job_named(name, event),
        None => Err("cannot tell which job to run: send {\"job\": \"downtime\"} or an EventBridge scheduled event".into()),
    }
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

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
    fn as_str(self) -> &'static str {
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
    pub items: Vec<ItemResult>,
}

impl JobSummary {
    fn new(
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
        }
        out.push_str(&format!(
            "{} finished in {} ms: {} ok, {} busy, {} skipped, {} failed\n",
            self.job, self.duration_ms, self.ok, self.busy, self.skipped, self.failed
        ));
        out
    }
}

fn failed(
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
    }
}

// ---------------------------------------------------------------------------
// Recording: job_run (global) and logs
// ---------------------------------------------------------------------------

async fn job_run_start(
    state: &AppState,
    job: &str,
    tenant_id: Option<i64>,
    line_id: Option<i64>,
) -> Option<i64> {
    let result: AppResult<i64> = async {
        let mut conn = state.db().global().await?;
        conn.exec_drop(
            "INSERT INTO job_run (job, tenant_id, line_id, started_at, status) VALUES (?, ?, ?, ?, 'running')",
            (job, tenant_id, line_id, state.now().naive_utc()),
        )
        .await?;
        Ok(conn.last_insert_id().map(|id| id as i64).unwrap_or(0))
    }
    .await;
    match result {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(job, tenant_id, line_id, error = %e, "could not record the job run");
            None
        }
    }
}

async fn job_run_finish(state: &AppState, run_id: Option<i64>, item: &ItemResult) {
    let Some(run_id) = run_id else {
        return;
    };
    let result: AppResult<()> = async {
        let mut conn = state.db().global().await?;
        conn.exec_drop(
            "UPDATE job_run SET finished_at = ?, status = ?, rows_processed = ?, detail = ? WHERE run_id = ?",
            (
                state.now().naive_utc(),
                item.status.as_str(),
                item.rows,
                item.detail.to_string(),
                run_id,
            ),
        )
        .await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(run_id, error = %e, "could not record the end of the job run");
    }
}

/// Logs an item that failed before its run could be recorded, and records it.
async fn record_failed(state: &AppState, job: &str, item: &ItemResult) {
    log_item(job, item);
    let run_id = job_run_start(state, job, item.tenant_id, item.line_id).await;
    job_run_finish(state, run_id, item).await;
}

fn log_item(job: &str, item: &ItemResult) {
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

// ---------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------

/// The active tenants (or the one asked for, which must exist and be active).
pub async fn tenants_to_run(state: &AppState, only: Option<i64>) -> AppResult<Vec<Tenant>> {
    let mut conn = state.db().global().await?;
    let ids: Vec<i64> = match only {
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
    drop(conn);
    if let (Some(id), true) = (only, ids.is_empty()) {
        return Err(AppError::validation(
            "tenant",
            format!("tenant {id} does not exist or is not active"),
        ));
    }
    let mut tenants = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(t) = tenancy::load_tenant(state, id).await? {
            tenants.push(t);
        }
    }
    Ok(tenants)
}

/// Runs `per_tenant` for every tenant, a few at a time; a tenant's failure is
/// its own items' business.
async fn for_each_tenant<F, Fut>(
    state: &AppState,
    tenants: Vec<Tenant>,
    per_tenant: F,
) -> Vec<ItemResult>
where
    F: Fn(AppState, Tenant) -> Fut,
    Fut: std::future::Future<Output = Vec<ItemResult>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(TENANT_CONCURRENCY));
    let mut set = tokio::task::JoinSet::new();
    for (i, tenant) in tenants.into_iter().enumerate() {
        let tenant_id = tenant.tenant_id;
        let fut = per_tenant(state.clone(), tenant);
        let permits = permits.clone();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, tenant_id, fut.await)
        });
    }
    let mut results: Vec<(usize, Vec<ItemResult>)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, _, items)) => results.push((i, items)),
            Err(e) => {
                tracing::error!(panic = e.is_panic(), "a tenant's job task ended abnormally");
                results.push((
                    usize::MAX,
                    vec![failed(
                        None,
                        None,
                        Instant::now(),
                        &AppError::internal("task ended abnormally"),
                    )],
                ));
            }
        }
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().flat_map(|(_, items)| items).collect()
}

// ---------------------------------------------------------------------------
// downtime
// ---------------------------------------------------------------------------

/// Runs the downtime job.
pub async fn run_downtime(state: &AppState, args: &DowntimeArgs) -> JobSummary {
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
/// the line's `rollup_last_run` row in `system_monitor`. A failure fails the
/// item (and only this line: counts not folded in yet are simply read raw,
/// so answers stay exact); another run holding the line is not an error.
pub async fn rollup_for_line(
    state: &AppState,
    tenant: &Tenant,
    meta: &dash_store::metadata::TenantMetadata,
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
        let r = rollup::refresh_line(&mut conn, &t, rollup_batch_ids()).await?;
        Ok(if r.busy {
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
        })
    }
    .await;
    let detail = match result {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(tenant_id = tenant.tenant_id, line_id, error = %e, "rollup refresh failed");
            item.status = ItemStatus::Failed;
            json!({ "status": "failed", "error": e.to_string() })
        }
    };
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
                tracing::warn!(tenant_id = tenant.tenant_id, line_id, error = %e, "could not record the rollup run in system_monitor");
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
/// calculation for one line; records its outcome in `system_monitor`.
pub async fn downtime_for_line(
    state: &AppState,
    tenant: &Tenant,
    meta: &dash_store::metadata::TenantMetadata,
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
                    detail.insert(
                        "recompute".into(),
                        json!({
                            "detections": r.detections,
                            "kept": r.kept,
                            "deleted": r.deleted,
                            "inserted": r.inserted,
                            "relinked": r.relinked,
                            "note": r.note,
                            "changed_justified": r.changed_justified.iter().map(|c| json!({
                                "downtime_id": c.old.downtime_id,
                                "start_time": fmt_naive(&c.old.start),
                                "end_time": fmt_naive(&c.old.end),
                                "failure_id": c.old.failure_id,
                                "replaced_by": c.replaced_by.iter().map(|e| json!({
                                    "start_time": fmt_naive(&e.start),
                                    "end_time": fmt_naive(&e.end),
                                    "is_micro": e.is_micro,
                                })).collect::<Vec<_>>(),
                            })).collect::<Vec<_>>(),
                        }),
                    );
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
                            "detected_at": fmt_naive(&w.detected_at),
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
                tracing::warn!(tenant_id = tenant.tenant_id, line_id, error = %e, "could not record the run in system_monitor");
            }
        }
        Ok(item)
    }
    .await;
    result.unwrap_or_else(|e| failed(tid, Some(line_id), started, &e))
}

// ---------------------------------------------------------------------------
// partitions
// ---------------------------------------------------------------------------

pub async fn run_partitions(state: &AppState, tenant: Option<i64>, months: u32) -> JobSummary {
    let started_at = state.now();
    let started = Instant::now();
    let tenants = match tenants_to_run(state, tenant).await {
        Ok(t) => t,
        Err(e) => {
            let item = failed(tenant, None, started, &e);
            record_failed(state, "partitions", &item).await;
            return JobSummary::new("partitions", started_at, started, vec![item]);
        }
    };
    let items = for_each_tenant(state, tenants, move |state, tenant| async move {
        partitions_for_tenant(&state, &tenant, months).await
    })
    .await;
    JobSummary::new("partitions", started_at, started, items)
}

async fn partitions_for_tenant(state: &AppState, tenant: &Tenant, months: u32) -> Vec<ItemResult> {
    let started = Instant::now();
    let tid = Some(tenant.tenant_id);
    let location = tenant.db_location();
    let lines = match async {
        let mut conn = state.db().client(&location).await?;
        dash_store::schema::client_lines(&mut conn, &location.db_name)
            .await
            .map_err(dash_store::downtime::store::schema_err)
    }
    .await
    {
        Ok(l) => l,
        Err(e) => {
            let item = failed(tid, None, started, &e);
            record_failed(state, "partitions", &item).await;
            return vec![item];
        }
    };
    let mut items = Vec::with_capacity(lines.len());
    for line in lines {
        let started = Instant::now();
        let run_id = job_run_start(state, "partitions", tid, Some(line.line_id)).await;
        let item = partitions_for_line(state, &location, &line, months, started)
            .await
            .unwrap_or_else(|e| failed(tid, Some(line.line_id), started, &e));
        let item = ItemResult {
            tenant_id: tid,
            ..item
        };
        log_item("partitions", &item);
        job_run_finish(state, run_id, &item).await;
        items.push(item);
    }
    items
}

async fn partitions_for_line(
    state: &AppState,
    location: &dash_store::db::DbLocation,
    line: &dash_store::schema::ClientLine,
    months: u32,
    started: Instant,
) -> AppResult<ItemResult> {
    use dash_store::schema::SchemaError;
    let skipped = |reason: String| ItemResult {
        tenant_id: None,
        line_id: Some(line.line_id),
        status: ItemStatus::Skipped,
        rows: 0,
        duration_ms: started.elapsed().as_millis() as u64,
        detail: json!({ "reason": reason }),
    };
    let Some(code) = line.line_code.as_deref() else {
        return Ok(skipped(format!(
            "line {} has no usable line code",
            line.line_id
        )));
    };
    let table = dash_store::schema::detection_table(code)
        .map_err(dash_store::downtime::store::schema_err)?;
    let mut conn = state.db().client(location).await?;
    if !dash_store::schema::table_exists(&mut conn, &location.db_name, &table)
        .await
        .map_err(dash_store::downtime::store::schema_err)?
    {
        return Ok(skipped(format!("{table} does not exist")));
    }
    match dash_store::schema::ensure_partitions(&mut conn, &location.db_name, &table, months).await
    {
        Ok(added) => Ok(ItemResult {
            tenant_id: None,
            line_id: Some(line.line_id),
            status: ItemStatus::Ok,
            rows: added.len() as u64,
            duration_ms: started.elapsed().as_millis() as u64,
            detail: json!({ "table": table, "added": added }),
        }),
        // Not partitioned by month, or partitioned some other way: the plant's
        // DBA maintains it; nothing to do here.
        Err(SchemaError::Schema(reason)) => Ok(skipped(reason)),
        Err(e) => Err(dash_store::downtime::store::schema_err(e)),
    }
}

// ---------------------------------------------------------------------------
// housekeeping
// ---------------------------------------------------------------------------

pub async fn run_housekeeping(state: &AppState) -> JobSummary {
    let started_at = state.now();
    let started = Instant::now();
    let run_id = job_run_start(state, "housekeeping", None, None).await;
    let result: AppResult<ItemResult> = async {
        let auth = shared::auth::housekeeping(state.db(), state.now()).await?;
        let cutoff = (state.now() - chrono::Duration::days(JOB_RUN_KEEP_DAYS)).naive_utc();
        let mut conn = state.db().global().await?;
        let mut job_runs = 0u64;
        loop {
            conn.exec_drop(
                "DELETE FROM job_run WHERE started_at < ? LIMIT 5000",
                (cutoff,),
            )
            .await?;
            let n = conn.affected_rows();
            job_runs += n;
            if n < 5000 {
                break;
            }
        }
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
        })
    }
    .await;
    let item = result.unwrap_or_else(|e| failed(None, None, started, &e));
    log_item("housekeeping", &item);
    job_run_finish(state, run_id, &item).await;
    JobSummary::new("housekeeping", started_at, started, vec![item])
}

/// Runs one job to the end.
pub async fn run_job(state: &AppState, job: &Job) -> JobSummary {
    let summary = match job {
        Job::Downtime(args) => run_downtime(state, args).await,
        Job::Partitions { tenant, months } => run_partitions(state, *tenant, *months).await,
        Job::Housekeeping => run_housekeeping(state).await,
    };
    tracing::info!(
        job = summary.job,
        duration_ms = summary.duration_ms,
        ok = summary.ok,
        busy = summary.busy,
        skipped = summary.skipped,
        failed = summary.failed,
        "job finished"
    );
    summary
}

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

fn build_state(host: HostKind) -> Result<AppState, String> {
    config::load_env_file();
    let config = Config::from_env().map_err(|e| e.to_string());
    let log_format = config
        .as_ref()
        .map(|c| c.log_format)
        .unwrap_or(if host == HostKind::Lambda {
            config::LogFormat::Json
        } else {
            config::LogFormat::Text
        });
    shared::telemetry::init(log_format);
    shared::telemetry::install_panic_hook();
    AppState::new("jobs", host, config?).map_err(|e| e.to_string())
}

/// The `jobs` binary: Lambda when `AWS_LAMBDA_RUNTIME_API` is set, else the
/// command line.
pub fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda_main();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    cli_main(&args)
}

/// The command line (cron on cPanel).
pub fn cli_main(args: &[String]) -> ExitCode {
    let (job, as_json) = match parse_args(args) {
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Run { job, json }) => (job, json),
        Err(e) => {
            eprintln!("jobs: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let state = match build_state(HostKind::Cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("jobs: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match shared::hosts::runtime(HostKind::Cli) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("jobs: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let summary = rt.block_on(async {
        let summary = run_job(&state, &job).await;
        state.db().clone().disconnect().await;
        summary
    });
    if as_json {
        match serde_json::to_string_pretty(&summary) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("jobs: {e}"),
        }
    } else {
        print!("{}", summary.to_text());
    }
    if summary.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// AWS Lambda with EventBridge scheduled events.
fn lambda_main() -> ExitCode {
    let state = build_state(HostKind::Lambda);
    if let Err(e) = &state {
        tracing::error!(error = %e, "jobs: configuration error; every invocation will fail");
    }
    let rt = match shared::hosts::runtime(HostKind::Lambda) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("jobs: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let handler = lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<Value>| {
        let state = state.clone();
        async move { handle_invocation(state, event.payload).await }
    });
    match rt.block_on(lambda_runtime::run(handler)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

/// One invocation: the summary of the job as the response. Units of work that
/// failed are in the summary (`failed`); only an invocation that could not run
/// at all (bad event, configuration) is an error, so EventBridge does not
/// retry a run that did its work.
pub async fn handle_invocation(
    state: Result<AppState, String>,
    payload: Value,
) -> Result<Value, String> {
    let state = state.map_err(|e| format!("configuration error: {e}"))?;
    let job =
        job_from_event(&payload).inspect_err(|e| tracing::error!(error = %e, "bad invocation"))?;
    let summary = run_job(&state, &job).await;
    serde_json::to_value(&summary).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            parse_args(&args("downtime")),
            Ok(Command::Run {
                job: Job::Downtime(DowntimeArgs::default()),
                json: false
            })
        );
        assert_eq!(
            parse_args(&args(
                "downtime --tenant 3 --line=4 --from 2026-04-01T06:00 --json"
            )),
            Ok(Command::Run {
                job: Job::Downtime(DowntimeArgs {
                    tenant: Some(3),
                    line: Some(4),
                    from: Some("2026-04-01T06:00".into())
                }),
                json: true
            })
        );
        assert_eq!(
            parse_args(&args("partitions --months 6")),
            Ok(Command::Run {
                job: Job::Partitions {
                    tenant: None,
                    months: 6
                },
                json: false
            })
        );
        assert_eq!(parse_args(&args("housekeeping --help")), Ok(Command::Help));
        assert_eq!(parse_args(&args("help")), Ok(Command::Help));
        assert!(parse_args(&args("downtime --tenant x")).is_err());
        assert!(parse_args(&args("downtime --tenant -1")).is_err());
        assert!(parse_args(&args("downtime --from yesterday")).is_err());
        assert!(parse_args(&args("downtime --bogus")).is_err());
        assert!(parse_args(&args("partitions --months 0")).is_err());
        assert!(parse_args(&args("housekeeping --tenant 1")).is_err());
        assert!(parse_args(&args("explode")).is_err());
        assert!(parse_args(&[]).is_err());
    }

    fn scheduled(resources: &[&str], detail: Value) -> Value {
        json!({
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-04-01T06:15:00Z",
            "region": "eu-west-1",
            "resources": resources,
            "detail": detail
        })
    }

    #[test]
    fn events_pick_the_job() {
        let rule = "arn:aws:events:eu-west-1:123456789012:rule/dashboard-jobs-downtime";
        assert_eq!(
            job_from_event(&scheduled(&[rule], json!({}))),
            Ok(Job::Downtime(DowntimeArgs::default()))
        );
        let rule = "arn:aws:events:eu-west-1:123456789012:rule/dashboard-Partitions-daily";
        assert_eq!(
            job_from_event(&scheduled(&[rule], json!({}))),
            Ok(Job::Partitions {
                tenant: None,
                months: DEFAULT_PARTITION_MONTHS
            })
        );
        // detail.job wins over the rule name.
        assert_eq!(
            job_from_event(&scheduled(&[rule], json!({"job": "housekeeping"}))),
            Ok(Job::Housekeeping)
        );
        assert_eq!(
            job_from_event(&scheduled(
                &[],
                json!({"job": "downtime", "tenant_id": 2, "line_id": "5"})
            )),
            Ok(Job::Downtime(DowntimeArgs {
                tenant: Some(2),
                line: Some(5),
                from: None
            }))
        );
        assert_eq!(
            job_from_event(&json!({"job": "housekeeping"})),
            Ok(Job::Housekeeping)
        );
        assert!(job_from_event(&scheduled(&["arn:rule/other"], json!({}))).is_err());
        assert!(job_from_event(&json!({})).is_err());
        assert!(job_from_event(&json!({"job": "rm -rf"})).is_err());
        assert!(job_from_event(&json!({"job": "downtime", "from": "soon"})).is_err());
        assert!(job_from_event(&json!({"job": "downtime", "tenant_id": -3})).is_err());
    }
}
