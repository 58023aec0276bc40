//! `dashctl` — the operator CLI of Dashboard SaaS Industrial (docs/operations.md#commands). Never
//! deployed as a route.
//!
//! Connection settings come from the environment (after the env file, as every
//! binary reads it): `DATABASE_URL` (server of the global database),
//! `DB_GLOBAL_NAME` (default `dashboard_global`) and `CLIENT_DB_URL` (server of
//! the client databases, default `DATABASE_URL`); each can be overridden with a
//! flag. `JWT_SECRET` is not needed.
//!
//! Exit codes: 0 success, 1 failure (or `verify-client` found problems), 2 bad usage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use chrono_tz::Tz;
use clap::{Parser, Subcommand};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};

use dash_store::demo::{self, DemoOptions, DemoSize};
use dash_store::schema::{self, NewTenant, NewUser};
use dash_store::tenancy::Tenant;

#[derive(Parser, Debug)]
#[command(
    name = "dashctl",
    version,
    about = "Operator CLI of Dashboard SaaS Industrial: global database, tenants, users, client databases, demo data",
    long_about = "Operator CLI of Dashboard SaaS Industrial.\n\n\
        Settings come from the environment or the env file (DASHBOARD_ENV_FILE, .env beside the binary, \
        or .env in the working directory): DATABASE_URL (mysql://user:pass@host:port of the global database's \
        server), DB_GLOBAL_NAME (default dashboard_global), CLIENT_DB_URL (server of the client databases, \
        default DATABASE_URL). Flags override them.\n\n\
        Typical first run:\n  dashctl migrate\n  dashctl seed-widget-catalog\n  \
        dashctl register-tenant --name \"Acme Foods\" --timezone Europe/Madrid --db-name acme_plant\n  \
        dashctl verify-client --tenant 1\n  \
        dashctl create-user --tenant 1 --username admin --password '...' --role admin",
    after_help = "Exit codes: 0 success, 1 failure (or verify-client found problems), 2 bad usage."
)]
struct Cli {
    /// Server of the global database, mysql://user:pass@host:port.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// Name of the global database.
    #[arg(
        long,
        env = "DB_GLOBAL_NAME",
        global = true,
        default_value = "dashboard_global"
    )]
    global_db: String,
    /// Server of the client databases (default: DATABASE_URL); a tenant's db_host/db_port override its host and port.
    #[arg(long, env = "CLIENT_DB_URL", global = true, hide_env_values = true)]
    client_db_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the global database if needed and apply pending migrations (safe to re-run).
    Migrate,
    /// Insert or update the 18 widget types of the catalog (safe to re-run).
    SeedWidgetCatalog,
    /// Register a tenant: verify its client database, create the product's tables in it; prints the tenant id.
    RegisterTenant {
        /// Company name (unique).
        #[arg(long)]
        name: String,
        /// IANA time zone of the plant, e.g. Europe/Madrid.
        #[arg(long)]
        timezone: String,
        /// IANA time zone of the DATETIME values in the client database.
        #[arg(long, default_value = "UTC")]
        data_timezone: String,
        /// Language of the UI: es or en.
        #[arg(long, default_value = "es", value_parser = ["es", "en"])]
        language: String,
        /// Client database name (default dashboard_client_<tenant id>).
        #[arg(long)]
        db_name: Option<String>,
        /// Host of the client database when it lives on another server than CLIENT_DB_URL.
        #[arg(long)]
        db_host: Option<String>,
        /// Port of that server (needs --db-host).
        #[arg(long, requires = "db_host")]
        db_port: Option<u16>,
        /// When a tenant of that name exists, print its id instead of failing.
        #[arg(long)]
        if_not_exists: bool,
        /// Register without verifying the client database, creating it empty when missing
        /// (demo and test plants: then provision-client --reference and demo-data).
        #[arg(long)]
        skip_verify: bool,
    },
    /// Create a user; prints the user id.
    CreateUser {
        /// Tenant id, or `none` for a superadmin.
        #[arg(long, value_parser = parse_tenant_opt)]
        tenant: TenantArg,
        #[arg(long)]
        username: String,
        /// At least 8 characters (PASSWORD_MIN_LENGTH). Also read from DASHCTL_PASSWORD.
        #[arg(long, env = "DASHCTL_PASSWORD", hide_env_values = true)]
        password: String,
        /// superadmin, admin, manager, operator or viewer.
        #[arg(long, value_parser = ["superadmin", "admin", "manager", "operator", "viewer"])]
        role: String,
        #[arg(long)]
        email: Option<String>,
        /// When the username exists, print its id and change nothing instead of failing.
        #[arg(long)]
        if_not_exists: bool,
    },
    /// Check every table and column the application needs in a tenant's client database (exit 1 when something is missing).
    VerifyClient {
        #[arg(long)]
        tenant: i64,
    },
    /// Create the product's own tables (dash_line_state, dash_rollup, downtime_events_<code>) in a tenant's client database.
    ProvisionClient {
        #[arg(long)]
        tenant: i64,
        /// Also create the whole reference schema (demo and test databases only: never on a client's own database).
        #[arg(long)]
        reference: bool,
    },
    /// Fill a tenant's client database with a synthetic plant (reference schema, catalogs, detections).
    DemoData {
        #[arg(long)]
        tenant: i64,
        /// Random seed: the same seed gives the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// small (≈0.8 M detections over 90 days, lines 5× slower, output sensors only) or large (≥10 M, real speed, every sensor).
        #[arg(long, default_value = "small", value_parser = ["small", "large"])]
        size: String,
        /// Days of history ending now.
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3660))]
        days: u32,
        /// Reload when the line tables already hold data (truncates them).
        #[arg(long)]
        force: bool,
    },
    /// Add the next months' partitions to every detection table (splits pmax; never drops rows).
    Partitions {
        /// Only this tenant (default: every active tenant).
        #[arg(long)]
        tenant: Option<i64>,
        /// Months after the current one that must have a partition.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=36))]
        months_ahead: u32,
    },
    /// List the tenants and their client databases.
    Tenants,
    /// Dump the global database and every tenant's client database with mysqldump / mariadb-dump.
    Backup {
        /// Directory for the .sql files (created if needed).
        #[arg(long)]
        out: PathBuf,
        /// Only this tenant's client database (the global database is always dumped).
        #[arg(long)]
        tenant: Option<i64>,
    },
}

#[derive(Debug, Clone, Copy)]
struct TenantArg(Option<i64>);

fn parse_tenant_opt(s: &str) -> std::result::Result<TenantArg, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(TenantArg(None));
    }
    s.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(|id| TenantArg(Some(id)))
        .ok_or_else(|| {
            format!("{s:?} is not a tenant id: use a positive number, or none for a superadmin")
        })
}

/// Connection settings.
struct Env {
    database_url: String,
    global_db: String,
    client_db_url: String,
}

impl Env {
    fn from_cli(cli: &Cli) -> Result<Self> {
        let database_url = cli.database_url.clone().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            anyhow!(
                "DATABASE_URL is not set: export DATABASE_URL=mysql://user:password@host:3306, put it in the env file, \
                 or pass --database-url"
            )
        })?;
        Opts::from_url(&database_url)
            .map_err(|e| anyhow!("DATABASE_URL is not a mysql:// URL: {e}"))?;
        let client_db_url = cli
            .client_db_url
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| database_url.clone());
        Opts::from_url(&client_db_url)
            .map_err(|e| anyhow!("CLIENT_DB_URL is not a mysql:// URL: {e}"))?;
        if !dash_store::db::is_valid_identifier(&cli.global_db) {
            bail!(
                "DB_GLOBAL_NAME {:?}: use lower-case letters, digits and _ only (at most 64)",
                cli.global_db
            );
        }
        Ok(Env {
            database_url,
            global_db: cli.global_db.clone(),
            client_db_url,
        })
    }

    async fn server(&self) -> Result<Conn> {
        connect(
            Opts::from_url(&self.database_url)?,
            "the global database server (DATABASE_URL)",
        )
        .await
    }

    async fn global(&self) -> Result<Conn> {
        let opts = OptsBuilder::from_opts(Opts::from_url(&self.database_url)?)
            .db_name(Some(self.global_db.clone()))
            .prefer_socket(false);
        let conn = connect(opts.into(), "the global database").await;
        match conn {
            Err(e) if format!("{e:#}").contains("Unknown database") => Err(anyhow!(
                "the global database {} does not exist: run `dashctl migrate` first",
                self.global_db
            )),
            other => other,
        }
    }

    /// A connection to the server of a tenant's client database (no default database).
    async fn client_server(&self, tenant: &Tenant) -> Result<Conn> {
        let loc = tenant.db_location();
        let opts = schema::client_server_opts(&self.client_db_url, loc.host.as_deref(), loc.port)?;
        connect(
            opts,
            &format!("the client database server of tenant {}", tenant.tenant_id),
        )
        .await
    }

    async fn tenant(&self, global: &mut Conn, id: i64) -> Result<Tenant> {
        schema::find_tenant(global, id)
            .await?
            .ok_or_else(|| anyhow!("tenant {id} does not exist: `dashctl tenants` lists them"))
    }
}

async fn connect(opts: Opts, what: &str) -> Result<Conn> {
    let opts = OptsBuilder::from_opts(opts).prefer_socket(false);
    match tokio::time::timeout(std::time::Duration::from_secs(10), Conn::new(opts)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(anyhow!(e)).with_context(|| {
            format!("cannot connect to {what}: check that the server runs and the URL, user and password are right")
        }),
        Err(_) => bail!("timed out connecting to {what}: check the host and port, and that the server runs"),
    }
}

fn main() -> ExitCode {
    shared::config::load_env_file();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let env = Env::from_cli(&cli)?;
    match cli.command {
        Command::Migrate => migrate(&env).await,
        Command::SeedWidgetCatalog => {
            let mut g = env.global().await?;
            let n = schema::seed_widget_catalog(&mut g).await?;
            println!("widget catalog: {n} widget types upserted");
            Ok(ExitCode::SUCCESS)
        }
        Command::RegisterTenant {
            name,
            timezone,
            data_timezone,
            language,
            db_name,
            db_host,
            db_port,
            if_not_exists,
            skip_verify,
        } => {
            let mut g = env.global().await?;
            let t = NewTenant {
                company_name: name.clone(),
                timezone,
                data_timezone: Some(data_timezone),
                language: Some(language),
                db_name,
                db_host,
                db_port,
                if_not_exists,
                verify: !skip_verify,
            };
            let r = schema::register_tenant(&mut g, &env.client_db_url, &t).await?;
            for table in &r.provisioned {
                eprintln!("created  {}.{table}", r.db_name);
            }
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
            eprintln!(
                "{} tenant {} ({name:?}); client database {}{}",
                if r.created {
                    "registered"
                } else {
                    "already registered:"
                },
                r.tenant_id,
                r.db_name,
                if r.database_created {
                    " created (empty)"
                } else if skip_verify || !r.created {
                    " exists"
                } else {
                    " verified"
                }
            );
            println!("{}", r.tenant_id);
            Ok(ExitCode::SUCCESS)
        }
        Command::CreateUser {
            tenant,
            username,
            password,
            role,
            email,
            if_not_exists,
        } => {
            let mut g = env.global().await?;
            let min = std::env::var("PASSWORD_MIN_LENGTH")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(8);
            let u = NewUser {
                tenant_id: tenant.0,
                username: username.clone(),
                password,
                role: role.clone(),
                email,
                password_min_length: min,
                if_not_exists,
            };
            let r = schema::create_user(&mut g, &u).await?;
            eprintln!(
                "{} user {} ({username:?}, {role}{})",
                if r.created {
                    "created"
                } else {
                    "already exists:"
                },
                r.user_id,
                tenant
                    .0
                    .map(|t| format!(", tenant {t}"))
                    .unwrap_or_default()
            );
            println!("{}", r.user_id);
            Ok(ExitCode::SUCCESS)
        }
        Command::VerifyClient { tenant } => {
            let mut g = env.global().await?;
            let t = env.tenant(&mut g, tenant).await?;
            let db = t.db_location().db_name;
            let mut c = env.client_server(&t).await?;
            let report = schema::verify_client(&mut c, &db).await?;
            print!("{}", report.to_text());
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::ProvisionClient { tenant, reference } => {
            let mut g = env.global().await?;
            let t = env.tenant(&mut g, tenant).await?;
            let db = t.db_location().db_name;
            let mut c = env.client_server(&t).await?;
            let r = schema::provision_client(&mut c, &db, reference).await?;
            if r.database_created {
                println!("created database {db}");
            }
            for table in &r.created {
                println!("created  {db}.{table}");
            }
            for table in &r.existing {
                println!("exists   {db}.{table}");
            }
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::DemoData {
            tenant,
            seed,
            size,
            days,
            force,
        } => demo_data(&env, tenant, seed, &size, days, force).await,
        Command::Partitions {
            tenant,
            months_ahead,
        } => partitions(&env, tenant, months_ahead).await,
        Command::Tenants => {
            let mut g = env.global().await?;
            for t in schema::list_tenants(&mut g).await? {
                let loc = t.db_location();
                println!(
                    "{}\t{}\t{}\t{}{}",
                    t.tenant_id,
                    if t.is_active { "active" } else { "inactive" },
                    t.company_name,
                    loc.db_name,
                    match (&loc.host, loc.port) {
                        (Some(h), Some(p)) => format!(" @ {h}:{p}"),
                        (Some(h), None) => format!(" @ {h}"),
                        _ => String::new(),
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { out, tenant } => backup(&env, &out, tenant).await,
    }
}

async fn migrate(env: &Env) -> Result<ExitCode> {
    let mut server = env.server().await?;
    let db = schema::quote_ident(&env.global_db)?;
    server
        .query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .await
        .with_context(|| format!("cannot create the global database {}", env.global_db))?;
    drop(server);
    let mut g = env.global().await?;
    let applied = schema::migrate(&mut g).await?;
    let latest = schema::migrations().last().map(|m| m.version).unwrap_or(0);
    if applied.is_empty() {
        println!("{}: up to date (migration {latest})", env.global_db);
    } else {
        for v in &applied {
            let m = schema::migrations().iter().find(|m| m.version == *v);
            println!("applied {:04}_{}", v, m.map(|m| m.name).unwrap_or(""));
        }
        println!("{}: at migration {latest}", env.global_db);
    }
    Ok(ExitCode::SUCCESS)
}

async fn demo_data(
    env: &Env,
    tenant: i64,
    seed: u64,
    size: &str,
    days: u32,
    force: bool,
) -> Result<ExitCode> {
    let size: DemoSize = size.parse().map_err(|e: String| anyhow!(e))?;
    let mut g = env.global().await?;
    let t = env.tenant(&mut g, tenant).await?;
    let timezone: Tz = t.timezone();
    let data_timezone: Tz = t.data_timezone();
    let db = t.db_location().db_name;
    let mut c = env.client_server(&t).await?;
    let opts = DemoOptions {
        seed,
        size,
        days,
        force,
        timezone,
        data_timezone,
        end: None,
        shop_floor: true,
    };
    eprintln!(
        "demo-data: tenant {tenant} → {db} ({} size, {days} days, seed {seed}, plant zone {timezone}, data zone {data_timezone})",
        size.as_str()
    );
    let r = demo::load_demo(&mut c, &db, &opts).await?;
    if r.skipped {
        println!(
            "{db} already holds detections: nothing loaded (pass --force to truncate the line tables and reload)"
        );
        return Ok(ExitCode::SUCCESS);
    }
    for l in &r.lines {
        println!(
            "detection_line_{:<24} {:>12} rows  {:>6} incidents",
            l.line_code, l.rows, l.incidents
        );
    }
    println!(
        "loaded {} detections and {} incidents in {:.1} s ({:.0} rows/s, {})",
        r.rows,
        r.incidents,
        r.seconds,
        r.rows_per_second(),
        match r.method {
            Some(demo::LoadMethod::LoadDataLocal) => "LOAD DATA LOCAL INFILE",
            Some(demo::LoadMethod::MultiRowInsert) => "multi-row INSERT",
            None => "-",
        }
    );
    println!("run `jobs downtime --tenant {tenant}` to compute the stops");
    Ok(ExitCode::SUCCESS)
}

async fn partitions(env: &Env, tenant: Option<i64>, months_ahead: u32) -> Result<ExitCode> {
    let mut g = env.global().await?;
    let tenants = match tenant {
        Some(id) => vec![env.tenant(&mut g, id).await?],
        None => schema::list_tenants(&mut g)
            .await?
            .into_iter()
            .filter(|t| t.is_active)
            .collect(),
    };
    let mut failed = false;
    for t in tenants {
        let db = t.db_location().db_name;
        let result: Result<()> = async {
            let mut c = env.client_server(&t).await?;
            for line in schema::client_lines(&mut c, &db).await? {
                let Some(code) = line.line_code.filter(|c| schema::is_valid_line_code(c)) else {
                    eprintln!(
                        "warning: {db}: line {} has no usable line code; skipped",
                        line.line_id
                    );
                    continue;
                };
                let table = schema::detection_table(&code)?;
                if !schema::table_exists(&mut c, &db, &table).await? {
                    eprintln!("warning: {db}.{table} does not exist; skipped");
                    continue;
                }
                match schema::ensure_partitions(&mut c, &db, &table, months_ahead).await {
                    Ok(added) if added.is_empty() => println!("{db}.{table}: up to date"),
                    Ok(added) => println!("{db}.{table}: added {}", added.join(", ")),
                    Err(schema::SchemaError::Schema(msg)) => eprintln!("warning: {msg}"),
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            eprintln!("error: tenant {} ({db}): {e:#}", t.tenant_id);
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn find_dump_tool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in ["mariadb-dump", "mysqldump"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

async fn backup(env: &Env, out: &Path, tenant: Option<i64>) -> Result<ExitCode> {
    let tool = find_dump_tool().ok_or_else(|| {
        anyhow!("neither mariadb-dump nor mysqldump is on PATH: install the MariaDB or MySQL client tools")
    })?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut g = env.global().await?;
    let tenants = match tenant {
        Some(id) => vec![env.tenant(&mut g, id).await?],
        None => schema::list_tenants(&mut g).await?,
    };
    drop(g);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let mut jobs: Vec<(Opts, String)> =
        vec![(Opts::from_url(&env.database_url)?, env.global_db.clone())];
    for t in &tenants {
        let loc = t.db_location();
        let opts = schema::client_server_opts(&env.client_db_url, loc.host.as_deref(), loc.port)?;
        jobs.push((opts, loc.db_name));
    }
    let mut failed = false;
    for (opts, db) in jobs {
        let file = out.join(format!("{db}-{stamp}.sql"));
        let started = Instant::now();
        let mut cmd = tokio::process::Command::new(&tool);
        cmd.arg("--single-transaction")
            .arg("--quick")
            .arg("--routines")
            .arg("--triggers")
            .arg("--hex-blob")
            .arg("--default-character-set=utf8mb4")
            .arg("--protocol=TCP")
            .arg(format!("--host={}", opts.ip_or_hostname()))
            .arg(format!("--port={}", opts.tcp_port()))
            .arg(format!("--result-file={}", file.display()));
        if let Some(user) = opts.user() {
            cmd.arg(format!("--user={user}"));
        }
        if let Some(pass) = opts.pass() {
            cmd.env("MYSQL_PWD", pass);
        }
        cmd.arg("--databases").arg(&db);
        let status = cmd
            .status()
            .await
            .with_context(|| format!("cannot run {}", tool.display()))?;
        if status.success() {
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            println!(
                "{db} → {} ({:.1} MB, {:.1} s)",
                file.display(),
                size as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
        } else {
            eprintln!("error: {} failed for {db} ({status})", tool.display());
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
