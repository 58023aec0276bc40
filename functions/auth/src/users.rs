//! Users: admins manage their own tenant's users, a superadmin any tenant's.
//! Within a tenant a caller manages only users within its line scope and not
//! above its role ([`TenantContext::may_manage`]). `DELETE` is a soft delete.

use ::http::StatusCode;
use mysql_async::{Conn, TxOpts};
use serde_json::{json, Map, Value};

use crate::{keyset_page, ListQuery};
use dash_store::error::{AppError, AppResult};
use dash_store::password;
use dash_store::tenancy;
use dash_store::users::{self, NewUserRow, UserChanges, UserFilter};
use shared::auth::account::{self, UserView};
use shared::auth::audit::{self, action};
use shared::auth::context::{ManagedUser, TenantContext};
use shared::auth::input::{self, Fields};
use shared::auth::rbac::{Permission, Role, UserPermissions};
use shared::auth::{authenticate, sessions};
use shared::http::{self, Request, Response};
use shared::params::query_id;
use shared::state::AppState;

/// The tenant a user-management request acts on: the caller's own, or for a
/// superadmin the one named (or every tenant when none is named).
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

/// A role named by a request; 422 naming `field` when it is not one.
fn parse_role(field: &str, text: &str) -> AppResult<Role> {
    Role::parse(text).ok_or_else(|| {
        let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        AppError::validation(
            field,
            format!("{field} must be one of {}", roles.join(", ")),
        )
    })
}

pub(crate) async fn list_users(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = shared::auth::require(&req, &state, Permission::UsersRead).await?;
    let tenant_id = target_tenant(&ctx, query_id(&req, "tenant_id")?)?;
    let role = match req.query_param("role") {
        None => None,
        Some(r) => Some(parse_role("role", &r)?),
    };
    let list = ListQuery::parse(&req)?;
    let filter = UserFilter {
        tenant_id,
        role: role.map(Role::as_str),
        active: list.active,
        name_or_email_contains: list.q.as_deref(),
        after: list.after,
    };
    let mut conn = state.db().global().await?;
    let rows = users::list_users(&mut conn, &filter, list.limit).await?;
    drop(conn);
    let users: Vec<UserView> = rows.into_iter().map(UserView::of).collect();
    Ok(keyset_page(users, list.limit, |u| u.account.user_id))
}

/// A user the caller may manage: same tenant (any tenant for a superadmin),
/// not deleted; anything else is 404.
async fn scoped_user(conn: &mut Conn, ctx: &TenantContext, id: i64) -> AppResult<UserView> {
    let user = account::load_user(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tenant_id = user.account.tenant_id;
    if ctx.is_superadmin() || (tenant_id.is_some() && tenant_id == ctx.tenant_id) {
        Ok(user)
    } else {
        Err(AppError::NotFound)
    }
}

/// A stored user as [`TenantContext::may_manage`] sees it.
fn managed(user: &UserView) -> AppResult<ManagedUser<'_>> {
    let account = &user.account;
    let role = Role::parse(&account.role).ok_or_else(|| {
        AppError::internal(format!("user {} has an unknown role", account.user_id))
    })?;
    Ok(ManagedUser {
        tenant_id: account.tenant_id,
        role,
        lines: user.permissions.lines.as_deref(),
    })
}

pub(crate) async fn get_user(req: Request, state: AppState) -> AppResult<Response> {
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
        AppError::conflict(
            "this username is already taken (user names are unique across the whole \
             service); choose another",
        )
    } else {
        e
    }
}

/// The `email` field: absent (`None`), cleared (`Some(None)`) or an address.
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

/// The tenant a superadmin's new user belongs to: none for a superadmin, an
/// existing one for anyone else.
async fn tenant_of_new_user(
    state: &AppState,
    role: Role,
    named: Option<i64>,
) -> AppResult<Option<i64>> {
    match (role, named) {
        (Role::Superadmin, Some(_)) => Err(AppError::validation(
            "tenant_id",
            "a superadmin belongs to no tenant",
        )),
        (Role::Superadmin, None) => Ok(None),
        (_, None) => Err(AppError::validation(
            "tenant_id",
            "tenant_id is required: the plant the user belongs to",
        )),
        (_, Some(t)) => {
            if tenancy::load_tenant(state, t).await?.is_none() {
                return Err(AppError::validation("tenant_id", "no such tenant"));
            }
            Ok(Some(t))
        }
    }
}

pub(crate) async fn create_user(req: Request, state: AppState) -> AppResult<Response> {
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
    let role = parse_role("role", f.req_str("role")?)?;
    let named_tenant = f.opt_id("tenant_id")?;
    let tenant_id = if ctx.is_superadmin() {
        tenant_of_new_user(&state, role, named_tenant).await?
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
    let new_user = NewUserRow {
        tenant_id,
        username,
        email: email.as_deref(),
        password_hash: &phc,
        role: role.as_str(),
        permissions: permissions.to_stored(),
        is_active,
    };
    let user_id = users::insert_user(&mut tx, &new_user, now)
        .await
        .map_err(|e| conflict_on_username(e.into()))?;
    let entry = audit::by(&ctx, action::USER_CREATE)
        .tenant(tenant_id.or(ctx.tenant_id))
        .entity("user", user_id)
        .details(json!({
            "username": username, "role": role, "tenant_id": tenant_id, "email": email,
            "permissions": permissions, "is_active": is_active,
        }))
        .ip(&ip);
    audit::record(&mut tx, now, &entry).await?;
    let user = account::load_user(&mut tx, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(http::json(StatusCode::CREATED, &json!({ "data": user })))
}

pub(crate) async fn update_user(req: Request, state: AppState) -> AppResult<Response> {
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
        if Some(t) != target.account.tenant_id {
            return Err(AppError::validation(
                "tenant_id",
                "a user cannot move to another tenant",
            ));
        }
    }
    let is_self = id == ctx.user_id;
    let mut changes = UserChanges::default();
    let mut changed: Map<String, Value> = Map::new();

    if let Some(username) = f.opt_str("username")? {
        input::check_username("username", username)?;
        if username != target.account.username {
            changes.username = Some(username);
            changed.insert("username".into(), json!(username));
        }
    }
    let email = opt_email(&f)?;
    if let Some(email) = &email {
        if *email != target.account.email {
            changes.email = Some(email.as_deref());
            changed.insert("email".into(), json!(email));
        }
    }
    let mut new_role: Option<Role> = None;
    if let Some(role_text) = f.opt_str("role")? {
        let role = parse_role("role", role_text)?;
        if role.as_str() != target.account.role {
            if is_self {
                return Err(AppError::validation(
                    "role",
                    "you cannot change your own role",
                ));
            }
            if role == Role::Superadmin || target.account.role == Role::Superadmin.as_str() {
                return Err(AppError::validation(
                    "role",
                    "a plant user cannot become a superadmin or the other way round",
                ));
            }
            changes.role = Some(role.as_str());
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
            check_refinement(&state, &ctx, target.account.tenant_id, &p).await?;
            changes.permissions = Some(p.to_stored());
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
        if active != target.account.is_active {
            if is_self && !active {
                return Err(AppError::validation(
                    "is_active",
                    "you cannot deactivate yourself",
                ));
            }
            changes.is_active = Some(active);
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
        let username = f.opt_str("username")?.unwrap_or(&target.account.username);
        input::check_new_password(
            "password",
            new_password,
            state.config().password_min_length,
            Some(username),
        )?;
        changes.password_hash = Some(password::hash_blocking(new_password.to_string()).await?);
        changed.insert("password_reset".into(), json!(true));
        revoke_reason = revoke_reason.or(Some("password_reset"));
    }
    if changes.is_empty() {
        return Ok(http::data(&target));
    }
    let now = state.now();
    let ip = req.client_ip();
    let mut conn = state.db().global().await?;
    users::update_user(&mut conn, id, &changes, now)
        .await
        .map_err(|e| conflict_on_username(e.into()))?;
    let revoked = match revoke_reason {
        Some(reason) => sessions::revoke_user_sessions(&state, &mut conn, id, None, reason)
            .await?
            .len(),
        None => {
            sessions::forget_cached_sessions(&state, &mut conn, id).await?;
            0
        }
    };
    let entry = audit::by(&ctx, action::USER_UPDATE)
        .tenant(target.account.tenant_id.or(ctx.tenant_id))
        .entity("user", id)
        .details(json!({ "changed": changed, "sessions_revoked": revoked }))
        .ip(&ip);
    audit::record(&mut conn, now, &entry).await?;
    let user = account::load_user(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(http::data(&user))
}

pub(crate) async fn delete_user(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = shared::auth::require(&req, &state, Permission::UsersManage).await?;
    let id = req.path_id("id")?;
    let mut conn = state.db().global().await?;
    let target = scoped_user(&mut conn, &ctx, id).await?;
    ctx.may_manage(&managed(&target)?)?;
    if id == ctx.user_id {
        return Err(AppError::conflict("you cannot delete your own account"));
    }
    let now = state.now();
    users::soft_delete_user(&mut conn, id, now).await?;
    let revoked =
        sessions::revoke_user_sessions(&state, &mut conn, id, None, "user_deleted").await?;
    let ip = req.client_ip();
    let entry = audit::by(&ctx, action::USER_DELETE)
        .tenant(target.account.tenant_id.or(ctx.tenant_id))
        .entity("user", id)
        .details(
            json!({ "username": target.account.username, "sessions_revoked": revoked.len(), "soft": true }),
        )
        .ip(&ip);
    audit::record(&mut conn, now, &entry).await?;
    Ok(http::data(&json!({ "user_id": id, "deleted": true })))
}
