//! Rate limits (docs/roles.md#security): what each limit guards and how much
//! it allows. The counters are [`dash_store::rate_limit`]'s, shared by every
//! process through the global database.
//!
//! * Per user, on every authenticated request (`Config::rate_limit_user_per_min`,
//!   default 100): a calendar-minute window.
//! * On the auth routes (`Config::rate_limit_auth_ip_per_min`, default 20 a
//!   minute), each by what it guards: sign-in per client IP (password
//!   guessing), refresh per session (refresh-token family), password change
//!   per user (it checks the current password). Logout is never limited:
//!   ending a session must always work, and a caller who fills its address's
//!   bucket must not keep a session alive that way. Each is a sliding 60-second
//!   window made of one-second buckets, so the 21st attempt within any minute
//!   is refused however the attempts fall around a minute boundary.
//!
//! A refused attempt is not counted in the sliding windows, and `Retry-After`
//! is the time until the next attempt is accepted. A limit of 0 disables the
//! check.

use mysql_async::Conn;

use crate::state::AppState;
use dash_store::error::AppResult;
use dash_store::rate_limit::hit_sliding_minute;
pub use dash_store::rate_limit::hit_user_minute;

/// The sign-in bucket of an address.
pub fn auth_ip_bucket(ip: &str) -> String {
    let ip: String = ip.chars().take(64).collect();
    format!("auth-ip:{ip}")
}

/// The refresh bucket of a session (refresh-token family).
pub fn refresh_bucket(family: &str) -> String {
    let family: String = family.chars().take(64).collect();
    format!("refresh:{family}")
}

/// The password-change bucket of a user.
pub fn password_change_bucket(user_id: i64) -> String {
    format!("password-change:{user_id}")
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

/// The sign-in limit of an address.
pub async fn check_auth_ip(state: &AppState, ip: &str) -> AppResult<()> {
    let mut conn = state.db().global().await?;
    check_auth_bucket(&mut conn, state, &auth_ip_bucket(ip)).await
}

/// The refresh limit of a session, on the connection the rotation holds (a
/// CGI process has only one).
pub async fn check_refresh_on(conn: &mut Conn, state: &AppState, family: &str) -> AppResult<()> {
    check_auth_bucket(conn, state, &refresh_bucket(family)).await
}

/// The password-change limit of a user.
pub async fn check_password_change(state: &AppState, user_id: i64) -> AppResult<()> {
    let mut conn = state.db().global().await?;
    check_auth_bucket(&mut conn, state, &password_change_bucket(user_id)).await
}

async fn check_auth_bucket(conn: &mut Conn, state: &AppState, bucket: &str) -> AppResult<()> {
    hit_sliding_minute(
        conn,
        bucket,
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
        assert!(refresh_bucket(&"f".repeat(500)).len() <= 72);
        assert_eq!(password_change_bucket(42), "password-change:42");
    }
}
