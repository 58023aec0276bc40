//! What Apache itself serves under `/static/`, in both configurations the
//! product ships: the private Apache of `make demo` (scripts/apache.sh,
//! infra/apache/httpd.conf.tmpl) and a cPanel account routed by the bundle's
//! `.htaccess` (cgi/.htaccess in infra/apache/cpanel-sim.conf.tmpl). Only the
//! built front end (`static/dist/`) is public, with `nosniff`; the unminified
//! sources under `static/src/` are not (issue 12).

use std::path::Path;

use integration_tests::cpanel_apache::CpanelApache;
use integration_tests::hosts::{repo_root, Apache, RawResponse, TempDir, TestRequest};

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

#[tokio::test]
async fn the_cpanel_htaccess_serves_only_the_built_front_end() {
    let work = TempDir::new("static-cpanel");
    let site = work.path().join("public_html");
    static_folder(&site.join("static"));
    std::fs::copy(repo_root().join("cgi/.htaccess"), site.join(".htaccess")).expect(".htaccess");
    let server = CpanelApache::start(&site, work.path(), "");
    assert_only_the_build_is_public(|uri| server.request(&TestRequest::get(uri)), "cPanel");
    assert!(
        !server.error_log().contains("Invalid command"),
        "{}",
        server.error_log()
    );
}
