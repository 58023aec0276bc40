//! AWS Lambda: an EventBridge scheduled event picks the job — `detail.job`,
//! else the rule name in `resources` (containing `downtime`, `partitions` or
//! `housekeeping`), else a plain `{"job": ...}` input — and the job's summary
//! is the invocation's response.

use std::process::ExitCode;

use serde_json::Value;

use crate::{build_state, run_job, DowntimeArgs, Job, DEFAULT_PARTITION_MONTHS};
use dash_store::HostKind;
use shared::state::AppState;

/// An id option of an event: a positive whole number, or its text.
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

/// The job called `name`, its options from `opts`.
fn job_named(name: &str, opts: &Value) -> Result<Job, String> {
    match name {
        "downtime" => {
            let from = match opts.get("from") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(crate::cli::instant_text(s)?),
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
fn job_from_event(event: &Value) -> Result<Job, String> {
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

/// Serves invocations until the runtime stops.
pub fn main() -> ExitCode {
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
async fn handle_invocation(
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
    use serde_json::json;

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
