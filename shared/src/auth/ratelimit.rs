//! Rate limits shared by every process through the global database (SPEC §10:
//! CGI and Lambda processes keep no memory between requests).
//!
//! * Per user, on every authenticated request (`Config::rate_limit_user_per_min`,
//!   default 100): a calendar-minute window, one statement per request on a
//!   MEMORY table (no durable commit per request; see
//!   `infra/sql/global/0002_user_request_rate.sql`).
//! * Per client IP on the auth routes that take credentials or tokens
//!   (`Config::rate_limit_auth_ip_per_min`, default 20): a sliding 60-second
//!   window made of one-second buckets, so the 21st attempt within any minute
//!   is refused however the attempts fall around a minute boundary.
//!
//! Every attempt counts, including refused ones. A limit of 0 disables the
//! check. Old rows are deleted by [`crate::auth::housekeeping`].

use chrono::{DateTime, DurationRound, NaiveDateTime, TimeDelta, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The bucket of an address on the auth routes.
pub fn auth_ip_bucket(ip: &str) -> String {
    let ip: String = ip.chars().take(64).collect();
    format!("auth-ip:{ip}")
}

fn truncate_to(now: DateTime<Utc>, unit: TimeDelta) -> NaiveDateTime {
    now.duration_trunc(unit).unwrap_or(now).naive_utc()
}

/// MySQL's "table is full": a MEMORY table reached `max_heap_table_size`.
const ER_RECORD_FILE_FULL: u16 = 1114;

/// Counts one request of `user_id` in its calendar minute (`user_request_rate`,
/// one row per user); refuses above `limit`.
///
/// A full counter table lets the request through, logged: this limit shares
/// capacity fairly between users, and refusing every user whose first request
/// finds the table full would be an outage (the per-IP limit of the auth
/// routes, which guards passwords, lives in an InnoDB table).
pub async fn hit_user_minute(
    conn: &mut Conn,
    user_id: i64,
    now: DateTime<Utc>,
    limit: u32,
) -> AppResult<()> {
    if limit == 0 {
        return Ok(());
    }
    let window = truncate_to(now, TimeDelta::minutes(1));
    // A later minute starts the count again; a process whose clock is behind
    // counts into the newer minute. LAST_INSERT_ID(expr) hands the new count
    // back in the OK packet: one round trip.
    let counted = conn
        .exec_drop(
            "INSERT INTO user_request_rate (user_id, window_start, hits) VALUES (?, ?, 1) \
             ON DUPLICATE KEY UPDATE hits = LAST_INSERT_ID(IF(? > window_start, 1, hits + 1)), \
             window_start = GREATEST(window_start, ?)",
            (user_id, window, window, window),
        )
        .await;
    match counted {
        Ok(()) => {}
        Err(mysql_async::Error::Server(e)) if e.code == ER_RECORD_FILE_FULL => {
            tracing::error!(
                user_id,
                "user_request_rate is full (max_heap_table_size): request not counted"
            );
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    let hits = if conn.affected_rows() == 1 {
        1
    } else {
        conn.last_insert_id().unwrap_or(1)
    };
    if hits > u64::from(limit) {
        let elapsed = (now.naive_utc() - window).num_seconds().clamp(0, 59);
        return Err(AppError::RateLimited {
            retry_after: (60 - elapsed) as u64,
        });
    }
    Ok(())
}

/// Counts one request in one-second buckets and refuses when the last 60
/// seconds hold more than `limit`.
pub async fn hit_sliding_minute(
    conn: &mut Conn,
    bucket: &str,
    now: DateTime<Utc>,
    limit: u32,
) -> AppResult<()> {
    if limit == 0 {
        return Ok(());
    }
    let second = truncate_to(now, TimeDelta::seconds(1));
    conn.exec_drop(
        "INSERT INTO rate_limit (bucket, window_start, hits) VALUES (?, ?, 1) \
         ON DUPLICATE KEY UPDATE hits = hits + 1",
        (bucket, second),
    )
    .await?;
    let since = second - TimeDelta::seconds(60);
    let row: Option<(Option<i64>, Option<NaiveDateTime>)> = conn
        .exec_first(
            "SELECT CAST(SUM(hits) AS SIGNED), MIN(window_start) FROM rate_limit \
             WHERE bucket = ? AND window_start > ?",
            (bucket, since),
        )
        .await?;
    let (hits, oldest) = row.unwrap_or((None, None));
    if hits.unwrap_or(0) > i64::from(limit) {
        let oldest = oldest.unwrap_or(second);
        let retry = (oldest + TimeDelta::seconds(60) - now.naive_utc()).num_seconds();
        return Err(AppError::RateLimited {
            retry_after: retry.clamp(1, 60) as u64,
        });
    }
    Ok(())
}

/// The per-user limit, on a connection the caller already holds.
pub async fn check_user_on(conn: &mut Conn, state: &AppState, user_id: i64) -> AppResult<()> {
    hit_user_minute(
        conn,
        user_id,
        state.now(),
        state.config().rate_limit_user_per_min,
    )
    .await
}

/// The per-IP limit of the auth routes.
pub async fn check_auth_ip(state: &AppState, ip: &str) -> AppResult<()> {
    let mut conn = state.db().global().await?;
    hit_sliding_minute(
        &mut conn,
        &auth_ip_bucket(ip),
        state.now(),
        state.config().rate_limit_auth_ip_per_min,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_bounded() {
        assert_eq!(auth_ip_bucket("203.0.113.7"), "auth-ip:203.0.113.7");
        assert!(auth_ip_bucket(&"x".repeat(500)).len() <= 72);
    }

    #[test]
    fn windows_truncate() {
        let t = DateTime::parse_from_rfc3339("2026-04-01T06:07:08.900Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            truncate_to(t, TimeDelta::minutes(1)).to_string(),
            "2026-04-01 06:07:00"
        );
        assert_eq!(
            truncate_to(t, TimeDelta::seconds(1)).to_string(),
            "2026-04-01 06:07:08"
        );
    }
}
