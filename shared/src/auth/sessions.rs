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
//! ([`ratelimit::check_refresh_on`]).

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, TxOpts};
use serde::Serialize;

use crate::auth::audit::{self, action, AuditEntry};
use crate::auth::context::{self, AuthMethod, CSRF_COOKIE, REFRESH_COOKIE};
use crate::auth::rbac::Role;
use crate::auth::{ratelimit, tokens};
use crate::config::CookieSecure;
use crate::http::Request;
use crate::state::AppState;
use dash_store::error::{AppError, AppResult};

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

fn idle(state: &AppState) -> TimeDelta {
    TimeDelta::from_std(state.config().idle_timeout).unwrap_or(TimeDelta::minutes(30))
}

fn refresh_ttl(state: &AppState) -> TimeDelta {
    TimeDelta::from_std(state.config().refresh_token_ttl).unwrap_or(TimeDelta::days(7))
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The client address and user agent as stored in `user_login`.
pub fn client_of(req: &Request) -> (String, Option<String>) {
    (
        clip(&req.client_ip(), 45),
        req.header("user-agent").map(|ua| clip(ua, 255)),
    )
}

/// Records a failed sign-in attempt (`success = 0`).
pub async fn record_failure(
    conn: &mut Conn,
    now: DateTime<Utc>,
    user_id: Option<i64>,
    tenant_id: Option<i64>,
    req: &Request,
    reason: &str,
) -> AppResult<()> {
    let (ip, ua) = client_of(req);
    conn.exec_drop(
        "INSERT INTO user_login (user_id, tenant_id, login_at, ip, user_agent, success, failure_reason) \
         VALUES (?, ?, ?, ?, ?, 0, ?)",
        (user_id, tenant_id, now.naive_utc(), ip, ua, clip(reason, 64)),
    )
    .await?;
    Ok(())
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
    req: &Request,
) -> AppResult<IssuedSession> {
    let now = state.now();
    let now_naive = now.naive_utc();
    let (ip, ua) = client_of(req);
    let refresh = tokens::new_refresh_token();
    let csrf = tokens::new_csrf_token();
    let family = tokens::new_family_id();
    let max = state.config().max_sessions_per_user.max(1) as usize;

    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    // Serialises concurrent logins of one user so the limit holds.
    let _: Option<i64> = tx
        .exec_first(
            "SELECT user_id FROM `user` WHERE user_id = ? FOR UPDATE",
            (user_id,),
        )
        .await?;
    let live: Vec<String> = tx
        .exec(
            "SELECT family_id FROM user_login \
             WHERE user_id = ? AND success = 1 AND revoked_at IS NULL AND family_id IS NOT NULL \
               AND expires_at > ? AND last_activity_at > ? \
             ORDER BY login_at, session_id",
            (user_id, now_naive, now_naive - idle(state)),
        )
        .await?;
    let excess = (live.len() + 1).saturating_sub(max);
    let revoked: Vec<String> = live.into_iter().take(excess).collect();
    for fam in &revoked {
        tx.exec_drop(
            "UPDATE user_login SET revoked_at = ?, revoked_reason = 'session_limit' \
             WHERE family_id = ? AND revoked_at IS NULL",
            (now_naive, fam),
        )
        .await?;
    }
    tx.exec_drop(
        "INSERT INTO user_login (user_id, tenant_id, login_at, ip, user_agent, success, \
            refresh_token_hash, family_id, csrf_token_hash, last_activity_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
        (
            user_id,
            tenant_id,
            now_naive,
            &ip,
            &ua,
            tokens::sha256_hex(&refresh),
            &family,
            tokens::sha256_hex(&csrf),
            now_naive,
            now_naive + refresh_ttl(state),
        ),
    )
    .await?;
    if !revoked.is_empty() {
        let entry = AuditEntry {
            user_id: Some(user_id),
            tenant_id,
            action: action::SESSION_LIMIT,
            entity: Some("user"),
            entity_id: Some(user_id.to_string()),
            details: serde_json::json!({ "revoked_sessions": revoked.len(), "max_sessions": max }),
            ip: Some(&ip),
        };
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

/// Revokes every live row of a family; returns how many rows changed.
pub async fn revoke_family(
    conn: &mut Conn,
    family: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    conn.exec_drop(
        "UPDATE user_login SET revoked_at = ?, revoked_reason = ? WHERE family_id = ? AND revoked_at IS NULL",
        (now.naive_utc(), clip(reason, 64), family),
    )
    .await?;
    Ok(conn.affected_rows())
}

/// Revokes every live session of a user except `keep`; returns the families
/// revoked (already removed from this process's cache).
pub async fn revoke_user_sessions(
    state: &AppState,
    conn: &mut Conn,
    user_id: i64,
    keep: Option<&str>,
    reason: &str,
) -> AppResult<Vec<String>> {
    let now = state.now().naive_utc();
    let families: Vec<String> = conn
        .exec(
            "SELECT DISTINCT family_id FROM user_login \
             WHERE user_id = ? AND success = 1 AND revoked_at IS NULL AND family_id IS NOT NULL",
            (user_id,),
        )
        .await?;
    let families: Vec<String> = families
        .into_iter()
        .filter(|f| Some(f.as_str()) != keep)
        .collect();
    for fam in &families {
        conn.exec_drop(
            "UPDATE user_login SET revoked_at = ?, revoked_reason = ? WHERE family_id = ? AND revoked_at IS NULL",
            (now, clip(reason, 64), fam),
        )
        .await?;
        state.sessions().invalidate(fam);
    }
    Ok(families)
}

/// Why a refresh failed, for the audit trail.
fn refresh_refused(message: &str) -> AppError {
    AppError::unauthorized(message.to_string())
}

/// A presented refresh token found in `user_login`.
struct RefreshRow {
    session_id: i64,
    user_id: i64,
    tenant_id: Option<i64>,
    family: String,
    login_at: NaiveDateTime,
    revoked: bool,
    revoked_reason: Option<String>,
    last_activity_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    csrf_hash: Option<String>,
    role: String,
    user_active: bool,
    tenant_active: bool,
}

fn col<T: mysql_async::prelude::FromValue>(row: &mut Row, i: usize) -> AppResult<T> {
    row.take_opt::<T, usize>(i)
        .ok_or_else(|| AppError::internal(format!("refresh row lacks column {i}")))?
        .map_err(|e| AppError::internal(format!("refresh row column {i}: {e}")))
}

async fn find_refresh(conn: &mut Conn, hash: &str) -> AppResult<Option<RefreshRow>> {
    let row: Option<Row> = conn
        .exec_first(
            "SELECT s.session_id, s.user_id, s.tenant_id, s.family_id, s.login_at, s.revoked_at IS NOT NULL, \
                    s.revoked_reason, s.last_activity_at, s.expires_at, s.csrf_token_hash, \
                    CAST(u.role AS CHAR), (u.is_active = 1 AND u.deleted_at IS NULL), \
                    COALESCE(t.is_active, u.tenant_id IS NULL) \
             FROM user_login s JOIN `user` u ON u.user_id = s.user_id \
             LEFT JOIN tenant t ON t.tenant_id = u.tenant_id \
             WHERE s.refresh_token_hash = ? AND s.success = 1",
            (hash,),
        )
        .await?;
    let Some(mut row) = row else {
        return Ok(None);
    };
    Ok(Some(RefreshRow {
        session_id: col(&mut row, 0)?,
        user_id: col(&mut row, 1)?,
        tenant_id: col(&mut row, 2)?,
        family: col::<Option<String>>(&mut row, 3)?.unwrap_or_default(),
        login_at: col(&mut row, 4)?,
        revoked: col(&mut row, 5)?,
        revoked_reason: col(&mut row, 6)?,
        last_activity_at: col::<Option<NaiveDateTime>>(&mut row, 7)?.unwrap_or(NaiveDateTime::MIN),
        expires_at: col::<Option<NaiveDateTime>>(&mut row, 8)?.unwrap_or(NaiveDateTime::MIN),
        csrf_hash: col(&mut row, 9)?,
        role: col(&mut row, 10)?,
        user_active: col(&mut row, 11)?,
        tenant_active: col(&mut row, 12)?,
    }))
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
    let Some(row) = find_refresh(&mut conn, &hash).await? else {
        return Err(refresh_refused("invalid refresh token; sign in again"));
    };
    let (ip, ua) = client_of(req);
    if row.revoked {
        if row.revoked_reason.as_deref() == Some("rotated") {
            let revoked = revoke_family(&mut conn, &row.family, "refresh_reuse", now).await?;
            state.sessions().invalidate(&row.family);
            let entry = AuditEntry {
                user_id: Some(row.user_id),
                tenant_id: row.tenant_id,
                action: action::REFRESH_REUSE,
                entity: Some("session"),
                entity_id: Some(row.session_id.to_string()),
                details: serde_json::json!({ "family_rows_revoked": revoked }),
                ip: Some(&ip),
            };
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
        context::check_csrf(req, row.csrf_hash.as_deref())?;
    }
    if row.expires_at <= now_naive {
        return Err(refresh_refused("your session has expired; sign in again"));
    }
    if row.last_activity_at + idle(state) <= now_naive {
        revoke_family(&mut conn, &row.family, "idle_timeout", now).await?;
        state.sessions().invalidate(&row.family);
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
    tx.exec_drop(
        "UPDATE user_login SET revoked_at = ?, revoked_reason = 'rotated' \
         WHERE session_id = ? AND revoked_at IS NULL",
        (now_naive, row.session_id),
    )
    .await?;
    if tx.affected_rows() != 1 {
        // Another request rotated it between our read and this write.
        drop(tx);
        return Err(refresh_refused(
            "this refresh token was just used; use the newest one",
        ));
    }
    tx.exec_drop(
        "INSERT INTO user_login (user_id, tenant_id, login_at, ip, user_agent, success, \
            refresh_token_hash, family_id, csrf_token_hash, last_activity_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
        (
            row.user_id,
            row.tenant_id,
            row.login_at,
            &ip,
            &ua,
            tokens::sha256_hex(&refresh),
            &row.family,
            &row.csrf_hash,
            now_naive,
            now_naive + refresh_ttl(state),
        ),
    )
    .await?;
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
    let row: Option<(Option<String>, i64, Option<i64>)> = conn
        .exec_first(
            "SELECT family_id, user_id, tenant_id FROM user_login \
             WHERE refresh_token_hash = ? AND success = 1 AND revoked_at IS NULL",
            (tokens::sha256_hex(token),),
        )
        .await?;
    let Some((Some(family), user_id, tenant_id)) = row else {
        return Ok(None);
    };
    revoke_family(&mut conn, &family, reason, state.now()).await?;
    state.sessions().invalidate(&family);
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
    type R = (
        Option<String>,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<R> = conn
        .exec(
            "SELECT family_id, login_at, last_activity_at, expires_at, ip, user_agent FROM user_login \
             WHERE user_id = ? AND success = 1 AND revoked_at IS NULL AND family_id IS NOT NULL \
               AND expires_at > ? AND last_activity_at > ? \
             ORDER BY login_at DESC, session_id DESC",
            (user_id, now, now - idle(state)),
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(family, login, last, exp, ip, ua)| {
            let family = family?;
            Some(SessionInfo {
                current: family == current_family,
                session_id: family,
                login_at: iso(login),
                last_activity_at: last.map(iso),
                expires_at: exp.map(iso),
                ip,
                user_agent: ua,
            })
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
    conn.exec_drop(
        "UPDATE user_login SET revoked_at = ?, revoked_reason = 'revoked_by_user' \
         WHERE family_id = ? AND user_id = ? AND revoked_at IS NULL",
        (state.now().naive_utc(), family, user_id),
    )
    .await?;
    if conn.affected_rows() == 0 {
        return Err(AppError::NotFound);
    }
    state.sessions().invalidate(&family.to_string());
    Ok(())
}

/// ISO 8601 UTC with milliseconds, how the auth API writes times.
pub fn iso(t: NaiveDateTime) -> String {
    t.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
