//! The scheduled work of the `jobs` function (docs/api.md#routes, §13):
//!
//! * `downtime` — the incremental downtime calculation for every active tenant
//!   and line (or one tenant / line), optionally recomputing from a time first
//!   (`--from`, for late data), then each line's minute rollup of detections
//!   brought up to date ([`dash_store::query::rollup`]: the exact pre-aggregation
//!   long data and metrics windows read) ([`downtime`]);
//! * `partitions` — monthly partitions of every line's detection table, a few
//!   months ahead (rows are never dropped) ([`partitions`]);
//! * `housekeeping` — expired sessions, old rate-limit rows, old job history
//!   ([`housekeeping`]).
//!
//! On AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set) an EventBridge scheduled event
//! picks the job ([`lambda`]); anywhere else (cron on cPanel) the command line
//! does ([`cli`]): `jobs downtime [--tenant N] [--line N] [--from T]`,
//! `jobs partitions [--months N]`, `jobs housekeeping`.
//!
//! One failing tenant or line never stops the others. Every unit of work is
//! logged and recorded ([`report`]): a row in the global `job_run` table and,
//! for downtime, the line's `downtime_last_run` and `rollup_last_run` in the
//! product's `dash_line_state` table of the client database.

mod cli;
mod downtime;
mod housekeeping;
mod lambda;
mod partitions;
mod report;
mod tenants;

use std::process::ExitCode;

use clap::{Args, Subcommand};

use dash_store::HostKind;
use report::JobSummary;
use shared::config::{self, Config};
use shared::state::AppState;

/// Months of partitions kept ahead of the current one.
const DEFAULT_PARTITION_MONTHS: u32 = 3;

/// What to run: a subcommand of the command line, or the job an event names.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
enum Job {
    /// Incremental downtime calculation for every active tenant and line
    /// (docs/downtime.md). --tenant / --line restrict it; --from TIME first
    /// recomputes the stops from TIME on (late data), keeping the justification
    /// of every stop that did not change. Then folds each line's new
    /// detections into the minute rollup that long data and metrics queries
    /// read.
    Downtime(DowntimeArgs),
    /// Creates the next months' partitions of every line's detection table;
    /// never drops data.
    Partitions {
        /// Only this tenant.
        #[arg(long, value_name = "ID", value_parser = cli::positive_id)]
        tenant: Option<i64>,
        /// Months ahead of the current one.
        #[arg(long, value_name = "N", default_value_t = DEFAULT_PARTITION_MONTHS,
              value_parser = clap::value_parser!(u32).range(1..=36))]
        months: u32,
    },
    /// Marks expired sessions, deletes old rate-limit rows and job history.
    Housekeeping,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
struct DowntimeArgs {
    /// Only this tenant.
    #[arg(long, value_name = "ID", value_parser = cli::positive_id)]
    tenant: Option<i64>,
    /// Only this line (of every tenant run).
    #[arg(long, value_name = "ID", value_parser = cli::positive_id)]
    line: Option<i64>,
    /// Recompute from this time first: ISO 8601 (2026-04-01 or
    /// 2026-04-01T06:00), plant-local unless it carries an offset.
    #[arg(long, value_name = "TIME", value_parser = cli::instant_text)]
    from: Option<String>,
}

/// Runs one job to the end.
async fn run_job(state: &AppState, job: &Job) -> JobSummary {
    let summary = match job {
        Job::Downtime(args) => downtime::run(state, args).await,
        Job::Partitions { tenant, months } => partitions::run(state, *tenant, *months).await,
        Job::Housekeeping => housekeeping::run(state).await,
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

/// The runtime state of the process, with logging set up for its host.
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
        return lambda::main();
    }
    cli::main(std::env::args_os())
}
