//! `PUT /downtime/running`: the reason of the stop a line is in now
//! (docs/downtime.md#a-reason-for-a-running-stop). That stop is never stored
//! until it ends, so the reason waits in the product's own state in the
//! client database (`dash_store::downtime::running`) and the downtime job
//! puts it on the stop when it stores it. Operator and up, within the
//! caller's lines; audited with the reason before and after.
//!
//! The body names the stop by its line and `since` (as `open_stops` shows
//! it): if the line is no longer stopped, or stopped again since another
//! time, the reason would land on the wrong stop, so that is a 409.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use dash_core::timeutil;
use dash_store::downtime::clock::DataClock;
use dash_store::downtime::running::{self, RunningReason};
use dash_store::downtime::{engine, store, LineSpec};
use dash_store::error::{AppError, AppResult};
use shared::auth::audit;
use shared::auth::input::Fields;
use shared::auth::Permission;
use shared::extract::{Call, Input};
use shared::http::{self, Request, Response};
use shared::state::AppState;

use crate::reason::{named_comment, NamedReason, REASON_FIELDS};
use crate::request::stop_line;
use crate::views::open_stop_view;

const RUNNING_FIELDS: [&str; 7] = [
    REASON_FIELDS[0],
    REASON_FIELDS[1],
    REASON_FIELDS[2],
    REASON_FIELDS[3],
    REASON_FIELDS[4],
    "line_id",
    "since",
];

/// `since`: the instant the stop started, with its offset, as shown.
fn since_field(fields: &Fields) -> AppResult<DateTime<Utc>> {
    let v = fields.req_str("since")?;
    DateTime::parse_from_rfc3339(v.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            AppError::validation(
                "since",
                "since must be the running stop's since as GET /downtime shows it (an instant with its offset)",
            )
        })
}

fn reason_json(r: Option<&RunningReason>) -> Value {
    r.map_or(Value::Null, |r| {
        json!({"failure_id": r.failure_id, "justification": r.comment, "justified_by": r.justified_by})
    })
}

pub async fn justify_running(req: Request, state: AppState) -> AppResult<Response> {
    let call = Call::extract(req, state, Permission::DowntimeJustify, Input::Query).await?;
    let fields = Fields::parse(&call.req, &RUNNING_FIELDS)?;
    let named_line = fields
        .opt_id("line_id")?
        .ok_or_else(|| AppError::validation("line_id", "line_id is required"))?;
    let line_id = stop_line(&call, Some(named_line))?;
    let since = since_field(&fields)?;
    let reason = NamedReason::read(&fields)?;
    let comment = named_comment(&fields)?;

    let db_name = call.tenant.db_location().db_name;
    let mut conn = call.state.db().client(&call.tenant.db_location()).await?;
    let failure_id = reason.resolve(&mut conn).await?;
    let spec = LineSpec::from_metadata(&call.meta, &call.tenant, line_id)?;
    let now = call.state.now();
    let tz = call.tenant.timezone();
    let open = engine::open_stop(&mut conn, &db_name, &spec, now)
        .await?
        .ok_or_else(|| {
            AppError::conflict_on(
                "since",
                format!("line {line_id} is not stopped now: its stop has ended and goes to the list of stops when the job stores it; justify it there"),
            )
        })?;
    if open.since != since {
        return Err(AppError::conflict_on(
            "since",
            format!(
                "line {line_id} is now stopped since {}; reload and try again",
                timeutil::format_instant(open.since, tz)
            ),
        ));
    }
    let before = running::load(&mut conn, &db_name, line_id, &open.since_naive).await?;
    let clock = DataClock::new(call.tenant.data_timezone());
    let entered = RunningReason {
        since: open.since_naive,
        failure_id,
        comment,
        justified_by: Some(call.ctx.user_id),
        justified_at: clock.to_naive(now),
    };
    running::save(&mut conn, &db_name, line_id, &entered).await?;
    // The job may have stored the stop between our check and the save: then
    // the reason goes on the stored stop now rather than waiting forever.
    let tables = spec.tables(&db_name)?;
    if let Some(wm) = store::load_watermark(&mut conn, &tables).await? {
        running::settle(&mut conn, &db_name, line_id, &tables.events, wm.detected_at).await?;
    }
    drop(conn);

    audit::record_for(
        &call.state,
        &call.ctx,
        &call.req,
        "downtime.justify_running",
        "downtime_running",
        format!("{line_id}:{}", timeutil::format_instant(open.since, tz)),
        json!({
            "line_id": line_id,
            "since": timeutil::format_instant(open.since, tz),
            "before": reason_json(before.as_ref()),
            "after": reason_json(Some(&entered)),
        }),
    )
    .await?;
    Ok(http::data(&open_stop_view(
        &call,
        &spec,
        &open,
        Some(&entered),
    )))
}
