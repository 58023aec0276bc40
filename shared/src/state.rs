//! What every handler receives besides the request: the store (pools, plant
//! caches, clock), the web runtime's configuration and the session cache. Cheap
//! to clone.

use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dash_store::cache::TtlCache;
use dash_store::{AppResult, HostKind, Store};

use crate::auth::context::SessionState;
use crate::auth::tokens::AccessClaims;
use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    group: &'static str,
    store: Store,
    config: Config,
    /// Sessions (by refresh-token family) with their user and tenant rows, so an
    /// authenticated request needs no session query; short TTL so a logout in
    /// another process, a deactivated user or tenant is refused soon after.
    sessions: TtlCache<String, Arc<SessionState>>,
    /// Access tokens whose signature and claims were verified, by token
    /// ([`crate::auth::tokens::decode_access`]: the same token always gets the
    /// same answer; expiry is checked on every request).
    verified_tokens: TtlCache<String, Arc<AccessClaims>>,
    started: Instant,
}

/// How long a verified token is remembered: not a freshness bound (the answer
/// never changes) but a memory bound — a process keeps about the tokens of
/// the last minute.
const VERIFIED_TOKEN_TTL: Duration = Duration::from_secs(60);

impl AppState {
    pub fn new(group: &'static str, host: HostKind, config: Config) -> AppResult<Self> {
        let store = Store::new(host, &config.db)?;
        Ok(AppState {
            inner: Arc::new(Inner {
                group,
                store,
                config,
                sessions: TtlCache::new(dash_store::cache::ACCOUNT_TTL),
                verified_tokens: TtlCache::new(VERIFIED_TOKEN_TTL),
                started: Instant::now(),
            }),
        })
    }

    pub fn group(&self) -> &'static str {
        self.inner.group
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn sessions(&self) -> &TtlCache<String, Arc<SessionState>> {
        &self.inner.sessions
    }

    pub fn verified_tokens(&self) -> &TtlCache<String, Arc<AccessClaims>> {
        &self.inner.verified_tokens
    }

    pub fn uptime_seconds(&self) -> u64 {
        self.inner.started.elapsed().as_secs()
    }
}

/// A handler hands its state to store functions that take a [`Store`]: the state
/// is a store plus the web runtime's own parts, so it derefs to the store
/// (`state.db()`, `state.now()`, `tenancy::tenant(&state, id)`).
impl Deref for AppState {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.inner.store
    }
}
