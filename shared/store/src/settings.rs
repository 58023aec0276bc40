//! The store's own settings, read from the environment by the store itself: where
//! the databases are, how many connections a process keeps, how long it waits for
//! one, and how long plant metadata stays warm. The web runtime's `Config` embeds
//! them; nothing above the store reads these variables.

use std::time::Duration;

use thiserror::Error;

/// A setting that is missing or cannot be used; the message names the variable.
#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Debug, Clone)]
pub struct DbSettings {
    /// `mysql://user:pass@host:port` of the server holding the global database.
    pub database_url: String,
    pub global_db_name: String,
    /// Server for client databases when a tenant names no `db_host`; defaults to `database_url`.
    pub client_db_url: String,
    pub pool_max: usize,
    pub connect_timeout: Duration,
    /// How long a tenant's plant metadata stays in the warm cache.
    pub metadata_ttl: Duration,
}

impl DbSettings {
    /// Parses from any key lookup (the process environment, or a map in tests).
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let database_url = var("DATABASE_URL").ok_or(SettingsError::Missing("DATABASE_URL"))?;
        validate_mysql_url("DATABASE_URL", &database_url)?;
        let client_db_url = var("CLIENT_DB_URL").unwrap_or_else(|| database_url.clone());
        validate_mysql_url("CLIENT_DB_URL", &client_db_url)?;
        let global_db_name = var("DB_GLOBAL_NAME").unwrap_or_else(|| "dashboard_global".into());
        if !crate::db::is_valid_identifier(&global_db_name) {
            return Err(SettingsError::Invalid {
                name: "DB_GLOBAL_NAME",
                reason: "use letters, digits and _ only (at most 64)".into(),
            });
        }
        Ok(DbSettings {
            database_url,
            global_db_name,
            client_db_url,
            pool_max: parse_num("DB_POOL_MAX", var("DB_POOL_MAX"), 10)?,
            connect_timeout: seconds("DB_CONNECT_TIMEOUT_SECONDS", var, 2)?,
            metadata_ttl: seconds("CACHE_TTL_SECONDS", var, 3600)?,
        })
    }
}

/// A whole number setting, or `default` when the variable is not set.
pub fn parse_num<T: std::str::FromStr>(
    name: &'static str,
    value: Option<String>,
    default: T,
) -> Result<T, SettingsError> {
    match value {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| SettingsError::Invalid {
            name,
            reason: format!("expected a non-negative whole number, got {v:?}"),
        }),
    }
}

/// A duration setting given in whole seconds.
pub fn seconds(
    name: &'static str,
    var: impl Fn(&str) -> Option<String>,
    default: u64,
) -> Result<Duration, SettingsError> {
    parse_num(name, var(name), default).map(Duration::from_secs)
}

fn validate_mysql_url(name: &'static str, url: &str) -> Result<(), SettingsError> {
    mysql_async::Opts::from_url(url)
        .map(|_| ())
        .map_err(|e| SettingsError::Invalid {
            name,
            reason: format!("not a mysql:// URL ({e})"),
        })
}
