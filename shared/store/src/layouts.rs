//! The `dashboard_template` table: each role's dashboard layout, a tenant's
//! own (`tenant_id` set) or the default every tenant starts from (`tenant_id`
//! NULL). The layout is JSON (`dash_core::catalog::Layout`); the dashboard
//! validates it before storing it and again after reading it, so this module
//! only reads and writes the text.

use mysql_async::prelude::Queryable;
use serde_json::Value;

use crate::error::AppResult;
use crate::store::Store;

/// Whose stored layout was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The tenant's own layout of the role.
    Tenant,
    /// The role's default for every tenant (`tenant_id` NULL).
    Default,
}

/// The stored layout of (`tenant_id`, `role`), else the role's default, else
/// none. Text that is not JSON reads as `null` (which validation refuses).
pub async fn find(store: &Store, tenant_id: i64, role: &str) -> AppResult<Option<(Owner, Value)>> {
    let mut conn = store.db().global().await?;
    let row: Option<(Option<i64>, String)> = conn
        .exec_first(
            "SELECT tenant_id, CAST(layout_config AS CHAR) FROM dashboard_template \
             WHERE role = ? AND (tenant_id = ? OR tenant_id IS NULL) \
             ORDER BY tenant_id IS NULL, template_id LIMIT 1",
            (role, tenant_id),
        )
        .await?;
    Ok(row.map(|(owner, text)| {
        let owner = if owner.is_some() {
            Owner::Tenant
        } else {
            Owner::Default
        };
        (owner, serde_json::from_str(&text).unwrap_or(Value::Null))
    }))
}

/// Stores `layout` as the tenant's layout of `role` (a new row or the one it
/// replaces), written by `updated_by` at the store's clock.
pub async fn save(
    store: &Store,
    tenant_id: i64,
    role: &str,
    layout: &Value,
    updated_by: i64,
) -> AppResult<()> {
    let mut conn = store.db().global().await?;
    conn.exec_drop(
        "INSERT INTO dashboard_template (tenant_id, role, layout_config, updated_by, updated_at) \
         VALUES (?, ?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE layout_config = VALUES(layout_config), updated_by = VALUES(updated_by), \
         updated_at = VALUES(updated_at)",
        (
            tenant_id,
            role,
            layout.to_string(),
            updated_by,
            store.now().naive_utc(),
        ),
    )
    .await?;
    Ok(())
}
