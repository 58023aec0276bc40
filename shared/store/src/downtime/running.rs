//! The reason given to a line's running stop (docs/downtime.md#a-reason-for-a-running-stop).
//!
//! A running stop — the open gap after the line's newest output detection —
//! is never stored until it ends, so its reason cannot go on a row of
//! `downtime_events_<code>`. It is kept in the product's own per-line state,
//! `dash_line_state` entry `running_stop_reason:<since>`, where `since` is
//! the stored wall time of the detection the stop started at (one entry per
//! stop: a line may stop, run and stop again before the job stores the
//! first). When the engine stores stops up to a watermark past `since`,
//! [`settle`] — in the same transaction — puts the reason on the stored stop
//! that starts at `since` (unless someone justified that row meanwhile) and
//! forgets the entry.

use chrono::NaiveDateTime;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde::{Deserialize, Serialize};

use super::events::EventsTable;
use super::store::{fmt_naive, naive_text};
use crate::error::{AppError, AppResult};
use crate::line_state;

/// The `dash_line_state` entries of running stops' reasons start with this,
/// followed by the stop's `since` (at most 43 characters: the column holds 64).
const ENTRY_PREFIX: &str = "running_stop_reason:";

fn entry(since: &NaiveDateTime) -> String {
    format!("{ENTRY_PREFIX}{}", fmt_naive(since))
}

/// A reason entered for the stop a line is in now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningReason {
    /// Stored wall time (`data_timezone`) of the newest detection: where the
    /// stop started, and so the `start_time` of the row it will become.
    #[serde(with = "naive_text")]
    pub since: NaiveDateTime,
    pub failure_id: i64,
    pub comment: Option<String>,
    /// The user who gave it (`None`: written by `dashctl demo-data`, the
    /// demo plant's simulated operators).
    pub justified_by: Option<i64>,
    /// Stored wall time (`data_timezone`) of when it was entered.
    #[serde(with = "naive_text")]
    pub justified_at: NaiveDateTime,
}

/// The reason given to the line's stop running since `since`, if any. An
/// entry that does not read is logged and treated as none (a person enters
/// it again).
pub async fn load(
    conn: &mut Conn,
    db_name: &str,
    line_id: i64,
    since: &NaiveDateTime,
) -> AppResult<Option<RunningReason>> {
    let raw = line_state::get(conn, db_name, line_id, &entry(since)).await?;
    Ok(raw.and_then(|text| parse(line_id, &text)))
}

fn parse(line_id: i64, text: &str) -> Option<RunningReason> {
    serde_json::from_str(text)
        .map_err(|e| tracing::warn!(line_id, error = %e, "unreadable running-stop reason ignored"))
        .ok()
}

/// Stores the reason of the line's running stop (replacing one given to the
/// same stop before).
pub async fn save(
    conn: &mut Conn,
    db_name: &str,
    line_id: i64,
    reason: &RunningReason,
) -> AppResult<()> {
    let json = serde_json::to_string(reason).map_err(AppError::internal)?;
    line_state::put(conn, db_name, line_id, &entry(&reason.since), &json).await
}

/// What [`settle`] did with a line's waiting reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// Put on the stored stops that start at these times.
    pub applied: Vec<NaiveDateTime>,
    /// Dropped: the stop that started there was stored already justified, or
    /// not at all (late detections filled the gap), or the entry was unreadable.
    pub dropped: Vec<NaiveDateTime>,
    /// Still waiting: their stops cannot have been stored yet.
    pub waiting: usize,
}

/// After stops are stored up to `stored_through` (the new watermark's
/// detection time), in the caller's transaction: applies each waiting reason
/// whose stop can now be stored — it starts at `since` and ends at a later
/// detection, so once the watermark passes `since` it is stored — to that
/// stop, and forgets the entry. The entries are read with `FOR UPDATE`, so a
/// reason saved concurrently is either seen here or written after this
/// transaction commits (and then settled by the API, which settles right
/// after saving).
pub async fn settle<Q: Queryable>(
    q: &mut Q,
    db_name: &str,
    line_id: i64,
    events: &EventsTable,
    stored_through: NaiveDateTime,
) -> AppResult<Settled> {
    let rows: Vec<(String, Option<String>)> = q
        .exec(
            format!(
                "SELECT entry, CAST(value_json AS CHAR) FROM {} \
                 WHERE line_id = ? AND entry LIKE ? ORDER BY entry FOR UPDATE",
                line_state::qualified(db_name)?
            ),
            (line_id, format!("{ENTRY_PREFIX}%")),
        )
        .await?;
    let mut settled = Settled::default();
    for (name, text) in rows {
        let reason = text.and_then(|t| parse(line_id, &t));
        match reason {
            Some(r) if stored_through <= r.since => {
                settled.waiting += 1;
                continue;
            }
            Some(r) => {
                if apply(q, events, &r).await? {
                    settled.applied.push(r.since);
                } else {
                    tracing::warn!(line_id, since = %r.since, "running-stop reason dropped: no unjustified stop starts there");
                    settled.dropped.push(r.since);
                }
            }
            None => {}
        }
        line_state::delete(q, db_name, line_id, &name).await?;
    }
    Ok(settled)
}

/// Puts the reason on the unjustified stored stop that starts at its `since`.
async fn apply<Q: Queryable>(
    q: &mut Q,
    events: &EventsTable,
    r: &RunningReason,
) -> AppResult<bool> {
    let result = q
        .exec_iter(
            format!(
                "UPDATE {} SET failure_id = ?, justification = ?, justified_by = ?, justified_at = ?, \
                 updated_at = GREATEST(CURRENT_TIMESTAMP(3), updated_at + INTERVAL 1000 MICROSECOND) \
                 WHERE start_time = ? AND is_micro = 0 AND failure_id IS NULL",
                events.sql_name()
            ),
            (
                r.failure_id,
                r.comment.as_deref(),
                r.justified_by,
                r.justified_at,
                r.since,
            ),
        )
        .await?;
    let applied = result.affected_rows() > 0;
    result.drop_result().await?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_round_trips_through_its_json() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        let r = RunningReason {
            since: at("2026-03-29 01:59:59.250"),
            failure_id: 4,
            comment: Some("jam".into()),
            justified_by: Some(9),
            justified_at: at("2026-03-29 03:10:00.000"),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            text.contains("\"since\":\"2026-03-29 01:59:59.250\""),
            "{text}"
        );
        assert_eq!(parse(1, &text), Some(r.clone()));
        assert_eq!(parse(1, "{\"since\": 3}"), None);
        assert!(entry(&r.since).len() <= 64, "fits dash_line_state.entry");
    }
}
