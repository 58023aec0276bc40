//! Tenants: superadmin only, except `GET /tenants/current` and
//! `GET /tenants/{own id}`. Creating a tenant registers its row and
//! `config_tenant`; its client database is created and checked by the
//! operator with `dashctl provision-client` / `verify-client` (the response
//! says so in `client_database`).

use ::http::StatusCode;
use chrono::NaiveDate;
use mysql_async::prelude::Queryable;
use mysql_async::TxOpts;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::{keyset_page, ListQuery};
use dash_store::error::{AppError, AppResult};
use dash_store::tenancy::{
    self, DbServer, NewTenantRow, Tenant, TenantChanges, TenantConfig, TenantFilter, TenantRecord,
};
use shared::auth::audit::{self, action};
use shared::auth::authenticate;
use shared::auth::context::TenantContext;
use shared::auth::input::{self, Fields};
use shared::auth::rbac::Permission;
use shared::auth::sessions::iso;
use shared::http::{self, Request, Response};
use shared::state::AppState;

/// A tenant as the API shows it.
#[derive(Debug, Clone, Serialize)]
struct TenantView {
    tenant_id: i64,
    company_name: String,
    asociated_since: Option<String>,
    is_active: bool,
    config: TenantConfig,
    created_at: Option<String>,
    updated_at: Option<String>,
}

impl TenantView {
    fn of(record: TenantRecord) -> Self {
        TenantView {
            tenant_id: record.tenant.tenant_id,
            company_name: record.tenant.company_name,
            asociated_since: record
                .asociated_since
                .map(|d| d.format("%Y-%m-%d").to_string()),
            is_active: record.tenant.is_active,
            config: record.tenant.config,
            created_at: record.created_at.map(iso),
            updated_at: record.updated_at.map(iso),
        }
    }
}

/// The tenant `id` with its dates, or 404.
async fn tenant_record(conn: &mut impl Queryable, id: i64) -> AppResult<TenantRecord> {
    tenancy::find_record(conn, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// `GET /tenants/{id}` and `GET /tenants/current` once the caller may see `id`.
async fn tenant_response(state: &AppState, id: i64) -> AppResult<Response> {
    let mut conn = state.db().global().await?;
    let record = tenant_record(&mut conn, id).await?;
    Ok(http::data(&TenantView::of(record)))
}

pub(crate) async fn list_tenants(req: Request, state: AppState) -> AppResult<Response> {
    shared::auth::require(&req, &state, Permission::TenantsManage).await?;
    let list = ListQuery::parse(&req)?;
    let filter = TenantFilter {
        active: list.active,
        name_contains: list.q.as_deref(),
        after: list.after,
    };
    let mut conn = state.db().global().await?;
    let records = tenancy::list_records(&mut conn, &filter, list.limit).await?;
    let tenants: Vec<TenantView> = records.into_iter().map(TenantView::of).collect();
    Ok(keyset_page(tenants, list.limit, |t| t.tenant_id))
}

pub(crate) async fn current_tenant(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = authenticate(&req, &state).await?;
    let id = ctx.tenant_id.ok_or(AppError::NotFound)?;
    tenant_response(&state, id).await
}

pub(crate) async fn get_tenant(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = authenticate(&req, &state).await?;
    let id = req.path_id("id")?;
    if !ctx.has(Permission::TenantsManage) && ctx.tenant_id != Some(id) {
        return Err(AppError::NotFound);
    }
    tenant_response(&state, id).await
}

const CONFIG_KEYS: [&str; 8] = [
    "theme",
    "language",
    "timezone",
    "data_timezone",
    "db_name",
    "db_host",
    "db_port",
    "production_day_start",
];

/// Applies a `config` object from a body onto `base`; `null` clears a key.
/// Errors name the field as `config.<key>`.
fn apply_config(base: &mut TenantConfig, value: &Value) -> AppResult<()> {
    let Value::Object(obj) = value else {
        return Err(AppError::validation("config", "config must be an object"));
    };
    for (key, v) in obj {
        let field = format!("config.{}", input::field_label(key));
        if !CONFIG_KEYS.contains(&key.as_str()) {
            return Err(AppError::validation(
                field,
                format!("unknown key; config takes {}", CONFIG_KEYS.join(", ")),
            ));
        }
        if key == "db_port" {
            base.db_port = match v {
                Value::Null => None,
                other => Some(
                    other
                        .as_u64()
                        .filter(|p| (1..=65535).contains(p))
                        .map(|p| p as u16)
                        .ok_or_else(|| {
                            AppError::validation(field.clone(), "db_port must be a port number")
                        })?,
                ),
            };
            continue;
        }
        let s = match v {
            Value::Null => None,
            Value::String(s) => {
                input::check_len(&field, s, 1, 253)?;
                if s.chars().any(|c| c.is_control() || matches!(c, '<' | '>')) {
                    return Err(AppError::validation(
                        field,
                        "must not contain control characters or < >",
                    ));
                }
                Some(s.clone())
            }
            _ => return Err(AppError::validation(field, "must be a string")),
        };
        match key.as_str() {
            "theme" => base.theme = s,
            "language" => base.language = s,
            "timezone" => base.timezone = s,
            "data_timezone" => base.data_timezone = s,
            "db_name" => base.db_name = s,
            "db_host" => base.db_host = s,
            "production_day_start" => base.production_day_start = s,
            _ => {}
        }
    }
    if base.timezone.is_none() {
        return Err(AppError::validation(
            "config.timezone",
            "config.timezone is required: the plant's IANA zone, e.g. Europe/Madrid",
        ));
    }
    if base.db_port.is_some() && base.db_host.is_none() {
        return Err(AppError::validation(
            "config.db_port",
            "db_port needs db_host",
        ));
    }
    tenancy::validate_config(base).map_err(|e| match e {
        AppError::Validation { message, field } => AppError::Validation {
            message,
            field: format!("config.{field}"),
        },
        other => other,
    })
}

fn date_field(f: &Fields, name: &str) -> AppResult<Option<NaiveDate>> {
    match f.opt_str(name)? {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|_| s.len() == 10)
            .map(Some)
            .ok_or_else(|| AppError::validation(name, format!("{name} must be a date YYYY-MM-DD"))),
    }
}

fn conflict_on_company(e: AppError) -> AppError {
    if matches!(e, AppError::Conflict { .. }) {
        AppError::conflict("a tenant with this company_name already exists")
    } else {
        e
    }
}

/// The field of `config` a refused database is blamed on: `db_name` unless
/// only the server changed.
fn database_field(before: Option<&TenantConfig>, after: &TenantConfig) -> &'static str {
    match before {
        Some(b) if b.db_name == after.db_name && b.db_host != after.db_host => "config.db_host",
        Some(b) if b.db_name == after.db_name && b.db_port != after.db_port => "config.db_port",
        _ => "config.db_name",
    }
}

/// A tenant's database is its own
/// (docs/operations.md#a-tenants-database-is-its-own): a 409 naming `field`
/// and the tenant that already uses the client database of `t`.
async fn check_database_is_free(
    conn: &mut impl Queryable,
    state: &AppState,
    t: &Tenant,
    field: &str,
) -> AppResult<()> {
    let location = t.db_location();
    let default_server = DbServer::from_url(&state.config().db.client_db_url)?;
    let used =
        tenancy::tenant_using_database(conn, &location, &default_server, Some(t.tenant_id)).await?;
    match used {
        None => Ok(()),
        Some(used) => Err(AppError::conflict_on(field, used.to_string())),
    }
}

/// Where the new tenant's client database is to live, and how the operator creates it.
fn client_database_note(t: &Tenant) -> Value {
    let location = t.db_location();
    json!({
        "db_name": location.db_name,
        "db_host": location.host,
        "db_port": location.port,
        "note": format!(
            "The tenant is registered; its client database is not created by the API. \
             Create and check it with `dashctl provision-client --tenant {id}` and \
             `dashctl verify-client --tenant {id}`.",
            id = t.tenant_id
        ),
    })
}

/// An audit entry of `action` on the tenant `id`, filed under that tenant.
fn tenant_entry<'a>(
    ctx: &TenantContext,
    action: &'a str,
    id: i64,
    ip: &'a str,
    details: Value,
) -> audit::AuditEntry<'a> {
    audit::by(ctx, action)
        .tenant(Some(id))
        .entity("tenant", id)
        .details(details)
        .ip(ip)
}

pub(crate) async fn create_tenant(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = shared::auth::require(&req, &state, Permission::TenantsManage).await?;
    let f = Fields::parse(
        &req,
        &["company_name", "asociated_since", "is_active", "config"],
    )?;
    let company_name = f.req_str("company_name")?;
    input::check_text("company_name", company_name, 150)?;
    let since = date_field(&f, "asociated_since")?;
    let is_active = f.opt_bool("is_active")?.unwrap_or(true);
    let mut config = TenantConfig {
        theme: Some("dark".into()),
        language: Some("es".into()),
        data_timezone: Some("UTC".into()),
        production_day_start: Some("00:00".into()),
        ..Default::default()
    };
    apply_config(
        &mut config,
        f.raw("config").unwrap_or(&Value::Object(Map::new())),
    )?;
    let now = state.now();
    let new_tenant = NewTenantRow {
        company_name,
        asociated_since: since.unwrap_or_else(|| now.date_naive()),
        is_active,
        config: &config,
    };
    let ip = req.client_ip();
    let mut conn = state.db().global().await?;
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    let tenant_id = tenancy::insert_tenant(&mut tx, &new_tenant, now)
        .await
        .map_err(|e| conflict_on_company(e.into()))?;
    if config.db_name.is_none() {
        config.db_name = Some(format!("dashboard_client_{tenant_id}"));
        tenancy::set_config(&mut tx, tenant_id, &config).await?;
    }
    // Checked once the id is known (it names the default database); a refusal
    // drops the transaction, and the row with it.
    let created = Tenant {
        tenant_id,
        company_name: company_name.to_string(),
        is_active,
        config: config.clone(),
    };
    check_database_is_free(&mut tx, &state, &created, database_field(None, &config)).await?;
    let entry = tenant_entry(
        &ctx,
        action::TENANT_CREATE,
        tenant_id,
        &ip,
        json!({ "company_name": company_name, "config_tenant": config, "is_active": is_active }),
    );
    audit::record(&mut tx, now, &entry).await?;
    let record = tenant_record(&mut tx, tenant_id).await?;
    tx.commit().await?;
    let note = client_database_note(&record.tenant);
    let mut body = serde_json::to_value(TenantView::of(record)).map_err(AppError::internal)?;
    body["client_database"] = note;
    Ok(http::json(StatusCode::CREATED, &json!({ "data": body })))
}

pub(crate) async fn update_tenant(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = shared::auth::require(&req, &state, Permission::TenantsManage).await?;
    let id = req.path_id("id")?;
    let mut conn = state.db().global().await?;
    let current = tenant_record(&mut conn, id).await?;
    drop(conn);
    let f = Fields::parse(&req, &["company_name", "asociated_since", "config"])?;
    let mut changes = TenantChanges::default();
    let mut changed = Map::new();
    if let Some(name) = f.opt_str("company_name")? {
        input::check_text("company_name", name, 150)?;
        if name != current.tenant.company_name {
            changes.company_name = Some(name);
            changed.insert("company_name".into(), json!(name));
        }
    } else if f.has("company_name") {
        return Err(AppError::validation(
            "company_name",
            "company_name cannot be empty",
        ));
    }
    if let Some(since) = date_field(&f, "asociated_since")? {
        changes.asociated_since = Some(since);
        changed.insert(
            "asociated_since".into(),
            json!(since.format("%Y-%m-%d").to_string()),
        );
    }
    let mut config = current.tenant.config.clone();
    if let Some(raw) = f.raw("config") {
        apply_config(&mut config, raw)?;
        if config.db_name.is_none() {
            config.db_name = Some(format!("dashboard_client_{id}"));
        }
        if config != current.tenant.config {
            changes.config = Some(&config);
            changed.insert("config_tenant".into(), json!(config));
        }
    }
    if changes.is_empty() {
        return Ok(http::data(&TenantView::of(current)));
    }
    let now = state.now();
    let ip = req.client_ip();
    let mut conn = state.db().global().await?;
    let updated = Tenant {
        config: config.clone(),
        ..current.tenant.clone()
    };
    if updated.db_location() != current.tenant.db_location() {
        let field = database_field(Some(&current.tenant.config), &config);
        check_database_is_free(&mut conn, &state, &updated, field).await?;
    }
    tenancy::update_tenant(&mut conn, id, &changes, now)
        .await
        .map_err(|e| conflict_on_company(e.into()))?;
    state.cache().tenants.invalidate(&id);
    state.cache().metadata.invalidate(&id);
    let entry = tenant_entry(
        &ctx,
        action::TENANT_UPDATE,
        id,
        &ip,
        json!({ "changed": changed }),
    );
    audit::record(&mut conn, now, &entry).await?;
    let record = tenant_record(&mut conn, id).await?;
    Ok(http::data(&TenantView::of(record)))
}

async fn set_tenant_active(req: Request, state: AppState, active: bool) -> AppResult<Response> {
    let ctx = shared::auth::require(&req, &state, Permission::TenantsManage).await?;
    let id = req.path_id("id")?;
    let now = state.now();
    let mut conn = state.db().global().await?;
    let current = tenant_record(&mut conn, id).await?;
    if current.tenant.is_active != active {
        tenancy::set_active(&mut conn, id, active, now).await?;
        let ip = req.client_ip();
        let action = if active {
            action::TENANT_ACTIVATE
        } else {
            action::TENANT_DEACTIVATE
        };
        let entry = tenant_entry(
            &ctx,
            action,
            id,
            &ip,
            json!({ "company_name": current.tenant.company_name }),
        );
        audit::record(&mut conn, now, &entry).await?;
    }
    state.cache().tenants.invalidate(&id);
    let record = tenant_record(&mut conn, id).await?;
    Ok(http::data(&TenantView::of(record)))
}

pub(crate) async fn deactivate_tenant(req: Request, state: AppState) -> AppResult<Response> {
    set_tenant_active(req, state, false).await
}

pub(crate) async fn activate_tenant(req: Request, state: AppState) -> AppResult<Response> {
    set_tenant_active(req, state, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_the_key() {
        let mut c = TenantConfig::default();
        let e = apply_config(&mut c, &json!({"timezone": "Mars/Base"})).unwrap_err();
        assert_eq!(e.field(), Some("config.timezone"));
        let e =
            apply_config(&mut c, &json!({"timezone": "UTC", "db_name": "x; drop"})).unwrap_err();
        assert_eq!(e.field(), Some("config.db_name"));
        let e = apply_config(&mut TenantConfig::default(), &json!({"language": "es"})).unwrap_err();
        assert_eq!(e.field(), Some("config.timezone"));
        let e = apply_config(&mut c, &json!({"timezone": "UTC", "evil": 1})).unwrap_err();
        assert_eq!(e.field(), Some("config.evil"));
        let e = apply_config(
            &mut c,
            &json!({"timezone": "UTC", "db_port": 70000, "db_host": "h"}),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("config.db_port"));
        let mut ok = TenantConfig::default();
        apply_config(
            &mut ok,
            &json!({"timezone": "Europe/Madrid", "language": "en"}),
        )
        .unwrap();
        assert_eq!(ok.language.as_deref(), Some("en"));
    }
}
