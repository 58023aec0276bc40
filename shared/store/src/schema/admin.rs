//! Operator actions on the global database (the library behind `dashctl`):
//! registering tenants, creating users, seeding the widget catalog. Each change
//! is written to `audit_log`.

use chrono::Utc;
use chrono_tz::Tz;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, TxOpts};
use serde_json::{json, Value};

use super::{is_server_error, quote_ident, Result, SchemaError};
use crate::audit::{self, AuditEntry};
use crate::tenancy::{self, Tenant, TenantConfig};
use crate::users;

/// The roles of docs/roles.md#roles, highest first.
pub const ROLES: &[&str] = &["superadmin", "admin", "manager", "operator", "viewer"];

const ER_DUP_ENTRY: u16 = 1062;

/// Appends one row to `audit_log` (`user_id` None = the operator CLI / system).
#[allow(clippy::too_many_arguments)]
pub async fn audit(
    conn: &mut Conn,
    user_id: Option<i64>,
    tenant_id: Option<i64>,
    action: &str,
    entity: &str,
    entity_id: Option<String>,
    details: &Value,
    ip: Option<&str>,
) -> Result<()> {
    let entry = AuditEntry {
        user_id,
        tenant_id,
        action,
        entity: Some(entity),
        entity_id,
        details: details.clone(),
        ip,
    };
    Ok(audit::record_on_database_clock(conn, &entry).await?)
}

/// A tenant to register.
#[derive(Debug, Clone, Default)]
pub struct NewTenant {
    pub company_name: String,
    /// IANA zone of the plant.
    pub timezone: String,
    /// IANA zone of the client's DATETIME values (default UTC).
    pub data_timezone: Option<String>,
    /// `es` (default) or `en`.
    pub language: Option<String>,
    /// Default `dashboard_client_<tenant_id>`.
    pub db_name: Option<String>,
    pub db_host: Option<String>,
    pub db_port: Option<u16>,
    /// Return the existing tenant of the same name instead of failing.
    pub if_not_exists: bool,
    /// Check the client database first (`verify-client`) and refuse while the
    /// client's part of the contract is incomplete; then create the product's
    /// own tables in it. Without it (`--skip-verify`) the database is created
    /// empty when missing (demo and test databases, filled afterwards).
    pub verify: bool,
}

#[derive(Debug, Clone)]
pub struct RegisteredTenant {
    pub tenant_id: i64,
    /// False when the tenant already existed (`if_not_exists`).
    pub created: bool,
    pub db_name: String,
    pub db_host: Option<String>,
    pub db_port: Option<u16>,
    /// True when the client database was created now.
    pub database_created: bool,
    /// The product's tables created now in the client database (`verify`).
    pub provisioned: Vec<String>,
    /// What the verification warned about (partitions, indexes), if it ran.
    pub warnings: Vec<String>,
}

/// A tenant row as read for the operator.
pub type TenantRow = Tenant;

fn invalid(msg: impl Into<String>) -> SchemaError {
    SchemaError::Invalid(msg.into())
}

fn check_zone(flag: &str, zone: &str) -> Result<()> {
    zone.parse::<Tz>().map(|_| ()).map_err(|_| {
        invalid(format!(
            "{flag} {zone:?} is not an IANA time zone: use a name such as Europe/Madrid, America/Mexico_City or UTC"
        ))
    })
}

fn check_name(what: &str, value: &str, max: usize) -> Result<()> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(format!("{what} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(invalid(format!("{what} is longer than {max} characters")));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(())
}

/// Registers a tenant (docs/operations.md#configuration `config_tenant`) whose
/// client database lives on the server of `client_server_url` (`CLIENT_DB_URL`)
/// or on `db_host`/`db_port` when given. With `verify` the database must exist
/// and hold the client's part of the contract (else the refusal lists what is
/// missing), and the product's own tables are created in it; without, the
/// database is created empty if missing. A database another tenant uses is
/// refused either way. `global` must use the global database.
pub async fn register_tenant(
    global: &mut Conn,
    client_server_url: &str,
    t: &NewTenant,
) -> Result<RegisteredTenant> {
    check_name("--name", &t.company_name, 150)?;
    let company_name = t.company_name.trim().to_string();
    check_zone("--timezone", &t.timezone)?;
    let data_timezone = t.data_timezone.clone().unwrap_or_else(|| "UTC".into());
    check_zone("--data-timezone", &data_timezone)?;
    let language = t.language.clone().unwrap_or_else(|| "es".into());
    if language != "es" && language != "en" {
        return Err(invalid(format!("--language {language:?}: use es or en")));
    }
    if let Some(db) = &t.db_name {
        if !crate::db::is_valid_identifier(db) {
            return Err(invalid(format!(
                "--db-name {db:?}: use lower-case letters, digits and _ only (at most 64)"
            )));
        }
    }
    if t.db_port.is_some() && t.db_host.is_none() {
        return Err(invalid("--db-port needs --db-host"));
    }
    let mut config = TenantConfig {
        theme: Some("dark".into()),
        language: Some(language),
        timezone: Some(t.timezone.clone()),
        data_timezone: Some(data_timezone),
        db_name: t.db_name.clone(),
        db_host: t.db_host.clone(),
        db_port: t.db_port,
        production_day_start: Some("00:00".into()),
    };
    crate::tenancy::validate_config(&config).map_err(|e| invalid(e.to_string()))?;

    if let Some(existing) = tenancy::find_tenant_by_name(global, &company_name).await? {
        return existing_tenant(client_server_url, existing, t.if_not_exists).await;
    }

    if let Some(db_name) = &t.db_name {
        refuse_if_in_use(global, client_server_url, t, db_name, None).await?;
    }
    let mut verified = None;
    if t.verify {
        let Some(db) = &t.db_name else {
            return Err(invalid(
                "--db-name: name the client's database to verify it (or pass --skip-verify to \
                 create an empty dashboard_client_<id> for a demo or test plant)",
            ));
        };
        let mut client =
            connect_client_server(client_server_url, t.db_host.as_deref(), t.db_port).await?;
        let report = super::verify_client(&mut client, db).await?;
        if !report.client_problems().is_empty() {
            return Err(SchemaError::Schema(refusal(&report)));
        }
        verified = Some((client, report));
    }

    let mut tx = global.start_transaction(TxOpts::default()).await?;
    let inserted = tenancy::insert_registered_tenant(&mut tx, &company_name, &config).await;
    let tenant_id = match inserted {
        Ok(tenant_id) => tenant_id,
        Err(e) => {
            drop(tx);
            if is_server_error(&e, ER_DUP_ENTRY) {
                // Registered concurrently under the same name.
                if let Some(existing) = tenancy::find_tenant_by_name(global, &company_name).await? {
                    return existing_tenant(client_server_url, existing, t.if_not_exists).await;
                }
            }
            return Err(e.into());
        }
    };
    let db_name = config
        .db_name
        .clone()
        .unwrap_or_else(|| format!("dashboard_client_{tenant_id}"));
    config.db_name = Some(db_name.clone());
    if t.db_name.is_none() {
        // The default name, known only now.
        refuse_if_in_use(&mut tx, client_server_url, t, &db_name, Some(tenant_id)).await?;
    }
    tenancy::set_config(&mut tx, tenant_id, &config).await?;
    let entry = AuditEntry::new("tenant.create")
        .tenant(Some(tenant_id))
        .entity("tenant", tenant_id)
        .details(json!({"company_name": company_name, "config_tenant": config, "via": "dashctl"}));
    audit::record_on_database_clock(&mut tx, &entry).await?;
    tx.commit().await?;

    let mut registered = RegisteredTenant {
        tenant_id,
        created: true,
        db_name: db_name.clone(),
        db_host: t.db_host.clone(),
        db_port: t.db_port,
        database_created: false,
        provisioned: Vec::new(),
        warnings: Vec::new(),
    };
    match verified {
        Some((mut client, report)) => {
            let provisioned = super::provision_client(&mut client, &db_name, false).await?;
            let _ = client.disconnect().await;
            registered.provisioned = provisioned.created;
            registered.warnings = report.warnings;
            registered.warnings.extend(provisioned.warnings);
        }
        None => {
            registered.database_created = create_client_database(
                client_server_url,
                t.db_host.as_deref(),
                t.db_port,
                &db_name,
            )
            .await?;
        }
    }
    Ok(registered)
}

/// Refuses `db_name` on the tenant's server when a tenant other than
/// `except` uses it: a tenant's database is its own.
async fn refuse_if_in_use(
    conn: &mut impl Queryable,
    client_server_url: &str,
    t: &NewTenant,
    db_name: &str,
    except: Option<i64>,
) -> Result<()> {
    let location = crate::db::DbLocation {
        host: t.db_host.clone(),
        port: t.db_port,
        db_name: db_name.to_string(),
    };
    let default_server = tenancy::DbServer::from_url(client_server_url)
        .map_err(|e| invalid(format!("CLIENT_DB_URL: {e}")))?;
    let user = tenancy::tenant_using_database(conn, &location, &default_server, except)
        .await
        .map_err(|e| SchemaError::Schema(e.to_string()))?;
    match user {
        None => Ok(()),
        Some(used) => Err(SchemaError::Conflict(format!(
            "--db-name: {used}; a tenant's database is its own"
        ))),
    }
}

/// Why `register-tenant` refuses a client database: the client's problems,
/// and how to fix them.
fn refusal(report: &super::Report) -> String {
    let mut out = format!(
        "client database {} is not ready for the product ({} problem(s)):\n",
        report.db_name,
        report.client_problems().len()
    );
    for p in report.client_problems() {
        out.push_str(&format!("  {:<8} {}", p.status.label(), p.target()));
        if let Some(note) = &p.note {
            out.push_str(&format!(" — {note}"));
        }
        out.push('\n');
    }
    out.push_str(
        "fix: create what is listed in the client's database (docs/client-database.md, \
         reference DDL in infra/sql/client/), then run register-tenant again; \
         or register anyway with --skip-verify and check later with \
         `dashctl verify-client --tenant <id>`",
    );
    out
}

async fn existing_tenant(
    client_server_url: &str,
    existing: Tenant,
    if_not_exists: bool,
) -> Result<RegisteredTenant> {
    if !if_not_exists {
        return Err(SchemaError::Conflict(format!(
            "a tenant named {:?} already exists (id {}): pass --if-not-exists to reuse it, or pick another --name",
            existing.company_name, existing.tenant_id
        )));
    }
    let loc = existing.db_location();
    let database_created = create_client_database(
        client_server_url,
        loc.host.as_deref(),
        loc.port,
        &loc.db_name,
    )
    .await?;
    Ok(RegisteredTenant {
        tenant_id: existing.tenant_id,
        created: false,
        db_name: loc.db_name,
        db_host: loc.host,
        db_port: loc.port,
        database_created,
        provisioned: Vec::new(),
        warnings: Vec::new(),
    })
}

/// Connection options for the server of a client database: `CLIENT_DB_URL`
/// with the tenant's `db_host`/`db_port` when set, no default database.
pub fn client_server_opts(
    client_server_url: &str,
    host: Option<&str>,
    port: Option<u16>,
) -> Result<Opts> {
    let base = Opts::from_url(client_server_url)
        .map_err(|e| invalid(format!("CLIENT_DB_URL is not a mysql:// URL: {e}")))?;
    let mut b = OptsBuilder::from_opts(base)
        .db_name(None::<String>)
        .prefer_socket(false);
    if let Some(h) = host {
        b = b.ip_or_hostname(h.to_string());
    }
    if let Some(p) = port {
        b = b.tcp_port(p);
    }
    Ok(b.into())
}

/// A connection to the server of a client database (no default database).
async fn connect_client_server(
    client_server_url: &str,
    host: Option<&str>,
    port: Option<u16>,
) -> Result<Conn> {
    let opts = client_server_opts(client_server_url, host, port)?;
    Conn::new(opts).await.map_err(|e| {
        SchemaError::Schema(format!(
            "cannot reach the client database server{}: {e}",
            host.map(|h| format!(" {h}")).unwrap_or_default()
        ))
    })
}

/// Creates `db_name` (utf8mb4) on the client server if it is not there; true
/// when created now.
pub async fn create_client_database(
    client_server_url: &str,
    host: Option<&str>,
    port: Option<u16>,
    db_name: &str,
) -> Result<bool> {
    let db = quote_ident(db_name)?;
    let mut conn = connect_client_server(client_server_url, host, port).await?;
    let n: Option<i64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (db_name,),
        )
        .await?;
    let created = if n.unwrap_or(0) == 0 {
        conn.query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .await?;
        true
    } else {
        false
    };
    let _ = conn.disconnect().await;
    Ok(created)
}

/// One tenant by id.
pub async fn find_tenant(conn: &mut Conn, tenant_id: i64) -> Result<Option<Tenant>> {
    Ok(tenancy::find_tenant(conn, tenant_id).await?)
}

/// Every tenant, by id.
pub async fn list_tenants(conn: &mut Conn) -> Result<Vec<Tenant>> {
    Ok(tenancy::list_tenants(conn).await?)
}

/// Where a tenant's client database lives: `(db_host, db_port, db_name)`.
pub fn tenant_location(t: &Tenant) -> crate::db::DbLocation {
    t.db_location()
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// None only for a superadmin (the SaaS operator).
    pub tenant_id: Option<i64>,
    pub username: String,
    pub password: String,
    pub role: String,
    pub email: Option<String>,
    pub password_min_length: usize,
    /// Return the existing user of the same name (unchanged) instead of failing.
    pub if_not_exists: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedUser {
    pub user_id: i64,
    pub created: bool,
}

/// Creates a user with an argon2id password hash (docs/roles.md#security).
pub async fn create_user(conn: &mut Conn, u: &NewUser) -> Result<CreatedUser> {
    let username = u.username.trim();
    if username.len() < 3 || username.len() > 100 {
        return Err(invalid("--username must be 3 to 100 characters"));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(invalid(
            "--username may hold letters, digits and . _ - @ only",
        ));
    }
    if !ROLES.contains(&u.role.as_str()) {
        return Err(invalid(format!(
            "--role {:?}: use one of {}",
            u.role,
            ROLES.join(", ")
        )));
    }
    match (u.role.as_str(), u.tenant_id) {
        ("superadmin", Some(_)) => {
            return Err(invalid(
                "a superadmin belongs to no tenant: pass --tenant none",
            ))
        }
        (role, None) if role != "superadmin" => {
            return Err(invalid(format!(
                "role {role} needs a tenant: pass --tenant ID (only a superadmin has --tenant none)"
            )))
        }
        _ => {}
    }
    if u.password.chars().count() < u.password_min_length {
        return Err(invalid(format!(
            "--password must have at least {} characters",
            u.password_min_length
        )));
    }
    let email = u.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    if let Some(e) = email {
        let ok = e.len() <= 255
            && e.split_once('@')
                .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'))
            && !e.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(invalid(format!("--email {e:?} is not an e-mail address")));
        }
    }
    if let Some(tid) = u.tenant_id {
        if tenancy::find_tenant(conn, tid).await?.is_none() {
            return Err(SchemaError::NotFound(format!(
                "tenant {tid} does not exist: register it first (dashctl register-tenant)"
            )));
        }
    }
    if let Some(existing) = users::user_id_by_name(conn, username).await? {
        return existing_user(existing, username, u.if_not_exists);
    }

    let password = u.password.clone();
    let phc = tokio::task::spawn_blocking(move || crate::password::hash(&password))
        .await
        .map_err(|e| SchemaError::Schema(format!("password hashing failed: {e}")))?
        .map_err(|e| SchemaError::Schema(format!("password hashing failed: {e}")))?;

    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    let inserted =
        users::insert_registered_user(&mut tx, u.tenant_id, username, email, &phc, &u.role).await;
    let user_id = match inserted {
        Ok(user_id) => user_id,
        Err(e) => {
            drop(tx);
            if is_server_error(&e, ER_DUP_ENTRY) {
                if let Some(existing) = users::user_id_by_name(conn, username).await? {
                    return existing_user(existing, username, u.if_not_exists);
                }
            }
            return Err(e.into());
        }
    };
    let entry = AuditEntry::new("user.create")
        .tenant(u.tenant_id)
        .entity("user", user_id)
        .details(json!({"username": username, "role": u.role, "email": email, "via": "dashctl"}));
    audit::record_on_database_clock(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(CreatedUser {
        user_id,
        created: true,
    })
}

fn existing_user(user_id: i64, username: &str, if_not_exists: bool) -> Result<CreatedUser> {
    if if_not_exists {
        Ok(CreatedUser {
            user_id,
            created: false,
        })
    } else {
        Err(SchemaError::Conflict(format!(
            "user {username:?} already exists (id {user_id}): pass --if-not-exists to keep it, or pick another --username"
        )))
    }
}

/// Upserts every widget type of [`dash_core::catalog::widget_types`] into
/// `widget_catalog` (by `widget_type`) and returns how many there are.
pub async fn seed_widget_catalog(conn: &mut Conn) -> Result<usize> {
    let types = dash_core::catalog::widget_types();
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    for w in types.iter() {
        tx.exec_drop(
            "INSERT INTO widget_catalog (widget_type, widget_name, description, required_params, default_params, is_active) \
             VALUES (?, ?, ?, ?, ?, 1) \
             ON DUPLICATE KEY UPDATE widget_name = VALUES(widget_name), description = VALUES(description), \
               required_params = VALUES(required_params), default_params = VALUES(default_params), is_active = 1",
            (
                w.widget_type.to_string(),
                w.widget_name.to_string(),
                w.description.to_string(),
                w.params_schema.to_string(),
                w.default_params.to_string(),
            ),
        )
        .await?;
    }
    let entry = AuditEntry {
        entity: Some("widget_catalog"),
        ..AuditEntry::new("widget_catalog.seed").details(
            json!({"widget_types": types.len(), "via": "dashctl", "at": Utc::now().to_rfc3339()}),
        )
    };
    audit::record_on_database_clock(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(types.len())
}
