//! What Apache itself serves under `/static/`, in both configurations the
//! product ships: the private Apache of `make demo` (scripts/apache.sh,
//! infra/apache/httpd.conf.tmpl) and a cPanel account routed by the bundle's
//! `.htaccess` (cgi/.htaccess in infra/apache/cpanel-sim.conf.tmpl). Only the
//! built front end (`static/dist/`) is public, with `nosniff`; the unminified
//! sources under `static/src/` are not (issue 12).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use integration_tests::hosts::{
    free_port, http_request, repo_root, Apache, RawResponse, TempDir, TestRequest,
};

const BUILT_FILE: &str = "app.0123456789.css";
const SOURCE_FILE: &str = "src/js/00-core.js";

/// A static folder laid out like the repository's: the front end's sources and
/// one built file (so the test does not depend on a front-end build).
fn static_folder(root: &Path) {
    let source = root.join(SOURCE_FILE);
    std::fs::create_dir_all(source.parent().expect("parent")).expect("static/src/js");
    std::fs::copy(repo_root().join("static").join(SOURCE_FILE), &source).expect("00-core.js");
    std::fs::create_dir_all(root.join("dist")).expect("static/dist");
    std::fs::write(root.join("dist").join(BUILT_FILE), "body{color:#111}\n").expect("css");
}

fn assert_only_the_build_is_public(request: impl Fn(&str) -> RawResponse, what: &str) {
    let built = request(&format!("/static/dist/{BUILT_FILE}"));
    assert_eq!(
        built.status,
        200,
        "{what}: the built file: {}",
        built.text()
    );
    assert!(
        built
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/css")),
        "{what}: {:?}",
        built.headers
    );
    assert_eq!(
        built.header("x-content-type-options"),
        Some("nosniff"),
        "{what}: {:?}",
        built.headers
    );
    for private in [
        format!("/static/{SOURCE_FILE}"),
        "/static/src/".to_string(),
        format!("/static/dist/../{SOURCE_FILE}"),
        format!("/static/dist/%2e%2e/{SOURCE_FILE}"),
    ] {
        let resp = request(&private);
        assert!(
            resp.status == 404 || resp.status == 403 || resp.status == 400,
            "{what}: {private} answered {}: {}",
            resp.status,
            resp.text()
        );
        assert!(
            !resp.text().contains("Dash.cookie"),
            "{what}: {private} served the source"
        );
    }
}

#[tokio::test]
async fn the_demo_apache_serves_only_the_built_front_end() {
    let dir = TempDir::new("static-demo");
    static_folder(dir.path());
    let static_dir = dir.path().display().to_string();
    let apache = Apache::start_with("fcgid", &[], &[("APACHE_STATIC_DIR", &static_dir)]);
    assert_only_the_build_is_public(|uri| apache.request(&TestRequest::get(uri)), "demo");
}

/// An Apache shaped like a cPanel server (as tests/tests/integration/cpanel.rs builds it),
/// serving a site that holds only the bundle's `.htaccess` and `static/`: no
/// binary is involved in serving files.
struct CpanelSite {
    conf: PathBuf,
    port: u16,
    run_dir: PathBuf,
}

impl CpanelSite {
    fn start(site: &Path, work: &Path) -> CpanelSite {
        let run_dir = work.join("apache");
        let sock_dir = run_dir.join("run");
        std::fs::create_dir_all(&sock_dir).expect("apache run dir");
        let port = free_port();
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let template =
            std::fs::read_to_string(repo_root().join("infra/apache/cpanel-sim.conf.tmpl"))
                .expect("infra/apache/cpanel-sim.conf.tmpl");
        let conf_text = template
            .replace("@RUN_DIR@", &run_dir.display().to_string())
            .replace("@SOCK_DIR@", &sock_dir.display().to_string())
            .replace("@SITE_DIR@", &site.display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace(
                "@USER_BLOCK@",
                if as_root {
                    "User www-data\nGroup www-data"
                } else {
                    ""
                },
            )
            .replace("@MODE_BLOCK@", "");
        let conf = run_dir.join("httpd.conf");
        std::fs::write(&conf, conf_text).expect("httpd.conf");
        let server = CpanelSite {
            conf,
            port,
            run_dir,
        };
        let out = Command::new("apache2")
            .arg("-f")
            .arg(&server.conf)
            .args(["-k", "start"])
            .output()
            .expect("apache2 (scripts/deps.sh installs it)");
        assert!(
            out.status.success(),
            "apache2 did not start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            server.error_log()
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "apache2 does not listen on {port}: {}",
                server.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.run_dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for CpanelSite {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.run_dir.join("httpd.pid")).ok();
        let _ = Command::new("apache2")
            .arg("-f")
            .arg(&self.conf)
            .args(["-k", "stop"])
            .output();
        if let Some(pid) = pid.map(|p| p.trim().to_string()) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[tokio::test]
async fn the_cpanel_htaccess_serves_only_the_built_front_end() {
    let work = TempDir::new("static-cpanel");
    let site = work.path().join("public_html");
    static_folder(&site.join("static"));
    std::fs::copy(repo_root().join("cgi/.htaccess"), site.join(".htaccess")).expect(".htaccess");
    let server = CpanelSite::start(&site, work.path());
    assert_only_the_build_is_public(
        |uri| http_request(server.port, &TestRequest::get(uri)),
        "cPanel",
    );
    assert!(
        !server.error_log().contains("Invalid command"),
        "{}",
        server.error_log()
    );
}
