//! The release binaries behind a real Apache, as CGI (mod_cgid) and as FastCGI
//! (mod_fcgid), routed by URL the way `make demo` and cPanel route them.

use integration_tests::hosts::{Apache, TestRequest, HTTP_GROUPS};
use integration_tests::testdb::TestDb;

async fn every_group_answers_through_apache(mode: &str) {
    let db = TestDb::new().await.expect("test database");
    let apache = Apache::start(mode, &db.env());
    for group in HTTP_GROUPS {
        let resp = apache.request(&TestRequest::get(&format!("/api/v1/{group}/health")));
        assert_eq!(
            resp.status,
            200,
            "{mode} {group}: {} {}",
            resp.text(),
            apache.error_log()
        );
        assert_eq!(
            resp.json()["group"],
            group,
            "{mode}: routed to the wrong binary"
        );
        assert_eq!(resp.json()["database"], "ok");
    }
    // Users and tenants live in the auth binary; system in dashboard.
    let resp = apache.request(&TestRequest::get("/api/v1/users/me"));
    assert_eq!(
        resp.status,
        401,
        "{mode}: /users goes to auth: {}",
        resp.text()
    );

    let resp = apache.request(&TestRequest::get("/api/v1/production/no-such-route"));
    assert_eq!(resp.status, 404);
    assert_eq!(resp.json()["error"]["code"], "not_found");

    let mut big = TestRequest::post_json("/api/v1/auth/login", &serde_json::json!({}));
    big.body = vec![b' '; 2 * 1024 * 1024];
    let resp = apache.request(&big);
    assert_eq!(resp.status, 413, "{mode}: 2 MiB body");

    let mut over = TestRequest::post_json("/api/v1/auth/login", &serde_json::json!({}));
    over.body = vec![b' '; 1024 * 1024 + 10];
    let resp = apache.request(&over);
    assert_eq!(resp.status, 413, "{mode}: just over 1 MiB: {}", resp.text());
    assert!(
        !apache.error_log().contains("panicked"),
        "{}",
        apache.error_log()
    );
}

#[tokio::test]
async fn every_group_answers_as_cgi() {
    every_group_answers_through_apache("cgi").await;
}

#[tokio::test]
async fn every_group_answers_as_fastcgi() {
    every_group_answers_through_apache("fcgid").await;
}
