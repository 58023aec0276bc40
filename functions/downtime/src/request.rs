//! What a downtime request names, read from the parameters of its
//! [`Call`] by the one parameter parser (`shared::params`): the plant, the
//! window, the lines, the stop filter and the line a stop id belongs to.

use dash_core::timeutil::{Window, WindowQuery};
use dash_store::downtime::events::EventsTable;
use dash_store::downtime::window::{EventFilter, IfMissing, LinesQuery, MicroStops};
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::TenantMetadata;
use dash_store::metrics::Plant;
use mysql_async::Conn;
use shared::extract::Call;
use shared::params::{self, Params};

/// The window when a list or summary names none.
const DEFAULT_RANGE: &str = "last_7_days";
/// Largest `min_duration`, in seconds (about 31 years).
const MAX_MIN_DURATION_SECONDS: f64 = 1e9;

/// The caller's plant: calendar, shifts, `max_query_days` and the clock.
pub fn plant(call: &Call) -> Plant<'_> {
    Plant::new(&call.tenant, &call.meta, call.state.now())
}

/// The window of `q`, or the relative `default_range` when `q` names none.
/// Longer than `max_query_days` is a 422.
pub fn resolve_window(
    plant: &Plant<'_>,
    q: WindowQuery<'_>,
    default_range: Option<&str>,
) -> AppResult<Window> {
    let named = [q.start_date, q.end_date, q.range]
        .iter()
        .any(|v| v.is_some_and(|s| !s.trim().is_empty()));
    let q = if named {
        q
    } else {
        WindowQuery {
            range: default_range,
            ..q
        }
    };
    plant.resolve_window(&q, None).map_err(AppError::from)
}

/// The stops a list or summary asks for: `line_id`/`line_ids` (default every
/// visible line), the window (default the last 7 days) and the filters
/// `min_duration`, `failure_id`/`reason`, `micro`/`include_micro` and
/// `justified`. A line whose table was never provisioned has no stops.
pub fn stop_selection(call: &Call, plant: &Plant<'_>) -> AppResult<LinesQuery> {
    let p = &call.params;
    let line_ids = params::select(p, &call.ctx, &call.meta, false)?.line_ids;
    let window = resolve_window(plant, p.window(), Some(DEFAULT_RANGE))?;
    let min_duration_ms = min_duration_ms(p)?;
    let failure_id = reason_filter(p, &call.meta)?;
    let micro = micro_stops(p)?;
    Ok(LinesQuery {
        line_ids,
        window,
        filter: EventFilter {
            micro,
            min_duration_ms,
            justified: p.flag("justified")?,
            failure_id,
        },
        if_missing: IfMissing::NoStops,
    })
}

/// `min_duration`: seconds, a number ≥ 0.
fn min_duration_ms(p: &Params) -> AppResult<Option<i64>> {
    let Some(v) = p.get("min_duration") else {
        return Ok(None);
    };
    let seconds: f64 = v
        .trim()
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && (0.0..=MAX_MIN_DURATION_SECONDS).contains(s))
        .ok_or_else(|| {
            AppError::validation(
                "min_duration",
                "min_duration must be a number of seconds ≥ 0",
            )
        })?;
    Ok(Some((seconds * 1000.0).round() as i64))
}

/// `failure_id`, else `reason` (an id or a reason code): a reason of the
/// plant, refused on the parameter that named it.
fn reason_filter(p: &Params, meta: &TenantMetadata) -> AppResult<Option<i64>> {
    let (id, field) = match (p.id("failure_id")?, p.get("reason").map(str::trim)) {
        (Some(id), _) => (id, "failure_id"),
        (None, None) => return Ok(None),
        (None, Some(r)) => match r.parse::<i64>() {
            Ok(id) if id > 0 => (id, "reason"),
            _ => {
                let by_code = meta
                    .failures
                    .iter()
                    .find(|f| f.failure_code.eq_ignore_ascii_case(r))
                    .ok_or_else(|| AppError::validation("reason", "unknown reason code"))?;
                (by_code.failure_id, "reason")
            }
        },
    };
    if meta.failure(id).is_none() {
        return Err(AppError::validation(field, format!("unknown reason {id}")));
    }
    Ok(Some(id))
}

/// `micro` (`exclude`, `include`, `only`), else `include_micro`; micro-stops
/// are left out unless asked for.
fn micro_stops(p: &Params) -> AppResult<MicroStops> {
    let micro = p.choice("micro", &["exclude", "include", "only"])?;
    Ok(match (micro, p.flag("include_micro")?) {
        (Some("include"), _) | (None, Some(true)) => MicroStops::Include,
        (Some("only"), _) => MicroStops::Only,
        _ => MicroStops::Exclude,
    })
}

/// The line a stop id belongs to (ids are per line): `line_id` in the query,
/// or `body_line` from a body — the same one when both are given.
pub fn stop_line(call: &Call, body_line: Option<i64>) -> AppResult<i64> {
    let line_id = match (call.params.id("line_id")?, body_line) {
        (Some(q), Some(b)) if q != b => {
            return Err(AppError::validation(
                "line_id",
                "line_id differs between the query and the body",
            ))
        }
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => {
            return Err(AppError::validation(
                "line_id",
                "line_id is required: a stop's id is scoped by its line",
            ))
        }
    };
    let line = call.ctx.line(&call.meta, line_id).map_err(|_| {
        AppError::unknown_id(
            "line_id",
            format!("line {line_id} does not exist or is not visible to you"),
        )
    })?;
    Ok(line.line_id)
}

/// The events table of a line of the caller's plant; `None` when it was
/// never provisioned (so none of its stops exists).
pub async fn events_table(
    conn: &mut Conn,
    call: &Call,
    line_id: i64,
) -> AppResult<Option<EventsTable>> {
    let line = call.meta.line(line_id).ok_or(AppError::NotFound)?;
    EventsTable::find(conn, &call.tenant.db_location().db_name, &line.line_code).await
}

/// The name of a reason of the plant.
pub fn reason_name(meta: &TenantMetadata, failure_id: Option<i64>) -> Option<&str> {
    failure_id
        .and_then(|id| meta.failure(id))
        .map(|f| f.failure_name.as_str())
}
