//! Signing in with a user name and password, and changing a password.
//!
//! Lockout: after `Config::lockout_max_failures` wrong passwords (default 5)
//! within `Config::lockout_window` (15 min) — counted since the later of the
//! window start, the last successful sign-in and the end of the previous
//! lockout — the account is locked for `Config::lockout_duration` (15 min);
//! the password is not even checked while locked. Sign-in and password change
//! count towards the same lockout (`record_wrong_password`, the one path of a
//! wrong password, which also audits the lockout).
//!
//! A failed sign-in answers the same whatever failed — unknown user name,
//! wrong password, locked account (even with the right password) — 401 with
//! one message that also states the lockout rule, and in about the same time:
//! every attempt costs one Argon2 verification, against a dummy hash when the
//! name is unknown or the account locked. So no answer reveals whether a name
//! exists. Correct credentials of a deactivated user or tenant answer 403.
//! A password change, by a signed-in user, answers 423 with `Retry-After`
//! while the account is locked.
//!
//! Callers on the HTTP side count the attempt against the per-IP limit first
//! ([`crate::auth::ratelimit::check_auth_ip`]).

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use mysql_async::Conn;
use serde_json::{json, Value};

use crate::auth::account::{self, Me, TenantSummary};
use crate::auth::audit::{self, action, AuditEntry};
use crate::auth::context::TenantContext;
use crate::auth::input;
use crate::auth::rbac::Role;
use crate::auth::sessions::{self, IssuedSession};
use crate::config::Config;
use crate::http::Request;
use crate::state::AppState;
use dash_store::error::{AppError, AppResult};
use dash_store::password;
use dash_store::tenancy;
use dash_store::user_login::{self, Origin};
use dash_store::users::{self, SignInUser};

/// A valid Argon2id hash (m=65536, t=2, p=1) of a random secret nobody knows:
/// unknown user names and locked accounts are verified against it so they
/// cost as much as a real attempt.
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$wV2Y0xGQ3sE3QrR7v3qUQm8nH5p0a0y5mGkqg1VZ8cA";

/// The one answer to a failed sign-in. It states the lockout rule because a
/// locked-out user gets it even with the right password, and telling only
/// them would tell everyone which names exist.
fn sign_in_refused(config: &Config) -> AppError {
    let max = config.lockout_max_failures;
    if max == 0 {
        return AppError::unauthorized("invalid username or password");
    }
    AppError::unauthorized(format!(
        "invalid username or password; after {max} failed attempts an account is locked for {}",
        minutes_text(config.lockout_duration.as_secs() as i64)
    ))
}

/// A started session with the user it belongs to.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub session: IssuedSession,
    pub me: Me,
}

/// When the account's lockout ends, while it lasts.
fn lock_ends(user: &SignInUser, now: NaiveDateTime) -> Option<NaiveDateTime> {
    user.locked_until.filter(|until| *until > now)
}

/// An audit entry about the account `user` (sign-in, failed sign-in), from `ip`.
fn account_entry<'a>(
    action: &'a str,
    user: &SignInUser,
    ip: &'a str,
    details: Value,
) -> AuditEntry<'a> {
    AuditEntry::new(action)
        .by_user(user.user_id, user.tenant_id)
        .entity("user", user.user_id)
        .details(details)
        .ip(ip)
}

fn minutes_text(seconds: i64) -> String {
    let minutes = (seconds + 59) / 60;
    if minutes <= 1 {
        "1 minute".into()
    } else {
        format!("{minutes} minutes")
    }
}

fn locked_error(seconds: i64) -> AppError {
    let seconds = seconds.max(1);
    AppError::Locked {
        message: format!(
            "This account is locked after too many failed sign-in attempts; try again in {} \
             or ask an administrator.",
            minutes_text(seconds)
        ),
        retry_after: seconds as u64,
    }
}

/// Checks the shape of the credentials; errors name the field.
pub fn validate_credentials(username: &str, password: &str) -> AppResult<()> {
    input::check_username("username", username)?;
    if password.is_empty() {
        return Err(AppError::validation("password", "password is required"));
    }
    input::check_len("password", password, 1, input::MAX_PASSWORD_CHARS)?;
    Ok(())
}

fn lockout_duration(state: &AppState) -> TimeDelta {
    TimeDelta::from_std(state.config().lockout_duration).unwrap_or(TimeDelta::minutes(15))
}

/// Where the wrong passwords that count towards the lockout start: the
/// lockout window back from now, or later, the last successful sign-in or the
/// end of the previous lockout.
fn failures_count_from(state: &AppState, user: &SignInUser) -> NaiveDateTime {
    let now = state.now().naive_utc();
    let window =
        TimeDelta::from_std(state.config().lockout_window).unwrap_or(TimeDelta::minutes(15));
    [user.last_login_at, user.locked_until.filter(|l| *l <= now)]
        .into_iter()
        .flatten()
        .fold(now - window, Ord::max)
}

/// Records a refused sign-in attempt: a `user_login` failure row with its
/// reason, and the audit entry.
async fn record_refused_attempt(
    conn: &mut Conn,
    now: DateTime<Utc>,
    user: Option<&SignInUser>,
    origin: &Origin,
    reason: &str,
    entry: &AuditEntry<'_>,
) -> AppResult<()> {
    user_login::record_failed_sign_in(
        conn,
        now,
        user.map(|u| u.user_id),
        user.and_then(|u| u.tenant_id),
        origin,
        reason,
    )
    .await?;
    audit::record(conn, now, entry).await?;
    Ok(())
}

/// What a wrong password did to the account.
enum WrongPassword {
    Counted,
    /// This failure reached the limit: the account is locked for this long.
    LockedNow(TimeDelta),
}

/// The one path of a wrong password for an existing account, from sign-in
/// and password change alike, so both feed one lockout: records the attempt
/// (audited as `failure`) and locks the account when the failures reach
/// `Config::lockout_max_failures`, audited as `auth.lockout`.
async fn record_wrong_password(
    state: &AppState,
    conn: &mut Conn,
    user: &SignInUser,
    origin: &Origin,
    failure: AuditEntry<'_>,
) -> AppResult<WrongPassword> {
    let now = state.now();
    record_refused_attempt(conn, now, Some(user), origin, "bad_password", &failure).await?;
    let failures = user_login::count_wrong_passwords_since(
        conn,
        user.user_id,
        failures_count_from(state, user),
    )
    .await?;
    let max = i64::from(state.config().lockout_max_failures);
    if max > 0 && failures >= max {
        let duration = lockout_duration(state);
        users::lock_account(conn, user.user_id, failures, now.naive_utc() + duration).await?;
        let lockout = AuditEntry {
            action: action::LOCKOUT,
            details: json!({ "failures": failures, "locked_seconds": duration.num_seconds() }),
            ..failure
        };
        audit::record(conn, now, &lockout).await?;
        return Ok(WrongPassword::LockedNow(duration));
    }
    users::set_failed_logins(conn, user.user_id, failures).await?;
    Ok(WrongPassword::Counted)
}

/// Signs a user in. See the module docs for the answers.
pub async fn login(
    state: &AppState,
    req: &Request,
    username: &str,
    password: &str,
) -> AppResult<LoginOutcome> {
    validate_credentials(username, password)?;
    let now = state.now();
    let origin = sessions::origin_of(req);
    let mut conn = state.db().global().await?;
    let candidate = users::find_sign_in_user(&mut conn, username)
        .await?
        .filter(|c| !c.deleted);
    let locked = candidate
        .as_ref()
        .is_some_and(|c| lock_ends(c, now.naive_utc()).is_some());

    // Argon2 runs on the blocking pool; no connection is needed meanwhile.
    drop(conn);
    // One verification for every attempt, against the dummy hash when there is
    // no password to check (unknown name, locked account): the same time
    // either way, and a locked account never tells whether the password was right.
    let password_ok = match candidate.as_ref().filter(|_| !locked) {
        Some(c) => password::verify_blocking(password.to_string(), c.password_hash.clone()).await,
        None => {
            password::verify_blocking(password.to_string(), DUMMY_PHC.to_string()).await;
            false
        }
    };
    let mut conn = state.db().global().await?;

    let Some(c) = candidate else {
        let entry = AuditEntry::new(action::LOGIN_FAILED)
            .details(json!({ "username": username, "reason": "unknown_user" }))
            .ip(&origin.ip);
        record_refused_attempt(&mut conn, now, None, &origin, "unknown_user", &entry).await?;
        return Err(sign_in_refused(state.config()));
    };
    let failure = |reason: &'static str| {
        account_entry(
            action::LOGIN_FAILED,
            &c,
            &origin.ip,
            json!({ "username": username, "reason": reason }),
        )
    };
    if locked {
        record_refused_attempt(
            &mut conn,
            now,
            Some(&c),
            &origin,
            "locked",
            &failure("locked"),
        )
        .await?;
        return Err(sign_in_refused(state.config()));
    }
    if !password_ok {
        record_wrong_password(state, &mut conn, &c, &origin, failure("bad_password")).await?;
        return Err(sign_in_refused(state.config()));
    }

    let inactive = if !c.user_active {
        Some((
            "inactive_user",
            "This account has been deactivated; ask your administrator.",
        ))
    } else if !c.tenant_active {
        Some((
            "inactive_tenant",
            "This plant's account has been deactivated; contact the service operator.",
        ))
    } else {
        None
    };
    if let Some((reason, message)) = inactive {
        record_refused_attempt(&mut conn, now, Some(&c), &origin, reason, &failure(reason)).await?;
        return Err(AppError::forbidden(message));
    }
    let role = Role::parse(&c.role)
        .ok_or_else(|| AppError::forbidden("this account has an unknown role"))?;

    users::record_sign_in(&mut conn, c.user_id, now).await?;
    let session = sessions::start(state, &mut conn, c.user_id, c.tenant_id, role, &origin).await?;
    let entry = account_entry(
        action::LOGIN,
        &c,
        &origin.ip,
        json!({ "username": username, "session": session.family.get(..8).unwrap_or("") }),
    );
    audit::record(&mut conn, now, &entry).await?;
    let me = me_of(&mut conn, c.user_id).await?;
    Ok(LoginOutcome { session, me })
}

/// The `Me` view of a user (user row plus a tenant summary).
pub async fn me_of(conn: &mut Conn, user_id: i64) -> AppResult<Me> {
    let user = account::load_user(conn, user_id)
        .await?
        .ok_or_else(no_longer_exists)?;
    // On this connection: a CGI process has only one (a second would wait for it).
    let tenant = match user.account.tenant_id {
        Some(tid) => tenancy::find_tenant(conn, tid)
            .await?
            .map(|t| TenantSummary::of(&t)),
        None => None,
    };
    Ok(Me { user, tenant })
}

fn no_longer_exists() -> AppError {
    AppError::unauthorized("this account no longer exists")
}

/// The `Me` view for an authenticated context (tenant from the context).
pub async fn me_for(state: &AppState, ctx: &TenantContext) -> AppResult<Me> {
    let mut conn = state.db().global().await?;
    let user = account::load_user(&mut conn, ctx.user_id)
        .await?
        .ok_or_else(no_longer_exists)?;
    Ok(Me {
        user,
        tenant: ctx.tenant_opt().map(|t: &Arc<_>| TenantSummary::of(t)),
    })
}

/// Changes the caller's own password: checks the current one (a wrong one
/// counts towards the lockout and answers 422 naming `current_password`),
/// applies the policy, stores the new hash and revokes every other session of
/// the user. Returns how many sessions were revoked.
pub async fn change_password(
    state: &AppState,
    req: &Request,
    ctx: &TenantContext,
    current: &str,
    new: &str,
) -> AppResult<usize> {
    if current.is_empty() {
        return Err(AppError::validation(
            "current_password",
            "current_password is required",
        ));
    }
    input::check_len("current_password", current, 1, input::MAX_PASSWORD_CHARS)?;
    input::check_new_password(
        "new_password",
        new,
        state.config().password_min_length,
        Some(&ctx.username),
    )?;
    if current == new {
        return Err(AppError::validation(
            "new_password",
            "new_password must differ from the current password",
        ));
    }
    let now = state.now();
    let origin = sessions::origin_of(req);
    let mut conn = state.db().global().await?;
    let user = users::find_sign_in_user(&mut conn, &ctx.username)
        .await?
        .filter(|u| u.user_id == ctx.user_id && !u.deleted)
        .ok_or_else(no_longer_exists)?;
    if let Some(until) = lock_ends(&user, now.naive_utc()) {
        return Err(locked_error((until - now.naive_utc()).num_seconds()));
    }
    drop(conn);
    let ok = password::verify_blocking(current.to_string(), user.password_hash.clone()).await;
    let mut conn = state.db().global().await?;
    if !ok {
        let failure = audit::by(ctx, action::LOGIN_FAILED)
            .entity("user", ctx.user_id)
            .details(json!({ "reason": "bad_password", "during": "change_password" }))
            .ip(&origin.ip);
        return Err(
            match record_wrong_password(state, &mut conn, &user, &origin, failure).await? {
                WrongPassword::LockedNow(duration) => locked_error(duration.num_seconds()),
                WrongPassword::Counted => {
                    AppError::validation("current_password", "the current password is not correct")
                }
            },
        );
    }
    drop(conn);
    let phc = password::hash_blocking(new.to_string()).await?;
    let mut conn = state.db().global().await?;
    users::set_password(&mut conn, ctx.user_id, &phc, now).await?;
    let revoked = sessions::revoke_user_sessions(
        state,
        &mut conn,
        ctx.user_id,
        Some(&ctx.session_id),
        "password_change",
    )
    .await?;
    let entry = audit::by(ctx, action::PASSWORD_CHANGE)
        .entity("user", ctx.user_id)
        .details(json!({ "other_sessions_revoked": revoked.len() }))
        .ip(&origin.ip);
    audit::record(&mut conn, now, &entry).await?;
    Ok(revoked.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_is_a_valid_argon2id_phc() {
        use argon2::password_hash::phc::PasswordHash;
        let parsed = PasswordHash::new(DUMMY_PHC).expect("valid PHC");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(!password::verify("anything", DUMMY_PHC));
    }

    #[test]
    fn credentials_are_checked_by_field() {
        assert!(validate_credentials("plant.admin", "x").is_ok());
        assert_eq!(
            validate_credentials("", "x").unwrap_err().field(),
            Some("username")
        );
        assert_eq!(
            validate_credentials("a' OR 1=1--", "x")
                .unwrap_err()
                .field(),
            Some("username")
        );
        assert_eq!(
            validate_credentials("admin", "").unwrap_err().field(),
            Some("password")
        );
        assert_eq!(
            validate_credentials("admin", &"p".repeat(300))
                .unwrap_err()
                .field(),
            Some("password")
        );
    }

    #[test]
    fn the_sign_in_refusal_states_the_lockout_rule() {
        let mut config = Config::from_lookup(|key| match key {
            "DATABASE_URL" => Some("mysql://root@127.0.0.1:3306".into()),
            "JWT_SECRET" => Some("0123456789abcdef0123456789abcdef-test".into()),
            "LOCKOUT_MAX_FAILURES" => Some("5".into()),
            "LOCKOUT_DURATION_SECONDS" => Some("900".into()),
            _ => None,
        })
        .unwrap();
        let e = sign_in_refused(&config);
        assert_eq!(e.status(), 401);
        assert_eq!(
            e.to_string(),
            "invalid username or password; after 5 failed attempts an account is locked for 15 minutes"
        );
        assert!(e.headers().iter().all(|(name, _)| *name != "retry-after"));
        config.lockout_max_failures = 0;
        assert_eq!(
            sign_in_refused(&config).to_string(),
            "invalid username or password"
        );
    }

    #[test]
    fn lock_message_says_when() {
        let e = locked_error(900);
        assert_eq!(e.status(), 423);
        assert!(e.to_string().contains("15 minutes"));
        assert_eq!(e.headers(), vec![("retry-after", "900".to_string())]);
        assert!(locked_error(30).to_string().contains("1 minute"));
    }
}
