//! Tenants: the row in the global database, its `config_tenant` JSON (docs/operations.md#configuration),
//! and where its client database lives. The tenant a request acts for comes
//! from its token only (see `auth::context`); nothing here reads a request.

use chrono::NaiveTime;
use chrono_tz::Tz;
use mysql_async::prelude::Queryable;
use serde::{Deserialize, Serialize};

use crate::db::DbLocation;
use crate::error::{AppError, AppResult};
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

type TenantRow = (i64, String, bool, Option<String>);

/// Reads a tenant row from the global database.
pub async fn load_tenant(store: &Store, tenant_id: i64) -> AppResult<Option<Tenant>> {
    let mut conn = store.db().global().await?;
    let row: Option<TenantRow> = conn
        .exec_first(
            "SELECT tenant_id, company_name, is_active, CAST(config_tenant AS CHAR) \
             FROM tenant WHERE tenant_id = ?",
            (tenant_id,),
        )
        .await?;
    Ok(
        row.map(|(tenant_id, company_name, is_active, config)| Tenant {
            tenant_id,
            company_name,
            is_active,
            config: config
                .and_then(|c| serde_json::from_str(&c).ok())
                .unwrap_or_default(),
        }),
    )
}

/// The tenant from the warm cache (refreshed every `ACCOUNT_TTL`, 5 s), or `NotFound`.
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
