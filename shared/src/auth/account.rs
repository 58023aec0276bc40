//! Reading user rows for the API: the public shape of a user (never the
//! password hash, never the lockout internals).

use mysql_async::prelude::Queryable;
use serde::Serialize;

use crate::auth::rbac::{self, PermissionSet, Role, UserPermissions};
use crate::auth::sessions::iso;
use dash_store::error::AppResult;
use dash_store::tenancy::Tenant;
use dash_store::users::{self, UserAccount, UserRow};

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    #[serde(flatten)]
    pub account: UserAccount,
    /// The refinement stored in `user.permissions`.
    pub permissions: UserPermissions,
    /// What the user may really do.
    pub effective_permissions: PermissionSet,
    pub last_login_at: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

impl UserView {
    /// The API's view of a stored user: its role and refinement read, and
    /// what they allow worked out (nothing, for a role this build does not know).
    pub fn of(row: UserRow) -> Self {
        let account = row.account;
        let permissions = UserPermissions::from_stored(row.permissions.as_deref());
        let effective_permissions = Role::parse(&account.role)
            .map(|r| rbac::effective(r, &permissions, account.tenant_id.is_some()))
            .unwrap_or_default();
        UserView {
            account,
            permissions,
            effective_permissions,
            last_login_at: row.last_login_at.map(iso),
            created_at: row.created_at.map(iso),
            updated_at: row.updated_at.map(iso),
        }
    }
}

/// One user that is not soft-deleted.
pub async fn load_user(conn: &mut impl Queryable, user_id: i64) -> AppResult<Option<UserView>> {
    Ok(users::find_user(conn, user_id).await?.map(UserView::of))
}

/// The few tenant facts a signed-in client needs (language, theme, zone).
#[derive(Debug, Clone, Serialize)]
pub struct TenantSummary {
    pub tenant_id: i64,
    pub company_name: String,
    pub language: String,
    pub theme: String,
    pub timezone: String,
}

impl TenantSummary {
    pub fn of(t: &Tenant) -> Self {
        TenantSummary {
            tenant_id: t.tenant_id,
            company_name: t.company_name.clone(),
            language: t.language().to_string(),
            theme: t.theme().to_string(),
            timezone: t.timezone().name().to_string(),
        }
    }
}

/// `GET /auth/me` and the `user` of the login response.
#[derive(Debug, Clone, Serialize)]
pub struct Me {
    #[serde(flatten)]
    pub user: UserView,
    pub tenant: Option<TenantSummary>,
}
