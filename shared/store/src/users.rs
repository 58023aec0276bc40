//! The `user` table: the accounts of every tenant and of the superadmin.
//!
//! Rows are soft-deleted (`deleted_at`) and keep their name: user names are
//! unique across the service (`uq_user_username`), because sign-in takes a
//! name and nothing else. Roles and `permissions` are stored as text here;
//! what they allow is the web runtime's business (`shared::auth::rbac`).

use chrono::{DateTime, NaiveDateTime, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};
use serde::Serialize;

use crate::error::AppResult;
use crate::sql::{contains_pattern, exec_written, take, Assignments};

/// Who a user is and what role it holds, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct UserAccount {
    pub user_id: i64,
    pub username: String,
    pub email: Option<String>,
    /// The role as stored (`shared::auth::rbac::Role` reads it).
    pub role: String,
    /// `None` only for the superadmin.
    pub tenant_id: Option<i64>,
    pub is_active: bool,
}

/// A user row as the API reads it: never the password hash, never the
/// lockout counters.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub account: UserAccount,
    /// `user.permissions` as stored (JSON text).
    pub permissions: Option<String>,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: Option<NaiveDateTime>,
    pub updated_at: Option<NaiveDateTime>,
}

/// The columns [`user_from_row`] reads, for `SELECT {USER_COLUMNS} FROM `user` u ...`.
const USER_COLUMNS: &str =
    "u.user_id, u.username, u.email, CAST(u.role AS CHAR), u.tenant_id, u.is_active, \
     CAST(u.permissions AS CHAR), u.last_login_at, u.created_at, u.updated_at";

fn user_from_row(mut row: Row) -> AppResult<UserRow> {
    Ok(UserRow {
        account: UserAccount {
            user_id: take(&mut row, 0, "user")?,
            username: take(&mut row, 1, "user")?,
            email: take(&mut row, 2, "user")?,
            role: take(&mut row, 3, "user")?,
            tenant_id: take(&mut row, 4, "user")?,
            is_active: take(&mut row, 5, "user")?,
        },
        permissions: take(&mut row, 6, "user")?,
        last_login_at: take(&mut row, 7, "user")?,
        created_at: take(&mut row, 8, "user")?,
        updated_at: take(&mut row, 9, "user")?,
    })
}

/// One user that is not soft-deleted.
pub async fn find_user(conn: &mut impl Queryable, user_id: i64) -> AppResult<Option<UserRow>> {
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

/// Which users a list shows (never soft-deleted ones).
#[derive(Debug, Clone, Default)]
pub struct UserFilter<'a> {
    /// `None` = every tenant (the superadmin's view).
    pub tenant_id: Option<i64>,
    pub role: Option<&'a str>,
    pub active: Option<bool>,
    /// Text the user name or e-mail contains (LIKE wildcards in it match literally).
    pub name_or_email_contains: Option<&'a str>,
    /// Keyset cursor: only users after this id.
    pub after: Option<i64>,
}

/// The users of `filter` by id: `limit + 1` rows at most, so that a row
/// beyond `limit` tells the caller another page follows.
pub async fn list_users(
    conn: &mut impl Queryable,
    filter: &UserFilter<'_>,
    limit: usize,
) -> AppResult<Vec<UserRow>> {
    let mut sql = format!("SELECT {USER_COLUMNS} FROM `user` u WHERE u.deleted_at IS NULL");
    let mut params: Vec<Value> = Vec::new();
    if let Some(t) = filter.tenant_id {
        sql.push_str(" AND u.tenant_id = ?");
        params.push(t.into());
    }
    if let Some(r) = filter.role {
        sql.push_str(" AND u.role = ?");
        params.push(r.into());
    }
    if let Some(a) = filter.active {
        sql.push_str(" AND u.is_active = ?");
        params.push(i64::from(a).into());
    }
    if let Some(text) = filter.name_or_email_contains {
        sql.push_str(" AND (u.username LIKE ? OR u.email LIKE ?)");
        let pattern = contains_pattern(text);
        params.push(pattern.clone().into());
        params.push(pattern.into());
    }
    if let Some(c) = filter.after {
        sql.push_str(" AND u.user_id > ?");
        params.push(c.into());
    }
    sql.push_str(&format!(" ORDER BY u.user_id LIMIT {}", limit + 1));
    let rows: Vec<Row> = conn.exec(sql, params).await?;
    rows.into_iter().map(user_from_row).collect()
}

/// What sign-in and password change need to know of an account, found by
/// name whether deleted or not.
#[derive(Debug, Clone)]
pub struct SignInUser {
    pub user_id: i64,
    pub tenant_id: Option<i64>,
    /// The Argon2id PHC string.
    pub password_hash: String,
    pub role: String,
    pub user_active: bool,
    pub deleted: bool,
    pub locked_until: Option<NaiveDateTime>,
    pub last_login_at: Option<NaiveDateTime>,
    /// The tenant is active (a superadmin, who has none, counts as active).
    pub tenant_active: bool,
}

/// The account named `username`, with whether its tenant is active.
pub async fn find_sign_in_user(
    conn: &mut impl Queryable,
    username: &str,
) -> AppResult<Option<SignInUser>> {
    let row: Option<Row> = conn
        .exec_first(
            "SELECT u.user_id, u.tenant_id, u.password, CAST(u.role AS CHAR), u.is_active = 1, \
                    u.deleted_at IS NOT NULL, u.locked_until, u.last_login_at, \
                    COALESCE(t.is_active = 1, u.tenant_id IS NULL) \
             FROM `user` u LEFT JOIN tenant t ON t.tenant_id = u.tenant_id WHERE u.username = ?",
            (username,),
        )
        .await?;
    let Some(mut row) = row else {
        return Ok(None);
    };
    Ok(Some(SignInUser {
        user_id: take(&mut row, 0, "sign-in")?,
        tenant_id: take(&mut row, 1, "sign-in")?,
        password_hash: take(&mut row, 2, "sign-in")?,
        role: take(&mut row, 3, "sign-in")?,
        user_active: take(&mut row, 4, "sign-in")?,
        deleted: take(&mut row, 5, "sign-in")?,
        locked_until: take(&mut row, 6, "sign-in")?,
        last_login_at: take(&mut row, 7, "sign-in")?,
        tenant_active: take(&mut row, 8, "sign-in")?,
    }))
}

/// Stores how many wrong passwords count towards the lockout now; an
/// earlier, ended lockout stays recorded (it bounds the next count).
pub async fn set_failed_logins(
    conn: &mut impl Queryable,
    user_id: i64,
    failures: i64,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        "UPDATE `user` SET failed_logins = ? WHERE user_id = ?",
        (failures, user_id),
    )
    .await
}

/// Locks an account until `until`, with the failures that locked it.
pub async fn lock_account(
    conn: &mut impl Queryable,
    user_id: i64,
    failures: i64,
    until: NaiveDateTime,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        "UPDATE `user` SET failed_logins = ?, locked_until = ? WHERE user_id = ?",
        (failures, until, user_id),
    )
    .await
}

/// A successful sign-in: the lockout is cleared and the time recorded.
pub async fn record_sign_in(
    conn: &mut impl Queryable,
    user_id: i64,
    now: DateTime<Utc>,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        "UPDATE `user` SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE user_id = ?",
        (now.naive_utc(), user_id),
    )
    .await
}

/// Locks the user's row until the transaction ends, so that what the caller
/// reads and writes for this user next (its sessions) is not raced by
/// another transaction doing the same.
pub async fn lock_row(conn: &mut impl Queryable, user_id: i64) -> mysql_async::Result<()> {
    let _: Option<i64> = conn
        .exec_first(
            "SELECT user_id FROM `user` WHERE user_id = ? FOR UPDATE",
            (user_id,),
        )
        .await?;
    Ok(())
}

/// A user's own new password: the lockout is cleared with it.
pub async fn set_password(
    conn: &mut impl Queryable,
    user_id: i64,
    password_hash: &str,
    now: DateTime<Utc>,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        "UPDATE `user` SET password = ?, failed_logins = 0, locked_until = NULL, updated_at = ? WHERE user_id = ?",
        (password_hash, now.naive_utc(), user_id),
    )
    .await
}

/// A user the API creates.
#[derive(Debug, Clone)]
pub struct NewUserRow<'a> {
    /// `None` only for a superadmin.
    pub tenant_id: Option<i64>,
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub role: &'a str,
    /// `user.permissions` JSON, `None` for the role's own.
    pub permissions: Option<String>,
    pub is_active: bool,
}

/// Inserts a user dated `now`; returns its id. A taken name is a duplicate-key error.
pub async fn insert_user(
    conn: &mut impl Queryable,
    u: &NewUserRow<'_>,
    now: DateTime<Utc>,
) -> mysql_async::Result<i64> {
    let written = exec_written(
        conn,
        "INSERT INTO `user` (tenant_id, username, email, password, role, permissions, is_active, \
            failed_logins, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        (
            u.tenant_id,
            u.username,
            u.email,
            u.password_hash,
            u.role,
            &u.permissions,
            u.is_active,
            now.naive_utc(),
            now.naive_utc(),
        ),
    )
    .await?;
    Ok(written.last_insert_id.unwrap_or(0) as i64)
}

/// Inserts an active user with the role's own permissions for the operator
/// CLI, dated by the database's clock; returns its id.
pub async fn insert_registered_user(
    conn: &mut impl Queryable,
    tenant_id: Option<i64>,
    username: &str,
    email: Option<&str>,
    password_hash: &str,
    role: &str,
) -> mysql_async::Result<i64> {
    let written = exec_written(
        conn,
        "INSERT INTO `user` (tenant_id, username, email, password, role, permissions, is_active, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, NULL, 1, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
        (tenant_id, username, email, password_hash, role),
    )
    .await?;
    Ok(written.last_insert_id.unwrap_or(0) as i64)
}

/// The id of the user named `username`, deleted or not.
pub async fn user_id_by_name(
    conn: &mut impl Queryable,
    username: &str,
) -> mysql_async::Result<Option<i64>> {
    conn.exec_first("SELECT user_id FROM `user` WHERE username = ?", (username,))
        .await
}

/// The fields an update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges<'a> {
    pub username: Option<&'a str>,
    /// `Some(None)` clears the address.
    pub email: Option<Option<&'a str>>,
    pub role: Option<&'a str>,
    /// `Some(None)` stores no refinement (the role's own permissions).
    pub permissions: Option<Option<String>>,
    pub is_active: Option<bool>,
    /// A password set by an administrator; it also clears the lockout.
    pub password_hash: Option<String>,
}

impl UserChanges<'_> {
    pub fn is_empty(&self) -> bool {
        self.username.is_none()
            && self.email.is_none()
            && self.role.is_none()
            && self.permissions.is_none()
            && self.is_active.is_none()
            && self.password_hash.is_none()
    }
}

/// Applies `changes` to a user that is not deleted and sets `updated_at`. A
/// taken name is a duplicate-key error.
pub async fn update_user(
    conn: &mut impl Queryable,
    user_id: i64,
    changes: &UserChanges<'_>,
    now: DateTime<Utc>,
) -> mysql_async::Result<()> {
    let mut set = Assignments::default();
    if let Some(username) = changes.username {
        set.bind("username", username);
    }
    if let Some(email) = changes.email {
        set.bind("email", email);
    }
    if let Some(role) = changes.role {
        set.bind("role", role);
    }
    if let Some(permissions) = &changes.permissions {
        set.bind("permissions", permissions.clone());
    }
    if let Some(active) = changes.is_active {
        set.bind("is_active", active);
    }
    if let Some(hash) = &changes.password_hash {
        set.bind("password", hash.clone());
        set.literal("failed_logins = 0");
        set.literal("locked_until = NULL");
    }
    set.bind("updated_at", now.naive_utc());
    set.update(
        conn,
        "`user`",
        "user_id = ? AND deleted_at IS NULL",
        [user_id.into()],
    )
    .await
}

/// Soft-deletes a user (which also deactivates it).
pub async fn soft_delete_user(
    conn: &mut impl Queryable,
    user_id: i64,
    now: DateTime<Utc>,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        "UPDATE `user` SET deleted_at = ?, is_active = 0, updated_at = ? WHERE user_id = ? AND deleted_at IS NULL",
        (now.naive_utc(), now.naive_utc(), user_id),
    )
    .await
}
