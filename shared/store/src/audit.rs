//! The `audit_log` table: one append-only row per sign-in, failed sign-in,
//! logout, refresh-token reuse, user and tenant change, operator action (and,
//! for the other functions, justifications, layouts and configuration
//! changes). The table refuses UPDATE and DELETE by trigger; this module only
//! inserts.

use chrono::{DateTime, NaiveDateTime, Utc};
use mysql_async::prelude::Queryable;
use serde_json::Value;

use crate::sql::clip;

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

    /// Who did it: the user and the tenant the row is filed under.
    pub fn by_user(mut self, user_id: i64, tenant_id: Option<i64>) -> Self {
        self.user_id = Some(user_id);
        self.tenant_id = tenant_id;
        self
    }

    /// Files the row under this tenant (the one acted on, when it is not the actor's).
    pub fn tenant(mut self, tenant_id: Option<i64>) -> Self {
        self.tenant_id = tenant_id;
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

/// Appends one row dated `now` (the application's clock), inside the caller's
/// transaction when it has one.
pub async fn record(
    conn: &mut impl Queryable,
    now: DateTime<Utc>,
    entry: &AuditEntry<'_>,
) -> mysql_async::Result<()> {
    insert(conn, Some(now.naive_utc()), entry).await
}

/// Appends one row dated by the database's clock: the operator CLI runs on
/// any machine, and its rows keep the server's time like every DEFAULT.
pub async fn record_on_database_clock(
    conn: &mut impl Queryable,
    entry: &AuditEntry<'_>,
) -> mysql_async::Result<()> {
    insert(conn, None, entry).await
}

async fn insert(
    conn: &mut impl Queryable,
    created_at: Option<NaiveDateTime>,
    e: &AuditEntry<'_>,
) -> mysql_async::Result<()> {
    let details = if e.details.is_null() {
        None
    } else {
        Some(e.details.to_string())
    };
    conn.exec_drop(
        "INSERT INTO audit_log (user_id, tenant_id, action, entity, entity_id, details, ip, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, COALESCE(?, UTC_TIMESTAMP(3)))",
        (
            e.user_id,
            e.tenant_id,
            clip(e.action, 64),
            e.entity.map(|s| clip(s, 64)),
            e.entity_id.as_deref().map(|s| clip(s, 64)),
            details,
            e.ip.map(|s| clip(s, 45)),
            created_at,
        ),
    )
    .await
}
