//! The `user_login` table: failed sign-in attempts (`success = 0`) and
//! sessions (`success = 1`).
//!
//! A session is a *family* (`family_id`) of rows: the first row is inserted
//! at sign-in, and each refresh marks the presented row `revoked_reason =
//! 'rotated'` and inserts the next one. Refresh and CSRF tokens are stored
//! only as SHA-256 hashes, which the caller computes. When a session starts,
//! ends or is limited is the web runtime's rule (`shared::auth::sessions`);
//! this module reads and writes the rows.

use chrono::{DateTime, NaiveDateTime, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::Row;

use crate::error::AppResult;
use crate::sql::{clip, exec_written, take};
use crate::tenancy::{tenant_from_columns, Tenant, TENANT_COLUMNS};

/// Where a sign-in attempt or a session comes from, clipped to the columns'
/// widths when stored.
#[derive(Debug, Clone)]
pub struct Origin {
    pub ip: String,
    pub user_agent: Option<String>,
}

/// Records a failed sign-in attempt (`success = 0`) and why it failed.
pub async fn record_failed_sign_in(
    conn: &mut impl Queryable,
    now: DateTime<Utc>,
    user_id: Option<i64>,
    tenant_id: Option<i64>,
    origin: &Origin,
    reason: &str,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        "INSERT INTO user_login (user_id, tenant_id, login_at, ip, user_agent, success, failure_reason) \
         VALUES (?, ?, ?, ?, ?, 0, ?)",
        (
            user_id,
            tenant_id,
            now.naive_utc(),
            clip(&origin.ip, 45),
            origin.user_agent.as_deref().map(|ua| clip(ua, 255)),
            clip(reason, 64),
        ),
    )
    .await
}

/// How many wrong passwords were recorded for a user after `since`.
pub async fn count_wrong_passwords_since(
    conn: &mut impl Queryable,
    user_id: i64,
    since: NaiveDateTime,
) -> mysql_async::Result<i64> {
    let n: Option<i64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM user_login WHERE user_id = ? AND success = 0 \
             AND failure_reason = 'bad_password' AND login_at > ?",
            (user_id, since),
        )
        .await?;
    Ok(n.unwrap_or(0))
}

/// One row of a session family, as inserted at sign-in and at each refresh.
#[derive(Debug, Clone)]
pub struct NewSessionRow<'a> {
    pub user_id: i64,
    pub tenant_id: Option<i64>,
    /// When the family started (kept by every rotation).
    pub login_at: NaiveDateTime,
    pub origin: &'a Origin,
    pub refresh_token_hash: &'a str,
    pub family: &'a str,
    /// `None` for a session whose client never received a CSRF token.
    pub csrf_token_hash: Option<&'a str>,
    pub last_activity_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// Inserts the live row of a session family.
pub async fn insert_session(
    conn: &mut impl Queryable,
    s: &NewSessionRow<'_>,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        "INSERT INTO user_login (user_id, tenant_id, login_at, ip, user_agent, success, \
            refresh_token_hash, family_id, csrf_token_hash, last_activity_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
        (
            s.user_id,
            s.tenant_id,
            s.login_at,
            clip(&s.origin.ip, 45),
            s.origin.user_agent.as_deref().map(|ua| clip(ua, 255)),
            s.refresh_token_hash,
            s.family,
            s.csrf_token_hash,
            s.last_activity_at,
            s.expires_at,
        ),
    )
    .await
}

/// A live session of a user, for the session limit and "your sessions".
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub family: String,
    pub login_at: NaiveDateTime,
    pub last_activity_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The user's sessions that are not revoked, expire after `now` and were
/// active after `idle_since`: oldest first (by sign-in, then row).
pub async fn live_sessions(
    conn: &mut impl Queryable,
    user_id: i64,
    now: NaiveDateTime,
    idle_since: NaiveDateTime,
) -> mysql_async::Result<Vec<LiveSession>> {
    type Columns = (
        String,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Columns> = conn
        .exec(
            "SELECT family_id, login_at, last_activity_at, expires_at, ip, user_agent FROM user_login \
             WHERE user_id = ? AND success = 1 AND revoked_at IS NULL AND family_id IS NOT NULL \
               AND expires_at > ? AND last_activity_at > ? \
             ORDER BY login_at, session_id",
            (user_id, now, idle_since),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(family, login_at, last_activity_at, expires_at, ip, user_agent)| LiveSession {
                family,
                login_at,
                last_activity_at,
                expires_at,
                ip,
                user_agent,
            },
        )
        .collect())
}

/// The families of a user's unrevoked sessions, expired or idle ones included.
pub async fn unrevoked_families(
    conn: &mut impl Queryable,
    user_id: i64,
) -> mysql_async::Result<Vec<String>> {
    conn.exec(
        "SELECT DISTINCT family_id FROM user_login \
         WHERE user_id = ? AND success = 1 AND revoked_at IS NULL AND family_id IS NOT NULL",
        (user_id,),
    )
    .await
}

/// Revokes every live row of a family; returns how many rows changed.
pub async fn revoke_family(
    conn: &mut impl Queryable,
    family: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> mysql_async::Result<u64> {
    let written = exec_written(
        conn,
        "UPDATE user_login SET revoked_at = ?, revoked_reason = ? WHERE family_id = ? AND revoked_at IS NULL",
        (now.naive_utc(), clip(reason, 64), family),
    )
    .await?;
    Ok(written.affected_rows)
}

/// Revokes a family only if it is `user_id`'s (`revoked_by_user`); returns
/// how many rows changed.
pub async fn revoke_family_of_user(
    conn: &mut impl Queryable,
    family: &str,
    user_id: i64,
    now: DateTime<Utc>,
) -> mysql_async::Result<u64> {
    let written = exec_written(
        conn,
        "UPDATE user_login SET revoked_at = ?, revoked_reason = 'revoked_by_user' \
         WHERE family_id = ? AND user_id = ? AND revoked_at IS NULL",
        (now.naive_utc(), family, user_id),
    )
    .await?;
    Ok(written.affected_rows)
}

/// The session row a refresh token names, with its user and tenant.
#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub session_id: i64,
    pub user_id: i64,
    pub tenant_id: Option<i64>,
    pub family: String,
    pub login_at: NaiveDateTime,
    pub revoked: bool,
    pub revoked_reason: Option<String>,
    pub last_activity_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub csrf_token_hash: Option<String>,
    pub role: String,
    /// `is_active = 1 AND deleted_at IS NULL`.
    pub user_active: bool,
    /// The tenant is active (a superadmin, who has none, counts as active).
    pub tenant_active: bool,
}

/// The session row, revoked or not, whose refresh token hashes to `hash`.
pub async fn find_by_refresh_hash(
    conn: &mut impl Queryable,
    hash: &str,
) -> AppResult<Option<RefreshRow>> {
    let row: Option<Row> = conn
        .exec_first(
            "SELECT s.session_id, s.user_id, s.tenant_id, s.family_id, s.login_at, s.revoked_at IS NOT NULL, \
                    s.revoked_reason, s.last_activity_at, s.expires_at, s.csrf_token_hash, \
                    CAST(u.role AS CHAR), (u.is_active = 1 AND u.deleted_at IS NULL), \
                    COALESCE(t.is_active, u.tenant_id IS NULL) \
             FROM user_login s JOIN `user` u ON u.user_id = s.user_id \
             LEFT JOIN tenant t ON t.tenant_id = u.tenant_id \
             WHERE s.refresh_token_hash = ? AND s.success = 1",
            (hash,),
        )
        .await?;
    let Some(mut row) = row else {
        return Ok(None);
    };
    Ok(Some(RefreshRow {
        session_id: take(&mut row, 0, "refresh")?,
        user_id: take(&mut row, 1, "refresh")?,
        tenant_id: take(&mut row, 2, "refresh")?,
        family: take::<Option<String>>(&mut row, 3, "refresh")?.unwrap_or_default(),
        login_at: take(&mut row, 4, "refresh")?,
        revoked: take(&mut row, 5, "refresh")?,
        revoked_reason: take(&mut row, 6, "refresh")?,
        last_activity_at: or_never(take(&mut row, 7, "refresh")?),
        expires_at: or_never(take(&mut row, 8, "refresh")?),
        csrf_token_hash: take(&mut row, 9, "refresh")?,
        role: take(&mut row, 10, "refresh")?,
        user_active: take(&mut row, 11, "refresh")?,
        tenant_active: take(&mut row, 12, "refresh")?,
    }))
}

/// A missing activity or expiry time reads as the earliest time: such a
/// session is idle and expired, never live.
fn or_never(t: Option<NaiveDateTime>) -> NaiveDateTime {
    t.unwrap_or(NaiveDateTime::MIN)
}

/// Marks a row rotated; false when it was no longer live (another request
/// rotated or revoked it since it was read).
pub async fn mark_rotated(
    conn: &mut impl Queryable,
    session_id: i64,
    now: DateTime<Utc>,
) -> mysql_async::Result<bool> {
    let written = exec_written(
        conn,
        "UPDATE user_login SET revoked_at = ?, revoked_reason = 'rotated' \
         WHERE session_id = ? AND revoked_at IS NULL",
        (now.naive_utc(), session_id),
    )
    .await?;
    Ok(written.affected_rows == 1)
}

/// The family, user and tenant of the live session whose refresh token
/// hashes to `hash`.
pub async fn live_family_by_refresh_hash(
    conn: &mut impl Queryable,
    hash: &str,
) -> mysql_async::Result<Option<(String, i64, Option<i64>)>> {
    let row: Option<(Option<String>, i64, Option<i64>)> = conn
        .exec_first(
            "SELECT family_id, user_id, tenant_id FROM user_login \
             WHERE refresh_token_hash = ? AND success = 1 AND revoked_at IS NULL",
            (hash,),
        )
        .await?;
    Ok(match row {
        Some((Some(family), user_id, tenant_id)) => Some((family, user_id, tenant_id)),
        _ => None,
    })
}

/// The newest live row of a session family with its user and tenant, as
/// every authenticated request needs them.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub session_id: i64,
    pub user_id: i64,
    pub last_activity_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub csrf_token_hash: Option<String>,
    pub username: String,
    pub tenant_id: Option<i64>,
    pub role: String,
    /// `user.permissions` as stored (JSON text).
    pub permissions: Option<String>,
    /// `is_active = 1 AND deleted_at IS NULL`.
    pub user_active: bool,
    /// `None` for a superadmin, or when the user's tenant row is gone.
    pub tenant: Option<Tenant>,
}

/// Reads the live row of a session family with its user and tenant.
pub async fn find_live_session(
    conn: &mut impl Queryable,
    family: &str,
) -> AppResult<Option<SessionRow>> {
    let row: Option<Row> = conn
        .exec_first(
            format!(
                "SELECT s.session_id, s.user_id, s.last_activity_at, s.expires_at, s.csrf_token_hash, \
                        u.username, u.tenant_id, CAST(u.role AS CHAR), CAST(u.permissions AS CHAR), \
                        (u.is_active = 1 AND u.deleted_at IS NULL), {TENANT_COLUMNS} \
                 FROM user_login s \
                 JOIN `user` u ON u.user_id = s.user_id \
                 LEFT JOIN tenant t ON t.tenant_id = u.tenant_id \
                 WHERE s.family_id = ? AND s.success = 1 AND s.revoked_at IS NULL \
                 ORDER BY s.session_id DESC LIMIT 1"
            ),
            (family,),
        )
        .await?;
    let Some(mut row) = row else {
        return Ok(None);
    };
    // The tenant's columns are NULL when the join found no tenant.
    let tenant_id: Option<i64> = take(&mut row, 10, "session")?;
    let company_name: Option<String> = take(&mut row, 11, "session")?;
    let tenant_active: Option<bool> = take(&mut row, 12, "session")?;
    let config: Option<String> = take(&mut row, 13, "session")?;
    let tenant = match (tenant_id, company_name, tenant_active) {
        (Some(id), Some(name), Some(active)) => {
            Some(tenant_from_columns((id, name, active, config)))
        }
        _ => None,
    };
    Ok(Some(SessionRow {
        session_id: take(&mut row, 0, "session")?,
        user_id: take(&mut row, 1, "session")?,
        last_activity_at: or_never(take(&mut row, 2, "session")?),
        expires_at: or_never(take(&mut row, 3, "session")?),
        csrf_token_hash: take(&mut row, 4, "session")?,
        username: take(&mut row, 5, "session")?,
        tenant_id: take(&mut row, 6, "session")?,
        role: take(&mut row, 7, "session")?,
        permissions: take(&mut row, 8, "session")?,
        user_active: take(&mut row, 9, "session")?,
        tenant,
    }))
}

/// Records activity on a live session row.
pub async fn touch(
    conn: &mut impl Queryable,
    session_id: i64,
    now: NaiveDateTime,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        "UPDATE user_login SET last_activity_at = ? WHERE session_id = ? AND revoked_at IS NULL",
        (now, session_id),
    )
    .await
}
