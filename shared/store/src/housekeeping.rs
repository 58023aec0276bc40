//! Scheduled clean-up of the auth tables (run by `jobs housekeeping`):
//!
//! * `rate_limit` and `user_request_rate` rows older than [`RATE_LIMIT_KEEP`]
//!   (no limit looks further back than a minute; a user's counter row comes
//!   back with its next request);
//! * sessions past `expires_at` that were never revoked are marked
//!   `revoked_reason = 'expired'`;
//! * refresh and CSRF hashes of `user_login` rows past `expires_at` are
//!   cleared (a token that old is refused anyway; rows of live families keep
//!   their hashes so a reused token can still be recognised).
//!
//! `user_login` rows themselves are kept: they are the session history.
//! Large tables are changed in batches so a backlog never holds long locks.

use chrono::{DateTime, TimeDelta, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params};
use serde::Serialize;

use crate::db::Db;
use crate::error::AppResult;

/// How long rate-limit rows are kept.
pub const RATE_LIMIT_KEEP: TimeDelta = TimeDelta::minutes(10);

/// Rows one statement changes at most.
const BATCH: u64 = 5000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HousekeepingReport {
    pub rate_limit_rows_deleted: u64,
    pub sessions_expired: u64,
    pub refresh_hashes_cleared: u64,
}

pub async fn housekeeping(db: &Db, now: DateTime<Utc>) -> AppResult<HousekeepingReport> {
    let now = now.naive_utc();
    let mut conn = db.global().await?;
    let cutoff = now - RATE_LIMIT_KEEP;
    // One row per user, in memory: small enough for one statement.
    conn.exec_drop(
        "DELETE FROM user_request_rate WHERE window_start < ?",
        (cutoff,),
    )
    .await?;
    let user_counters_deleted = conn.affected_rows();
    let rate_limit_rows_deleted = in_batches(
        &mut conn,
        "DELETE FROM rate_limit WHERE window_start < ?",
        (cutoff,),
    )
    .await?;
    let sessions_expired = in_batches(
        &mut conn,
        "UPDATE user_login SET revoked_at = ?, revoked_reason = 'expired' \
         WHERE success = 1 AND revoked_at IS NULL AND expires_at < ?",
        (now, now),
    )
    .await?;
    let refresh_hashes_cleared = in_batches(
        &mut conn,
        "UPDATE user_login SET refresh_token_hash = NULL, csrf_token_hash = NULL \
         WHERE refresh_token_hash IS NOT NULL AND expires_at < ?",
        (now,),
    )
    .await?;
    let report = HousekeepingReport {
        rate_limit_rows_deleted: user_counters_deleted + rate_limit_rows_deleted,
        sessions_expired,
        refresh_hashes_cleared,
    };
    tracing::info!(
        rate_limit_rows_deleted = report.rate_limit_rows_deleted,
        sessions_expired = report.sessions_expired,
        refresh_hashes_cleared = report.refresh_hashes_cleared,
        "auth housekeeping done"
    );
    Ok(report)
}

/// Runs `statement` limited to [`BATCH`] rows until a run changes fewer;
/// returns how many rows changed in all. The statement must stop matching
/// the rows it changed, or this never ends.
async fn in_batches(
    conn: &mut Conn,
    statement: &str,
    params: impl Into<Params> + Clone + Send,
) -> AppResult<u64> {
    let statement = format!("{statement} LIMIT {BATCH}");
    let mut changed = 0;
    loop {
        conn.exec_drop(&statement, params.clone()).await?;
        let n = conn.affected_rows();
        changed += n;
        if n < BATCH {
            return Ok(changed);
        }
    }
}
