//! The `auth` function's routes (docs/api.md#routes): sign-in and sessions, users, tenants.
//!
//! * `POST /auth/login` `{"username", "password"}` → `{"access_token",
//!   "refresh_token", "token_type": "Bearer", "expires_in", "csrf_token",
//!   "user"}` and the session cookies. 401 for any failed sign-in (unknown
//!   name, wrong password, locked account: one answer, see `auth::login`), 403
//!   deactivated user or tenant, 429 over the per-IP limit.
//! * `POST /auth/refresh` takes `{"refresh_token"}` (API clients) or the
//!   `dash_refresh` cookie plus `X-CSRF-Token` (browsers); answers like login.
//!   Limited per session, not per IP.
//! * `POST /auth/logout` ends the session of the access token (or of the refresh
//!   token given in the body or cookie) and clears the cookies. Never limited.
//! * `POST /auth/change-password` = `POST /users/me/change-password`
//!   `{"current_password", "new_password"}`: revokes the user's other sessions.
//!   Limited per user.
//! * Users: admins manage their own tenant's users, a superadmin any tenant's
//!   (`tenant_id` in a body or filter is honoured for a superadmin only; anyone
//!   else naming another tenant gets 403). Within a tenant a caller manages
//!   only users within its line scope and not above its role
//!   ([`TenantContext::may_manage`], 403). Lists are keyset-paginated
//!   (`limit`, `cursor` → `next_cursor`) and filter by `role`, `active`, `q`.
//!   `DELETE` is a soft delete. User names are unique across the service
//!   (sign-in is by name alone), so a taken name is 409 whatever plant holds it.
//! * Tenants: superadmin only, except `GET /tenants/current` and
//!   `GET /tenants/{own id}`. Creating a tenant registers its row and
//!   `config_tenant`; its client database is created and checked by the
//!   operator with `dashctl provision-client` / `verify-client` (the response
//!   says so in `client_database`).

use ::http::StatusCode;
use chrono::{NaiveDate, NaiveDateTime};
use mysql_async::prelude::Queryable;
use mysql_async::{Row, TxOpts, Value as SqlValue};
use serde::Serialize;
use serde_json::{json, Map, Value};

use dash_store::error::{AppError, AppResult};
use dash_store::password;
use dash_store::tenancy::{self, TenantConfig};
use shared::auth::account::{self, UserView, USER_COLUMNS};
use shared::auth::audit::{self, action, AuditEntry};
use shared::auth::context::{self, AuthMethod, ManagedUser, TenantContext, CSRF_COOKIE};
use shared::auth::input::{self, Fields};
use shared::auth::rbac::{Permission, Role, UserPermissions};
use shared::auth::sessions::{self, iso, IssuedSession};
use shared::auth::{authenticate, login as signin, ratelimit};
use shared::http::{self, Request, Response};
use shared::params::{query_flag, query_id, query_limit};
use shared::router::Router;
use shared::state::AppState;

pub fn router() -> Router {
    Router::new("auth")
        .post("/api/v1/auth/login", login)
        .post("/api/v1/auth/logout", logout)
        .post("/api/v1/auth/refresh", refresh)
        .get("/api/v1/auth/me", me)
        .post("/api/v1/auth/change-password", change_password)
        .get("/api/v1/users", list_users)
        .query(&["tenant_id", "role", "active", "q", "limit", "cursor"])
        .get("/api/v1/users/me", users_me)
        .get("/api/v1/users/{id}", get_user)
        .post("/api/v1/users", create_user)
        .put("/api/v1/users/{id}", update_user)
        .delete("/api/v1/users/{id}", delete_user)
        .post("/api/v1/users/me/change-password", change_password)
        .get("/api/v1/tenants", list_tenants)
        .query(&["active", "q", "limit", "cursor"])
        .get("/api/v1/tenants/current", current_tenant)
        .get("/api/v1/tenants/{id}", get_tenant)
        .post("/api/v1/tenants", create_tenant)
        .put("/api/v1/tenants/{id}", update_tenant)
        .post("/api/v1/tenants/{id}/deactivate", deactivate_tenant)
        .post("/api/v1/tenants/{id}/activate", activate_tenant)
}

// ---------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------

/// The body of login and refresh, with the session cookies.
fn session_response(
    state: &AppState,
    req: &Request,
    s: &IssuedSession,
    user: &account::Me,
) -> Response {
    let mut resp = http::json(
        StatusCode::OK,
        &json!({
            "access_token": s.access_token,
            "refresh_token": s.refresh_token,
            "token_type": "Bearer",
            "expires_in": s.expires_in,
            "csrf_token": if s.csrf_token.is_empty() { Value::Null } else { json!(s.csrf_token) },
            "user": user,
        }),
    );
    for cookie in sessions::session_cookies(state, req, s) {
        http::add_cookie(&mut resp, &cookie);
    }
    resp
}

async fn login(req: Request, state: AppState) -> AppResult<Response> {
    ratelimit::check_auth_ip(&state, &req.client_ip()).await?;
    let f = Fields::parse(&req, &["username", "password"])?;
    let username = f.req_str("username")?;
    let password = f.req_str("password")?;
    let outcome = signin::login(&state, &req, username, password).await?;
    Ok(session_response(
        &state,
        &req,
        &outcome.session,
        &outcome.me,
    ))
}

/// The optional `{"refresh_token"}` body of refresh and logout.
fn body_refresh_token(req: &Request) -> AppResult<Option<String>> {
    if req.body.is_empty() {
        return Ok(None);
    }
    let f = Fields::parse(req, &["refresh_token"])?;
    let token = f.opt_str("refresh_token")?.map(str::to_string);
    if let Some(t) = &token {
        input::check_len("refresh_token", t, 1, 512)?;
    }
    Ok(token)
}

async fn refresh(req: Request, state: AppState) -> AppResult<Response> {
    // Limited per session inside `rotate`, once the token names one.
    let body_token = body_refresh_token(&req)?;
    let (token, method) =
        sessions::refresh_token_of(&req, body_token.as_deref()).ok_or_else(|| {
            AppError::unauthorized(
                "send the refresh token as {\"refresh_token\": ...} or its cookie",
            )
        })?;
    let issued = sessions::rotate(&state, &req, &token, method).await?;
    let mut conn = state.db().global().await?;
    let me = signin::me_of(&state, &mut conn, issued.user_id).await?;
    drop(conn);
    Ok(session_response(&state, &req, &issued, &me))
}

/// Never rate-limited, by address or by user: ending a session must always
/// work, whatever else the caller (or its address) did.
async fn logout(req: Request, state: AppState) -> AppResult<Response> {
    let now = state.now();
    let ip = req.client_ip();
    let (family, user_id, tenant_id) = match context::authenticate_uncounted(&req, &state).await {
        Ok(ctx) => {
            let mut conn = state.db().global().await?;
            sessions::revoke_family(&mut conn, &ctx.session_id, "logout", now).await?;
            state.sessions().invalidate(&ctx.session_id);
            (ctx.session_id, ctx.user_id, ctx.tenant_id)
        }
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => {
            // The access token is gone or expired: a refresh token still names the session.
            let body_token = body_refresh_token(&req)?;
            let Some((token, method)) = sessions::refresh_token_of(&req, body_token.as_deref())
            else {
                return Err(e);
            };
            if method == AuthMethod::Cookie {
                let header = req.header(context::CSRF_HEADER).unwrap_or("");
                let cookie = req.cookie(CSRF_COOKIE).unwrap_or_default();
                if header.is_empty()
                    || !shared::auth::tokens::constant_time_eq(header.as_bytes(), cookie.as_bytes())
                {
                    return Err(AppError::forbidden(
                        "missing or invalid CSRF token: send the X-CSRF-Token header",
                    ));
                }
            }
            match sessions::revoke_by_refresh(&state, &token, "logout").await? {
                Some(found) => found,
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let mut conn = state.db().global().await?;
    let entry = AuditEntry {
        user_id: Some(user_id),
        tenant_id,
        action: action::LOGOUT,
        entity: Some("user"),
        entity_id: Some(user_id.to_string()),
        details: json!({ "session": family.get(..8).unwrap_or("") }),
        ip: Some(&ip),
    };
    audit::record(&mut conn, now, &entry).await?;
    drop(conn);
    let mut resp = http::data(&json!({ "logged_out": true }));
    for cookie in sessions::clear_cookies(&state, &req) {
        http::add_cookie(&mut resp, &cookie);
    }
    Ok(resp)
}

async fn me(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = authenticate(&req, &state).await?;
    let me = signin::me_for(&state, &ctx).await?;
    Ok(http::data(&me))
}

async fn change_password(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = authenticate(&req, &state).await?;
    // It checks the current password, so it is limited, per user: a stolen
    // access token cannot guess faster from many addresses.
    ratelimit::check_password_change(&state, ctx.user_id).await?;
    let f = Fields::parse(&req, &["current_password", "new_password"])?;
    let current = f.req_str("current_password")?;
    let new = f.req_str("new_password")?;
    let revoked = signin::change_password(&state, &req, &ctx, current, new).await?;
    Ok(http::data(&json!({
        "password_changed": true,
        "other_sessions_revoked": revoked,
    })))
}

// ---------------------------------------------------------------------------
// Query parameters
// ---------------------------------------------------------------------------

fn q_text(req: &Request, name: &str) -> AppResult<Option<String>> {
    match req.query_param(name) {
        None => Ok(None),
        Some(v) if v.chars().count() > 100 => Err(AppError::validation(
            name,
            format!("{name} is longer than 100 characters"),
        )),
        Some(v) => Ok(Some(v)),
    }
}

/// `%text%` for LIKE, with the wildcards of the text itself escaped.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

// ---------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------

/// The tenant a user-management request acts on: the caller's own, or for a
/// superadmin the one named (or every tenant when none is named and `all_ok`).
fn target_tenant(ctx: &TenantContext, named: Option<i64>) -> AppResult<Option<i64>> {
    if ctx.is_superadmin() {
        return Ok(named);
    }
    let own = ctx.tenant_id()?;
    match named {
        Some(t) if t != own => Err(AppError::forbidden(
            "you can only manage users of your own plant",
        )),
        _ => Ok(Some(own)),
    }
}

async fn list_users(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = shared::auth::require(&req, &state, Permission::UsersRead).await?;
    let tenant = target_tenant(&ctx, query_id(&req, "tenant_id")?)?;
    let role = match req.query_param("role") {
        None => None,
        Some(r) => Some(Role::parse(&r).ok_or_else(|| {
            AppError::validation(
                "role",
                "role must be one of superadmin, admin, manager, operator, viewer",
            )
        })?),
    };
    let active = query_flag(&req, "active")?;
    let q = q_text(&req, "q")?;
    let limit = query_limit(&req, "limit", 50, 200)?;
    let cursor = query_id(&req, "cursor")?;

    let mut sql = format!("SELECT {USER_COLUMNS} FROM `user` u WHERE u.deleted_at IS NULL");
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(t) = tenant {
        sql.push_str(" AND u.tenant_id = ?");
        params.push(t.into());
    }
    if let Some(r) = role {
        sql.push_str(" AND u.role = ?");
        params.push(r.as_str().into());
    }
    if let Some(a) = active {
        sql.push_str(" AND u.is_active = ?");
        params.push(i64::from(a).into());
    }
    if let Some(q) = &q {
        sql.push_str(" AND (u.username LIKE ? OR u.email LIKE ?)");
        let pattern = like_pattern(q);
        params.push(pattern.clone().into());
        params.push(pattern.into());
    }
    if let Some(c) = cursor {
        sql.push_str(" AND u.user_id > ?");
        params.push(c.into());
    }
    sql.push_str(&format!(" ORDER BY u.user_id LIMIT {}", limit + 1));
    let mut conn = state.db().global().await?;
    let rows: Vec<Row> = conn.exec(sql, params).await?;
    drop(conn);
    let mut users = rows
        .into_iter()
        .map(account::user_from_row)
        .collect::<AppResult<Vec<UserView>>>()?;
    let next = if users.len() > limit {
        users.truncate(limit);
        users.last().map(|u| u.user_id.to_string())
    } else {
        None
    };
    Ok(http::list(&users, next))
}

async fn users_me(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = authenticate(&req, &state).await?;
    let me = signin::me_for(&state, &ctx).await?;
    Ok(http::data(&me))
}

/// A user the caller may manage: same tenant (any tenant for a superadmin),
/// not deleted; anything else is 404.
async fn scoped_user(
    conn: &mut mysql_async::Conn,
    ctx: &TenantContext,
    id: i64,
) -> AppResult<UserView> {
    let user = account::load_user(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if ctx.is_superadmin() || (user.tenant_id.is_some() && user.tenant_id == ctx.tenant_id) {
        Ok(user)
    } else {
        Err(AppError::NotFound)
    }
}

/// A stored user as [`TenantContext::may_manage`] sees it.
fn managed(user: &UserView) -> AppResult<ManagedUser<'_>> {
    let role = Role::parse(&user.role)
        .ok_or_else(|| AppError::internal(format!("user {} has an unknown role", user.user_id)))?;
    Ok(ManagedUser {
        tenant_id: user.tenant_id,
        role,
        lines: user.permissions.lines.as_deref(),
    })
}

async fn get_user(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = authenticate(&req, &state).await?;
    let id = req.path_id("id")?;
    if id != ctx.user_id {
        ctx.require(Permission::UsersRead)?;
    }
    let mut conn = state.db().global().await?;
    let user = scoped_user(&mut conn, &ctx, id).await?;
    Ok(http::data(&user))
}

/// Checks a permissions refinement against what the caller may grant: only
/// permissions the caller holds, only lines of the tenant. (That the lines
/// lie within a scoped caller's own is [`TenantContext::may_manage`]'s rule.)
async fn check_refinement(
    state: &AppState,
    ctx: &TenantContext,
    tenant_id: Option<i64>,
    p: &UserPermissions,
) -> AppResult<()> {
    for perm in &p.extra {
        if !ctx.has(*perm) {
            return Err(AppError::validation(
                "permissions.extra",
                format!("you cannot grant {perm}, which you do not hold"),
            ));
        }
        if *perm == Permission::TenantsManage && tenant_id.is_some() {
            return Err(AppError::validation(
                "permissions.extra",
                "tenants.manage is for the service operator only",
            ));
        }
    }
    if let (Some(lines), Some(tid)) = (&p.lines, tenant_id) {
        if !lines.is_empty() {
            // Check the ids against the plant's lines when its database answers.
            match tenancy::load_tenant(state, tid).await? {
                Some(t) => match dash_store::metadata::for_tenant(state, &t).await {
                    Ok(meta) => {
                        if let Some(bad) = lines.iter().find(|id| meta.line(**id).is_none()) {
                            return Err(AppError::validation(
                                "permissions.lines",
                                format!("line {bad} does not exist in this plant"),
                            ));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "line scope not checked: plant metadata unavailable")
                    }
                },
                None => return Err(AppError::validation("tenant_id", "no such tenant")),
            }
        }
    }
    Ok(())
}

/// A taken user name. Names are unique across the service because sign-in
/// is by name alone, so this answer cannot help revealing that the name
/// exists somewhere; it says the same whichever plant holds it (or a deleted
/// user), and never which.
fn conflict_on_username(e: AppError) -> AppError {
    if matches!(e, AppError::Conflict { .. }) {
        AppError::Conflict {
            message: "this username is already taken (user names are unique across the whole \
                      service); choose another"
                .into(),
        }
    } else {
        e
    }
}

/// Local cache entries of a user's sessions are dropped so role, permission
/// and activity changes apply at once in this process (others: within the TTL).
async fn forget_user_sessions(
    state: &AppState,
    conn: &mut mysql_async::Conn,
    user_id: i64,
) -> AppResult<()> {
    let families: Vec<String> = conn
        .exec(
            "SELECT DISTINCT family_id FROM user_login \
             WHERE user_id = ? AND success = 1 AND revoked_at IS NULL AND family_id IS NOT NULL",
            (user_id,),
        )
        .await?;
    for f in families {
        state.sessions().invalidate(&f);
    }
    Ok(())
}

fn opt_email(f: &Fields) -> AppResult<Option<Option<String>>> {
    if !f.has("email") {
        return Ok(None);
    }
    match f.opt_str("email")? {
        None | Some("") => Ok(Some(None)),
        Some(e) => {
            input::check_email("email", e)?;
            Ok(Some(Some(e.to_string())))
        }
    }
}

async fn create_user(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = shared::auth::require(&req, &state, Permission::UsersManage).await?;
    let f = Fields::parse(
        &req,
        &[
            "username",
            "password",
            "email",
            "role",
            "permissions",
            "is_active",
            "tenant_id",
        ],
    )?;
    let username = f.req_str("username")?;
    input::check_username("username", username)?;
    let password_text = f.req_str("password")?;
    input::check_new_password(
        "password",
        password_text,
        state.config().password_min_length,
        Some(username),
    )?;
    let email = opt_email(&f)?.flatten();
    let role_text = f.req_str("role")?;
    let role = Role::parse(role_text).ok_or_else(|| {
        AppError::validation(
            "role",
            "role must be one of superadmin, admin, manager, operator, viewer",
        )
    })?;
    let named_tenant = f.opt_id("tenant_id")?;
    let tenant_id = if ctx.is_superadmin() {
        match (role, named_tenant) {
            (Role::Superadmin, Some(_)) => {
                return Err(AppError::validation(
                    "tenant_id",
                    "a superadmin belongs to no tenant",
                ))
            }
            (Role::Superadmin, None) => None,
            (_, None) => {
                return Err(AppError::validation(
                    "tenant_id",
                    "tenant_id is required: the plant the user belongs to",
                ))
            }
            (_, Some(t)) => {
                if tenancy::load_tenant(&state, t).await?.is_none() {
                    return Err(AppError::validation("tenant_id", "no such tenant"));
                }
                Some(t)
            }
        }
    } else {
        target_tenant(&ctx, named_tenant)?
    };
    // No permissions given = every line, which a scoped caller cannot grant.
    let permissions = match f.raw("permissions") {
        Some(v) => UserPermissions::from_input(v)?,
        None => UserPermissions::default(),
    };
    ctx.may_manage(&ManagedUser {
        tenant_id,
        role,
        lines: permissions.lines.as_deref(),
    })?;
    check_refinement(&state, &ctx, tenant_id, &permissions).await?;
    let is_active = f.opt_bool("is_active")?.unwrap_or(true);

    let phc = password::hash_blocking(password_text.to_string()).await?;
    let now = state.now();
    let ip = req.client_ip();
    let mut conn = state.db().global().await?;
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    tx.exec_drop(
        "INSERT INTO `user` (tenant_id, username, email, password, role, permissions, is_active, \
            failed_logins, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        (
            tenant_id,
            username,
            &email,
            phc,
            role.as_str(),
            permissions.to_stored(),
            is_active,
            now.naive_utc(),
            now.naive_utc(),
        ),
    )
    .await
    .map_err(|e| conflict_on_username(e.into()))?;
    let user_id = tx.last_insert_id().unwrap_or(0) as i64;
    let entry = AuditEntry::new(action::USER_CREATE)
        .by(&ctx)
        .entity("user", user_id)
        .details(json!({
            "username": username, "role": role, "tenant_id": tenant_id, "email": email,
            "permissions": permissions, "is_active": is_active,
        }))
        .ip(&ip);
    let entry = AuditEntry {
        tenant_id: tenant_id.or(ctx.tenant_id),
        ..entry
    };
    audit::record(&mut tx, now, &entry).await?;
    let user = account::load_user(&mut tx, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(http::json(StatusCode::CREATED, &json!({ "data": user })))
}

async fn update_user(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = shared::auth::require(&req, &state, Permission::UsersManage).await?;
    let id = req.path_id("id")?;
    let mut conn = state.db().global().await?;
    let target = scoped_user(&mut conn, &ctx, id).await?;
    drop(conn);
    let current = managed(&target)?;
    ctx.may_manage(&current)?;
    let f = Fields::parse(
        &req,
        &[
            "username",
            "email",
            "role",
            "permissions",
            "is_active",
            "password",
            "tenant_id",
        ],
    )?;
    if let Some(t) = f.opt_id("tenant_id")? {
        if Some(t) != target.tenant_id {
            return Err(AppError::validation(
                "tenant_id",
                "a user cannot move to another tenant",
            ));
        }
    }
    let is_self = id == ctx.user_id;
    let mut sets: Vec<&'static str> = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    let mut changed: Map<String, Value> = Map::new();

    if let Some(username) = f.opt_str("username")? {
        input::check_username("username", username)?;
        if username != target.username {
            sets.push("username = ?");
            params.push(username.into());
            changed.insert("username".into(), json!(username));
        }
    }
    if let Some(email) = opt_email(&f)? {
        if email != target.email {
            sets.push("email = ?");
            params.push(email.clone().into());
            changed.insert("email".into(), json!(email));
        }
    }
    let mut new_role: Option<Role> = None;
    if let Some(role_text) = f.opt_str("role")? {
        let role = Role::parse(role_text).ok_or_else(|| {
            AppError::validation(
                "role",
                "role must be one of superadmin, admin, manager, operator, viewer",
            )
        })?;
        if role.as_str() != target.role {
            if is_self {
                return Err(AppError::validation(
                    "role",
                    "you cannot change your own role",
                ));
            }
            if role == Role::Superadmin || target.role == Role::Superadmin.as_str() {
                return Err(AppError::validation(
                    "role",
                    "a plant user cannot become a superadmin or the other way round",
                ));
            }
            sets.push("role = ?");
            params.push(role.as_str().into());
            changed.insert("role".into(), json!(role));
            new_role = Some(role);
        }
    }
    let mut new_permissions: Option<UserPermissions> = None;
    if let Some(raw) = f.raw("permissions") {
        let p = UserPermissions::from_input(raw)?;
        if p != target.permissions {
            if is_self {
                return Err(AppError::validation(
                    "permissions",
                    "you cannot change your own permissions",
                ));
            }
            check_refinement(&state, &ctx, target.tenant_id, &p).await?;
            sets.push("permissions = ?");
            params.push(p.to_stored().into());
            changed.insert("permissions".into(), json!(p));
            new_permissions = Some(p);
        }
    }
    // The user as this update leaves it must be manageable too: no role above
    // the caller's, no lines outside its scope.
    ctx.may_manage(&ManagedUser {
        role: new_role.unwrap_or(current.role),
        lines: match &new_permissions {
            Some(p) => p.lines.as_deref(),
            None => current.lines,
        },
        ..current
    })?;
    let mut revoke_reason: Option<&str> = None;
    if let Some(active) = f.opt_bool("is_active")? {
        if active != target.is_active {
            if is_self && !active {
                return Err(AppError::validation(
                    "is_active",
                    "you cannot deactivate yourself",
                ));
            }
            sets.push("is_active = ?");
            params.push(active.into());
            changed.insert("is_active".into(), json!(active));
            if !active {
                revoke_reason = Some("user_deactivated");
            }
        }
    }
    if let Some(new_password) = f.opt_str("password")? {
        if is_self {
            return Err(AppError::validation(
                "password",
                "change your own password with POST /users/me/change-password",
            ));
        }
        let username = f.opt_str("username")?.unwrap_or(&target.username);
        input::check_new_password(
            "password",
            new_password,
            state.config().password_min_length,
            Some(username),
        )?;
        let phc = password::hash_blocking(new_password.to_string()).await?;
        sets.push("password = ?");
        params.push(phc.into());
        sets.push("failed_logins = 0");
        sets.push("locked_until = NULL");
        changed.insert("password_reset".into(), json!(true));
        revoke_reason = revoke_reason.or(Some("password_reset"));
    }
    if sets.is_empty() {
        return Ok(http::data(&target));
    }
    let now = state.now();
    sets.push("updated_at = ?");
    params.push(now.naive_utc().into());
    params.push(id.into());
    let ip = req.client_ip();
    let mut conn = state.db().global().await?;
    conn.exec_drop(
        format!(
            "UPDATE `user` SET {} WHERE user_id = ? AND deleted_at IS NULL",
            sets.join(", ")
        ),
        params,
    )
    .await
    .map_err(|e| conflict_on_username(e.into()))?;
    let revoked = match revoke_reason {
        Some(reason) => sessions::revoke_user_sessions(&state, &mut conn, id, None, reason)
            .await?
            .len(),
        None => {
            forget_user_sessions(&state, &mut conn, id).await?;
            0
        }
    };
    let entry = AuditEntry::new(action::USER_UPDATE)
        .by(&ctx)
        .entity("user", id)
        .details(json!({ "changed": changed, "sessions_revoked": revoked }))
        .ip(&ip);
    let entry = AuditEntry {
        tenant_id: target.tenant_id.or(ctx.tenant_id),
        ..entry
    };
    audit::record(&mut conn, now, &entry).await?;
    let user = account::load_user(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(http::data(&user))
}

async fn delete_user(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = shared::auth::require(&req, &state, Permission::UsersManage).await?;
    let id = req.path_id("id")?;
    let mut conn = state.db().global().await?;
    let target = scoped_user(&mut conn, &ctx, id).await?;
    ctx.may_manage(&managed(&target)?)?;
    if id == ctx.user_id {
        return Err(AppError::conflict("you cannot delete your own account"));
    }
    let now = state.now();
    conn.exec_drop(
        "UPDATE `user` SET deleted_at = ?, is_active = 0, updated_at = ? WHERE user_id = ? AND deleted_at IS NULL",
        (now.naive_utc(), now.naive_utc(), id),
    )
    .await?;
    let revoked =
        sessions::revoke_user_sessions(&state, &mut conn, id, None, "user_deleted").await?;
    let ip = req.client_ip();
    let entry = AuditEntry::new(action::USER_DELETE)
        .by(&ctx)
        .entity("user", id)
        .details(
            json!({ "username": target.username, "sessions_revoked": revoked.len(), "soft": true }),
        )
        .ip(&ip);
    let entry = AuditEntry {
        tenant_id: target.tenant_id.or(ctx.tenant_id),
        ..entry
    };
    audit::record(&mut conn, now, &entry).await?;
    Ok(http::data(&json!({ "user_id": id, "deleted": true })))
}

// ---------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
struct TenantView {
    tenant_id: i64,
    company_name: String,
    asociated_since: Option<String>,
    is_active: bool,
    config: TenantConfig,
    created_at: Option<String>,
    updated_at: Option<String>,
}

const TENANT_COLUMNS: &str =
    "tenant_id, company_name, asociated_since, is_active, CAST(config_tenant AS CHAR), \
     created_at, updated_at";

type TenantRowT = (
    i64,
    String,
    Option<NaiveDate>,
    bool,
    Option<String>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

fn tenant_view(
    (tenant_id, company_name, since, is_active, config, created, updated): TenantRowT,
) -> TenantView {
    TenantView {
        tenant_id,
        company_name,
        asociated_since: since.map(|d| d.format("%Y-%m-%d").to_string()),
        is_active,
        config: config
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default(),
        created_at: created.map(iso),
        updated_at: updated.map(iso),
    }
}

async fn load_tenant_view(conn: &mut impl Queryable, id: i64) -> AppResult<Option<TenantView>> {
    let row: Option<TenantRowT> = conn
        .exec_first(
            format!("SELECT {TENANT_COLUMNS} FROM tenant WHERE tenant_id = ?"),
            (id,),
        )
        .await?;
    Ok(row.map(tenant_view))
}

async fn list_tenants(req: Request, state: AppState) -> AppResult<Response> {
    shared::auth::require(&req, &state, Permission::TenantsManage).await?;
    let active = query_flag(&req, "active")?;
    let q = q_text(&req, "q")?;
    let limit = query_limit(&req, "limit", 50, 200)?;
    let cursor = query_id(&req, "cursor")?;
    let mut sql = format!("SELECT {TENANT_COLUMNS} FROM tenant WHERE 1 = 1");
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(a) = active {
        sql.push_str(" AND is_active = ?");
        params.push(i64::from(a).into());
    }
    if let Some(q) = &q {
        sql.push_str(" AND company_name LIKE ?");
        params.push(like_pattern(q).into());
    }
    if let Some(c) = cursor {
        sql.push_str(" AND tenant_id > ?");
        params.push(c.into());
    }
    sql.push_str(&format!(" ORDER BY tenant_id LIMIT {}", limit + 1));
    let mut conn = state.db().global().await?;
    let rows: Vec<TenantRowT> = conn.exec(sql, params).await?;
    let mut tenants: Vec<TenantView> = rows.into_iter().map(tenant_view).collect();
    let next = if tenants.len() > limit {
        tenants.truncate(limit);
        tenants.last().map(|t| t.tenant_id.to_string())
    } else {
        None
    };
    Ok(http::list(&tenants, next))
}

async fn current_tenant(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = authenticate(&req, &state).await?;
    let id = ctx.tenant_id.ok_or(AppError::NotFound)?;
    let mut conn = state.db().global().await?;
    let t = load_tenant_view(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(http::data(&t))
}

async fn get_tenant(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = authenticate(&req, &state).await?;
    let id = req.path_id("id")?;
    if !ctx.has(Permission::TenantsManage) && ctx.tenant_id != Some(id) {
        return Err(AppError::NotFound);
    }
    let mut conn = state.db().global().await?;
    let t = load_tenant_view(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(http::data(&t))
}

const CONFIG_KEYS: [&str; 8] = [
    "theme",
    "language",
    "timezone",
    "data_timezone",
    "db_name",
    "db_host",
    "db_port",
    "production_day_start",
];

/// Applies a `config` object from a body onto `base`; `null` clears a key.
/// Errors name the field as `config.<key>`.
fn apply_config(base: &mut TenantConfig, value: &Value) -> AppResult<()> {
    let Value::Object(obj) = value else {
        return Err(AppError::validation("config", "config must be an object"));
    };
    for (key, v) in obj {
        let field = format!("config.{}", input::field_label(key));
        if !CONFIG_KEYS.contains(&key.as_str()) {
            return Err(AppError::validation(
                field,
                format!("unknown key; config takes {}", CONFIG_KEYS.join(", ")),
            ));
        }
        if key == "db_port" {
            base.db_port = match v {
                Value::Null => None,
                other => Some(
                    other
                        .as_u64()
                        .filter(|p| (1..=65535).contains(p))
                        .map(|p| p as u16)
                        .ok_or_else(|| {
                            AppError::validation(field.clone(), "db_port must be a port number")
                        })?,
                ),
            };
            continue;
        }
        let s = match v {
            Value::Null => None,
            Value::String(s) => {
                input::check_len(&field, s, 1, 253)?;
                if s.chars().any(|c| c.is_control() || matches!(c, '<' | '>')) {
                    return Err(AppError::validation(
                        field,
                        "must not contain control characters or < >",
                    ));
                }
                Some(s.clone())
            }
            _ => return Err(AppError::validation(field, "must be a string")),
        };
        match key.as_str() {
            "theme" => base.theme = s,
            "language" => base.language = s,
            "timezone" => base.timezone = s,
            "data_timezone" => base.data_timezone = s,
            "db_name" => base.db_name = s,
            "db_host" => base.db_host = s,
            "production_day_start" => base.production_day_start = s,
            _ => {}
        }
    }
    if base.timezone.is_none() {
        return Err(AppError::validation(
            "config.timezone",
            "config.timezone is required: the plant's IANA zone, e.g. Europe/Madrid",
        ));
    }
    if base.db_port.is_some() && base.db_host.is_none() {
        return Err(AppError::validation(
            "config.db_port",
            "db_port needs db_host",
        ));
    }
    tenancy::validate_config(base).map_err(|e| match e {
        AppError::Validation { message, field } => AppError::Validation {
            message,
            field: format!("config.{field}"),
        },
        other => other,
    })
}

fn date_field(f: &Fields, name: &str) -> AppResult<Option<NaiveDate>> {
    match f.opt_str(name)? {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|_| s.len() == 10)
            .map(Some)
            .ok_or_else(|| AppError::validation(name, format!("{name} must be a date YYYY-MM-DD"))),
    }
}

fn conflict_on_company(e: AppError) -> AppError {
    if matches!(e, AppError::Conflict { .. }) {
        AppError::Conflict {
            message: "a tenant with this company_name already exists".into(),
        }
    } else {
        e
    }
}

fn client_database_note(t: &TenantView) -> Value {
    let db_name = t
        .config
        .db_name
        .clone()
        .unwrap_or_else(|| format!("dashboard_client_{}", t.tenant_id));
    json!({
        "db_name": db_name,
        "db_host": t.config.db_host,
        "db_port": t.config.db_port,
        "note": format!(
            "The tenant is registered; its client database is not created by the API. \
             Create and check it with `dashctl provision-client --tenant {id}` and \
             `dashctl verify-client --tenant {id}`.",
            id = t.tenant_id
        ),
    })
}

async fn create_tenant(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = shared::auth::require(&req, &state, Permission::TenantsManage).await?;
    let f = Fields::parse(
        &req,
        &["company_name", "asociated_since", "is_active", "config"],
    )?;
    let company_name = f.req_str("company_name")?;
    input::check_text("company_name", company_name, 150)?;
    let since = date_field(&f, "asociated_since")?;
    let is_active = f.opt_bool("is_active")?.unwrap_or(true);
    let mut config = TenantConfig {
        theme: Some("dark".into()),
        language: Some("es".into()),
        data_timezone: Some("UTC".into()),
        production_day_start: Some("00:00".into()),
        ..Default::default()
    };
    apply_config(
        &mut config,
        f.raw("config").unwrap_or(&Value::Object(Map::new())),
    )?;
    let now = state.now();
    let since = since.unwrap_or_else(|| now.date_naive());
    let ip = req.client_ip();
    let mut conn = state.db().global().await?;
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    tx.exec_drop(
        "INSERT INTO tenant (company_name, asociated_since, is_active, config_tenant, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
        (
            company_name,
            since,
            is_active,
            serde_json::to_string(&config).map_err(AppError::internal)?,
            now.naive_utc(),
            now.naive_utc(),
        ),
    )
    .await
    .map_err(|e| conflict_on_company(e.into()))?;
    let tenant_id = tx.last_insert_id().unwrap_or(0) as i64;
    if config.db_name.is_none() {
        config.db_name = Some(format!("dashboard_client_{tenant_id}"));
        tx.exec_drop(
            "UPDATE tenant SET config_tenant = ? WHERE tenant_id = ?",
            (
                serde_json::to_string(&config).map_err(AppError::internal)?,
                tenant_id,
            ),
        )
        .await?;
    }
    let entry = AuditEntry {
        tenant_id: Some(tenant_id),
        ..AuditEntry::new(action::TENANT_CREATE)
            .by(&ctx)
            .entity("tenant", tenant_id)
            .details(json!({ "company_name": company_name, "config_tenant": config, "is_active": is_active }))
            .ip(&ip)
    };
    audit::record(&mut tx, now, &entry).await?;
    let view = load_tenant_view(&mut tx, tenant_id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let mut body = serde_json::to_value(&view).map_err(AppError::internal)?;
    body["client_database"] = client_database_note(&view);
    Ok(http::json(StatusCode::CREATED, &json!({ "data": body })))
}

async fn update_tenant(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = shared::auth::require(&req, &state, Permission::TenantsManage).await?;
    let id = req.path_id("id")?;
    let mut conn = state.db().global().await?;
    let current = load_tenant_view(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);
    let f = Fields::parse(&req, &["company_name", "asociated_since", "config"])?;
    let mut sets: Vec<&'static str> = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    let mut changed = Map::new();
    if let Some(name) = f.opt_str("company_name")? {
        input::check_text("company_name", name, 150)?;
        if name != current.company_name {
            sets.push("company_name = ?");
            params.push(name.into());
            changed.insert("company_name".into(), json!(name));
        }
    } else if f.has("company_name") {
        return Err(AppError::validation(
            "company_name",
            "company_name cannot be empty",
        ));
    }
    if let Some(since) = date_field(&f, "asociated_since")? {
        sets.push("asociated_since = ?");
        params.push(since.into());
        changed.insert(
            "asociated_since".into(),
            json!(since.format("%Y-%m-%d").to_string()),
        );
    }
    if let Some(raw) = f.raw("config") {
        let mut config = current.config.clone();
        apply_config(&mut config, raw)?;
        if config.db_name.is_none() {
            config.db_name = Some(format!("dashboard_client_{id}"));
        }
        if config != current.config {
            sets.push("config_tenant = ?");
            params.push(
                serde_json::to_string(&config)
                    .map_err(AppError::internal)?
                    .into(),
            );
            changed.insert("config_tenant".into(), json!(config));
        }
    }
    if sets.is_empty() {
        return Ok(http::data(&current));
    }
    let now = state.now();
    sets.push("updated_at = ?");
    params.push(now.naive_utc().into());
    params.push(id.into());
    let ip = req.client_ip();
    let mut conn = state.db().global().await?;
    conn.exec_drop(
        format!("UPDATE tenant SET {} WHERE tenant_id = ?", sets.join(", ")),
        params,
    )
    .await
    .map_err(|e| conflict_on_company(e.into()))?;
    state.cache().tenants.invalidate(&id);
    state.cache().metadata.invalidate(&id);
    let entry = AuditEntry {
        tenant_id: Some(id),
        ..AuditEntry::new(action::TENANT_UPDATE)
            .by(&ctx)
            .entity("tenant", id)
            .details(json!({ "changed": changed }))
            .ip(&ip)
    };
    audit::record(&mut conn, now, &entry).await?;
    let view = load_tenant_view(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(http::data(&view))
}

async fn set_tenant_active(req: Request, state: AppState, active: bool) -> AppResult<Response> {
    let ctx = shared::auth::require(&req, &state, Permission::TenantsManage).await?;
    let id = req.path_id("id")?;
    let now = state.now();
    let mut conn = state.db().global().await?;
    let current = load_tenant_view(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if current.is_active != active {
        conn.exec_drop(
            "UPDATE tenant SET is_active = ?, updated_at = ? WHERE tenant_id = ?",
            (active, now.naive_utc(), id),
        )
        .await?;
        let ip = req.client_ip();
        let entry = AuditEntry {
            tenant_id: Some(id),
            ..AuditEntry::new(if active {
                action::TENANT_ACTIVATE
            } else {
                action::TENANT_DEACTIVATE
            })
            .by(&ctx)
            .entity("tenant", id)
            .details(json!({ "company_name": current.company_name }))
            .ip(&ip)
        };
        audit::record(&mut conn, now, &entry).await?;
    }
    state.cache().tenants.invalidate(&id);
    let view = load_tenant_view(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(http::data(&view))
}

async fn deactivate_tenant(req: Request, state: AppState) -> AppResult<Response> {
    set_tenant_active(req, state, false).await
}

async fn activate_tenant(req: Request, state: AppState) -> AppResult<Response> {
    set_tenant_active(req, state, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("ab"), "%ab%");
        assert_eq!(like_pattern("50%_\\"), "%50\\%\\_\\\\%");
    }

    #[test]
    fn config_errors_name_the_key() {
        let mut c = TenantConfig::default();
        let e = apply_config(&mut c, &json!({"timezone": "Mars/Base"})).unwrap_err();
        assert_eq!(e.field(), Some("config.timezone"));
        let e =
            apply_config(&mut c, &json!({"timezone": "UTC", "db_name": "x; drop"})).unwrap_err();
        assert_eq!(e.field(), Some("config.db_name"));
        let e = apply_config(&mut TenantConfig::default(), &json!({"language": "es"})).unwrap_err();
        assert_eq!(e.field(), Some("config.timezone"));
        let e = apply_config(&mut c, &json!({"timezone": "UTC", "evil": 1})).unwrap_err();
        assert_eq!(e.field(), Some("config.evil"));
        let e = apply_config(
            &mut c,
            &json!({"timezone": "UTC", "db_port": 70000, "db_host": "h"}),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("config.db_port"));
        let mut ok = TenantConfig::default();
        apply_config(
            &mut ok,
            &json!({"timezone": "Europe/Madrid", "language": "en"}),
        )
        .unwrap();
        assert_eq!(ok.language.as_deref(), Some("en"));
    }

    #[test]
    fn every_route_of_the_spec_is_served() {
        let r = router();
        let routes: Vec<String> = r
            .routes()
            .map(|r| format!("{} {}", r.method, r.pattern))
            .collect();
        for want in [
            "POST /api/v1/auth/login",
            "POST /api/v1/auth/logout",
            "POST /api/v1/auth/refresh",
            "GET /api/v1/auth/me",
            "POST /api/v1/auth/change-password",
            "GET /api/v1/users",
            "GET /api/v1/users/me",
            "GET /api/v1/users/{id}",
            "POST /api/v1/users",
            "PUT /api/v1/users/{id}",
            "DELETE /api/v1/users/{id}",
            "POST /api/v1/users/me/change-password",
            "GET /api/v1/tenants",
            "GET /api/v1/tenants/current",
            "GET /api/v1/tenants/{id}",
            "POST /api/v1/tenants",
            "PUT /api/v1/tenants/{id}",
            "POST /api/v1/tenants/{id}/deactivate",
            "POST /api/v1/tenants/{id}/activate",
        ] {
            assert!(routes.contains(&want.to_string()), "missing {want}");
        }
        let (route, _) = r.find(&::http::Method::GET, "/api/v1/users/me").unwrap();
        assert_eq!(route.pattern, "/api/v1/users/me");
        let (route, _) = r
            .find(&::http::Method::GET, "/api/v1/tenants/current")
            .unwrap();
        assert_eq!(route.pattern, "/api/v1/tenants/current");
    }
}
