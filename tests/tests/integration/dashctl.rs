//! The release `dashctl` binary against a fresh database server prefix.
//! Binary from `DASHBOARD_BIN_DIR` (default `<workspace>/target/release`): build
//! it first with `cargo build --release -p dashctl`.

use std::path::PathBuf;
use std::process::{Command, Output};

use integration_tests::testdb::TestDb;
use mysql_async::prelude::Queryable;

fn dashctl_path() -> PathBuf {
    let dir = std::env::var_os("DASHBOARD_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release"));
    let bin = dir.join("dashctl");
    assert!(
        bin.is_file(),
        "{} does not exist: run `cargo build --release -p dashctl` (or set DASHBOARD_BIN_DIR)",
        bin.display()
    );
    bin
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs dashctl with only the test database's settings (no JWT_SECRET: dashctl
/// must not need it) and no env file.
fn dashctl(db: &TestDb, args: &[&str]) -> Run {
    let mut cmd = Command::new(dashctl_path());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DASHBOARD_ENV_FILE", "/dev/null");
    for (k, v) in db.env() {
        if k != "JWT_SECRET" {
            cmd.env(k, v);
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.args(args).output().expect("dashctl runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn ok(db: &TestDb, args: &[&str]) -> String {
    let r = dashctl(db, args);
    assert_eq!(
        r.code, 0,
        "dashctl {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    r.stdout
}

#[tokio::test]
async fn operator_workflow() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    // A global database of its own, created by dashctl migrate.
    let mut server = db.server_conn().await?;
    let global = db.db_name("cli_global");
    let env_db = TestDbEnv {
        db: &db,
        global: &global,
    };

    let out = env_db.ok(&["migrate"]);
    assert!(out.contains("applied 0001_init"), "{out}");
    let out = env_db.ok(&["migrate"]);
    assert!(out.contains("up to date"), "{out}");
    let out = env_db.ok(&["seed-widget-catalog"]);
    assert!(out.contains("18"), "{out}");

    // register-tenant verifies the client database: one that does not exist is
    // refused, with what to do about it.
    let client = db.db_name("cli_client");
    let refused = env_db.run(&[
        "register-tenant",
        "--name",
        "Fábrica Uno",
        "--timezone",
        "Europe/Madrid",
        "--db-name",
        &client,
    ]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    for what in [
        format!("MISSING  database {client}"),
        "--skip-verify".to_string(),
    ] {
        assert!(refused.stderr.contains(&what), "{what}: {}", refused.stderr);
    }
    assert!(refused.stdout.trim().is_empty(), "{}", refused.stdout);
    // --skip-verify registers a demo plant and creates its empty database;
    // register-tenant prints the id, also when it exists already.
    let id = env_db.ok(&[
        "register-tenant",
        "--name",
        "Fábrica Uno",
        "--timezone",
        "Europe/Madrid",
        "--db-name",
        &client,
        "--skip-verify",
    ]);
    let id = id.trim().to_string();
    assert!(id.parse::<i64>().is_ok(), "{id:?}");
    let again = env_db.ok(&[
        "register-tenant",
        "--name",
        "Fábrica Uno",
        "--timezone",
        "Europe/Madrid",
        "--db-name",
        &client,
        "--if-not-exists",
    ]);
    assert_eq!(again.trim(), id);
    let dup = env_db.run(&[
        "register-tenant",
        "--name",
        "Fábrica Uno",
        "--timezone",
        "Europe/Madrid",
    ]);
    assert_eq!(dup.code, 1);
    assert!(dup.stderr.contains("--if-not-exists"), "{}", dup.stderr);
    let bad = env_db.run(&[
        "register-tenant",
        "--name",
        "Otra",
        "--timezone",
        "Europe/Atlantis",
    ]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("--timezone") && bad.stderr.contains("IANA"),
        "{}",
        bad.stderr
    );
    let exists: Option<String> = server
        .exec_first(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (&client,),
        )
        .await?;
    assert_eq!(
        exists.as_deref(),
        Some(client.as_str()),
        "register-tenant created the client database"
    );

    // create-user.
    let uid = env_db.ok(&[
        "create-user",
        "--tenant",
        &id,
        "--username",
        "jefa.planta",
        "--password",
        "una-clave-larga",
        "--role",
        "manager",
        "--email",
        "jefa@example.com",
    ]);
    assert!(uid.trim().parse::<i64>().is_ok(), "{uid:?}");
    let root = env_db.ok(&[
        "create-user",
        "--tenant",
        "none",
        "--username",
        "operador.saas",
        "--password",
        "una-clave-larga",
        "--role",
        "superadmin",
    ]);
    assert!(root.trim().parse::<i64>().is_ok());
    let again = env_db.ok(&[
        "create-user",
        "--tenant",
        &id,
        "--username",
        "jefa.planta",
        "--password",
        "otra-clave-larga",
        "--role",
        "viewer",
        "--if-not-exists",
    ]);
    assert_eq!(again.trim(), uid.trim());
    let bad_role = env_db.run(&[
        "create-user",
        "--tenant",
        &id,
        "--username",
        "x",
        "--password",
        "una-clave-larga",
        "--role",
        "king",
    ]);
    assert_eq!(bad_role.code, 2, "usage error: {}", bad_role.stderr);
    let short = env_db.run(&[
        "create-user",
        "--tenant",
        &id,
        "--username",
        "corto",
        "--password",
        "corta",
        "--role",
        "viewer",
    ]);
    assert_eq!(short.code, 1);
    assert!(short.stderr.contains("--password"), "{}", short.stderr);

    // verify-client on the new, empty database: exit 1, everything named.
    let v = env_db.run(&["verify-client", "--tenant", &id]);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(
        v.stdout.contains("MISSING  production_line"),
        "{}",
        v.stdout
    );

    // Reference schema + demo data: verify passes.
    env_db.ok(&["provision-client", "--tenant", &id, "--reference"]);
    let out = env_db.ok(&["demo-data", "--tenant", &id, "--days", "3", "--seed", "5"]);
    assert!(out.contains("rows/s"), "{out}");
    let out = env_db.ok(&["demo-data", "--tenant", &id, "--days", "3", "--seed", "5"]);
    assert!(out.contains("nothing loaded"), "{out}");
    let out = env_db.ok(&["verify-client", "--tenant", &id]);
    assert!(
        out.contains("OK       detection_line_linea_1_envasado.detected_at"),
        "{out}"
    );
    assert!(out.contains("all ") && out.contains("passed"), "{out}");
    let out = env_db.ok(&["partitions", "--tenant", &id, "--months-ahead", "5"]);
    assert!(out.contains("added"), "{out}");
    let out = env_db.ok(&["partitions", "--months-ahead", "5"]);
    assert!(out.contains("up to date"), "{out}");
    let out = env_db.ok(&["tenants"]);
    assert!(out.contains("Fábrica Uno"), "{out}");

    // Drop a required column: exit 1 and the column is named.
    server
        .query_drop(format!("ALTER TABLE `{client}`.shift DROP COLUMN end_time"))
        .await?;
    let v = env_db.run(&["verify-client", "--tenant", &id]);
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains("MISSING  shift.end_time"), "{}", v.stdout);
    assert!(
        v.stdout.contains("1 problem(s): shift.end_time"),
        "{}",
        v.stdout
    );

    let unknown = env_db.run(&["verify-client", "--tenant", "987654"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("tenant 987654 does not exist"),
        "{}",
        unknown.stderr
    );
    Ok(())
}

#[tokio::test]
async fn help_and_configuration_errors() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    for cmd in [
        "migrate",
        "seed-widget-catalog",
        "register-tenant",
        "create-user",
        "verify-client",
        "provision-client",
        "demo-data",
        "partitions",
        "backup",
        "tenants",
    ] {
        let out = ok(&db, &[cmd, "--help"]);
        assert!(out.contains("Usage: dashctl"), "{cmd}: {out}");
    }
    let out = ok(&db, &["--help"]);
    assert!(out.contains("register-tenant"), "{out}");

    // No DATABASE_URL: says what to set.
    let r = Command::new(dashctl_path())
        .env_clear()
        .env("DASHBOARD_ENV_FILE", "/dev/null")
        .arg("migrate")
        .output()?;
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("DATABASE_URL is not set"));

    // An unreachable server: a clear message, not a hang.
    let r = Command::new(dashctl_path())
        .env_clear()
        .env("DASHBOARD_ENV_FILE", "/dev/null")
        .env("DATABASE_URL", "mysql://root@127.0.0.1:1")
        .arg("migrate")
        .output()?;
    assert_eq!(r.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("cannot connect"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );

    // Migrating the test's own global database is a no-op.
    let out = ok(&db, &["migrate"]);
    assert!(out.contains("up to date"), "{out}");
    Ok(())
}

/// The test database's server with another global database name.
struct TestDbEnv<'a> {
    db: &'a TestDb,
    global: &'a str,
}

impl TestDbEnv<'_> {
    fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(dashctl_path());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DASHBOARD_ENV_FILE", "/dev/null")
            .env("DATABASE_URL", self.db.server_url())
            .env("DB_GLOBAL_NAME", self.global);
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.args(args).output().expect("dashctl runs");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(
            r.code, 0,
            "dashctl {args:?} failed\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
        r.stdout
    }
}
