//! The cPanel bundle (`make cpanel-bundle`) in an Apache that behaves like a
//! shared-hosting account: a fresh document root holding nothing but the
//! unpacked bundle and the `bin/.env` a user writes, `AllowOverride All`, and
//! nothing about the application in the server configuration
//! (`infra/apache/cpanel-sim.conf.tmpl`) — the bundle's `.htaccess` does all
//! the routing. Through it: health, sign-in, a list and an OEE reading with
//! the bearer token (so `Authorization` reaches the binaries), a page, a static
//! file, the refused files — once under mod_cgid (CGI) and once under mod_fcgid
//! (FastCGI), and `/api/v1/system/version` says which host really ran.
//!
//! The bundle is `$DASHBOARD_CPANEL_BUNDLE` (make test builds it with cargo
//! zigbuild for glibc 2.17 and sets it); without it the release binaries of
//! `DASHBOARD_BIN_DIR` are packaged the same way by scripts/package-cpanel.sh.

use std::path::{Path, PathBuf};
use std::process::Command;

use integration_tests::cpanel_apache::CpanelApache;
use integration_tests::hosts::{bin_dir, RawResponse, TempDir, TestRequest};
use integration_tests::testdb::TestDb;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

const USERNAME: &str = "plant.manager";
const PASSWORD: &str = "Bundle-Test-Password-7";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Cgi,
    Fcgid,
}

impl Mode {
    fn host(self) -> &'static str {
        match self {
            Mode::Cgi => "cgi",
            Mode::Fcgid => "fastcgi",
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The bundle under test: the one make test built, else the release binaries
/// packaged now (same script, same layout).
fn bundle(work: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("DASHBOARD_CPANEL_BUNDLE").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "DASHBOARD_CPANEL_BUNDLE={} does not exist",
            path.display()
        );
        return path;
    }
    let out_dir = work.join("package");
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/package-cpanel.sh"))
        .env("PACKAGE_BIN_DIR", bin_dir())
        .env("PACKAGE_OUT_DIR", &out_dir)
        .output()
        .expect("scripts/package-cpanel.sh");
    assert!(
        out.status.success(),
        "packaging {} failed (build the release binaries first):\n{}",
        bin_dir().display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        path.is_file(),
        "package-cpanel.sh printed {}",
        path.display()
    );
    path
}

/// The configuration that loads the module of `mode` (see
/// [`CpanelApache::start`]).
fn modules(mode: Mode) -> &'static str {
    match mode {
        Mode::Fcgid => {
            "LoadModule fcgid_module /usr/lib/apache2/modules/mod_fcgid.so\n\
             FcgidIPCDir \"{sock_dir}/fcgid\"\nFcgidProcessTableFile \"{sock_dir}/fcgid_shm\"\n\
             FcgidMaxRequestLen 2097152"
        }
        Mode::Cgi => {
            "LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so\n\
             ScriptSock \"{sock_dir}/cgid.sock\""
        }
    }
}

/// A fresh document root with the bundle unpacked and the `bin/.env` a user writes.
fn docroot(work: &Path, bundle: &Path, env: &[(String, String)]) -> PathBuf {
    let site = work.join("public_html");
    std::fs::create_dir_all(&site).expect("docroot");
    run(Command::new("tar")
        .arg("-xzf")
        .arg(bundle)
        .arg("--strip-components=1")
        .arg("-C")
        .arg(&site));
    for f in [
        ".htaccess",
        ".env.example",
        "bin/auth.fcgi",
        "bin/dashboard.fcgi",
        "bin/jobs",
        "bin/dashctl",
        "README.md",
        "cron.txt",
    ] {
        assert!(site.join(f).exists(), "the bundle has no {f}");
    }
    let mut body: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    body.push_str("LOG_FORMAT=text\nRUST_LOG=warn\nCOOKIE_SECURE=auto\n");
    let env_file = site.join("bin/.env");
    std::fs::write(&env_file, body).expect("bin/.env");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    site
}

async fn plant() -> TestDb {
    let db = TestDb::new()
        .await
        .expect("test database")
        .with_demo_tenant("Demo Plant", "Europe/Madrid")
        .await
        .expect("demo tenant");
    let tenant = db.tenant("Demo Plant").tenant_id;
    let phc = dash_store::password::hash(PASSWORD).expect("hash");
    let mut g = db.global_conn().await.expect("global");
    g.exec_drop(
        "INSERT INTO `user` (tenant_id, username, email, password, role, permissions, is_active) \
         VALUES (?, ?, NULL, ?, 'manager', NULL, 1)",
        (tenant, USERNAME, phc),
    )
    .await
    .expect("user");
    db
}

fn expect(resp: &RawResponse, status: u16, what: &str, apache: &CpanelApache) {
    assert_eq!(
        resp.status,
        status,
        "{what}: {}\n--- Apache error log ---\n{}",
        String::from_utf8_lossy(&resp.body)
            .chars()
            .take(600)
            .collect::<String>(),
        apache.error_log()
    );
}

fn bearer(req: TestRequest, token: &str) -> TestRequest {
    req.header("Authorization", &format!("Bearer {token}"))
}

async fn sign_in_and_read_oee(mode: Mode) {
    let db = plant().await;
    let work = TempDir::new(&format!("cpanel-{}", mode.host()));
    let bundle = bundle(work.path());
    let site = docroot(work.path(), &bundle, &db.env());
    let apache = CpanelApache::start(&site, work.path(), modules(mode));

    let health = apache.request(&TestRequest::get("/api/v1/production/health"));
    expect(&health, 200, "GET /api/v1/production/health", &apache);
    assert_eq!(health.json()["database"], "ok");

    // Which host really answered: mod_fcgid hands the binary a socket, mod_cgid an environment.
    let version = apache.request(&TestRequest::get("/api/v1/system/version"));
    expect(&version, 200, "GET /api/v1/system/version", &apache);
    assert_eq!(
        version.json()["host"],
        mode.host(),
        "the binaries did not run as {}",
        mode.host()
    );

    let anonymous = apache.request(&TestRequest::get("/api/v1/auth/me"));
    expect(
        &anonymous,
        401,
        "GET /api/v1/auth/me without a token",
        &apache,
    );
    assert_eq!(anonymous.json()["error"]["code"], "unauthorized");

    let login = apache.request(&TestRequest::post_json(
        "/api/v1/auth/login",
        &json!({"username": USERNAME, "password": PASSWORD}),
    ));
    expect(&login, 200, "POST /api/v1/auth/login", &apache);
    let session = login.json();
    assert_eq!(session["token_type"], "Bearer");
    let token = session["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    assert!(login
        .headers
        .iter()
        .any(|(k, v)| k == "set-cookie" && v.starts_with("dash_access=")));

    // The bearer token crosses .htaccess (CGIPassAuth) to the binaries.
    let me = apache.request(&bearer(TestRequest::get("/api/v1/auth/me"), &token));
    expect(&me, 200, "GET /api/v1/auth/me with the token", &apache);
    assert_eq!(me.json()["data"]["username"], USERNAME);

    let lines = apache.request(&bearer(
        TestRequest::get("/api/v1/production/lines"),
        &token,
    ));
    expect(&lines, 200, "GET /api/v1/production/lines", &apache);
    let line_id = lines.json()["data"][0]["line_id"].as_i64().expect("a line");

    let oee = apache.request(&bearer(
        TestRequest::get(&format!(
            "/api/v1/metrics/oee?line_id={line_id}&range=last_7_days"
        )),
        &token,
    ));
    expect(&oee, 200, "GET /api/v1/metrics/oee", &apache);
    let data = &oee.json()["data"];
    assert_eq!(data["line_ids"], json!([line_id]));
    assert!(
        data["planned_seconds"].as_f64().is_some_and(|s| s > 0.0),
        "planned time: {data}"
    );
    assert!(
        data["good"].as_u64().is_some_and(|g| g > 0),
        "good units: {data}"
    );
    for factor in ["availability", "quality"] {
        assert!(
            data[factor]
                .as_f64()
                .is_some_and(|v| (0.0..=1.0).contains(&v)),
            "{factor}: {data}"
        );
    }
    assert!(
        data["oee"].is_number() || data["oee"].is_null(),
        "oee: {data}"
    );

    let page = apache.request(&TestRequest::get("/login").header("Accept", "text/html"));
    expect(&page, 200, "GET /login", &apache);
    assert!(page
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));

    // Static files come from Apache itself, straight from the bundle's static/.
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(site.join("static/dist/manifest.json"))
            .unwrap_or_else(|_| "{}".into()),
    )
    .unwrap_or(Value::Null);
    if let Some(css) = manifest["assets"]["app.css"].as_str() {
        let file = apache.request(&TestRequest::get(&format!("/static/dist/{css}")));
        expect(&file, 200, "GET the stylesheet", &apache);
        assert!(file
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/css")));
    }

    for refused in [
        "/bin/.env",
        "/bin/dashctl",
        "/bin/auth.fcgi",
        "/.env.example",
        "/.htaccess",
    ] {
        let resp = apache.request(&TestRequest::get(refused));
        expect(
            &resp,
            403,
            &format!("GET {refused} must be refused"),
            &apache,
        );
    }

    let mut g = db.global_conn().await.expect("global");
    let logins: i64 = g
        .query_first("SELECT COUNT(*) FROM user_login WHERE success = 1")
        .await
        .expect("count")
        .unwrap_or(0);
    assert_eq!(logins, 1, "the sign-in was recorded once");
}

#[tokio::test]
async fn the_bundle_signs_in_and_reads_oee_as_cgi() {
    sign_in_and_read_oee(Mode::Cgi).await;
}

#[tokio::test]
async fn the_bundle_signs_in_and_reads_oee_as_fastcgi() {
    sign_in_and_read_oee(Mode::Fcgid).await;
}
