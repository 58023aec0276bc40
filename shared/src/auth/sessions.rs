//! Sessions in `user_login` (docs/roles.md#security).
//!
//! A session is a *family* (`family_id`) of rows: the login inserts the first
//! row; every refresh marks the presented row `revoked_reason = 'rotated'` and
//! inserts the next one with a new refresh token, in one transaction. Refresh
//! and CSRF tokens are stored only as SHA-256 hashes. Presenting a refresh
//! token whose row was already rotated is a reuse: the whole family is revoked.
//! A family is live while its newest row is not revoked, not past `expires_at`
//! (refresh lifetime, renewed by each rotation) and active within the idle
//! timeout. At most `Config::max_sessions_per_user` families are live per user;
//! a further login revokes the oldest. Failed login attempts are rows with
//! `success = 0`. Refreshes are rate-limited per family
//! ([`ratelimit::check_refresh_on`]). The rows are read and written by
//! [`dash_store::user_login`]; this module holds the rules and this process's
//! session cache.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use mysql_async::{Conn, TxOpts};
use serde::Serialize;

use crate::auth::audit::{self, action, AuditEntry};
use crate::auth::context::{self, AuthMethod, CSRF_COOKIE, REFRESH_COOKIE};
use crate::auth::rbac::Role;
use crate::auth::{ratelimit, tokens};
use crate::config::CookieSecure;
use crate::http::Request;
use crate::state::AppState;
use dash_store::error::{AppError, AppResult};
use dash_store::user_login::{self, NewSessionRow, Origin};
use dash_store::users;

/// What a client receives when a session starts or rotates.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub access_token: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
    pub refresh_token: String,
    pub csrf_token: String,
    pub family: String,
    pub user_id: i64,
    pub tenant_id: Option<i64>,
}

/// How long a session may go unused before it ends.
pub(crate) fn idle_timeout(state: &AppState) -> TimeDelta {
    TimeDelta::from_std(state.config().idle_timeout).unwrap_or(TimeDelta::minutes(30))
}

fn refresh_ttl(state: &AppState) -> TimeDelta {
    TimeDelta::from_std(state.config().refresh_token_ttl).unwrap_or(TimeDelta::days(7))
}

/// Where a request comes from, as `user_login` records it.
pub fn origin_of(req: &Request) -> Origin {
    Origin {
        ip: req.client_ip(),
        user_agent: req.header("user-agent").map(str::to_string),
    }
}

/// Starts a session for a user whose credentials were just checked: enforces
/// the per-user limit (revoking the oldest live sessions), inserts the first
/// row of a new family and signs the access token.
pub async fn start(
    state: &AppState,
    conn: &mut Conn,
    user_id: i64,
    tenant_id: Option<i64>,
    role: Role,
    origin: &Origin,
) -> AppResult<IssuedSession> {
    let now = state.now();
    let now_naive = now.naive_utc();
    let refresh = tokens::new_refresh_token();
    let csrf = tokens::new_csrf_token();
    let family = tokens::new_family_id();
    let max = state.config().max_sessions_per_user.max(1) as usize;

    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    // Serialises concurrent logins of one user so the limit holds.
    users::lock_row(&mut tx, user_id).await?;
    let live =
        user_login::live_sessions(&mut tx, user_id, now_naive, now_naive - idle_timeout(state))
            .await?;
    let excess = (live.len() + 1).saturating_sub(max);
    let revoked: Vec<String> = live.into_iter().take(excess).map(|s| s.family).collect();
    for fam in &revoked {
        user_login::revoke_family(&mut tx, fam, "session_limit", now).await?;
    }
    let session = NewSessionRow {
        user_id,
        tenant_id,
        login_at: now_naive,
        origin,
        refresh_token_hash: &tokens::sha256_hex(&refresh),
        family: &family,
        csrf_token_hash: Some(&tokens::sha256_hex(&csrf)),
        last_activity_at: now_naive,
        expires_at: now_naive + refresh_ttl(state),
    };
    user_login::insert_session(&mut tx, &session).await?;
    if !revoked.is_empty() {
        let entry = AuditEntry::new(action::SESSION_LIMIT)
            .by_user(user_id, tenant_id)
            .entity("user", user_id)
            .details(serde_json::json!({ "revoked_sessions": revoked.len(), "max_sessions": max }))
            .ip(&origin.ip);
        audit::record(&mut tx, now, &entry).await?;
    }
    tx.commit().await?;
    for fam in &revoked {
        state.sessions().invalidate(fam);
    }
    let (access_token, expires_in) = tokens::issue_access(
        state.config(),
        now,
        user_id,
        tenant_id,
        role.as_str(),
        &family,
    )?;
    Ok(IssuedSession {
        access_token,
        expires_in,
        refresh_token: refresh,
        csrf_token: csrf,
        family,
        user_id,
        tenant_id,
    })
}

/// Ends a session: revokes every live row of its family and drops it from
/// this process's cache (others see it within the cache's TTL). Returns how
/// many rows changed.
pub async fn end_session(
    state: &AppState,
    conn: &mut Conn,
    family: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    let revoked = user_login::revoke_family(conn, family, reason, now).await?;
    state.sessions().invalidate(&family.to_string());
    Ok(revoked)
}

/// Ends every unrevoked session of a user except `keep`; returns the
/// families ended.
pub async fn revoke_user_sessions(
    state: &AppState,
    conn: &mut Conn,
    user_id: i64,
    keep: Option<&str>,
    reason: &str,
) -> AppResult<Vec<String>> {
    let now = state.now();
    let families: Vec<String> = user_login::unrevoked_families(conn, user_id)
        .await?
        .into_iter()
        .filter(|f| Some(f.as_str()) != keep)
        .collect();
    for fam in &families {
        end_session(state, conn, fam, reason, now).await?;
    }
    Ok(families)
}

/// Drops a user's sessions from this process's cache, so that a change of
/// its role, permissions or state applies here at once (in other processes
/// within the cache's TTL).
pub async fn forget_cached_sessions(
    state: &AppState,
    conn: &mut Conn,
    user_id: i64,
) -> AppResult<()> {
    for family in user_login::unrevoked_families(conn, user_id).await? {
        state.sessions().invalidate(&family);
    }
    Ok(())
}

/// Why a refresh failed, for the audit trail.
fn refresh_refused(message: &str) -> AppError {
    AppError::unauthorized(message.to_string())
}

/// Where the refresh token of a request is: the JSON body (API clients) or
/// the `dash_refresh` cookie (browsers, which must then pass the CSRF check).
pub fn refresh_token_of(req: &Request, body_token: Option<&str>) -> Option<(String, AuthMethod)> {
    if let Some(t) = body_token.filter(|t| !t.is_empty()) {
        return Some((t.to_string(), AuthMethod::Bearer));
    }
    req.cookie(REFRESH_COOKIE)
        .filter(|t| !t.is_empty())
        .map(|t| (t, AuthMethod::Cookie))
}

/// Rotates a refresh token: the presented row is marked rotated and a new row
/// of the same family carries the new token. A token already rotated revokes
/// its whole family (reuse); an idle or expired session is refused.
pub async fn rotate(
    state: &AppState,
    req: &Request,
    token: &str,
    method: AuthMethod,
) -> AppResult<IssuedSession> {
    let now = state.now();
    let now_naive = now.naive_utc();
    if token.len() > 512 {
        return Err(refresh_refused("invalid refresh token"));
    }
    let hash = tokens::sha256_hex(token);
    let mut conn = state.db().global().await?;
    let Some(row) = user_login::find_by_refresh_hash(&mut conn, &hash).await? else {
        return Err(refresh_refused("invalid refresh token; sign in again"));
    };
    let origin = origin_of(req);
    if row.revoked {
        if row.revoked_reason.as_deref() == Some("rotated") {
            let revoked = end_session(state, &mut conn, &row.family, "refresh_reuse", now).await?;
            let entry = AuditEntry::new(action::REFRESH_REUSE)
                .by_user(row.user_id, row.tenant_id)
                .entity("session", row.session_id)
                .details(serde_json::json!({ "family_rows_revoked": revoked }))
                .ip(&origin.ip);
            audit::record(&mut conn, now, &entry).await?;
            tracing::warn!(
                user_id = row.user_id,
                "refresh token reused: session family revoked"
            );
            return Err(refresh_refused(
                "this refresh token was already used; the session has been closed for safety, sign in again",
            ));
        }
        return Err(refresh_refused("your session has ended; sign in again"));
    }
    // Limited per session, not per address: many users behind one address
    // still renew, and a full sign-in bucket never strands a session. Checked
    // before the rotation, so a refused refresh leaves the token usable.
    ratelimit::check_refresh_on(&mut conn, state, &row.family).await?;
    if method == AuthMethod::Cookie {
        context::check_csrf(req, row.csrf_token_hash.as_deref())?;
    }
    if row.expires_at <= now_naive {
        return Err(refresh_refused("your session has expired; sign in again"));
    }
    if row.last_activity_at + idle_timeout(state) <= now_naive {
        end_session(state, &mut conn, &row.family, "idle_timeout", now).await?;
        return Err(refresh_refused(
            "your session ended after a period of inactivity; sign in again",
        ));
    }
    if !row.user_active {
        return Err(refresh_refused("this account has been deactivated"));
    }
    if !row.tenant_active {
        return Err(refresh_refused("this plant's account has been deactivated"));
    }
    let role = Role::parse(&row.role)
        .ok_or_else(|| AppError::forbidden("this account has an unknown role"))?;

    let refresh = tokens::new_refresh_token();
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    if !user_login::mark_rotated(&mut tx, row.session_id, now).await? {
        // Another request rotated it between our read and this write.
        drop(tx);
        return Err(refresh_refused(
            "this refresh token was just used; use the newest one",
        ));
    }
    let next = NewSessionRow {
        user_id: row.user_id,
        tenant_id: row.tenant_id,
        login_at: row.login_at,
        origin: &origin,
        refresh_token_hash: &tokens::sha256_hex(&refresh),
        family: &row.family,
        csrf_token_hash: row.csrf_token_hash.as_deref(),
        last_activity_at: now_naive,
        expires_at: now_naive + refresh_ttl(state),
    };
    user_login::insert_session(&mut tx, &next).await?;
    tx.commit().await?;
    state.sessions().invalidate(&row.family);
    let (access_token, expires_in) = tokens::issue_access(
        state.config(),
        now,
        row.user_id,
        row.tenant_id,
        role.as_str(),
        &row.family,
    )?;
    // The CSRF token stays the one of the session (the browser keeps its cookie);
    // the response repeats it only when the request proved it holds it.
    let csrf_token = if method == AuthMethod::Cookie {
        req.cookie(CSRF_COOKIE).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(IssuedSession {
        access_token,
        expires_in,
        refresh_token: refresh,
        csrf_token,
        family: row.family,
        user_id: row.user_id,
        tenant_id: row.tenant_id,
    })
}

/// Ends a session by its refresh token (logout without a valid access token).
/// Returns the family and user when the token named a live session.
pub async fn revoke_by_refresh(
    state: &AppState,
    token: &str,
    reason: &str,
) -> AppResult<Option<(String, i64, Option<i64>)>> {
    if token.len() > 512 {
        return Ok(None);
    }
    let mut conn = state.db().global().await?;
    let found =
        user_login::live_family_by_refresh_hash(&mut conn, &tokens::sha256_hex(token)).await?;
    let Some((family, user_id, tenant_id)) = found else {
        return Ok(None);
    };
    end_session(state, &mut conn, &family, reason, state.now()).await?;
    Ok(Some((family, user_id, tenant_id)))
}

/// The `Set-Cookie` values that hand a session to a browser: the access and
/// refresh tokens HttpOnly, the CSRF token readable by the page's script; all
/// `SameSite=Strict`, `Secure` per `COOKIE_SECURE` (or the request's scheme).
pub fn session_cookies(state: &AppState, req: &Request, s: &IssuedSession) -> Vec<String> {
    let secure = secure_flag(state, req);
    let refresh_age = state.config().refresh_token_ttl.as_secs();
    let mut cookies = vec![
        format!(
            "{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
            context::ACCESS_COOKIE,
            s.access_token,
            s.expires_in
        ),
        format!(
            "{REFRESH_COOKIE}={}; Path=/; Max-Age={refresh_age}; HttpOnly; SameSite=Strict{secure}",
            s.refresh_token
        ),
    ];
    if !s.csrf_token.is_empty() {
        cookies.push(format!(
            "{CSRF_COOKIE}={}; Path=/; Max-Age={refresh_age}; SameSite=Strict{secure}",
            s.csrf_token
        ));
    }
    cookies
}

/// `Set-Cookie` values that remove the session cookies.
pub fn clear_cookies(state: &AppState, req: &Request) -> Vec<String> {
    let secure = secure_flag(state, req);
    [context::ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE]
        .iter()
        .map(|name| {
            let http_only = if *name == CSRF_COOKIE {
                ""
            } else {
                "; HttpOnly"
            };
            format!("{name}=; Path=/; Max-Age=0{http_only}; SameSite=Strict{secure}")
        })
        .collect()
}

fn secure_flag(state: &AppState, req: &Request) -> &'static str {
    let secure = match state.config().cookie_secure {
        CookieSecure::Always => true,
        CookieSecure::Never => false,
        CookieSecure::Auto => req.is_https,
    };
    if secure {
        "; Secure"
    } else {
        ""
    }
}

/// One live session, for a "your sessions" page.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub session_id: String,
    pub login_at: String,
    pub last_activity_at: Option<String>,
    pub expires_at: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub current: bool,
}

/// The live sessions of a user, newest first (`current` marks `current_family`).
pub async fn active_sessions(
    state: &AppState,
    user_id: i64,
    current_family: &str,
) -> AppResult<Vec<SessionInfo>> {
    let now = state.now().naive_utc();
    let mut conn = state.db().global().await?;
    let live =
        user_login::live_sessions(&mut conn, user_id, now, now - idle_timeout(state)).await?;
    Ok(live
        .into_iter()
        .rev()
        .map(|s| SessionInfo {
            current: s.family == current_family,
            session_id: s.family,
            login_at: iso(s.login_at),
            last_activity_at: s.last_activity_at.map(iso),
            expires_at: s.expires_at.map(iso),
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect())
}

/// Revokes one of the user's own sessions (by the id [`active_sessions`] shows);
/// 404 when it is not theirs or not live.
pub async fn revoke_own_session(state: &AppState, user_id: i64, family: &str) -> AppResult<()> {
    if family.len() != 32 || !family.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let mut conn = state.db().global().await?;
    if user_login::revoke_family_of_user(&mut conn, family, user_id, state.now()).await? == 0 {
        return Err(AppError::NotFound);
    }
    state.sessions().invalidate(&family.to_string());
    Ok(())
}

/// ISO 8601 UTC with milliseconds, how the auth API writes times.
pub fn iso(t: NaiveDateTime) -> String {
    t.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
