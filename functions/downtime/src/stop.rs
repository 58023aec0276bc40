//! One stop: `GET /downtime/{id}?line_id=N` (with its ETag) and
//! `PUT /downtime/{id}?line_id=N`, its justification — a reason and a
//! comment; operator and up; audited with before and after; a stale update
//! (`If-Match` or `expected_updated_at`) is a 409.

use ::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use dash_store::downtime::clock::DataClock;
use dash_store::downtime::justify;
use dash_store::downtime::store::parse_naive;
use dash_store::downtime::StopRow;
use dash_store::error::{AppError, AppResult};
use shared::auth::audit;
use shared::auth::input::Fields;
use shared::auth::Permission;
use shared::extract::{Call, Input};
use shared::http::{self, Request, Response};
use shared::state::AppState;

use crate::reason::{named_comment, NamedReason, REASON_FIELDS};
use crate::request::{events_table, stop_line};
use crate::views::{etag, fmt_time, stop_view, updated_at};

/// The body of `PUT /downtime/{id}`: a reason, a comment, the version read
/// and (or in the query) the stop's line.
const JUSTIFY_FIELDS: [&str; 7] = [
    REASON_FIELDS[0],
    REASON_FIELDS[1],
    REASON_FIELDS[2],
    REASON_FIELDS[3],
    REASON_FIELDS[4],
    "expected_updated_at",
    "line_id",
];

fn if_none_match(req: &Request, tag: &str) -> bool {
    req.header("if-none-match").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().trim_start_matches("W/") == tag || t.trim() == "*")
    })
}

pub async fn one(req: Request, state: AppState) -> AppResult<Response> {
    let call = Call::extract(req, state, Permission::DataRead, Input::Query).await?;
    let id = call.req.path_id("id")?;
    let line_id = stop_line(&call, None)?;
    let mut conn = call.state.db().client(&call.tenant.db_location()).await?;
    let table = events_table(&mut conn, &call, line_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let row = justify::stop_by_id(&mut conn, &table, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tag = etag(line_id, &row);
    if if_none_match(&call.req, &tag) {
        let resp = http::response(StatusCode::NOT_MODIFIED, "application/json", Vec::new());
        return Ok(http::with_header(resp, "etag", &tag));
    }
    let mut clock = DataClock::new(call.tenant.data_timezone());
    let view = stop_view(&call, &mut clock, line_id, &row);
    Ok(http::with_header(http::data(&view), "etag", &tag))
}

fn justification_json(clock: &mut DataClock, tz: Tz, row: &StopRow) -> Value {
    json!({
        "failure_id": row.failure_id,
        "justification": row.justification,
        "justified_by": row.justified_by,
        "justified_at": row.justified_at.map(|j| fmt_time(clock, tz, &j)),
        "updated_at": updated_at(row, tz),
    })
}

/// What the audit row of a justification holds: the stop, and its reason
/// and comment before and after (an edit shows the old and the new reason).
pub(crate) fn audit_details(
    clock: &mut DataClock,
    tz: Tz,
    line_id: i64,
    before: &StopRow,
    after: &StopRow,
) -> Value {
    json!({
        "line_id": line_id,
        "downtime_id": after.downtime_id,
        "start_time": fmt_time(clock, tz, &after.start),
        "before": justification_json(clock, tz, before),
        "after": justification_json(clock, tz, after),
    })
}

/// The version `expected_updated_at` names: the `updated_at` this API
/// returns (an instant with its offset), or the stored value without one that
/// it returned before every time carried an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    Instant(DateTime<Utc>),
    Stored(NaiveDateTime),
}

impl Version {
    pub(crate) fn parse(v: &str) -> Option<Version> {
        let v = v.trim();
        match DateTime::parse_from_rfc3339(v) {
            Ok(t) => Some(Version::Instant(t.with_timezone(&Utc))),
            Err(_) => parse_naive(v).map(Version::Stored),
        }
    }

    pub(crate) fn matches(&self, row: &StopRow) -> bool {
        match self {
            Version::Instant(t) => *t == row.updated_instant,
            Version::Stored(n) => *n == row.updated_at,
        }
    }
}

pub async fn justify(req: Request, state: AppState) -> AppResult<Response> {
    let call = Call::extract(req, state, Permission::DowntimeJustify, Input::Query).await?;
    let id = call.req.path_id("id")?;
    let fields = Fields::parse(&call.req, &JUSTIFY_FIELDS)?;
    let line_id = stop_line(&call, fields.opt_id("line_id")?)?;
    let reason = NamedReason::read(&fields)?;
    let comment = named_comment(&fields)?;
    let expected = match fields.opt_str("expected_updated_at")? {
        None => None,
        Some(v) => Some(Version::parse(v).ok_or_else(|| {
            AppError::validation(
                "expected_updated_at",
                "expected_updated_at must be the updated_at this API returned",
            )
        })?),
    };
    let if_match = call.req.header("if-match").map(str::to_string);

    let mut conn = call.state.db().client(&call.tenant.db_location()).await?;
    let table = events_table(&mut conn, &call, line_id).await?;
    let failure_id = reason.resolve(&mut conn).await?;

    let table = table.ok_or(AppError::NotFound)?;
    let before = justify::stop_by_id(&mut conn, &table, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let stale =
        || AppError::conflict("the stop was changed by someone else; reload it and try again");
    if let Some(tags) = &if_match {
        let current = etag(line_id, &before);
        let ok = tags
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_start_matches("W/") == current);
        if !ok {
            return Err(stale());
        }
    }
    if expected.is_some_and(|e| !e.matches(&before)) {
        return Err(stale());
    }
    let mut clock = DataClock::new(call.tenant.data_timezone());
    let entered = crate::reason::entered_now(&call, &mut clock, failure_id, comment.as_deref());
    if !justify::justify(&mut conn, &table, id, before.updated_at, &entered).await? {
        return match justify::stop_by_id(&mut conn, &table, id).await? {
            None => Err(AppError::NotFound),
            Some(_) => Err(stale()),
        };
    }
    let after = justify::stop_by_id(&mut conn, &table, id)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);

    let tz = call.tenant.timezone();
    audit::record_for(
        &call.state,
        &call.ctx,
        &call.req,
        "downtime.justify",
        "downtime",
        format!("{line_id}:{id}"),
        audit_details(&mut clock, tz, line_id, &before, &after),
    )
    .await?;
    let view = stop_view(&call, &mut clock, line_id, &after);
    Ok(http::with_header(
        http::data(&view),
        "etag",
        &etag(line_id, &after),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_the_instant_shown_or_the_stored_value() {
        let instant = Version::parse("2026-04-01T12:00:00.123+02:00").unwrap();
        assert_eq!(
            instant,
            Version::parse("2026-04-01T10:00:00.123Z").unwrap(),
            "the same instant in any offset"
        );
        assert!(matches!(
            Version::parse("2026-04-01T10:00:00.123"),
            Some(Version::Stored(_))
        ));
        assert_eq!(Version::parse("yesterday"), None);
    }
}
