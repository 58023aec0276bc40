//! Configuration, parsed once per process from the environment.
//!
//! Outside Lambda the variables may come from an env file: the path in
//! `DASHBOARD_ENV_FILE`, else `.env` beside the executable, else `.env` in the
//! working directory. mod_fcgid starts processes with nothing but `PATH`, so the
//! file is how a FastCGI process learns its configuration.

use std::time::Duration;

use dash_store::settings::{parse_num, seconds, DbSettings, SettingsError};

/// When to mark cookies `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecure {
    Always,
    Never,
    /// `Secure` when the request came over HTTPS (`HTTPS=on` or `X-Forwarded-Proto: https`).
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The store's settings (databases, pools, metadata cache), parsed by the store.
    pub db: DbSettings,
    pub jwt_secret: Vec<u8>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub idle_timeout: Duration,
    pub max_sessions_per_user: u32,
    pub cookie_secure: CookieSecure,
    pub log_format: LogFormat,
    /// Prefix the site is mounted under (e.g. `/~plant/dashboard`); stripped before routing.
    pub base_path: String,
    /// When set, templates are read from this directory on every render (live editing).
    pub templates_dir: Option<String>,
    /// The longest a request may take before it is answered 503 (a database that
    /// hangs instead of refusing); below API Gateway's 30 s and mod_fcgid's IO timeout.
    pub request_timeout: Duration,
    pub password_min_length: usize,
    pub lockout_max_failures: u32,
    pub lockout_window: Duration,
    pub lockout_duration: Duration,
    pub rate_limit_user_per_min: u32,
    pub rate_limit_auth_ip_per_min: u32,
}

/// A setting that is missing or invalid; the message names the variable.
pub type ConfigError = SettingsError;

/// Loads the env file (if any) into the process environment, once.
pub fn load_env_file() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(path) = std::env::var("DASHBOARD_ENV_FILE") {
            let _ = dotenvy::from_path(path);
            return;
        }
        if let Some(beside_exe) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(".env")))
        {
            if beside_exe.is_file() {
                let _ = dotenvy::from_path(beside_exe);
                return;
            }
        }
        let _ = dotenvy::dotenv();
    });
}

impl Config {
    /// Reads the configuration from the process environment (after [`load_env_file`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses from any key lookup; tests pass a map instead of touching the process env.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let db = DbSettings::from_lookup(&get)?;
        let jwt_secret = var("JWT_SECRET").ok_or(ConfigError::Missing("JWT_SECRET"))?;
        if jwt_secret.len() < 32 {
            return Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                reason: "must be at least 32 bytes".into(),
            });
        }
        let cookie_secure = match var("COOKIE_SECURE").as_deref().unwrap_or("auto") {
            "true" | "1" | "yes" => CookieSecure::Always,
            "false" | "0" | "no" => CookieSecure::Never,
            "auto" => CookieSecure::Auto,
            other => {
                return Err(ConfigError::Invalid {
                    name: "COOKIE_SECURE",
                    reason: format!("expected true, false or auto, got {other:?}"),
                })
            }
        };
        let on_lambda = var("AWS_LAMBDA_RUNTIME_API").is_some();
        let log_format = match var("LOG_FORMAT").as_deref() {
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            None if on_lambda => LogFormat::Json,
            None => LogFormat::Text,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "LOG_FORMAT",
                    reason: format!("expected json or text, got {other:?}"),
                })
            }
        };
        let secs = |name: &'static str, default: u64| seconds(name, var, default);
        let base_path = var("BASE_PATH")
            .map(|p| p.trim_end_matches('/').to_string())
            .unwrap_or_default();
        Ok(Config {
            db,
            jwt_secret: jwt_secret.into_bytes(),
            jwt_issuer: var("JWT_ISSUER").unwrap_or_else(|| "dashboard-saas".into()),
            jwt_audience: var("JWT_AUDIENCE").unwrap_or_else(|| "dashboard-saas-api".into()),
            access_token_ttl: secs("ACCESS_TOKEN_TTL_SECONDS", 15 * 60)?,
            refresh_token_ttl: secs("REFRESH_TOKEN_TTL_SECONDS", 7 * 24 * 3600)?,
            idle_timeout: secs("IDLE_TIMEOUT_SECONDS", 30 * 60)?,
            max_sessions_per_user: parse_num(
                "MAX_SESSIONS_PER_USER",
                var("MAX_SESSIONS_PER_USER"),
                3,
            )?,
            cookie_secure,
            log_format,
            base_path,
            templates_dir: var("TEMPLATES_DIR"),
            request_timeout: secs("REQUEST_TIMEOUT_SECONDS", 25)?,
            password_min_length: parse_num("PASSWORD_MIN_LENGTH", var("PASSWORD_MIN_LENGTH"), 8)?,
            lockout_max_failures: parse_num(
                "LOCKOUT_MAX_FAILURES",
                var("LOCKOUT_MAX_FAILURES"),
                5,
            )?,
            lockout_window: secs("LOCKOUT_WINDOW_SECONDS", 15 * 60)?,
            lockout_duration: secs("LOCKOUT_DURATION_SECONDS", 15 * 60)?,
            rate_limit_user_per_min: parse_num(
                "RATE_LIMIT_USER_PER_MIN",
                var("RATE_LIMIT_USER_PER_MIN"),
                100,
            )?,
            rate_limit_auth_ip_per_min: parse_num(
                "RATE_LIMIT_AUTH_IP_PER_MIN",
                var("RATE_LIMIT_AUTH_IP_PER_MIN"),
                20,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(&[
            ("DATABASE_URL", "mysql://root@127.0.0.1:3306"),
            ("JWT_SECRET", SECRET),
        ])
        .unwrap();
        assert_eq!(c.db.global_db_name, "dashboard_global");
        assert_eq!(c.db.client_db_url, c.db.database_url);
        assert_eq!(c.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.cookie_secure, CookieSecure::Auto);
    }

    #[test]
    fn short_jwt_secret_is_refused() {
        let err = parse(&[
            ("DATABASE_URL", "mysql://root@127.0.0.1:3306"),
            ("JWT_SECRET", "short"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("JWT_SECRET"));
    }

    #[test]
    fn missing_database_url_is_named() {
        let err = parse(&[("JWT_SECRET", SECRET)]).unwrap_err();
        assert_eq!(err.to_string(), "DATABASE_URL is not set");
    }

    #[test]
    fn bad_numbers_and_names_are_named() {
        let base = [
            ("DATABASE_URL", "mysql://root@127.0.0.1:3306"),
            ("JWT_SECRET", SECRET),
        ];
        let mut with = base.to_vec();
        with.push(("DB_POOL_MAX", "many"));
        assert!(parse(&with)
            .unwrap_err()
            .to_string()
            .contains("DB_POOL_MAX"));
        let mut with = base.to_vec();
        with.push(("DB_GLOBAL_NAME", "x; DROP TABLE user"));
        assert!(parse(&with)
            .unwrap_err()
            .to_string()
            .contains("DB_GLOBAL_NAME"));
    }
}
