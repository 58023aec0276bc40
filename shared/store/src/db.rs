//! MySQL connection pools: one for the global database, one per client database,
//! opened lazily and kept small (one connection under CGI, where a process serves
//! one request). Every acquisition is bounded in time so an unreachable server
//! becomes a 503 within seconds instead of a hang.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts};

use crate::error::{AppError, AppResult};
use crate::settings::DbSettings;

/// MySQL error codes we turn into client errors.
const ER_DUP_ENTRY: u16 = 1062;
const ER_NO_SUCH_TABLE: u16 = 1146;
const ER_BAD_FIELD_ERROR: u16 = 1054;
const ER_BAD_DB_ERROR: u16 = 1049;

/// Where a client database lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DbLocation {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub db_name: String,
}

#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

struct DbInner {
    global: Pool,
    client_base: Opts,
    pool_max: usize,
    acquire_timeout: Duration,
    clients: Mutex<HashMap<DbLocation, Pool>>,
}

/// True for names we may splice into SQL as identifiers (database and table names).
pub fn is_valid_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Set on every connection so that connecting needs no settings query (one
/// round trip less per connection, and a CGI process opens two).
const MAX_ALLOWED_PACKET: usize = 16 * 1024 * 1024;
const WAIT_TIMEOUT_SECONDS: usize = 28_800;

/// A pool of one is a CGI process's: it serves one request and exits, so a
/// connection going back to it is never handed to another user and needs no
/// `COM_RESET_CONNECTION` (a round trip on every return).
fn pool_opts(max: usize) -> PoolOpts {
    let constraints = PoolConstraints::new(0, max.max(1)).unwrap_or_default();
    PoolOpts::default()
        .with_constraints(constraints)
        .with_inactive_connection_ttl(Duration::from_secs(60))
        .with_reset_connection(max > 1)
}

impl Db {
    /// Builds the pools without connecting; the first query connects.
    pub fn new(settings: &DbSettings, pool_max: usize) -> AppResult<Self> {
        let server = Opts::from_url(&settings.database_url).map_err(AppError::internal)?;
        let global_opts = OptsBuilder::from_opts(server)
            .db_name(Some(settings.global_db_name.clone()))
            .pool_opts(pool_opts(pool_max))
            .prefer_socket(false)
            .max_allowed_packet(Some(MAX_ALLOWED_PACKET))
            .wait_timeout(Some(WAIT_TIMEOUT_SECONDS));
        let client_base = Opts::from_url(&settings.client_db_url).map_err(AppError::internal)?;
        Ok(Db {
            inner: Arc::new(DbInner {
                global: Pool::new(global_opts),
                client_base,
                pool_max,
                acquire_timeout: settings.connect_timeout,
                clients: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// A connection to the global database.
    pub async fn global(&self) -> AppResult<Conn> {
        self.acquire(&self.inner.global).await
    }

    /// Runs `work` — a few short statements on the global database, on a
    /// pooled connection that is not pinged first — within the acquire
    /// timeout as a whole: a server that hangs makes it a 503 as the ping
    /// would, without the ping's round trip on every authenticated request.
    pub async fn global_bounded<T, F, Fut>(&self, work: F) -> AppResult<T>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: std::future::Future<Output = AppResult<T>>,
    {
        let bounded = async {
            let conn = self.inner.global.get_conn().await.map_err(map_err)?;
            work(conn).await
        };
        match tokio::time::timeout(self.inner.acquire_timeout, bounded).await {
            Ok(result) => result,
            Err(_) => Err(timed_out("the database did not answer in time")),
        }
    }

    /// A connection to a tenant's client database.
    pub async fn client(&self, location: &DbLocation) -> AppResult<Conn> {
        let pool = self.client_pool(location)?;
        self.acquire(&pool).await
    }

    fn client_pool(&self, location: &DbLocation) -> AppResult<Pool> {
        if !is_valid_identifier(&location.db_name) {
            return Err(AppError::internal(format!(
                "client database name {:?} is not a valid identifier",
                location.db_name
            )));
        }
        let mut clients = self
            .inner
            .clients
            .lock()
            .map_err(|_| AppError::internal("client pool registry poisoned"))?;
        if let Some(pool) = clients.get(location) {
            return Ok(pool.clone());
        }
        let mut builder = OptsBuilder::from_opts(self.inner.client_base.clone())
            .db_name(Some(location.db_name.clone()))
            .pool_opts(pool_opts(self.inner.pool_max))
            .prefer_socket(false)
            .max_allowed_packet(Some(MAX_ALLOWED_PACKET))
            .wait_timeout(Some(WAIT_TIMEOUT_SECONDS));
        if let Some(host) = &location.host {
            builder = builder.ip_or_hostname(host.clone());
        }
        if let Some(port) = location.port {
            builder = builder.tcp_port(port);
        }
        let pool = Pool::new(builder);
        clients.insert(location.clone(), pool.clone());
        Ok(pool)
    }

    /// A connection, checked within the acquire timeout. A process that keeps a
    /// pool (FastCGI, Lambda) pings the connection it reuses: a server that hangs
    /// instead of refusing would otherwise leave the first query waiting forever.
    /// A CGI process (pool of one) has just connected and skips the ping.
    async fn acquire(&self, pool: &Pool) -> AppResult<Conn> {
        let check = async {
            let mut conn = pool.get_conn().await?;
            if self.inner.pool_max > 1 {
                conn.ping().await?;
            }
            Ok::<Conn, mysql_async::Error>(conn)
        };
        match tokio::time::timeout(self.inner.acquire_timeout, check).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(map_err(e)),
            Err(_) => Err(timed_out("timed out connecting to the database")),
        }
    }

    /// Pings the global database: one round trip (`COM_PING`), bounded in time
    /// as a whole — not a ping on acquire, then a query, then a reset when the
    /// connection goes back to the pool (a ping leaves no session state).
    pub async fn ping_global(&self) -> AppResult<()> {
        self.global_bounded(|mut conn| async move {
            conn.reset_connection(false);
            conn.ping().await.map_err(map_err)
        })
        .await
    }

    /// Closes every pool cleanly (CGI processes call this before exiting).
    pub async fn disconnect(self) {
        let pools: Vec<Pool> = match self.inner.clients.lock() {
            Ok(mut clients) => clients.drain().map(|(_, p)| p).collect(),
            Err(_) => Vec::new(),
        };
        for pool in pools {
            let _ = pool.disconnect().await;
        }
        let _ = self.inner.global.clone().disconnect().await;
    }
}

/// The 503 of a database that did not answer within the acquire timeout.
fn timed_out(detail: &str) -> AppError {
    AppError::Unavailable {
        retry_after: 5,
        detail: detail.into(),
    }
}

/// The one place MySQL errors become application errors: duplicate key → 409,
/// unreachable server → 503, a client database missing a table or column → a
/// clear tenant-level error; everything else is an internal error whose detail is
/// logged, never shown.
pub fn map_err(e: mysql_async::Error) -> AppError {
    use mysql_async::Error as E;
    match &e {
        E::Server(server) if server.code == ER_DUP_ENTRY => {
            AppError::conflict("a record with the same unique value already exists")
        }
        E::Server(server)
            if matches!(
                server.code,
                ER_NO_SUCH_TABLE | ER_BAD_FIELD_ERROR | ER_BAD_DB_ERROR
            ) =>
        {
            AppError::ClientSchema {
                detail: server.message.clone(),
            }
        }
        E::Io(_) | E::Driver(_) => AppError::Unavailable {
            retry_after: 5,
            detail: e.to_string(),
        },
        _ => AppError::internal(e),
    }
}

impl From<mysql_async::Error> for AppError {
    fn from(e: mysql_async::Error) -> Self {
        map_err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_valid_identifier("dashboard_client_1"));
        assert!(is_valid_identifier("detection_line_linea_1"));
        assert!(!is_valid_identifier(""));
        assert!(!is_valid_identifier("a`b"));
        assert!(!is_valid_identifier("Upper"));
        assert!(!is_valid_identifier("x; drop"));
        assert!(!is_valid_identifier(&"a".repeat(65)));
    }
}
