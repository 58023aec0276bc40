//! Fresh databases for integration tests.
//!
//! [`TestDb::new`] creates a uniquely named global database (`t<hex>_global`) on
//! the server at `TEST_DATABASE_URL` (default `mysql://root@127.0.0.1:3306`) and
//! runs the migrations; [`TestDb::with_demo_tenant`] registers a tenant whose
//! client database (`t<hex>_c<n>`) holds the reference schema and a small demo
//! plant. Every database whose name starts with the test's prefix is dropped when
//! the `TestDb` is dropped (set `KEEP_TEST_DB=1` to keep them for a post-mortem).
//!
//! A second server (`TEST_SECOND_DATABASE_URL`, started by scripts/test.sh) holds
//! the client databases of the tenants of
//! [`TestDb::with_demo_tenant_on_second_server`] and
//! [`TestDb::with_empty_tenant_on_second_server`]: their global row stays on the
//! main server, their `config_tenant` names the second server's `db_host` and
//! `db_port` (docs/client-database.md, "Where it lives"), and the app reaches it
//! with `CLIENT_DB_URL`'s user and password — so the second server must accept
//! those of `TEST_DATABASE_URL`. A test that needs it starts with
//! [`second_server_or_skip`].
//!
//! ```ignore
//! let db = TestDb::new().await?.with_demo_tenant("Acme", "Europe/Madrid").await?;
//! let mut g = db.global_conn().await?;
//! let t = db.tenant("Acme");
//! let mut c = db.client_conn(t.tenant_id).await?;
//! ```

use anyhow::{anyhow, Context, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};

use dash_store::demo::{self, DemoOptions, DemoReport, DemoSize};
use dash_store::schema::{self, NewTenant};

/// The JWT secret every test binary gets from [`TestDb::env`] (≥ 32 bytes).
pub const TEST_JWT_SECRET: &str = "integration-tests-jwt-secret-0123456789abcdef";

/// A tenant created by the builder.
#[derive(Debug, Clone)]
pub struct TestTenant {
    pub tenant_id: i64,
    pub name: String,
    pub timezone: String,
    /// Its client database.
    pub db_name: String,
    /// The server of that database: `TEST_DATABASE_URL`'s, or
    /// `TEST_SECOND_DATABASE_URL`'s for a tenant placed on the second server.
    pub server_url: String,
    /// True when its client database is on the second server.
    pub on_second_server: bool,
    /// What the demo loader did (None for an empty tenant).
    pub demo: Option<DemoReport>,
}

pub struct TestDb {
    server_url: String,
    /// The second server, once a tenant has been placed there (its databases
    /// are dropped too).
    second_url: Option<String>,
    prefix: String,
    global_name: String,
    tenants: Vec<TestTenant>,
    next_client: u32,
}

/// The server URL tests use.
pub fn test_server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306".to_string())
}

/// The variable that names the second server.
pub const SECOND_SERVER_VAR: &str = "TEST_SECOND_DATABASE_URL";

/// The second server's URL (`TEST_SECOND_DATABASE_URL`), when set.
pub fn second_server_url() -> Option<String> {
    std::env::var(SECOND_SERVER_VAR)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// For a test that needs the second server: its URL. Without
/// `TEST_SECOND_DATABASE_URL` the test fails under CI (`CI=true`: make test
/// starts that server, so its absence is a broken setup) and otherwise prints
/// a note and gets `None` (it returns, skipped).
pub fn second_server_or_skip(test: &str) -> Option<String> {
    second_server_or(test, "skipped")
}

/// For a test that also runs on one server: the second server's URL, or —
/// without `TEST_SECOND_DATABASE_URL` — a failure under CI and otherwise a
/// note and `None` (the test runs with every client database on the main
/// server).
pub fn second_server_or_one(test: &str) -> Option<String> {
    second_server_or(
        test,
        "running with every client database on the main server",
    )
}

fn second_server_or(test: &str, instead: &str) -> Option<String> {
    if let Some(url) = second_server_url() {
        return Some(url);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "{test}: {SECOND_SERVER_VAR} is not set, and under CI the second database server is \
         required: scripts/test.sh starts one and exports it (see its db step's output)"
    );
    eprintln!(
        "{test}: {SECOND_SERVER_VAR} is not set: {instead} (make test starts a second \
         MariaDB; by hand: DB_FORCE_PRIVATE=1 DB_PRIVATE_DIR=.run/mariadb-second \
         DB_PRIVATE_PORT=3317 scripts/db.sh start, then \
         {SECOND_SERVER_VAR}=mysql://root@127.0.0.1:3317)"
    );
    None
}

async fn connect(url: &str, db: Option<&str>) -> Result<Conn> {
    let opts = OptsBuilder::from_opts(
        Opts::from_url(url).context("TEST_DATABASE_URL is not a mysql:// URL")?,
    )
    .db_name(db.map(str::to_string))
    .prefer_socket(false);
    Conn::new(opts).await.with_context(|| {
        format!("cannot connect to the test database server {url} (set TEST_DATABASE_URL)")
    })
}

impl TestDb {
    /// A fresh global database with every migration applied.
    pub async fn new() -> Result<Self> {
        let server_url = test_server_url();
        let prefix = format!("t{:010x}", rand::random::<u64>() & 0xff_ffff_ffff);
        let global_name = format!("{prefix}_global");
        let mut server = connect(&server_url, None).await?;
        server
            .query_drop(format!(
                "CREATE DATABASE `{global_name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ))
            .await?;
        let db = TestDb {
            server_url,
            second_url: None,
            prefix,
            global_name,
            tenants: Vec::new(),
            next_client: 0,
        };
        let mut g = db.global_conn().await?;
        schema::migrate(&mut g).await.context("migrations failed")?;
        Ok(db)
    }

    /// Registers `name` (plant zone `tz`) with a client database holding the
    /// reference schema and a small demo plant: 14 days ending now, seed 7.
    pub async fn with_demo_tenant(self, name: &str, tz: &str) -> Result<Self> {
        let opts = DemoOptions {
            seed: 7,
            size: DemoSize::Small,
            days: 14,
            ..DemoOptions::default()
        };
        self.with_demo_tenant_opts(name, tz, opts).await
    }

    /// Like [`with_demo_tenant`](Self::with_demo_tenant) with explicit demo
    /// options; their `timezone` is replaced by `tz`.
    pub async fn with_demo_tenant_opts(
        self,
        name: &str,
        tz: &str,
        opts: DemoOptions,
    ) -> Result<Self> {
        self.add_tenant(name, tz, false, Some(opts)).await
    }

    /// Registers `name` with an empty client database (created, no tables).
    pub async fn with_empty_tenant(self, name: &str, tz: &str) -> Result<Self> {
        self.add_tenant(name, tz, false, None).await
    }

    /// Like [`with_demo_tenant`](Self::with_demo_tenant), with the client
    /// database on the second server (`TEST_SECOND_DATABASE_URL`): the tenant's
    /// row stays in this global database, its `config_tenant` names the second
    /// server's `db_host`/`db_port`. Fails when the variable is unset (check
    /// with [`second_server_or_skip`] first).
    pub async fn with_demo_tenant_on_second_server(self, name: &str, tz: &str) -> Result<Self> {
        let opts = DemoOptions {
            seed: 7,
            size: DemoSize::Small,
            days: 14,
            ..DemoOptions::default()
        };
        self.with_demo_tenant_on_second_server_opts(name, tz, opts)
            .await
    }

    /// [`with_demo_tenant_on_second_server`](Self::with_demo_tenant_on_second_server)
    /// with explicit demo options; their `timezone` is replaced by `tz`.
    pub async fn with_demo_tenant_on_second_server_opts(
        self,
        name: &str,
        tz: &str,
        opts: DemoOptions,
    ) -> Result<Self> {
        self.add_tenant(name, tz, true, Some(opts)).await
    }

    /// Like [`with_empty_tenant`](Self::with_empty_tenant), with the (empty)
    /// client database on the second server.
    pub async fn with_empty_tenant_on_second_server(self, name: &str, tz: &str) -> Result<Self> {
        self.add_tenant(name, tz, true, None).await
    }

    async fn add_tenant(
        mut self,
        name: &str,
        tz: &str,
        on_second: bool,
        demo_opts: Option<DemoOptions>,
    ) -> Result<Self> {
        let server_url = if on_second {
            self.use_second_server().await?
        } else {
            self.server_url.clone()
        };
        let location = if on_second {
            let opts = Opts::from_url(&server_url)
                .with_context(|| format!("{SECOND_SERVER_VAR} is not a mysql:// URL"))?;
            Some((opts.ip_or_hostname().to_string(), opts.tcp_port()))
        } else {
            None
        };
        let (tenant_id, db_name) = self.register(name, tz, location).await?;
        let demo = match demo_opts {
            Some(mut opts) => {
                opts.timezone = tz
                    .parse()
                    .map_err(|_| anyhow!("{tz} is not an IANA zone"))?;
                let mut server = connect(&server_url, None).await?;
                let report = demo::load_demo(&mut server, &db_name, &opts)
                    .await
                    .context("demo data failed")?;
                let _ = server.disconnect().await;
                Some(report)
            }
            None => None,
        };
        self.tenants.push(TestTenant {
            tenant_id,
            name: name.to_string(),
            timezone: tz.to_string(),
            db_name,
            server_url,
            on_second_server: on_second,
            demo,
        });
        Ok(self)
    }

    /// The second server's URL, checked once: set, answering, and not the
    /// main server under another name (the tests would prove nothing).
    async fn use_second_server(&mut self) -> Result<String> {
        if let Some(url) = &self.second_url {
            return Ok(url.clone());
        }
        let url = second_server_url().ok_or_else(|| {
            anyhow!("{SECOND_SERVER_VAR} is not set: no second server for this tenant")
        })?;
        let identity = "SELECT CONCAT(@@hostname, ':', @@port, ':', @@datadir)";
        let mut second = connect(&url, None)
            .await
            .with_context(|| format!("{SECOND_SERVER_VAR}={url} does not answer"))?;
        let theirs: Option<String> = second.query_first(identity).await?;
        let _ = second.disconnect().await;
        let mut main = self.server_conn().await?;
        let ours: Option<String> = main.query_first(identity).await?;
        let _ = main.disconnect().await;
        anyhow::ensure!(
            theirs != ours,
            "{SECOND_SERVER_VAR}={url} is the same server as {} ({})",
            self.server_url,
            ours.unwrap_or_default()
        );
        self.second_url = Some(url.clone());
        Ok(url)
    }

    async fn register(
        &mut self,
        name: &str,
        tz: &str,
        location: Option<(String, u16)>,
    ) -> Result<(i64, String)> {
        self.next_client += 1;
        let db_name = format!("{}_c{}", self.prefix, self.next_client);
        let (db_host, db_port) = match location {
            Some((host, port)) => (Some(host), Some(port)),
            None => (None, None),
        };
        let mut g = self.global_conn().await?;
        let r = schema::register_tenant(
            &mut g,
            &self.server_url,
            &NewTenant {
                company_name: name.to_string(),
                timezone: tz.to_string(),
                db_name: Some(db_name.clone()),
                db_host,
                db_port,
                ..NewTenant::default()
            },
        )
        .await
        .with_context(|| format!("registering tenant {name}"))?;
        Ok((r.tenant_id, db_name))
    }

    /// A new connection with the global database selected.
    pub async fn global_conn(&self) -> Result<Conn> {
        connect(&self.server_url, Some(&self.global_name)).await
    }

    /// A new connection to the server, no default database.
    pub async fn server_conn(&self) -> Result<Conn> {
        connect(&self.server_url, None).await
    }

    /// A new connection with a tenant's client database selected.
    pub async fn client_conn(&self, tenant_id: i64) -> Result<Conn> {
        let t = self
            .tenants
            .iter()
            .find(|t| t.tenant_id == tenant_id)
            .ok_or_else(|| anyhow!("no test tenant {tenant_id}"))?;
        connect(&t.server_url, Some(&t.db_name)).await
    }

    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// Checks where the client databases are: each tenant's on its own server
    /// and not on the other, and the tenant row (in the global database, on the
    /// main server) of one on the second server names that server's
    /// `db_host`/`db_port`.
    pub async fn check_placement(&self) -> Result<()> {
        let servers: Vec<&str> = std::iter::once(self.server_url.as_str())
            .chain(self.second_url.as_deref())
            .collect();
        let mut g = self.global_conn().await?;
        for t in &self.tenants {
            for url in &servers {
                let mut c = connect(url, None).await?;
                let n: Option<i64> = c
                    .exec_first(
                        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                        (&t.db_name,),
                    )
                    .await?;
                let _ = c.disconnect().await;
                let here = *url == t.server_url;
                anyhow::ensure!(
                    (n == Some(1)) == here,
                    "{}'s client database {} is{} on {url}",
                    t.name,
                    t.db_name,
                    if here { " not" } else { " also" }
                );
            }
            let row = schema::find_tenant(&mut g, t.tenant_id)
                .await?
                .ok_or_else(|| anyhow!("no tenant row for {}", t.name))?;
            let loc = row.db_location();
            let expected = if t.on_second_server {
                let o = Opts::from_url(&t.server_url)?;
                (Some(o.ip_or_hostname().to_string()), Some(o.tcp_port()))
            } else {
                (None, None)
            };
            anyhow::ensure!(
                loc.db_name == t.db_name && (loc.host.clone(), loc.port) == expected,
                "{}'s config_tenant names {:?}:{:?}/{}, not {:?}/{}",
                t.name,
                loc.host,
                loc.port,
                loc.db_name,
                expected,
                t.db_name
            );
        }
        Ok(())
    }

    /// The second server, once a tenant's client database is there.
    pub fn second_server(&self) -> Option<&str> {
        self.second_url.as_deref()
    }

    pub fn global_name(&self) -> &str {
        &self.global_name
    }

    /// `t<hex>`: every database of this test starts with `<prefix>_`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A database name under this test's prefix (dropped with the rest).
    pub fn db_name(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.prefix)
    }

    pub fn tenants(&self) -> &[TestTenant] {
        &self.tenants
    }

    /// The tenant registered under `name`; panics when there is none (a test bug).
    pub fn tenant(&self, name: &str) -> &TestTenant {
        self.tenants
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no test tenant named {name}"))
    }

    /// The environment a binary needs to use these databases.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DATABASE_URL".into(), self.server_url.clone()),
            ("CLIENT_DB_URL".into(), self.server_url.clone()),
            ("DB_GLOBAL_NAME".into(), self.global_name.clone()),
            ("JWT_SECRET".into(), TEST_JWT_SECRET.into()),
        ]
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var("KEEP_TEST_DB").is_ok_and(|v| v == "1") {
            eprintln!("KEEP_TEST_DB=1: keeping databases {}_*", self.prefix);
            return;
        }
        let urls: Vec<String> = std::iter::once(self.server_url.clone())
            .chain(self.second_url.clone())
            .collect();
        let prefix = self.prefix.clone();
        // Drop may run inside a runtime: use a thread with its own.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                for url in urls {
                    drop_prefixed(&url, &prefix).await;
                }
            });
        });
        let _ = handle.join();
    }
}

/// Drops every database named `<prefix>_…` on the server at `url`.
async fn drop_prefixed(url: &str, prefix: &str) {
    let Ok(mut conn) = connect(url, None).await else {
        return;
    };
    let pattern = format!("{prefix}\\_%");
    let dbs: Vec<String> = conn
        .exec(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
            (pattern,),
        )
        .await
        .unwrap_or_default();
    for db in dbs {
        if dash_store::db::is_valid_identifier(&db) && db.starts_with(prefix) {
            let _ = conn
                .query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
                .await;
        }
    }
    let _ = conn.disconnect().await;
}
