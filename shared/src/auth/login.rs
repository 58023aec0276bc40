//! Signing in with a user name and password, and changing a password.
//!
//! Lockout: after `Config::lockout_max_failures` wrong passwords (default 5)
//! within `Config::lockout_window` (15 min) — counted since the later of the
//! window start, the last successful sign-in and the end of the previous
//! lockout — the account is locked for `Config::lockout_duration` (15 min);
//! the password is not even checked while locked. Sign-in and password change
//! count towards the same lockout ([`record_wrong_password`]).
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

use chrono::{NaiveDateTime, TimeDelta};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde_json::json;

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

struct Candidate {
    user_id: i64,
    tenant_id: Option<i64>,
    phc: String,
    role: String,
    user_active: bool,
    deleted: bool,
    locked_until: Option<NaiveDateTime>,
    last_login_at: Option<NaiveDateTime>,
    tenant_active: bool,
}

impl Candidate {
    /// When the account's lockout ends, while it lasts.
    fn lock_ends(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        self.locked_until.filter(|until| *until > now)
    }
}

async fn find_candidate(conn: &mut Conn, username: &str) -> AppResult<Option<Candidate>> {
    type R = (
        i64,
        Option<i64>,
        String,
        String,
        bool,
        bool,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        bool,
    );
    let row: Option<R> = conn
        .exec_first(
            "SELECT u.user_id, u.tenant_id, u.password, CAST(u.role AS CHAR), u.is_active = 1, \
                    u.deleted_at IS NOT NULL, u.locked_until, u.last_login_at, \
                    COALESCE(t.is_active = 1, u.tenant_id IS NULL) \
             FROM `user` u LEFT JOIN tenant t ON t.tenant_id = u.tenant_id WHERE u.username = ?",
            (username,),
        )
        .await?;
    Ok(row.map(
        |(
            user_id,
            tenant_id,
            phc,
            role,
            user_active,
            deleted,
            locked_until,
            last_login_at,
            tenant_active,
        )| Candidate {
            user_id,
            tenant_id,
            phc,
            role,
            user_active,
            deleted,
            locked_until,
            last_login_at,
            tenant_active,
        },
    ))
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

/// How many wrong passwords (the one just recorded included) count towards
/// the lockout now.
async fn failures_counting(state: &AppState, conn: &mut Conn, c: &Candidate) -> AppResult<i64> {
    let now = state.now().naive_utc();
    let window =
        TimeDelta::from_std(state.config().lockout_window).unwrap_or(TimeDelta::minutes(15));
    let mut since = now - window;
    for anchor in [c.last_login_at, c.locked_until.filter(|l| *l <= now)]
        .into_iter()
        .flatten()
    {
        if anchor > since {
            since = anchor;
        }
    }
    let n: Option<i64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM user_login WHERE user_id = ? AND success = 0 \
             AND failure_reason = 'bad_password' AND login_at > ?",
            (c.user_id, since),
        )
        .await?;
    Ok(n.unwrap_or(0))
}

/// What a wrong password did to the account.
enum WrongPassword {
    Counted,
    /// This failure reached the limit: the account is locked for this long.
    LockedNow(TimeDelta),
}

/// Records a wrong password for an existing account (a `user_login` failure
/// row and the audit entry `failure`), and locks the account when the
/// failures reach `Config::lockout_max_failures` (audited as `auth.lockout`).
/// Sign-in and password change both come here, so both feed one lockout.
async fn record_wrong_password(
    state: &AppState,
    conn: &mut Conn,
    c: &Candidate,
    req: &Request,
    failure: AuditEntry<'_>,
) -> AppResult<WrongPassword> {
    let now = state.now();
    sessions::record_failure(conn, now, Some(c.user_id), c.tenant_id, req, "bad_password").await?;
    let failures = failures_counting(state, conn, c).await?;
    audit::record(conn, now, &failure).await?;
    let max = i64::from(state.config().lockout_max_failures);
    if max > 0 && failures >= max {
        let duration = lockout_duration(state);
        conn.exec_drop(
            "UPDATE `user` SET failed_logins = ?, locked_until = ? WHERE user_id = ?",
            (failures, now.naive_utc() + duration, c.user_id),
        )
        .await?;
        let lockout = AuditEntry {
            action: action::LOCKOUT,
            details: json!({ "failures": failures, "locked_seconds": duration.num_seconds() }),
            ..failure
        };
        audit::record(conn, now, &lockout).await?;
        return Ok(WrongPassword::LockedNow(duration));
    }
    conn.exec_drop(
        "UPDATE `user` SET failed_logins = ? WHERE user_id = ?",
        (failures, c.user_id),
    )
    .await?;
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
    let ip = sessions::client_of(req).0;
    let mut conn = state.db().global().await?;
    let candidate = find_candidate(&mut conn, username)
        .await?
        .filter(|c| !c.deleted);
    let locked = candidate
        .as_ref()
        .is_some_and(|c| c.lock_ends(now.naive_utc()).is_some());

    // Argon2 runs on the blocking pool; no connection is needed meanwhile.
    drop(conn);
    // One verification for every attempt, against the dummy hash when there is
    // no password to check (unknown name, locked account): the same time
    // either way, and a locked account never tells whether the password was right.
    let password_ok = match candidate.as_ref().filter(|_| !locked) {
        Some(c) => password::verify_blocking(password.to_string(), c.phc.clone()).await,
        None => {
            password::verify_blocking(password.to_string(), DUMMY_PHC.to_string()).await;
            false
        }
    };
    let mut conn = state.db().global().await?;

    let Some(c) = candidate else {
        sessions::record_failure(&mut conn, now, None, None, req, "unknown_user").await?;
        let entry = AuditEntry::new(action::LOGIN_FAILED)
            .details(json!({ "username": username, "reason": "unknown_user" }))
            .ip(&ip);
        audit::record(&mut conn, now, &entry).await?;
        return Err(sign_in_refused(state.config()));
    };
    let audit_failure = |reason: &'static str| AuditEntry {
        user_id: Some(c.user_id),
        tenant_id: c.tenant_id,
        action: action::LOGIN_FAILED,
        entity: Some("user"),
        entity_id: Some(c.user_id.to_string()),
        details: json!({ "username": username, "reason": reason }),
        ip: Some(&ip),
    };
    if locked {
        sessions::record_failure(&mut conn, now, Some(c.user_id), c.tenant_id, req, "locked")
            .await?;
        audit::record(&mut conn, now, &audit_failure("locked")).await?;
        return Err(sign_in_refused(state.config()));
    }
    if !password_ok {
        record_wrong_password(state, &mut conn, &c, req, audit_failure("bad_password")).await?;
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
        sessions::record_failure(&mut conn, now, Some(c.user_id), c.tenant_id, req, reason).await?;
        audit::record(&mut conn, now, &audit_failure(reason)).await?;
        return Err(AppError::forbidden(message));
    }
    let role = Role::parse(&c.role)
        .ok_or_else(|| AppError::forbidden("this account has an unknown role"))?;

    conn.exec_drop(
        "UPDATE `user` SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE user_id = ?",
        (now.naive_utc(), c.user_id),
    )
    .await?;
    let session = sessions::start(state, &mut conn, c.user_id, c.tenant_id, role, req).await?;
    let entry = AuditEntry {
        user_id: Some(c.user_id),
        tenant_id: c.tenant_id,
        action: action::LOGIN,
        entity: Some("user"),
        entity_id: Some(c.user_id.to_string()),
        details: json!({ "username": username, "session": session.family.get(..8).unwrap_or("") }),
        ip: Some(&ip),
    };
    audit::record(&mut conn, now, &entry).await?;
    let me = me_of(state, &mut conn, c.user_id).await?;
    Ok(LoginOutcome { session, me })
}

/// The `Me` view of a user (user row plus a tenant summary).
pub async fn me_of(_state: &AppState, conn: &mut Conn, user_id: i64) -> AppResult<Me> {
    let user = account::load_user(conn, user_id)
        .await?
        .ok_or_else(|| AppError::unauthorized("this account no longer exists"))?;
    // On this connection: a CGI process has only one (a second would wait for it).
    let tenant = match user.tenant_id {
        Some(tid) => {
            let row: Option<(i64, String, bool, Option<String>)> = conn
                .exec_first(
                    "SELECT tenant_id, company_name, is_active, CAST(config_tenant AS CHAR) \
                     FROM tenant WHERE tenant_id = ?",
                    (tid,),
                )
                .await?;
            row.map(|(tenant_id, company_name, is_active, config)| {
                let t = dash_store::tenancy::Tenant {
                    tenant_id,
                    company_name,
                    is_active,
                    config: config
                        .and_then(|c| serde_json::from_str(&c).ok())
                        .unwrap_or_default(),
                };
                TenantSummary::of(&t)
            })
        }
        None => None,
    };
    Ok(Me { user, tenant })
}

/// The `Me` view for an authenticated context (tenant from the context).
pub async fn me_for(state: &AppState, ctx: &TenantContext) -> AppResult<Me> {
    let mut conn = state.db().global().await?;
    let user = account::load_user(&mut conn, ctx.user_id)
        .await?
        .ok_or_else(|| AppError::unauthorized("this account no longer exists"))?;
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
    let ip = sessions::client_of(req).0;
    let mut conn = state.db().global().await?;
    let c = find_candidate(&mut conn, &ctx.username)
        .await?
        .filter(|c| c.user_id == ctx.user_id && !c.deleted)
        .ok_or_else(|| AppError::unauthorized("this account no longer exists"))?;
    if let Some(until) = c.lock_ends(now.naive_utc()) {
        return Err(locked_error((until - now.naive_utc()).num_seconds()));
    }
    drop(conn);
    let ok = password::verify_blocking(current.to_string(), c.phc.clone()).await;
    let mut conn = state.db().global().await?;
    if !ok {
        let failure = AuditEntry::new(action::LOGIN_FAILED)
            .by(ctx)
            .entity("user", ctx.user_id)
            .details(json!({ "reason": "bad_password", "during": "change_password" }))
            .ip(&ip);
        return Err(
            match record_wrong_password(state, &mut conn, &c, req, failure).await? {
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
    conn.exec_drop(
        "UPDATE `user` SET password = ?, failed_logins = 0, locked_until = NULL, updated_at = ? WHERE user_id = ?",
        (phc, now.naive_utc(), ctx.user_id),
    )
    .await?;
    let revoked = sessions::revoke_user_sessions(
        state,
        &mut conn,
        ctx.user_id,
        Some(&ctx.session_id),
        "password_change",
    )
    .await?;
    let entry = AuditEntry::new(action::PASSWORD_CHANGE)
        .by(ctx)
        .entity("user", ctx.user_id)
        .details(json!({ "other_sessions_revoked": revoked.len() }))
        .ip(&ip);
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
