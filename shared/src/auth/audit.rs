//! The audit trail (docs/roles.md#security): one append-only row in `audit_log` per login,
//! failed login, logout, refresh-token reuse, user and tenant change (and, for
//! the other functions, justifications, layouts and configuration changes).
//! The table refuses UPDATE and DELETE by trigger; this module only inserts.

use chrono::{DateTime, Utc};
use mysql_async::prelude::Queryable;
use serde_json::Value;

use crate::auth::context::TenantContext;
use crate::http::Request;
use crate::state::AppState;
use dash_store::error::AppResult;

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

/// One audit row.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub user_id: Option<i64>,
    pub tenant_id: Option<i64>,
    pub action: &'a str,
    pub entity: Option<&'a str>,
    pub entity_id: Option<String>,
    pub details: Value,
    pub ip: Option<&'a str>,
}

impl<'a> AuditEntry<'a> {
    pub fn new(action: &'a str) -> Self {
        AuditEntry {
            user_id: None,
            tenant_id: None,
            action,
            entity: None,
            entity_id: None,
            details: Value::Null,
            ip: None,
        }
    }

    /// Who did it: the user and tenant of the context.
    pub fn by(mut self, ctx: &TenantContext) -> Self {
        self.user_id = Some(ctx.user_id);
        self.tenant_id = ctx.tenant_id;
        self
    }

    pub fn entity(mut self, entity: &'a str, id: impl ToString) -> Self {
        self.entity = Some(entity);
        self.entity_id = Some(id.to_string());
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn ip(mut self, ip: &'a str) -> Self {
        self.ip = Some(ip);
        self
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Appends one row on a connection to the global database (inside the caller's
/// transaction when it has one).
pub async fn record(
    conn: &mut impl Queryable,
    now: DateTime<Utc>,
    e: &AuditEntry<'_>,
) -> AppResult<()> {
    let details = if e.details.is_null() {
        None
    } else {
        Some(e.details.to_string())
    };
    conn.exec_drop(
        "INSERT INTO audit_log (user_id, tenant_id, action, entity, entity_id, details, ip, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            e.user_id,
            e.tenant_id,
            truncate(e.action, 64),
            e.entity.map(|s| truncate(s, 64)),
            e.entity_id.as_deref().map(|s| truncate(s, 64)),
            details,
            e.ip.map(|s| truncate(s, 45)),
            now.naive_utc(),
        ),
    )
    .await?;
    Ok(())
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
    let entry = AuditEntry::new(action)
        .by(ctx)
        .entity(entity, entity_id)
        .details(details)
        .ip(&ip);
    let mut conn = state.db().global().await?;
    record(&mut conn, state.now(), &entry).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("abc", 2), "ab");
        assert_eq!(truncate("ñññ", 2), "ññ");
        assert_eq!(truncate("ab", 5), "ab");
    }
}
