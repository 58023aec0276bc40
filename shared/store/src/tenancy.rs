//! Tenants: the `tenant` table of the global database, its `config_tenant`
//! JSON (docs/operations.md#configuration), and where its client database
//! lives. Every read maps the row through [`TENANT_COLUMNS`] and
//! [`tenant_from_columns`]. The tenant a request acts for comes from its token
//! only (see `shared::auth::context`); nothing here reads a request.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use mysql_async::prelude::Queryable;
use mysql_async::Value;
use serde::{Deserialize, Serialize};

use crate::db::DbLocation;
use crate::error::{AppError, AppResult};
use crate::sql::{contains_pattern, exec_written, Assignments};
use crate::store::Store;

/// `tenant.config_tenant` as stored; every field optional with the defaults of docs/operations.md#configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TenantConfig {
    pub theme: Option<String>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub data_timezone: Option<String>,
    pub db_name: Option<String>,
    pub db_host: Option<String>,
    pub db_port: Option<u16>,
    pub production_day_start: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub tenant_id: i64,
    pub company_name: String,
    pub is_active: bool,
    pub config: TenantConfig,
}

impl Tenant {
    pub fn timezone(&self) -> Tz {
        self.config
            .timezone
            .as_deref()
            .and_then(|tz| tz.parse().ok())
            .unwrap_or(chrono_tz::UTC)
    }

    /// Zone of the naive DATETIME values in the client database.
    pub fn data_timezone(&self) -> Tz {
        self.config
            .data_timezone
            .as_deref()
            .and_then(|tz| tz.parse().ok())
            .unwrap_or(chrono_tz::UTC)
    }

    pub fn language(&self) -> &str {
        match self.config.language.as_deref() {
            Some("en") => "en",
            _ => "es",
        }
    }

    pub fn theme(&self) -> &str {
        match self.config.theme.as_deref() {
            Some("light") => "light",
            _ => "dark",
        }
    }

    pub fn production_day_start(&self) -> NaiveTime {
        self.config
            .production_day_start
            .as_deref()
            .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok())
            .unwrap_or(NaiveTime::MIN)
    }

    pub fn db_location(&self) -> DbLocation {
        DbLocation {
            host: self.config.db_host.clone(),
            port: self.config.db_port,
            db_name: self
                .config
                .db_name
                .clone()
                .unwrap_or_else(|| format!("dashboard_client_{}", self.tenant_id)),
        }
    }
}

/// A database server: a host name or address (compared without regard to
/// case) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbServer {
    pub host: String,
    pub port: u16,
}

impl DbServer {
    /// The server of a `mysql://` URL (`CLIENT_DB_URL`: the default server of
    /// client databases), port 3306 when the URL names none.
    pub fn from_url(url: &str) -> AppResult<DbServer> {
        let opts = mysql_async::Opts::from_url(url).map_err(AppError::internal)?;
        Ok(DbServer {
            host: opts.ip_or_hostname().to_string(),
            port: opts.tcp_port(),
        })
    }
}

/// Where a client database is, with a missing host or port resolved to
/// `default_server`'s (as the pools do): (host in lower case, port, name).
fn resolved_location(location: &DbLocation, default_server: &DbServer) -> (String, u16, String) {
    (
        location
            .host
            .as_deref()
            .unwrap_or(&default_server.host)
            .to_ascii_lowercase(),
        location.port.unwrap_or(default_server.port),
        location.db_name.clone(),
    )
}

/// A client database that another tenant already uses: its resolved
/// location and that tenant. Displays as the refusal both the tenant API and
/// `dashctl register-tenant` give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInUse {
    pub host: String,
    pub port: u16,
    pub db_name: String,
    pub tenant_id: i64,
    pub company_name: String,
}

impl std::fmt::Display for DatabaseInUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "database {} on {}:{} is already used by tenant {} ({})",
            self.db_name, self.host, self.port, self.tenant_id, self.company_name
        )
    }
}

/// The tenant other than `except` whose client database is `location`: the rule that a tenant's database is its own
/// (docs/operations.md#a-tenants-database-is-its-own). Both sides are
/// resolved by [`resolved_location`] — a missing `db_host`/`db_port` is the
/// default server's (`CLIENT_DB_URL`, see [`DbServer::from_url`]), a missing
/// `db_name` is `dashboard_client_<id>` ([`Tenant::db_location`]) — and the
/// hosts are compared without regard to case (a name and an address of the
/// same server are not recognised as one). Every caller that sets or changes
/// a tenant's `db_name`, `db_host` or `db_port` (the tenant API, `dashctl
/// register-tenant`) asks this and refuses a database in use; pass the
/// tenant's own id as `except` once it has one.
///
/// Reads every tenant row (a few hundred at most). Not atomic with the write
/// that follows: two registrations of one database at the same moment can
/// both pass.
pub async fn tenant_using_database(
    conn: &mut impl Queryable,
    location: &DbLocation,
    default_server: &DbServer,
    except: Option<i64>,
) -> AppResult<Option<DatabaseInUse>> {
    let wanted = resolved_location(location, default_server);
    let tenants = list_tenants(conn).await?;
    Ok(tenants
        .into_iter()
        .filter(|t| Some(t.tenant_id) != except)
        .find(|t| resolved_location(&t.db_location(), default_server) == wanted)
        .map(|t| {
            let (host, port, db_name) = wanted;
            DatabaseInUse {
                host,
                port,
                db_name,
                tenant_id: t.tenant_id,
                company_name: t.company_name,
            }
        }))
}

/// Checks a `config_tenant` document before it is stored: known zones, known
/// languages and themes, a database name that is a safe identifier.
pub fn validate_config(config: &TenantConfig) -> AppResult<()> {
    for (field, zone) in [
        ("timezone", &config.timezone),
        ("data_timezone", &config.data_timezone),
    ] {
        if let Some(zone) = zone {
            if zone.parse::<Tz>().is_err() {
                return Err(AppError::validation(
                    field,
                    format!("{field} must be an IANA time zone such as Europe/Madrid"),
                ));
            }
        }
    }
    if let Some(lang) = &config.language {
        if lang != "es" && lang != "en" {
            return Err(AppError::validation(
                "language",
                "language must be es or en",
            ));
        }
    }
    if let Some(theme) = &config.theme {
        if theme != "dark" && theme != "light" {
            return Err(AppError::validation("theme", "theme must be dark or light"));
        }
    }
    if let Some(db) = &config.db_name {
        if !crate::db::is_valid_identifier(db) {
            return Err(AppError::validation(
                "db_name",
                "db_name may hold lower-case letters, digits and _ only (at most 64)",
            ));
        }
    }
    if let Some(host) = &config.db_host {
        let ok = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
        if !ok {
            return Err(AppError::validation(
                "db_host",
                "db_host must be a host name or IP address",
            ));
        }
    }
    if let Some(start) = &config.production_day_start {
        if NaiveTime::parse_from_str(start, "%H:%M").is_err() {
            return Err(AppError::validation(
                "production_day_start",
                "production_day_start must be HH:MM",
            ));
        }
    }
    Ok(())
}

/// The columns [`tenant_from_columns`] reads, from the table as `tenant t`:
/// `SELECT {TENANT_COLUMNS} FROM tenant t ...` (or a join on `tenant t`).
pub const TENANT_COLUMNS: &str =
    "t.tenant_id, t.company_name, t.is_active, CAST(t.config_tenant AS CHAR)";

/// The values of [`TENANT_COLUMNS`], in order.
pub type TenantColumns = (i64, String, bool, Option<String>);

/// The one mapping of a tenant row. A `config_tenant` that does not parse
/// reads as the defaults, so one damaged document never locks a plant out.
pub fn tenant_from_columns((tenant_id, company_name, is_active, config): TenantColumns) -> Tenant {
    Tenant {
        tenant_id,
        company_name,
        is_active,
        config: config
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default(),
    }
}

/// One tenant by id.
pub async fn find_tenant(
    conn: &mut impl Queryable,
    tenant_id: i64,
) -> mysql_async::Result<Option<Tenant>> {
    find_one(conn, "t.tenant_id = ?", tenant_id.into()).await
}

/// One tenant by its company name (unique).
pub async fn find_tenant_by_name(
    conn: &mut impl Queryable,
    company_name: &str,
) -> mysql_async::Result<Option<Tenant>> {
    find_one(conn, "t.company_name = ?", company_name.into()).await
}

/// The tenant that meets `condition`, which binds `value`.
async fn find_one(
    conn: &mut impl Queryable,
    condition: &str,
    value: Value,
) -> mysql_async::Result<Option<Tenant>> {
    let row: Option<TenantColumns> = conn
        .exec_first(
            format!("SELECT {TENANT_COLUMNS} FROM tenant t WHERE {condition}"),
            (value,),
        )
        .await?;
    Ok(row.map(tenant_from_columns))
}

/// Every tenant, by id.
pub async fn list_tenants(conn: &mut impl Queryable) -> mysql_async::Result<Vec<Tenant>> {
    let rows: Vec<TenantColumns> = conn
        .query(format!(
            "SELECT {TENANT_COLUMNS} FROM tenant t ORDER BY t.tenant_id"
        ))
        .await?;
    Ok(rows.into_iter().map(tenant_from_columns).collect())
}

/// Reads a tenant row from the global database.
pub async fn load_tenant(store: &Store, tenant_id: i64) -> AppResult<Option<Tenant>> {
    let mut conn = store.db().global().await?;
    Ok(find_tenant(&mut conn, tenant_id).await?)
}

/// The tenant from the warm cache (refreshed every `ACCOUNT_TTL`, 4 s), or `NotFound`.
pub async fn tenant(store: &Store, tenant_id: i64) -> AppResult<std::sync::Arc<Tenant>> {
    store
        .cache()
        .tenants
        .get_or_load(tenant_id, || async {
            load_tenant(store, tenant_id)
                .await?
                .map(std::sync::Arc::new)
                .ok_or(AppError::NotFound)
        })
        .await
}

/// A tenant with the dates of its row, as the tenant API shows it.
#[derive(Debug, Clone)]
pub struct TenantRecord {
    pub tenant: Tenant,
    pub asociated_since: Option<NaiveDate>,
    pub created_at: Option<NaiveDateTime>,
    pub updated_at: Option<NaiveDateTime>,
}

type RecordColumns = (
    i64,
    String,
    bool,
    Option<String>,
    Option<NaiveDate>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

/// `SELECT` of a [`TenantRecord`] followed by `rest` (the WHERE and ORDER BY).
fn record_query(rest: &str) -> String {
    format!(
        "SELECT {TENANT_COLUMNS}, t.asociated_since, t.created_at, t.updated_at FROM tenant t {rest}"
    )
}

fn record_from_columns(
    (tenant_id, company_name, is_active, config, asociated_since, created_at, updated_at): RecordColumns,
) -> TenantRecord {
    TenantRecord {
        tenant: tenant_from_columns((tenant_id, company_name, is_active, config)),
        asociated_since,
        created_at,
        updated_at,
    }
}

/// One tenant with its dates.
pub async fn find_record(
    conn: &mut impl Queryable,
    tenant_id: i64,
) -> mysql_async::Result<Option<TenantRecord>> {
    let row: Option<RecordColumns> = conn
        .exec_first(record_query("WHERE t.tenant_id = ?"), (tenant_id,))
        .await?;
    Ok(row.map(record_from_columns))
}

/// Which tenants a list shows.
#[derive(Debug, Clone, Default)]
pub struct TenantFilter<'a> {
    pub active: Option<bool>,
    /// Text the company name contains (LIKE wildcards in it match literally).
    pub name_contains: Option<&'a str>,
    /// Keyset cursor: only tenants after this id.
    pub after: Option<i64>,
}

/// The tenants of `filter` by id: `limit + 1` rows at most, so that a row
/// beyond `limit` tells the caller another page follows.
pub async fn list_records(
    conn: &mut impl Queryable,
    filter: &TenantFilter<'_>,
    limit: usize,
) -> mysql_async::Result<Vec<TenantRecord>> {
    let mut conditions = String::from("WHERE 1 = 1");
    let mut params: Vec<Value> = Vec::new();
    if let Some(a) = filter.active {
        conditions.push_str(" AND t.is_active = ?");
        params.push(i64::from(a).into());
    }
    if let Some(text) = filter.name_contains {
        conditions.push_str(" AND t.company_name LIKE ?");
        params.push(contains_pattern(text).into());
    }
    if let Some(c) = filter.after {
        conditions.push_str(" AND t.tenant_id > ?");
        params.push(c.into());
    }
    conditions.push_str(&format!(" ORDER BY t.tenant_id LIMIT {}", limit + 1));
    let rows: Vec<RecordColumns> = conn.exec(record_query(&conditions), params).await?;
    Ok(rows.into_iter().map(record_from_columns).collect())
}

/// `config_tenant` as stored. A struct of strings and numbers always
/// serializes; the JSON check of the column refuses the empty text otherwise.
fn config_json(config: &TenantConfig) -> String {
    serde_json::to_string(config).unwrap_or_default()
}

/// A tenant the API registers.
#[derive(Debug, Clone)]
pub struct NewTenantRow<'a> {
    pub company_name: &'a str,
    pub asociated_since: NaiveDate,
    pub is_active: bool,
    pub config: &'a TenantConfig,
}

/// Inserts a tenant row dated `now`; returns its id.
pub async fn insert_tenant(
    conn: &mut impl Queryable,
    t: &NewTenantRow<'_>,
    now: DateTime<Utc>,
) -> mysql_async::Result<i64> {
    let written = exec_written(
        conn,
        "INSERT INTO tenant (company_name, asociated_since, is_active, config_tenant, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
        (
            t.company_name,
            t.asociated_since,
            t.is_active,
            config_json(t.config),
            now.naive_utc(),
            now.naive_utc(),
        ),
    )
    .await?;
    Ok(written.last_insert_id.unwrap_or(0) as i64)
}

/// Inserts an active tenant for the operator CLI, associated since today and
/// dated by the database's clock in UTC (as every global time; the column's
/// `CURRENT_TIMESTAMP(3)` default would be the session's zone); returns its id.
pub async fn insert_registered_tenant(
    conn: &mut impl Queryable,
    company_name: &str,
    config: &TenantConfig,
) -> mysql_async::Result<i64> {
    let written = exec_written(
        conn,
        "INSERT INTO tenant (company_name, asociated_since, is_active, config_tenant, created_at, updated_at) \
         VALUES (?, UTC_DATE(), 1, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
        (company_name, config_json(config)),
    )
    .await?;
    Ok(written.last_insert_id.unwrap_or(0) as i64)
}

/// Replaces `config_tenant` (and nothing else: the insert that names the
/// client database after the new id).
pub async fn set_config(
    conn: &mut impl Queryable,
    tenant_id: i64,
    config: &TenantConfig,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        "UPDATE tenant SET config_tenant = ? WHERE tenant_id = ?",
        (config_json(config), tenant_id),
    )
    .await
}

/// The fields an update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TenantChanges<'a> {
    pub company_name: Option<&'a str>,
    pub asociated_since: Option<NaiveDate>,
    pub config: Option<&'a TenantConfig>,
}

impl TenantChanges<'_> {
    pub fn is_empty(&self) -> bool {
        self.company_name.is_none() && self.asociated_since.is_none() && self.config.is_none()
    }
}

/// Applies `changes` and sets `updated_at`.
pub async fn update_tenant(
    conn: &mut impl Queryable,
    tenant_id: i64,
    changes: &TenantChanges<'_>,
    now: DateTime<Utc>,
) -> mysql_async::Result<()> {
    let mut set = Assignments::default();
    if let Some(name) = changes.company_name {
        set.bind("company_name", name);
    }
    if let Some(since) = changes.asociated_since {
        set.bind("asociated_since", since);
    }
    if let Some(config) = changes.config {
        set.bind("config_tenant", config_json(config));
    }
    set.bind("updated_at", now.naive_utc());
    set.update(conn, "tenant", "tenant_id = ?", [tenant_id.into()])
        .await
}

/// Activates or deactivates a tenant.
pub async fn set_active(
    conn: &mut impl Queryable,
    tenant_id: i64,
    active: bool,
    now: DateTime<Utc>,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        "UPDATE tenant SET is_active = ?, updated_at = ? WHERE tenant_id = ?",
        (active, now.naive_utc(), tenant_id),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec() {
        let t = Tenant {
            tenant_id: 7,
            company_name: "x".into(),
            is_active: true,
            config: TenantConfig::default(),
        };
        assert_eq!(t.db_location().db_name, "dashboard_client_7");
        assert_eq!(t.language(), "es");
        assert_eq!(t.theme(), "dark");
        assert_eq!(t.data_timezone(), chrono_tz::UTC);
        assert_eq!(t.production_day_start(), NaiveTime::MIN);
    }

    #[test]
    fn a_location_resolves_to_the_default_server() {
        let default = DbServer {
            host: "db.internal".into(),
            port: 3306,
        };
        let implicit = Tenant {
            tenant_id: 4,
            company_name: "x".into(),
            is_active: true,
            config: TenantConfig::default(),
        };
        let explicit = DbLocation {
            host: Some("DB.Internal".into()),
            port: Some(3306),
            db_name: "dashboard_client_4".into(),
        };
        assert_eq!(
            resolved_location(&implicit.db_location(), &default),
            resolved_location(&explicit, &default)
        );
        let elsewhere = DbLocation {
            host: Some("other".into()),
            ..explicit.clone()
        };
        assert_ne!(
            resolved_location(&elsewhere, &default),
            resolved_location(&explicit, &default)
        );
        let server = DbServer::from_url("mysql://u:p@Client-DB:3307/x").unwrap();
        assert_eq!((server.host.as_str(), server.port), ("Client-DB", 3307));
        assert_eq!(DbServer::from_url("mysql://u@h/").unwrap().port, 3306);
    }

    #[test]
    fn bad_config_names_the_field() {
        let c = TenantConfig {
            timezone: Some("Mars/Olympus".into()),
            ..Default::default()
        };
        assert_eq!(validate_config(&c).unwrap_err().field(), Some("timezone"));
        let c = TenantConfig {
            db_name: Some("x`; drop".into()),
            ..Default::default()
        };
        assert_eq!(validate_config(&c).unwrap_err().field(), Some("db_name"));
    }
}
