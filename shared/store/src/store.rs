//! [`Store`]: what every store function that needs more than one connection takes —
//! the pools, the warm plant caches, the kind of process and the clock. Cheap to
//! clone. The web runtime's `AppState` is a `Store` plus the request-side settings.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::cache::PlantCache;
use crate::db::Db;
use crate::error::AppResult;
use crate::settings::DbSettings;

/// Which host runs this process; pools are sized for it, and background writes
/// are allowed only where the process outlives its request.
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
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    host: HostKind,
    db: Db,
    cache: PlantCache,
    clock_offset: Duration,
}

impl Store {
    pub fn new(host: HostKind, settings: &DbSettings) -> AppResult<Self> {
        // One request per CGI process: a second connection would only cost a handshake.
        let pool_max = if host == HostKind::Cgi {
            1
        } else {
            settings.pool_max
        };
        // Tests move the clock forward (idle timeouts, token expiry) through the
        // environment of the process they start; production never sets it.
        let clock_offset = std::env::var("DASHBOARD_CLOCK_OFFSET_SECONDS")
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .map(Duration::seconds)
            .unwrap_or_else(Duration::zero);
        Ok(Store {
            inner: Arc::new(Inner {
                host,
                db: Db::new(settings, pool_max)?,
                cache: PlantCache::new(settings.metadata_ttl),
                clock_offset,
            }),
        })
    }

    pub fn host(&self) -> HostKind {
        self.inner.host
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn cache(&self) -> &PlantCache {
        &self.inner.cache
    }

    /// The current time; every rule about expiry and "today" reads it here.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.inner.clock_offset
    }
}
