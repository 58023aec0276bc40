//! The reason and comment a justification names — one stop's, a running
//! stop's or a bulk justification's — read from a JSON body and checked
//! against the plant's `failure` table.

use mysql_async::Conn;
use serde_json::Value;

use dash_store::downtime::clock::DataClock;
use dash_store::downtime::justify::{self, NewJustification, ReasonRef};
use dash_store::error::{AppError, AppResult};
use shared::auth::input::{check_len, Fields};
use shared::extract::Call;

/// Longest justification comment (the column is `VARCHAR(1000)`).
const MAX_COMMENT_CHARS: usize = 1000;

/// The body fields that name a reason and a comment.
pub const REASON_FIELDS: [&str; 5] = [
    "failure_id",
    "reason",
    "reason_code",
    "justification",
    "comment",
];

/// A comment fit to store: at most 1000 characters, no control characters
/// other than line breaks and tabs. Empty means none.
fn check_comment(field: &str, v: &str) -> AppResult<Option<String>> {
    check_len(field, v, 0, MAX_COMMENT_CHARS)?;
    if v.chars()
        .any(|ch| ch.is_control() && !matches!(ch, '\n' | '\r' | '\t'))
    {
        return Err(AppError::validation(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    let trimmed = v.trim();
    Ok((!trimmed.is_empty()).then(|| trimmed.to_string()))
}

/// The reason a justification names: `failure_id`, `reason` (an id, as a
/// number or text, or a code) or `reason_code`.
fn named_reason(fields: &Fields) -> AppResult<(Option<i64>, Option<String>)> {
    let reason_code = match (fields.opt_str("reason_code")?, fields.raw("reason")) {
        (Some(code), _) => Some(code.to_string()),
        (None, Some(Value::String(s))) if s.trim().parse::<i64>().is_err() => {
            Some(s.trim().to_string())
        }
        _ => None,
    };
    let reason_id = match fields.raw("reason") {
        Some(Value::Number(_)) => fields.opt_id("reason")?,
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(Value::Null) | None => None,
        Some(_) => {
            return Err(AppError::validation(
                "reason",
                "reason must be a reason id or code",
            ))
        }
    };
    let failure_id = fields.opt_id("failure_id")?.or(reason_id);
    if failure_id.is_none() && reason_code.is_none() {
        return Err(AppError::validation(
            "failure_id",
            "failure_id (the reason) is required",
        ));
    }
    Ok((failure_id, reason_code))
}

/// The comment, given as `justification` or `comment` (not both).
pub fn named_comment(fields: &Fields) -> AppResult<Option<String>> {
    match (fields.opt_str("justification")?, fields.opt_str("comment")?) {
        (Some(_), Some(_)) => Err(AppError::validation(
            "comment",
            "give justification or comment, not both",
        )),
        (Some(v), None) => check_comment("justification", v),
        (None, Some(v)) => check_comment("comment", v),
        (None, None) => Ok(None),
    }
}

/// The reason as the body names it, without the database: checked first so
/// that a malformed body is refused before anything is read.
pub struct NamedReason {
    failure_id: Option<i64>,
    reason_code: Option<String>,
}

impl NamedReason {
    pub fn read(fields: &Fields) -> AppResult<NamedReason> {
        let (failure_id, reason_code) = named_reason(fields)?;
        Ok(NamedReason {
            failure_id,
            reason_code,
        })
    }

    /// The id of the active reason named; an unknown or retired one is a 422
    /// on `failure_id`. Read from the table rather than the metadata cache so
    /// a reason added a minute ago is accepted.
    pub async fn resolve(&self, conn: &mut Conn) -> AppResult<i64> {
        let found = match (self.failure_id, &self.reason_code) {
            (Some(fid), _) => justify::reason_state(conn, ReasonRef::Id(fid)).await?,
            (None, Some(code)) => justify::reason_state(conn, ReasonRef::Code(code)).await?,
            (None, None) => None,
        };
        match found {
            Some((fid, true)) => Ok(fid),
            Some((_, false)) => Err(AppError::validation(
                "failure_id",
                "this reason is no longer active",
            )),
            None => Err(AppError::validation(
                "failure_id",
                "unknown reason: pick one of the plant's reason codes",
            )),
        }
    }
}

/// A justification the caller enters now, its time in the plant's data zone:
/// what the single, bulk and edit routes write.
pub fn entered_now<'a>(
    call: &Call,
    clock: &mut DataClock,
    failure_id: i64,
    comment: Option<&'a str>,
) -> NewJustification<'a> {
    NewJustification {
        failure_id,
        comment,
        justified_by: call.ctx.user_id,
        justified_at: clock.to_naive(call.state.now()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_bounded() {
        assert_eq!(
            check_comment("comment", "  ok  ").unwrap().as_deref(),
            Some("ok")
        );
        assert_eq!(check_comment("comment", "").unwrap(), None);
        assert!(check_comment("comment", &"x".repeat(1001)).is_err());
        assert!(check_comment("comment", "bad\u{0}byte").is_err());
        assert!(check_comment("comment", "line\nbreak").is_ok());
    }
}
