//! Scheduled clean-up of the auth tables (run by `jobs housekeeping`):
//!
//! * `rate_limit` and `user_request_rate` rows older than [`RATE_LIMIT_KEEP`]
//!   (no limit looks further back than a minute; a user's counter row comes
//!   back with its next request);
//! * sessions past `expires_at` that were never revoked are marked
//!   `revoked_reason = 'expired'`;
//! * refresh and CSRF hashes of rows past `expires_at` are cleared (a token
//!   that old is refused anyway; rows of live families keep their hashes so a
//!   reused token can still be recognised).
//!
//! `user_login` rows themselves are kept: they are the session history.
//! Deletes run in batches so a large backlog never holds long locks.

use chrono::{DateTime, TimeDelta, Utc};
use mysql_async::prelude::Queryable;
use serde::Serialize;

use dash_store::db::Db;
use dash_store::error::AppResult;

/// How long rate-limit rows are kept.
pub const RATE_LIMIT_KEEP: TimeDelta = TimeDelta::minutes(10);

const BATCH: u64 = 5000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HousekeepingReport {
    pub rate_limit_rows_deleted: u64,
    pub sessions_expired: u64,
    pub refresh_hashes_cleared: u64,
}

pub async fn housekeeping(db: &Db, now: DateTime<Utc>) -> AppResult<HousekeepingReport> {
    let now_naive = now.naive_utc();
    let mut conn = db.global().await?;
    let mut report = HousekeepingReport::default();

    let cutoff = now_naive - RATE_LIMIT_KEEP;
    conn.exec_drop(
        "DELETE FROM user_request_rate WHERE window_start < ?",
        (cutoff,),
    )
    .await?;
    report.rate_limit_rows_deleted += conn.affected_rows();
    loop {
        conn.exec_drop(
            format!("DELETE FROM rate_limit WHERE window_start < ? LIMIT {BATCH}"),
            (cutoff,),
        )
        .await?;
        let n = conn.affected_rows();
        report.rate_limit_rows_deleted += n;
        if n < BATCH {
            break;
        }
    }

    loop {
        conn.exec_drop(
            format!(
                "UPDATE user_login SET revoked_at = ?, revoked_reason = 'expired' \
                 WHERE success = 1 AND revoked_at IS NULL AND expires_at < ? LIMIT {BATCH}"
            ),
            (now_naive, now_naive),
        )
        .await?;
        let n = conn.affected_rows();
        report.sessions_expired += n;
        if n < BATCH {
            break;
        }
    }

    loop {
        conn.exec_drop(
            format!(
                "UPDATE user_login SET refresh_token_hash = NULL, csrf_token_hash = NULL \
                 WHERE refresh_token_hash IS NOT NULL AND expires_at < ? LIMIT {BATCH}"
            ),
            (now_naive,),
        )
        .await?;
        let n = conn.affected_rows();
        report.refresh_hashes_cleared += n;
        if n < BATCH {
            break;
        }
    }

    tracing::info!(
        rate_limit_rows_deleted = report.rate_limit_rows_deleted,
        sessions_expired = report.sessions_expired,
        refresh_hashes_cleared = report.refresh_hashes_cleared,
        "auth housekeeping done"
    );
    Ok(report)
}
