//! The warm cache: per-process, per-tenant copies of what rarely changes (tenant
//! rows, lines, areas, products, shifts, filters, reason codes, system_config).
//! FastCGI and Lambda processes keep it across requests, so a request needs no
//! metadata query at all; CGI pays one load per request. Entries expire after a
//! TTL (1 hour by default) and writes through the API invalidate them.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::AppResult;

/// A map whose entries expire, with hit and miss counters. Expired entries are
/// swept whenever the map has doubled since the last sweep, so a long-lived
/// FastCGI or Lambda process holds at most about twice what was used within one
/// TTL (sessions come and go; a process can live for days).
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<Entries<K, V>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

struct Entries<K, V> {
    map: HashMap<K, (Instant, V)>,
    sweep_at: usize,
}

/// The smallest map that is swept; below it expired entries just wait to be
/// replaced or read again.
const MIN_SWEEP: usize = 64;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    pub hits: u64,
    pub misses: u64,
    /// Age in seconds of the oldest entry, if any.
    pub oldest_age_seconds: Option<u64>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                sweep_at: MIN_SWEEP,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The fresh cached value, if any (counts a hit or a miss).
    pub fn get(&self, key: &K) -> Option<V> {
        let found = self.entries.lock().ok().and_then(|entries| {
            entries
                .map
                .get(key)
                .filter(|(at, _)| at.elapsed() < self.ttl)
                .map(|(_, v)| v.clone())
        });
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn insert(&self, key: K, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.map.len() >= entries.sweep_at {
                let ttl = self.ttl;
                entries.map.retain(|_, (at, _)| at.elapsed() < ttl);
                entries.sweep_at = (entries.map.len() * 2).max(MIN_SWEEP);
            }
            entries.map.insert(key, (Instant::now(), value));
        }
    }

    /// Returns the cached value or loads, stores and returns it. Two concurrent
    /// misses may both load; the loads are idempotent reads, so that is cheaper
    /// than holding a lock across a database round trip.
    pub async fn get_or_load<F, Fut>(&self, key: K, load: F) -> AppResult<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<V>>,
    {
        if let Some(v) = self.get(&key) {
            return Ok(v);
        }
        let value = load().await?;
        self.insert(key, value.clone());
        Ok(value)
    }

    pub fn invalidate(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.map.remove(key);
        }
    }

    pub fn stats(&self) -> CacheStats {
        let (entries, oldest) = match self.entries.lock() {
            Ok(e) => (
                e.map.len(),
                e.map.values().map(|(at, _)| at.elapsed().as_secs()).max(),
            ),
            Err(_) => (0, None),
        };
        CacheStats {
            entries,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            oldest_age_seconds: oldest,
        }
    }
}

/// The plant caches one process keeps: what the store reads rarely and every request needs.
pub struct PlantCache {
    /// Tenant rows, kept [`ACCOUNT_TTL`] like the sessions.
    pub tenants: TtlCache<i64, Arc<crate::tenancy::Tenant>>,
    /// Client-database metadata per tenant.
    pub metadata: TtlCache<i64, Arc<crate::metadata::TenantMetadata>>,
}

/// How long a session, user or tenant row may be trusted before it is read
/// again. The process that makes a change forgets its copy at once; every other
/// FastCGI or Lambda process still answers from its own for up to this long, so
/// it bounds how long a logged-out token keeps working elsewhere (30 s was too
/// long: docs/roles.md promises 5 s). 4 s leaves the promise a margin for the
/// request in flight and the one that follows (measured with two FastCGI
/// processes: tests/tests/integration/hot_path.rs; at 5 s the refusal came
/// 5.0–5.1 s after the logout). It costs one indexed session read per active
/// session and process every 4 s.
pub const ACCOUNT_TTL: Duration = Duration::from_secs(4);

impl PlantCache {
    pub fn new(metadata_ttl: Duration) -> Self {
        PlantCache {
            tenants: TtlCache::new(ACCOUNT_TTL),
            metadata: TtlCache::new(metadata_ttl),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loads_once_then_hits() {
        let cache: TtlCache<i64, String> = TtlCache::new(Duration::from_secs(60));
        let v = cache
            .get_or_load(1, || async { Ok("a".to_string()) })
            .await
            .unwrap();
        assert_eq!(v, "a");
        let v = cache
            .get_or_load(1, || async { Ok("b".to_string()) })
            .await
            .unwrap();
        assert_eq!(v, "a");
        let s = cache.stats();
        assert_eq!((s.entries, s.hits, s.misses), (1, 1, 1));
        cache.invalidate(&1);
        assert_eq!(cache.get(&1), None);
    }

    #[test]
    fn expired_entries_are_swept_as_the_map_grows() {
        let cache: TtlCache<usize, usize> = TtlCache::new(Duration::from_millis(0));
        for i in 0..10_000 {
            cache.insert(i, i);
        }
        assert!(cache.stats().entries <= MIN_SWEEP, "{:?}", cache.stats());
        let fresh: TtlCache<usize, usize> = TtlCache::new(Duration::from_secs(60));
        for i in 0..1_000 {
            fresh.insert(i, i);
        }
        assert_eq!(fresh.stats().entries, 1_000, "fresh entries are kept");
    }

    #[tokio::test]
    async fn entries_expire() {
        let cache: TtlCache<i64, i64> = TtlCache::new(Duration::from_millis(0));
        cache.insert(1, 1);
        assert_eq!(cache.get(&1), None);
    }
}
