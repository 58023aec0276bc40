//! Rate limits shared through the database: every request below is a separate
//! CGI process, so nothing can be remembered in memory.

use crate::auth_support as support;

use integration_tests::hosts::{bin, run_cgi, TestRequest};
use serde_json::json;
use support::*;

fn attempt(username: &str) -> TestRequest {
    TestRequest::post_json(
        "/api/v1/auth/login",
        &json!({"username": username, "password": "wrong-password"}),
    )
}

#[tokio::test]
async fn the_21st_login_attempt_from_one_ip_within_a_minute_is_429() {
    let w = world(&[("RATE_LIMIT_AUTH_IP_PER_MIN", "20")]).await;
    let ip = "198.51.100.23";
    for i in 1..=20 {
        let r = run_from_ip("auth", &w.env, &attempt(&format!("nobody{i}")), ip);
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text());
    }
    let r = run_from_ip("auth", &w.env, &attempt("nobody21"), ip);
    let body = assert_error(&r, 429, "21st attempt");
    assert_eq!(body["error"]["code"], "rate_limited");
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    // Right credentials do not get through either.
    let good = TestRequest::post_json(
        "/api/v1/auth/login",
        &json!({"username": "demo.admin", "password": PASSWORD}),
    );
    assert_error(
        &run_from_ip("auth", &w.env, &good, ip),
        429,
        "right password from a limited address",
    );
    // Refresh is limited per session, not by the address (tests/auth_limits.rs).
    let refresh = TestRequest::post_json("/api/v1/auth/refresh", &json!({"refresh_token": "rt_x"}));
    assert_error(
        &run_from_ip("auth", &w.env, &refresh, ip),
        401,
        "refresh from a limited address",
    );
    // Another address is not affected.
    let other = run_from_ip("auth", &w.env, &good, "198.51.100.99");
    assert_eq!(other.status, 200, "{}", other.text());
    assert!(
        w.count("SELECT COUNT(*) FROM rate_limit WHERE bucket = 'auth-ip:198.51.100.23'")
            .await
            >= 1
    );
    // A minute later the address may try again.
    let env = w.env_with(&[("DASHBOARD_CLOCK_OFFSET_SECONDS", "61")]);
    assert_eq!(run_from_ip("auth", &env, &good, ip).status, 200);
}

#[tokio::test]
async fn a_user_gets_100_requests_a_minute_across_functions() {
    let w = world(&[("RATE_LIMIT_USER_PER_MIN", "100")]).await;
    let s = w.login("demo.viewer");
    // The per-user window is a calendar minute: start early in one so the test fits in it.
    let second = chrono::Utc::now().timestamp() % 60;
    if second > 35 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
    for i in 1..=50 {
        let r = w.auth(&TestRequest::get("/api/v1/auth/me").bearer(&s.access));
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
    }
    for i in 51..=100 {
        let r = w.production(&TestRequest::get("/api/v1/production/products").bearer(&s.access));
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
    }
    let r = w.production(&TestRequest::get("/api/v1/production/lines").bearer(&s.access));
    assert_error(&r, 429, "101st request in the minute");
    assert!(r
        .header("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|s| (1..=60).contains(&s)));
    let r = w.auth(&TestRequest::get("/api/v1/auth/me").bearer(&s.access));
    assert_error(&r, 429, "same user on another function");
    // Another user of the same plant is not affected.
    let other = w.login("demo.manager");
    assert_eq!(
        w.auth(&TestRequest::get("/api/v1/auth/me").bearer(&other.access))
            .status,
        200
    );
    // The next minute counts from 1 again, in the same single row per user.
    let user_id = w.user_id("demo.viewer");
    let next_minute = w.env_with(&[("DASHBOARD_CLOCK_OFFSET_SECONDS", "60")]);
    let r = run_cgi(
        &bin("auth"),
        &next_minute,
        &TestRequest::get("/api/v1/auth/me").bearer(&s.access),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        w.count(&format!(
            "SELECT COUNT(*) FROM user_request_rate WHERE user_id = {user_id} AND hits = 1"
        ))
        .await,
        1
    );
    // A process whose clock is a minute behind counts into the newer minute.
    let r = w.auth(&TestRequest::get("/api/v1/auth/me").bearer(&s.access));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        w.count(&format!(
            "SELECT hits FROM user_request_rate WHERE user_id = {user_id}"
        ))
        .await,
        2
    );
}
