//! The rate-limit counters, shared by every process through the global
//! database (CGI and Lambda processes keep no memory between requests):
//!
//! * `user_request_rate`: one row per user counting its requests in a calendar
//!   minute; a MEMORY table, so counting costs no durable commit per request
//!   (see `infra/sql/global/0002_user_request_rate.sql`);
//! * `rate_limit`: per bucket, attempts in one-second windows, read as a
//!   sliding 60-second window.
//!
//! Which bucket guards what, and the limits, are the web runtime's
//! (`shared::auth::ratelimit`). A refused attempt is not counted in the
//! sliding windows: hammering a full bucket never keeps it full, and
//! `Retry-After` is the time until the next attempt is accepted. A limit of 0
//! disables the check. Old rows are deleted by [`crate::housekeeping`].

use chrono::{DateTime, DurationRound, NaiveDateTime, TimeDelta, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::error::{AppError, AppResult};

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

/// Counts one attempt in `bucket` (one-second buckets) unless the last 60
/// seconds already hold `limit` accepted attempts; a refused attempt is not
/// counted.
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
    // Counted first and taken back when over the limit, so that concurrent
    // attempts can never all slip under it (at worst they are all refused).
    conn.exec_drop(
        "INSERT INTO rate_limit (bucket, window_start, hits) VALUES (?, ?, 1) \
         ON DUPLICATE KEY UPDATE hits = hits + 1",
        (bucket, second),
    )
    .await?;
    let since = second - TimeDelta::seconds(60);
    let mut buckets: Vec<(NaiveDateTime, i64)> = conn
        .exec(
            "SELECT window_start, CAST(hits AS SIGNED) FROM rate_limit \
             WHERE bucket = ? AND window_start > ? AND hits > 0 ORDER BY window_start",
            (bucket, since),
        )
        .await?;
    let hits: i64 = buckets.iter().map(|(_, h)| h).sum();
    if hits <= i64::from(limit) {
        return Ok(());
    }
    conn.exec_drop(
        "UPDATE rate_limit SET hits = hits - 1 WHERE bucket = ? AND window_start = ? AND hits > 0",
        (bucket, second),
    )
    .await?;
    if let Some(ours) = buckets.iter_mut().find(|(start, _)| *start == second) {
        ours.1 -= 1;
    }
    Err(AppError::RateLimited {
        retry_after: seconds_until_accepted(&buckets, limit, now),
    })
}

/// Whole seconds from `now` until a sliding 60-second window of one-second
/// `buckets` (oldest first, accepted attempts only) holds fewer than `limit`
/// attempts, so the next one is accepted: a bucket leaves the window 60
/// seconds after its second began.
fn seconds_until_accepted(buckets: &[(NaiveDateTime, i64)], limit: u32, now: DateTime<Utc>) -> u64 {
    let hits: i64 = buckets.iter().map(|(_, h)| h).sum();
    let mut must_leave = hits - i64::from(limit) + 1;
    for (start, bucket_hits) in buckets {
        must_leave -= bucket_hits;
        if must_leave <= 0 {
            let wait_ms = (*start + TimeDelta::seconds(60) - now.naive_utc()).num_milliseconds();
            // Rounded up: after the advertised wait the attempt is accepted.
            return (wait_ms + 999).div_euclid(1000).clamp(1, 60) as u64;
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_wait_ends_when_enough_attempts_leave_the_window() {
        let second = |s: u32| at("2026-04-01T06:00:00Z").naive_utc() + TimeDelta::seconds(s.into());
        // Three attempts in one second, limit 3: all leave together 60 s later.
        let full = [(second(0), 3)];
        // Spread out: only as many as needed must leave.
        let spread = [(second(0), 2), (second(10), 2), (second(30), 1)];
        for (buckets, limit, now, wait) in [
            (&full[..], 3, "2026-04-01T06:00:40.300Z", 20),
            (&full[..], 3, "2026-04-01T06:00:40Z", 20),
            (&full[..], 3, "2026-04-01T06:00:59.999Z", 1),
            (&spread[..], 5, "2026-04-01T06:00:45Z", 15),
            (&spread[..], 4, "2026-04-01T06:00:45Z", 15),
            (&spread[..], 3, "2026-04-01T06:00:45Z", 25),
            (&spread[..], 1, "2026-04-01T06:00:45Z", 45),
        ] {
            assert_eq!(
                seconds_until_accepted(buckets, limit, at(now)),
                wait,
                "{buckets:?}, limit {limit}, at {now}"
            );
        }
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
