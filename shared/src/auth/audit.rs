//! The audit trail (docs/roles.md#security): the action names, and entries by
//! the caller of a request. The rows are written by [`dash_store::audit`].

use serde_json::Value;

use crate::auth::context::TenantContext;
use crate::http::Request;
use crate::state::AppState;
use dash_store::error::AppResult;

pub use dash_store::audit::{record, AuditEntry};

/// Stable action names (`audit_log.action`).
pub mod action {
    pub const LOGIN: &str = "auth.login";
    pub const LOGIN_FAILED: &str = "auth.login_failed";
    pub const LOCKOUT: &str = "auth.lockout";
    pub const LOGOUT: &str = "auth.logout";
    pub const REFRESH_REUSE: &str = "auth.refresh_reuse";
    pub const SESSION_LIMIT: &str = "auth.session_limit";
    pub const PASSWORD_CHANGE: &str = "auth.password_change";
    pub const USER_CREATE: &str = "user.create";
    pub const USER_UPDATE: &str = "user.update";
    pub const USER_DELETE: &str = "user.delete";
    pub const TENANT_CREATE: &str = "tenant.create";
    pub const TENANT_UPDATE: &str = "tenant.update";
    pub const TENANT_ACTIVATE: &str = "tenant.activate";
    pub const TENANT_DEACTIVATE: &str = "tenant.deactivate";
}

/// An entry of `action` by the context's user, filed under its tenant.
pub fn by<'a>(ctx: &TenantContext, action: &'a str) -> AuditEntry<'a> {
    AuditEntry::new(action).by_user(ctx.user_id, ctx.tenant_id)
}

/// Convenience for handlers of any function: records `action` on `entity`
/// by the context's user, from the request's address, at `state.now()`.
pub async fn record_for(
    state: &AppState,
    ctx: &TenantContext,
    req: &Request,
    action: &str,
    entity: &str,
    entity_id: impl ToString,
    details: Value,
) -> AppResult<()> {
    let ip = req.client_ip();
    let entry = by(ctx, action)
        .entity(entity, entity_id)
        .details(details)
        .ip(&ip);
    let mut conn = state.db().global().await?;
    Ok(record(&mut conn, state.now(), &entry).await?)
}
