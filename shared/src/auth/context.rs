//! Who is asking: [`authenticate`] turns a request into a [`TenantContext`]
//! derived from the access token only — the tenant is never read from a path,
//! query, header or body.
//!
//! Per request: the JWT is verified (HS256, iss/aud/exp/iat), its session
//! (refresh-token family) is looked up together with the user and tenant rows
//! (kept in the warm cache for [`dash_store::cache::ACCOUNT_TTL`], so a deactivated
//! user or tenant, a logout elsewhere or a revoked session is refused within
//! that time by every process, at once by the process that made the change and
//! by every CGI request), the idle timeout is enforced, the CSRF token is
//! checked for state-changing cookie requests, and the per-user rate limit is
//! counted.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use mysql_async::Conn;

use crate::auth::rbac::{self, Permission, PermissionSet, Role, UserPermissions};
use crate::auth::{ratelimit, sessions, tokens};
use crate::http::Request;
use crate::state::AppState;
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::{Area, Line, TenantMetadata};
use dash_store::tenancy::Tenant;
use dash_store::user_login::{self, SessionRow};

/// Cookie holding the access token (HttpOnly).
pub const ACCESS_COOKIE: &str = "dash_access";
/// Cookie holding the refresh token (HttpOnly).
pub const REFRESH_COOKIE: &str = "dash_refresh";
/// Cookie holding the CSRF token (readable by the page's script, which echoes it).
pub const CSRF_COOKIE: &str = "dash_csrf";
/// Header carrying the CSRF token on state-changing cookie requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How often at most a session's `last_activity_at` is written.
const TOUCH_EVERY_SECONDS: i64 = 60;

/// How the request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `Authorization: Bearer` (API clients): no CSRF check needed.
    Bearer,
    /// The `dash_access` cookie (browsers): state-changing requests need the CSRF token.
    Cookie,
}

/// The identity every handler works with.
#[derive(Debug, Clone)]
pub struct TenantContext {
    pub user_id: i64,
    pub username: String,
    /// `None` only for a superadmin (the SaaS operator), who has no plant.
    pub tenant_id: Option<i64>,
    pub role: Role,
    /// Effective permissions: the role's, refined by `user.permissions`.
    pub permissions: PermissionSet,
    /// `None` = every line; `Some(ids)` = only these lines, everywhere.
    pub lines: Option<Vec<i64>>,
    /// The session (refresh-token family) of the access token.
    pub session_id: String,
    pub auth_method: AuthMethod,
    tenant: Option<Arc<Tenant>>,
}

impl TenantContext {
    /// 403 unless the user holds `p`.
    pub fn require(&self, p: Permission) -> AppResult<()> {
        if self.permissions.contains(p) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "your role ({}) does not allow this (needs {})",
                self.role,
                p.as_str()
            )))
        }
    }

    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    pub fn is_superadmin(&self) -> bool {
        self.role == Role::Superadmin && self.tenant_id.is_none()
    }

    /// The tenant id, or 403 for a superadmin (who has no plant data).
    pub fn tenant_id(&self) -> AppResult<i64> {
        self.tenant_id.ok_or_else(no_plant)
    }

    /// The tenant row (fresh within [`dash_store::cache::ACCOUNT_TTL`]), or 403 for a superadmin.
    pub fn tenant(&self) -> AppResult<Arc<Tenant>> {
        self.tenant.clone().ok_or_else(no_plant)
    }

    /// The tenant row if the user has one.
    pub fn tenant_opt(&self) -> Option<&Arc<Tenant>> {
        self.tenant.as_ref()
    }

    pub fn can_see_line(&self, line_id: i64) -> bool {
        match &self.lines {
            None => true,
            Some(ids) => ids.contains(&line_id),
        }
    }

    /// The tenant's lines this user may see, in the metadata's order.
    pub fn visible_lines<'a>(&self, meta: &'a TenantMetadata) -> Vec<&'a Line> {
        meta.lines
            .iter()
            .filter(|l| self.can_see_line(l.line_id))
            .collect()
    }

    /// Ids of [`Self::visible_lines`].
    pub fn visible_line_ids(&self, meta: &TenantMetadata) -> Vec<i64> {
        self.visible_lines(meta).iter().map(|l| l.line_id).collect()
    }

    /// One line, or 404 when it does not exist in this tenant or is outside the user's scope.
    pub fn line<'a>(&self, meta: &'a TenantMetadata, line_id: i64) -> AppResult<&'a Line> {
        meta.line(line_id)
            .filter(|l| self.can_see_line(l.line_id))
            .ok_or(AppError::NotFound)
    }

    /// An area whose line the user may see, else 404.
    pub fn area<'a>(&self, meta: &'a TenantMetadata, area_id: i64) -> AppResult<&'a Area> {
        meta.area(area_id)
            .filter(|a| self.can_see_line(a.line_id))
            .ok_or(AppError::NotFound)
    }

    /// Resolves the lines a request asks for: `None` = every visible line; any
    /// requested id that is unknown or out of scope is a 404 (never silently dropped).
    pub fn resolve_lines(
        &self,
        meta: &TenantMetadata,
        requested: Option<&[i64]>,
    ) -> AppResult<Vec<i64>> {
        match requested {
            None => Ok(self.visible_line_ids(meta)),
            Some(ids) => {
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    let line = self.line(meta, *id)?;
                    if !out.contains(&line.line_id) {
                        out.push(line.line_id);
                    }
                }
                Ok(out)
            }
        }
    }
}

/// A user as [`TenantContext::may_manage`] sees it: its plant, role and line
/// scope, as stored or as a create or an update would leave them.
#[derive(Debug, Clone, Copy)]
pub struct ManagedUser<'a> {
    pub tenant_id: Option<i64>,
    pub role: Role,
    /// `None` = every line.
    pub lines: Option<&'a [i64]>,
}

impl TenantContext {
    /// Whether the caller may manage `user`: change any of its fields, reset
    /// its password, change its role or permissions, deactivate or delete it,
    /// or create it. The superadmin may manage anyone. Anyone else only users
    /// of its own plant whose role is not above its own and whose line scope
    /// lies within its own (a user without a scope sees every line, so a
    /// scoped caller cannot manage it). The user-management routes ask this of
    /// the user as it is and as the request would leave it, so the same rule
    /// stops a caller from granting a role or lines it does not have. 403
    /// otherwise.
    pub fn may_manage(&self, user: &ManagedUser) -> AppResult<()> {
        if self.is_superadmin() {
            return Ok(());
        }
        if user.tenant_id.is_none() || user.tenant_id != self.tenant_id {
            return Err(AppError::forbidden(
                "you can only manage users of your own plant",
            ));
        }
        if user.role.rank() > self.role.rank() {
            return Err(AppError::forbidden(format!(
                "the role {} ranks above your own ({}): you can neither grant it nor manage \
                 the users who hold it",
                user.role, self.role
            )));
        }
        if let Some(own) = &self.lines {
            let outside = match user.lines {
                None => Some("every line".to_string()),
                Some(theirs) => theirs
                    .iter()
                    .find(|line| !own.contains(line))
                    .map(|line| format!("line {line}")),
            };
            if let Some(outside) = outside {
                let own: Vec<String> = own.iter().map(i64::to_string).collect();
                return Err(AppError::forbidden(format!(
                    "you can only manage users limited to lines you can see yourself ({}); \
                     this user would see {outside}",
                    if own.is_empty() {
                        "none".to_string()
                    } else {
                        own.join(", ")
                    }
                )));
            }
        }
        Ok(())
    }
}

fn no_plant() -> AppError {
    AppError::forbidden("this route works on a plant's data; a superadmin account has no plant")
}

/// A session with its user and tenant, as cached per process.
#[derive(Debug, Clone)]
pub struct SessionState {
    /// `user_login.session_id` of the family's live row.
    pub row_id: i64,
    pub family: String,
    pub user_id: i64,
    pub username: String,
    pub tenant_id: Option<i64>,
    /// `None` when the stored role is not one we know (the session is refused).
    pub role: Option<Role>,
    pub permissions: UserPermissions,
    /// `is_active = 1 AND deleted_at IS NULL`.
    pub user_active: bool,
    pub tenant: Option<Arc<Tenant>>,
    pub last_activity_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub csrf_hash: Option<String>,
}

impl SessionState {
    fn of(family: &str, row: SessionRow) -> Self {
        SessionState {
            row_id: row.session_id,
            family: family.to_string(),
            user_id: row.user_id,
            username: row.username,
            tenant_id: row.tenant_id,
            role: Role::parse(&row.role),
            permissions: UserPermissions::from_stored(row.permissions.as_deref()),
            user_active: row.user_active,
            tenant: row.tenant.map(Arc::new),
            last_activity_at: row.last_activity_at,
            expires_at: row.expires_at,
            csrf_hash: row.csrf_token_hash,
        }
    }
}

fn session_ended() -> AppError {
    AppError::unauthorized("your session has ended; sign in again")
}

/// The session of a family from the warm cache, loading (and checking the idle
/// timeout, and recording activity) on a miss.
async fn session(
    state: &AppState,
    conn: &mut Conn,
    family: &str,
    now: DateTime<Utc>,
) -> AppResult<Arc<SessionState>> {
    if let Some(s) = state.sessions().get(&family.to_string()) {
        return Ok(s);
    }
    let row = user_login::find_live_session(conn, family)
        .await?
        .ok_or_else(session_ended)?;
    let mut s = SessionState::of(family, row);
    let now_naive = now.naive_utc();
    if s.expires_at <= now_naive {
        return Err(session_ended());
    }
    if s.last_activity_at + sessions::idle_timeout(state) <= now_naive {
        sessions::end_session(state, conn, family, "idle_timeout", now).await?;
        return Err(AppError::unauthorized(
            "your session ended after a period of inactivity; sign in again",
        ));
    }
    if (now_naive - s.last_activity_at).num_seconds() >= TOUCH_EVERY_SECONDS {
        user_login::touch(conn, s.row_id, now_naive).await?;
        s.last_activity_at = now_naive;
    }
    let s = Arc::new(s);
    state.sessions().insert(family.to_string(), s.clone());
    Ok(s)
}

/// The bearer token of a request and how it came.
pub fn extract_token(req: &Request) -> AppResult<(String, AuthMethod)> {
    if let Some(value) = req.headers.get(::http::header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| AppError::unauthorized("the Authorization header is not readable"))?;
        let mut parts = value.trim().splitn(2, ' ');
        let scheme = parts.next().unwrap_or("");
        let token = parts.next().unwrap_or("").trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(AppError::unauthorized(
                "use Authorization: Bearer <access token>",
            ));
        }
        return Ok((token.to_string(), AuthMethod::Bearer));
    }
    match req.cookie(ACCESS_COOKIE) {
        Some(token) if !token.is_empty() => Ok((token, AuthMethod::Cookie)),
        _ => Err(AppError::unauthorized(
            "sign in first: send Authorization: Bearer <access token>",
        )),
    }
}

/// Whether a method changes state (and so needs the CSRF token under cookie auth).
pub fn is_state_changing(method: &::http::Method) -> bool {
    !matches!(
        *method,
        ::http::Method::GET
            | ::http::Method::HEAD
            | ::http::Method::OPTIONS
            | ::http::Method::TRACE
    )
}

/// Double-submit CSRF check bound to the session: the `X-CSRF-Token` header
/// must equal the `dash_csrf` cookie, and its SHA-256 must be the one stored
/// for the session in `user_login.csrf_token_hash`.
pub fn check_csrf(req: &Request, expected_hash: Option<&str>) -> AppResult<()> {
    let refuse =
        || AppError::forbidden("missing or invalid CSRF token: send the X-CSRF-Token header");
    let header = req
        .header(CSRF_HEADER)
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or_else(refuse)?;
    if header.len() > 256 {
        return Err(refuse());
    }
    let cookie = req.cookie(CSRF_COOKIE).ok_or_else(refuse)?;
    if !tokens::constant_time_eq(header.as_bytes(), cookie.as_bytes()) {
        return Err(refuse());
    }
    let expected = expected_hash.ok_or_else(refuse)?;
    if !tokens::constant_time_eq(tokens::sha256_hex(header).as_bytes(), expected.as_bytes()) {
        return Err(refuse());
    }
    Ok(())
}

/// Authenticates a request (see the module docs). 401 when the token or its
/// session is not valid, 403 for a CSRF failure, 429 over the rate limit.
pub async fn authenticate(req: &Request, state: &AppState) -> AppResult<TenantContext> {
    authenticate_as(req, state, RequestCount::Counted).await
}

/// [`authenticate`] without counting the request against the per-user rate
/// limit: for logout, because ending a session must never be refused.
pub async fn authenticate_uncounted(req: &Request, state: &AppState) -> AppResult<TenantContext> {
    authenticate_as(req, state, RequestCount::NotCounted).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestCount {
    Counted,
    NotCounted,
}

async fn authenticate_as(
    req: &Request,
    state: &AppState,
    count: RequestCount,
) -> AppResult<TenantContext> {
    let (token, method) = extract_token(req)?;
    let now = state.now();
    // Verifying a token's signature and claims was a seventh of a FastCGI
    // request's CPU (perf, issue 16); its answer never changes, so a process
    // keeps it per token and checks only the clock on each request.
    let claims = match state.verified_tokens().get(&token) {
        Some(claims) => claims,
        None => {
            let claims = Arc::new(tokens::decode_access(state.config(), &token)?);
            state.verified_tokens().insert(token, claims.clone());
            claims
        }
    };
    tokens::check_access_time(&claims, now)?;
    let user_id = claims.user_id()?;
    // The session check and the request count: short statements, bounded as
    // a whole instead of pinging the pooled connection first. They leave no
    // session state (no lock, variable or open transaction), so the connection
    // goes back to the pool without a COM_RESET_CONNECTION round trip: with
    // the session cached, the request count is the one round trip.
    let (s, role) = state
        .db()
        .global_bounded(|mut conn| async move {
            conn.reset_connection(false);
            let s = session(state, &mut conn, &claims.sid, now).await?;
            if s.user_id != user_id || s.tenant_id != claims.tid {
                return Err(AppError::unauthorized("invalid access token"));
            }
            if !s.user_active {
                return Err(AppError::unauthorized("this account has been deactivated"));
            }
            if let Some(tenant) = &s.tenant {
                if !tenant.is_active {
                    return Err(AppError::unauthorized(
                        "this plant's account has been deactivated",
                    ));
                }
            } else if s.tenant_id.is_some() {
                return Err(session_ended());
            }
            if s.expires_at <= now.naive_utc() {
                return Err(session_ended());
            }
            let role = s
                .role
                .ok_or_else(|| AppError::forbidden("this account has an unknown role"))?;
            if method == AuthMethod::Cookie && is_state_changing(&req.method) {
                check_csrf(req, s.csrf_hash.as_deref())?;
            }
            if count == RequestCount::Counted {
                ratelimit::check_user_on(&mut conn, state, user_id).await?;
            }
            Ok((s, role))
        })
        .await?;
    Ok(TenantContext {
        user_id,
        username: s.username.clone(),
        tenant_id: s.tenant_id,
        role,
        permissions: rbac::effective(role, &s.permissions, s.tenant_id.is_some()),
        lines: s.permissions.lines.clone(),
        session_id: s.family.clone(),
        auth_method: method,
        tenant: s.tenant.clone(),
    })
}

/// [`authenticate`] plus a permission check.
pub async fn require(req: &Request, state: &AppState, p: Permission) -> AppResult<TenantContext> {
    let ctx = authenticate(req, state).await?;
    ctx.require(p)?;
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::header::HeaderValue;

    fn ctx(lines: Option<Vec<i64>>, role: Role) -> TenantContext {
        TenantContext {
            user_id: 1,
            username: "u".into(),
            tenant_id: Some(1),
            role,
            permissions: role.default_permissions(),
            lines,
            session_id: "s".into(),
            auth_method: AuthMethod::Bearer,
            tenant: None,
        }
    }

    fn meta() -> TenantMetadata {
        let line = |id: i64| Line {
            line_id: id,
            line_name: format!("L{id}"),
            line_code: format!("l{id}"),
            is_active: true,
            downtime_threshold_seconds: None,
            micro_stop_seconds: None,
        };
        let area = |id: i64, line_id: i64| Area {
            area_id: id,
            line_id,
            area_name: format!("A{id}"),
            area_type: "output".into(),
        };
        TenantMetadata {
            lines: vec![line(1), line(2), line(3)],
            areas: vec![area(10, 1), area(20, 2)],
            ..Default::default()
        }
    }

    #[test]
    fn line_scope_applies_everywhere() {
        let m = meta();
        let scoped = ctx(Some(vec![2]), Role::Manager);
        assert_eq!(scoped.visible_line_ids(&m), vec![2]);
        assert!(scoped.line(&m, 1).is_err());
        assert!(scoped.line(&m, 2).is_ok());
        assert!(scoped.area(&m, 10).is_err());
        assert!(scoped.area(&m, 20).is_ok());
        assert_eq!(scoped.resolve_lines(&m, None).unwrap(), vec![2]);
        assert_eq!(
            scoped
                .resolve_lines(&m, Some(&[1, 2]))
                .unwrap_err()
                .status(),
            404
        );
        let all = ctx(None, Role::Viewer);
        assert_eq!(all.visible_line_ids(&m), vec![1, 2, 3]);
        assert_eq!(all.resolve_lines(&m, Some(&[3, 3, 1])).unwrap(), vec![3, 1]);
        assert_eq!(all.line(&m, 99).unwrap_err().status(), 404);
        let none = ctx(Some(vec![]), Role::Viewer);
        assert!(none.visible_line_ids(&m).is_empty());
    }

    #[test]
    fn managing_stays_within_plant_rank_and_lines() {
        let managed = |tenant_id, role, lines| ManagedUser {
            tenant_id,
            role,
            lines,
        };
        let scoped_admin = ctx(Some(vec![1, 2]), Role::Admin);
        let admin = ctx(None, Role::Admin);
        for (caller, user, allowed) in [
            (
                &scoped_admin,
                managed(Some(1), Role::Viewer, Some(&[1][..])),
                true,
            ),
            (
                &scoped_admin,
                managed(Some(1), Role::Admin, Some(&[1, 2][..])),
                true,
            ),
            (
                &scoped_admin,
                managed(Some(1), Role::Viewer, Some(&[][..])),
                true,
            ),
            (&scoped_admin, managed(Some(1), Role::Viewer, None), false),
            (
                &scoped_admin,
                managed(Some(1), Role::Viewer, Some(&[2, 3][..])),
                false,
            ),
            (
                &scoped_admin,
                managed(Some(2), Role::Viewer, Some(&[1][..])),
                false,
            ),
            (&admin, managed(Some(1), Role::Admin, None), true),
            (&admin, managed(Some(1), Role::Superadmin, None), false),
            (&admin, managed(None, Role::Viewer, None), false),
            (
                &ctx(None, Role::Manager),
                managed(Some(1), Role::Admin, None),
                false,
            ),
        ] {
            let got = caller.may_manage(&user);
            assert_eq!(got.is_ok(), allowed, "{user:?}: {got:?}");
            if let Err(e) = got {
                assert_eq!(e.status(), 403);
            }
        }
        let mut root = ctx(None, Role::Superadmin);
        root.tenant_id = None;
        assert!(root
            .may_manage(&managed(Some(9), Role::Superadmin, None))
            .is_ok());
    }

    #[test]
    fn require_is_403_with_the_permission_named() {
        let v = ctx(None, Role::Viewer);
        assert!(v.require(Permission::DataRead).is_ok());
        let e = v.require(Permission::DowntimeJustify).unwrap_err();
        assert_eq!(e.status(), 403);
        assert!(e.to_string().contains("downtime.justify"));
    }

    #[test]
    fn superadmin_has_no_plant() {
        let mut c = ctx(None, Role::Superadmin);
        c.tenant_id = None;
        assert!(c.is_superadmin());
        assert_eq!(c.tenant_id().unwrap_err().status(), 403);
        assert_eq!(c.tenant().unwrap_err().status(), 403);
    }

    fn req_with(headers: &[(&'static str, &str)]) -> Request {
        let mut r = Request::new(::http::Method::POST, "/x");
        for (k, v) in headers {
            r.headers.append(*k, HeaderValue::from_str(v).unwrap());
        }
        r
    }

    #[test]
    fn token_extraction() {
        let r = req_with(&[("authorization", "Bearer abc.def.ghi")]);
        assert_eq!(
            extract_token(&r).unwrap(),
            ("abc.def.ghi".into(), AuthMethod::Bearer)
        );
        let r = req_with(&[("authorization", "bearer   xyz")]);
        assert_eq!(extract_token(&r).unwrap().0, "xyz");
        let r = req_with(&[("authorization", "Basic dXNlcjpwYXNz")]);
        assert_eq!(extract_token(&r).unwrap_err().status(), 401);
        let r = req_with(&[("cookie", "dash_access=tok; other=1")]);
        assert_eq!(
            extract_token(&r).unwrap(),
            ("tok".into(), AuthMethod::Cookie)
        );
        let r = req_with(&[]);
        assert_eq!(extract_token(&r).unwrap_err().status(), 401);
        // Bearer wins over a cookie.
        let r = req_with(&[("authorization", "Bearer a"), ("cookie", "dash_access=b")]);
        assert_eq!(extract_token(&r).unwrap().1, AuthMethod::Bearer);
    }

    #[test]
    fn csrf_double_submit_bound_to_the_session() {
        let token = "csrf-token-value";
        let hash = tokens::sha256_hex(token);
        let ok = req_with(&[
            ("x-csrf-token", token),
            ("cookie", "dash_csrf=csrf-token-value"),
        ]);
        assert!(check_csrf(&ok, Some(&hash)).is_ok());
        // missing header
        let r = req_with(&[("cookie", "dash_csrf=csrf-token-value")]);
        assert_eq!(check_csrf(&r, Some(&hash)).unwrap_err().status(), 403);
        // header and cookie differ
        let r = req_with(&[
            ("x-csrf-token", "other"),
            ("cookie", "dash_csrf=csrf-token-value"),
        ]);
        assert!(check_csrf(&r, Some(&hash)).is_err());
        // header equals cookie, but both belong to another session
        let r = req_with(&[("x-csrf-token", "forged"), ("cookie", "dash_csrf=forged")]);
        assert!(check_csrf(&r, Some(&hash)).is_err());
        // a session without a CSRF hash (API login) never passes a cookie check
        assert!(check_csrf(&ok, None).is_err());
    }

    #[test]
    fn safe_methods_skip_csrf() {
        assert!(!is_state_changing(&::http::Method::GET));
        assert!(!is_state_changing(&::http::Method::HEAD));
        assert!(is_state_changing(&::http::Method::POST));
        assert!(is_state_changing(&::http::Method::PUT));
        assert!(is_state_changing(&::http::Method::DELETE));
        assert!(is_state_changing(&::http::Method::PATCH));
    }
}
