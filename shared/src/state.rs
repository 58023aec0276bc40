//! What every handler receives besides the request: configuration, database
//! pools, the warm metadata cache and the clock. Cheap to clone.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use crate::cache::MetadataCache;
use crate::config::Config;
use crate::db::Db;
use crate::error::AppResult;

/// Which host runs this process; pools are sized for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    Lambda,
    FastCgi,
    Cgi,
    Cli,
}

impl HostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HostKind::Lambda => "lambda",
            HostKind::FastCgi => "fastcgi",
            HostKind::Cgi => "cgi",
            HostKind::Cli => "cli",
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    group: &'static str,
    host: HostKind,
    config: Config,
    db: Db,
    cache: MetadataCache,
    started: Instant,
    clock_offset: Duration,
}

impl AppState {
    pub fn new(group: &'static str, host: HostKind, config: Config) -> AppResult<Self> {
        // One request per CGI process: a second connection would only cost a handshake.
        let pool_max = if host == HostKind::Cgi {
            1
        } else {
            config.db_pool_max
        };
        let db = Db::new(&config, pool_max)?;
        let cache = MetadataCache::new(config.cache_ttl);
        // Tests move the clock forward (idle timeouts, token expiry) through the
        // environment of the process they start; production never sets it.
        let clock_offset = std::env::var("DASHBOARD_CLOCK_OFFSET_SECONDS")
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .map(Duration::seconds)
            .unwrap_or_else(Duration::zero);
        Ok(AppState {
            inner: Arc::new(Inner {
                group,
                host,
                config,
                db,
                cache,
                started: Instant::now(),
                clock_offset,
            }),
        })
    }

    pub fn group(&self) -> &'static str {
        self.inner.group
    }

    pub fn host(&self) -> HostKind {
        self.inner.host
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn cache(&self) -> &MetadataCache {
        &self.inner.cache
    }

    pub fn uptime_seconds(&self) -> u64 {
        self.inner.started.elapsed().as_secs()
    }

    /// The current time; every rule about expiry and "today" reads it here.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.inner.clock_offset
    }
}
