//! What each auth route is limited by (issue 12, findings 2 and 4): sign-in
//! by the caller's address, refresh by the session, password change by the
//! user, logout by nothing; refused attempts do not count, and `Retry-After`
//! is the real wait.

use crate::auth_support as support;

use std::time::Duration;

use chrono::Utc;
use integration_tests::hosts::{RawResponse, TestRequest};
use serde_json::json;
use support::*;

fn login_req(username: &str, password: &str) -> TestRequest {
    TestRequest::post_json(
        "/api/v1/auth/login",
        &json!({ "username": username, "password": password }),
    )
}

fn refresh_body(token: &str) -> TestRequest {
    TestRequest::post_json("/api/v1/auth/refresh", &json!({ "refresh_token": token }))
}

fn logout(token: &str) -> TestRequest {
    request("POST", "/api/v1/auth/logout").bearer(token)
}

fn me(token: &str) -> TestRequest {
    TestRequest::get("/api/v1/auth/me").bearer(token)
}

fn change_password(token: &str, current: &str, new: &str) -> TestRequest {
    json_request(
        "POST",
        "/api/v1/auth/change-password",
        &json!({ "current_password": current, "new_password": new }),
    )
    .bearer(token)
}

/// Asserts a 429 whose message says the same wait as `Retry-After`, with the
/// right plural; returns the wait.
fn assert_limited(r: &RawResponse, what: &str) -> u64 {
    let body = assert_error(r, 429, what);
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no Retry-After"));
    let unit = if retry == 1 { "second" } else { "seconds" };
    assert_eq!(
        body["error"]["message"],
        format!("Too many requests; retry in {retry} {unit}."),
        "{what}"
    );
    retry
}

/// Waits, if needed, until early in a calendar minute (the per-user window),
/// so a short test cannot straddle two minutes.
async fn early_in_a_minute() {
    let second = Utc::now().timestamp() % 60;
    if second > 40 {
        tokio::time::sleep(Duration::from_secs((61 - second) as u64)).await;
    }
}

#[tokio::test]
async fn a_full_login_bucket_stops_neither_logout_nor_refresh_nor_password_change() {
    let w = world(&[("RATE_LIMIT_AUTH_IP_PER_MIN", "5")]).await;
    let a = w.login("demo.viewer");
    let b = w.login("demo.operator");
    // Fill the address's login bucket with wrong passwords.
    for i in 3..=5 {
        let r = w.auth(&login_req("demo.manager", "wrong-password"));
        assert_error(&r, 401, &format!("failure {i}"));
    }
    assert_limited(&w.auth(&login_req("demo.manager", PASSWORD)), "bucket full");

    // Logout ends the session.
    let r = w.auth(&logout(&a.access));
    assert_eq!(r.status, 200, "logout: {}", r.text());
    assert_error(&w.auth(&me(&a.access)), 401, "the session is dead");
    assert_error(
        &w.auth(&refresh_body(&a.refresh)),
        401,
        "its refresh token is dead",
    );
    // Another session renews.
    let r = w.auth(&refresh_body(&b.refresh));
    assert_eq!(r.status, 200, "refresh: {}", r.text());
    let b = Session::from_login(&r);
    // And changes its password.
    let r = w.auth(&change_password(&b.access, PASSWORD, "Brand-New-Pass-1"));
    assert_eq!(r.status, 200, "change password: {}", r.text());
    // A session whose access token is gone still logs out by refresh token.
    let r = w.auth(&TestRequest::post_json(
        "/api/v1/auth/logout",
        &json!({ "refresh_token": b.refresh }),
    ));
    assert_eq!(r.status, 200, "logout by refresh token: {}", r.text());
    assert_error(&w.auth(&me(&b.access)), 401, "ended by refresh token");
    // Sign-ins from the address are still refused.
    assert_limited(
        &w.auth(&login_req("demo.manager", PASSWORD)),
        "bucket still full",
    );
}

#[tokio::test]
async fn logout_works_over_the_per_user_request_limit() {
    let w = world(&[("RATE_LIMIT_USER_PER_MIN", "2")]).await;
    let s = w.login("demo.viewer");
    early_in_a_minute().await;
    for i in 1..=2 {
        let r = w.auth(&me(&s.access));
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
    }
    assert_limited(&w.auth(&me(&s.access)), "third request in the minute");
    let r = w.auth(&logout(&s.access));
    assert_eq!(r.status, 200, "logout: {}", r.text());
    assert_error(&w.auth(&me(&s.access)), 401, "the session is dead");
}

#[tokio::test]
async fn refresh_is_limited_per_session_not_per_address() {
    let w = world(&[("RATE_LIMIT_AUTH_IP_PER_MIN", "3")]).await;
    let first = run_from_ip(
        "auth",
        &w.env,
        &login_req("demo.viewer", PASSWORD),
        "198.51.100.1",
    );
    assert_eq!(first.status, 200, "{}", first.text());
    let mut a = Session::from_login(&first);
    let b = w.login("demo.operator");
    // Three renewals of one session, each from another address, then a fourth.
    for i in 1..=3 {
        let r = run_from_ip(
            "auth",
            &w.env,
            &refresh_body(&a.refresh),
            &format!("198.51.100.{}", 10 + i),
        );
        assert_eq!(r.status, 200, "refresh {i}: {}", r.text());
        a = Session::from_login(&r);
    }
    let r = run_from_ip("auth", &w.env, &refresh_body(&a.refresh), "198.51.100.20");
    assert_limited(&r, "fourth refresh of one session in a minute");
    // The refused refresh did not rotate: the same token works a minute later.
    let later = w.env_with(&[("DASHBOARD_CLOCK_OFFSET_SECONDS", "61")]);
    let r = run_from_ip("auth", &later, &refresh_body(&a.refresh), "198.51.100.20");
    assert_eq!(r.status, 200, "a minute later: {}", r.text());
    // Another session renews from the same addresses meanwhile.
    let r = run_from_ip("auth", &w.env, &refresh_body(&b.refresh), "198.51.100.20");
    assert_eq!(r.status, 200, "another session: {}", r.text());
}

#[tokio::test]
async fn password_changes_are_limited_per_user_not_per_address() {
    let w = world(&[("RATE_LIMIT_AUTH_IP_PER_MIN", "3")]).await;
    let s = w.login("demo.viewer");
    let other = w.login("demo.operator");
    for i in 1..=3 {
        let r = run_from_ip(
            "auth",
            &w.env,
            &change_password(&s.access, "wrong-password", "Brand-New-Pass-1"),
            &format!("198.51.100.{}", 30 + i),
        );
        let body = assert_error(&r, 422, &format!("wrong current password {i}"));
        assert_eq!(body["error"]["field"], "current_password");
    }
    let r = run_from_ip(
        "auth",
        &w.env,
        &change_password(&s.access, PASSWORD, "Brand-New-Pass-1"),
        "198.51.100.40",
    );
    assert_limited(&r, "fourth password change of one user in a minute");
    // Another user changes its password from the same address.
    let r = run_from_ip(
        "auth",
        &w.env,
        &change_password(&other.access, PASSWORD, "Brand-New-Pass-2"),
        "198.51.100.40",
    );
    assert_eq!(r.status, 200, "another user: {}", r.text());
}

/// Seconds since the epoch, with milliseconds.
fn epoch_seconds() -> f64 {
    Utc::now().timestamp_millis() as f64 / 1000.0
}

#[tokio::test]
async fn refused_attempts_do_not_extend_the_window_and_retry_after_is_exact() {
    let w = world(&[("RATE_LIMIT_AUTH_IP_PER_MIN", "3")]).await;
    let ip = "198.51.100.77";
    let attempt_at = |offset: i64| {
        let env = w.env_with(&[("DASHBOARD_CLOCK_OFFSET_SECONDS", &offset.to_string())]);
        run_from_ip("auth", &env, &login_req("nobody", "wrong-password"), ip)
    };
    let first_started = epoch_seconds();
    let r = attempt_at(0);
    let first_done = epoch_seconds();
    assert_error(&r, 401, "attempt 1");
    for i in 2..=3 {
        assert_error(&attempt_at(0), 401, &format!("attempt {i}"));
    }
    // Refused attempts all through the window.
    for offset in [10, 20, 30] {
        assert_limited(&attempt_at(offset), &format!("refused at +{offset} s"));
    }
    let asked = epoch_seconds();
    let refused = attempt_at(40);
    let answered = epoch_seconds();
    let retry = assert_limited(&refused, "refused at +40 s") as f64;
    // The first attempt leaves the window 60 s after the second it fell in.
    let earliest = (first_started.floor() + 60.0 - (answered + 40.0)).ceil();
    let latest = (first_done.floor() + 60.0 - (asked + 40.0)).ceil();
    assert!(
        (earliest..=latest).contains(&retry),
        "Retry-After {retry} is not the wait until the first attempt leaves the window \
         ({earliest}..={latest})"
    );
    let retry = retry as i64;
    // Two seconds before the promised time it is still refused ...
    assert_limited(&attempt_at(40 + retry - 2), "just before Retry-After");
    // ... and at the promised time it is accepted, although refused attempts
    // filled the last minute.
    let r = attempt_at(40 + retry);
    assert_error(&r, 401, "accepted at Retry-After");
}

#[tokio::test]
async fn wrong_current_passwords_lock_the_account_like_wrong_sign_ins() {
    let w = world(&[]).await;
    let s = w.login("demo.operator");
    for i in 1..=4 {
        let r = w.auth(&change_password(
            &s.access,
            "wrong-password",
            "Brand-New-Pass-1",
        ));
        assert_error(&r, 422, &format!("wrong current password {i}"));
    }
    // The signed-in user is told it is locked, and for how long.
    let r = w.auth(&change_password(
        &s.access,
        "wrong-password",
        "Brand-New-Pass-1",
    ));
    let body = assert_error(&r, 423, "fifth wrong current password");
    assert_eq!(body["error"]["code"], "account_locked");
    assert_eq!(r.header("retry-after"), Some("900"));
    let r = w.auth(&change_password(&s.access, PASSWORD, "Brand-New-Pass-1"));
    assert_error(&r, 423, "right current password while locked");
    assert_error(
        &w.auth(&login_req("demo.operator", PASSWORD)),
        401,
        "sign-in while locked",
    );
    // One lockout path: audited like a sign-in lockout.
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.lockout'")
            .await,
        1
    );
}
