//! `POST /downtime/calculate`: recomputes a bounded window of some lines
//! (late data), keeping the justification of every unchanged stop, then
//! catches each line up with the incremental run; manager and up; audited.

use serde_json::{json, Map, Value};

use dash_core::timeutil::WindowQuery;
use dash_store::downtime::clock::DataClock;
use dash_store::downtime::engine::{self, EngineOptions, RecomputeOutcome, RunOutcome};
use dash_store::downtime::LineSpec;
use dash_store::error::{AppError, AppResult};
use shared::auth::audit;
use shared::auth::input::Fields;
use shared::auth::Permission;
use shared::extract::{Call, Input};
use shared::http::{self, Request, Response};
use shared::params::MAX_IDS;
use shared::state::AppState;

use crate::request::{plant, resolve_window};
use crate::views::{event_view, stop_view, window_json};

const CALCULATE_FIELDS: [&str; 5] = ["line_id", "line_ids", "start_date", "end_date", "range"];

/// `line_id` and the list `line_ids` of the body, merged; none = every
/// visible line.
fn requested_lines(fields: &Fields) -> AppResult<Vec<i64>> {
    let mut requested: Vec<i64> = Vec::new();
    if let Some(id) = fields.opt_id("line_id")? {
        requested.push(id);
    }
    let not_a_list = || AppError::validation("line_ids", "line_ids must be a list of line ids");
    match fields.raw("line_ids") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for v in items {
                let id = v.as_i64().filter(|n| *n > 0).ok_or_else(not_a_list)?;
                if !requested.contains(&id) {
                    requested.push(id);
                }
            }
        }
        Some(_) => return Err(not_a_list()),
    }
    if requested.len() > MAX_IDS {
        return Err(AppError::validation(
            "line_ids",
            format!("at most {MAX_IDS} lines at once"),
        ));
    }
    Ok(requested)
}

pub async fn calculate(req: Request, state: AppState) -> AppResult<Response> {
    let call = Call::extract(req, state, Permission::DowntimeCalculate, Input::Query).await?;
    let fields = Fields::parse(&call.req, &CALCULATE_FIELDS)?;
    let requested = requested_lines(&fields)?;
    let lines = call.ctx.resolve_lines(
        &call.meta,
        (!requested.is_empty()).then_some(requested.as_slice()),
    )?;
    let q = WindowQuery {
        start_date: fields.opt_str("start_date")?,
        end_date: fields.opt_str("end_date")?,
        range: fields.opt_str("range")?,
    };
    if q.start_date.is_none() && q.range.is_none() {
        return Err(AppError::validation(
            "start_date",
            "give the window to recompute: start_date and end_date, or range",
        ));
    }
    let window = resolve_window(&plant(&call), q, None)?;

    let opts = EngineOptions::default();
    let db_name = call.tenant.db_location().db_name;
    let mut conn = call.state.db().client(&call.tenant.db_location()).await?;
    let tz = call.tenant.timezone();
    let mut clock = DataClock::new(call.tenant.data_timezone());
    let mut results = Vec::new();
    let mut busy = 0usize;
    let mut changed_ids = Vec::new();
    for &line_id in &lines {
        let spec = LineSpec::from_metadata(&call.meta, &call.tenant, line_id)?;
        let mut entry = Map::new();
        entry.insert("line_id".into(), json!(line_id));
        let status = match engine::recompute(
            &mut conn,
            &db_name,
            &spec,
            window.start,
            Some(window.end),
            &opts,
        )
        .await?
        {
            RecomputeOutcome::Busy => "busy",
            RecomputeOutcome::Skipped { reason } => {
                entry.insert("note".into(), json!(reason));
                "skipped"
            }
            RecomputeOutcome::Done(r) => {
                entry.insert("recomputed".into(), json!(r.counts()));
                let mut changed = Vec::new();
                for ch in &r.changed_justified {
                    changed_ids
                        .push(json!({"line_id": line_id, "downtime_id": ch.old.downtime_id}));
                    let replaced_by: Vec<Value> = ch
                        .replaced_by
                        .iter()
                        .map(|e| event_view(&mut clock, tz, e))
                        .collect();
                    changed.push(json!({
                        "stop": stop_view(&call, &mut clock, line_id, &ch.old),
                        "replaced_by": replaced_by,
                    }));
                }
                entry.insert("changed_justified".into(), Value::Array(changed));
                if let Some(note) = r.note {
                    entry.insert("note".into(), json!(note));
                }
                // Whatever lies after the watermark (or was never computed) is
                // the incremental run's: catch up so the window is complete.
                match engine::run_incremental(&mut conn, &db_name, &spec, &opts).await? {
                    RunOutcome::Done(inc) => {
                        entry.insert(
                            "incremental".into(),
                            json!({
                                "detections": inc.detections,
                                "stops": inc.stops,
                                "micro_stops": inc.micro_stops,
                            }),
                        );
                        "done"
                    }
                    RunOutcome::Busy => "busy",
                    RunOutcome::Skipped { reason } => {
                        entry.insert("note".into(), json!(reason));
                        "skipped"
                    }
                }
            }
        };
        if status == "busy" {
            busy += 1;
        }
        entry.insert("status".into(), json!(status));
        results.push(Value::Object(entry));
    }
    drop(conn);
    if busy > 0 && busy == lines.len() {
        return Err(AppError::conflict(
            "a downtime calculation for this line is already running; try again in a minute",
        ));
    }
    let window_json = window_json(&window, tz);
    audit::record_for(
        &call.state,
        &call.ctx,
        &call.req,
        "downtime.calculate",
        "downtime",
        lines
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(","),
        json!({ "lines": lines, "window": window_json, "changed_justified": changed_ids }),
    )
    .await?;
    Ok(http::data(
        &json!({ "window": window_json, "lines": results }),
    ))
}
