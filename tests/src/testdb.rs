//! Fresh databases for integration tests.
//!
//! [`TestDb::new`] creates a uniquely named global database (`t<hex>_global`) on
//! the server at `TEST_DATABASE_URL` (default `mysql://root@127.0.0.1:3306`) and
//! runs the migrations; [`TestDb::with_demo_tenant`] registers a tenant whose
//! client database (`t<hex>_c<n>`) holds the reference schema and a small demo
//! plant. Every database whose name starts with the test's prefix is dropped when
//! the `TestDb` is dropped (set `KEEP_TEST_DB=1` to keep them for a post-mortem).
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
    /// Its client database (on the same server).
    pub db_name: String,
    /// What the demo loader did (None for an empty tenant).
    pub demo: Option<DemoReport>,
}

pub struct TestDb {
    server_url: String,
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
        mut self,
        name: &str,
        tz: &str,
        mut opts: DemoOptions,
    ) -> Result<Self> {
        let (tenant_id, db_name) = self.register(name, tz).await?;
        opts.timezone = tz
            .parse()
            .map_err(|_| anyhow!("{tz} is not an IANA zone"))?;
        let mut server = self.server_conn().await?;
        let report = demo::load_demo(&mut server, &db_name, &opts)
            .await
            .context("demo data failed")?;
        self.tenants.push(TestTenant {
            tenant_id,
            name: name.to_string(),
            timezone: tz.to_string(),
            db_name,
            demo: Some(report),
        });
        Ok(self)
    }

    /// Registers `name` with an empty client database (created, no tables).
    pub async fn with_empty_tenant(mut self, name: &str, tz: &str) -> Result<Self> {
        let (tenant_id, db_name) = self.register(name, tz).await?;
        self.tenants.push(TestTenant {
            tenant_id,
            name: name.to_string(),
            timezone: tz.to_string(),
            db_name,
            demo: None,
        });
        Ok(self)
    }

    async fn register(&mut self, name: &str, tz: &str) -> Result<(i64, String)> {
        self.next_client += 1;
        let db_name = format!("{}_c{}", self.prefix, self.next_client);
        let mut g = self.global_conn().await?;
        let r = schema::register_tenant(
            &mut g,
            &self.server_url,
            &NewTenant {
                company_name: name.to_string(),
                timezone: tz.to_string(),
                db_name: Some(db_name.clone()),
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
        connect(&self.server_url, Some(&t.db_name)).await
    }

    pub fn server_url(&self) -> &str {
        &self.server_url
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
        let url = self.server_url.clone();
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
                let Ok(mut conn) = connect(&url, None).await else {
                    return;
                };
                let pattern = format!("{prefix}\\_%");
                let dbs: Vec<String> = conn
                    .exec("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?", (pattern,))
                    .await
                    .unwrap_or_default();
                for db in dbs {
                    if dash_store::db::is_valid_identifier(&db) && db.starts_with(&prefix) {
                        let _ = conn.query_drop(format!("DROP DATABASE IF EXISTS `{db}`")).await;
                    }
                }
                let _ = conn.disconnect().await;
            });
        });
        let _ = handle.join();
    }
}
