//! Reading user rows for the API: the public shape of a user (never the
//! password hash, never the lockout internals).

use chrono::NaiveDateTime;
use mysql_async::prelude::Queryable;
use mysql_async::Row;
use serde::Serialize;

use crate::auth::rbac::{self, PermissionSet, Role, UserPermissions};
use crate::auth::sessions::iso;
use dash_store::error::{AppError, AppResult};
use dash_store::tenancy::Tenant;

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub user_id: i64,
    pub username: String,
    pub email: Option<String>,
    pub role: String,
    pub tenant_id: Option<i64>,
    pub is_active: bool,
    /// The refinement stored in `user.permissions`.
    pub permissions: UserPermissions,
    /// What the user may really do.
    pub effective_permissions: PermissionSet,
    pub last_login_at: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// The columns [`user_from_row`] reads, for `SELECT {USER_COLUMNS} FROM `user` u ...`.
pub const USER_COLUMNS: &str =
    "u.user_id, u.username, u.email, CAST(u.role AS CHAR), u.tenant_id, u.is_active, \
     CAST(u.permissions AS CHAR), u.last_login_at, u.created_at, u.updated_at";

fn col<T: mysql_async::prelude::FromValue>(row: &mut Row, i: usize) -> AppResult<T> {
    row.take_opt::<T, usize>(i)
        .ok_or_else(|| AppError::internal(format!("user row lacks column {i}")))?
        .map_err(|e| AppError::internal(format!("user row column {i}: {e}")))
}

pub fn user_from_row(mut row: Row) -> AppResult<UserView> {
    let role: String = col(&mut row, 3)?;
    let tenant_id: Option<i64> = col(&mut row, 4)?;
    let permissions = UserPermissions::from_stored(col::<Option<String>>(&mut row, 6)?.as_deref());
    let effective = Role::parse(&role)
        .map(|r| rbac::effective(r, &permissions, tenant_id.is_some()))
        .unwrap_or_default();
    Ok(UserView {
        user_id: col(&mut row, 0)?,
        username: col(&mut row, 1)?,
        email: col(&mut row, 2)?,
        role,
        tenant_id,
        is_active: col(&mut row, 5)?,
        permissions,
        effective_permissions: effective,
        last_login_at: col::<Option<NaiveDateTime>>(&mut row, 7)?.map(iso),
        created_at: col::<Option<NaiveDateTime>>(&mut row, 8)?.map(iso),
        updated_at: col::<Option<NaiveDateTime>>(&mut row, 9)?.map(iso),
    })
}

/// One user that is not soft-deleted.
pub async fn load_user(conn: &mut impl Queryable, user_id: i64) -> AppResult<Option<UserView>> {
    let row: Option<Row> = conn
        .exec_first(
            format!(
                "SELECT {USER_COLUMNS} FROM `user` u WHERE u.user_id = ? AND u.deleted_at IS NULL"
            ),
            (user_id,),
        )
        .await?;
    row.map(user_from_row).transpose()
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
