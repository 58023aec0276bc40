//! The JSON shapes of the downtime routes (docs/api.md#shapes): a stop, a
//! recomputed event, a window, the lines stopped now. Times are ISO 8601
//! with the plant's offset and milliseconds.

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use mysql_async::Conn;
use serde_json::{json, Value};

use dash_core::timeutil::{self, Window};
use dash_store::downtime::clock::DataClock;
use dash_store::downtime::engine;
use dash_store::downtime::running::{self, RunningReason};
use dash_store::downtime::{EventRow, LineSpec, OpenStop, StopRow};
use dash_store::error::{AppError, AppResult};
use shared::extract::Call;

use crate::request::reason_name;

/// Milliseconds as seconds with the milliseconds kept as the fraction.
pub fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A stored wall time as an instant in the plant's zone.
pub fn fmt_time(clock: &mut DataClock, tz: Tz, n: &NaiveDateTime) -> String {
    timeutil::format_instant(clock.to_utc(n), tz)
}

/// `{"start", "end"}` of a window in the plant's zone.
pub fn window_json(window: &Window, tz: Tz) -> Value {
    json!({
        "start": timeutil::format_instant(window.start, tz),
        "end": timeutil::format_instant(window.end, tz),
    })
}

/// A row's `updated_at` as an instant in the plant's zone: also its version,
/// what `expected_updated_at` gives back.
pub fn updated_at(row: &StopRow, tz: Tz) -> String {
    timeutil::format_instant(row.updated_instant, tz)
}

/// The ETag of a stop: its line, id and version.
pub fn etag(line_id: i64, row: &StopRow) -> String {
    format!(
        "\"{line_id}-{}-{}\"",
        row.downtime_id,
        row.updated_at.format("%Y%m%d%H%M%S%3f")
    )
}

/// A stop in the shape of docs/api.md#shapes (plus `line_name`, reason
/// details and `updated_at`, the version for `expected_updated_at`). Every
/// time carries the plant's offset: `start_time`, `end_time` and
/// `justified_at` are stored wall times in `data_timezone`; `updated_at` is
/// the database's clock, read as UTC.
pub fn stop_view(call: &Call, clock: &mut DataClock, line_id: i64, row: &StopRow) -> Value {
    let tz = call.tenant.timezone();
    let failure = row.failure_id.and_then(|id| call.meta.failure(id));
    json!({
        "downtime_id": row.downtime_id,
        "line_id": line_id,
        "line_name": call.meta.line(line_id).map(|l| l.line_name.as_str()),
        "start_time": fmt_time(clock, tz, &row.start),
        "end_time": fmt_time(clock, tz, &row.end),
        "duration_seconds": seconds(row.duration_ms),
        "is_micro": row.is_micro,
        "detection_id": row.detection_id,
        "failure_id": row.failure_id,
        "reason": reason_name(&call.meta, row.failure_id),
        "reason_code": failure.map(|f| f.failure_code.as_str()),
        "reason_category": failure.map(|f| f.failure_category.as_str()),
        "justification": row.justification,
        "justified_by": row.justified_by,
        "justified_at": row.justified_at.map(|j| fmt_time(clock, tz, &j)),
        "updated_at": updated_at(row, tz),
    })
}

/// A stop a recomputation found, before it has an id.
pub fn event_view(clock: &mut DataClock, tz: Tz, e: &EventRow) -> Value {
    json!({
        "start_time": fmt_time(clock, tz, &e.start),
        "end_time": fmt_time(clock, tz, &e.end),
        "duration_seconds": seconds(e.duration_ms),
        "is_micro": e.is_micro,
    })
}

/// A line stopped now, with the reason given to this stop while it runs
/// (docs/downtime.md#a-reason-for-a-running-stop), if any.
pub fn open_stop_view(
    call: &Call,
    spec: &LineSpec,
    open: &OpenStop,
    reason: Option<&RunningReason>,
) -> Value {
    let tz = call.tenant.timezone();
    let mut clock = DataClock::new(call.tenant.data_timezone());
    let failure_id = reason.map(|r| r.failure_id);
    json!({
        "line_id": spec.line_id,
        "since": timeutil::format_instant(open.since, tz),
        "duration_seconds": seconds(open.duration_ms),
        "threshold_seconds": seconds(spec.thresholds.downtime_threshold_ms),
        "failure_id": failure_id,
        "reason": reason_name(&call.meta, failure_id),
        "justification": reason.and_then(|r| r.comment.as_deref()),
        "justified_by": reason.and_then(|r| r.justified_by),
        "justified_at": reason.map(|r| fmt_time(&mut clock, tz, &r.justified_at)),
    })
}

/// `open_stops`: the lines stopped since their newest detection, now
/// (docs/downtime.md#open-gaps), each with the reason given to it.
pub async fn open_stops(call: &Call, conn: &mut Conn, lines: &[i64]) -> AppResult<Vec<Value>> {
    let now = call.state.now();
    let db_name = call.tenant.db_location().db_name;
    let mut out = Vec::new();
    for &line_id in lines {
        let spec = LineSpec::from_metadata(&call.meta, &call.tenant, line_id)?;
        match engine::open_stop(conn, &db_name, &spec, now).await {
            Ok(Some(open)) => {
                let reason = running::load(conn, &db_name, line_id, &open.since_naive).await?;
                out.push(open_stop_view(call, &spec, &open, reason.as_ref()));
            }
            Ok(None) => {}
            // A line whose detection table does not exist yet has no state.
            Err(AppError::ClientSchema { detail }) => {
                tracing::warn!(line_id, %detail, "cannot tell whether the line is stopped");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
