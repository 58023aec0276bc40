//! Account enumeration (issue 12, finding 3): a sign-in answer never tells
//! whether a user name exists, by status, body or time, even once the account
//! is locked; a taken user name answers the same whichever plant holds it.

use crate::auth_support as support;

use std::time::{Duration, Instant};

use integration_tests::hosts::{RawResponse, TestRequest};
use serde_json::json;
use support::*;

fn login_req(username: &str, password: &str) -> TestRequest {
    TestRequest::post_json(
        "/api/v1/auth/login",
        &json!({ "username": username, "password": password }),
    )
}

/// Locks `username` with five wrong passwords (the default lockout) and
/// returns their answers.
async fn lock(w: &World, username: &str) -> Vec<RawResponse> {
    let answers = (0..5)
        .map(|_| w.auth(&login_req(username, "wrong-password")))
        .collect();
    assert_eq!(
        w.count(&format!(
            "SELECT COUNT(*) FROM `user` WHERE username = '{username}' AND locked_until > UTC_TIMESTAMP()"
        ))
        .await,
        1,
        "{username} is locked"
    );
    answers
}

#[tokio::test]
async fn a_locked_account_answers_exactly_like_an_unknown_name() {
    let w = world(&[]).await;
    let unknown = w.auth(&login_req("no.such.user", PASSWORD));
    let body = assert_error(&unknown, 401, "unknown name");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("invalid username or password") && message.contains("locked"),
        "the one answer also explains the lockout: {message}"
    );
    assert_eq!(unknown.header("retry-after"), None);

    for (i, r) in lock(&w, "demo.viewer").await.iter().enumerate() {
        assert_eq!(
            r.comparable(),
            unknown.comparable(),
            "wrong password {}: {}",
            i + 1,
            r.text()
        );
    }
    for (username, password, what) in [
        ("demo.viewer", "wrong-password", "locked, wrong password"),
        ("demo.viewer", PASSWORD, "locked, right password"),
        ("no.such.user", "wrong-password", "unknown name again"),
        (
            "demo.operator",
            "wrong-password",
            "existing, wrong password",
        ),
    ] {
        let r = w.auth(&login_req(username, password));
        assert_eq!(r.comparable(), unknown.comparable(), "{what}: {}", r.text());
    }
    // The server side still knows what happened.
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.lockout'")
            .await,
        1
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM user_login WHERE failure_reason = 'locked'")
            .await,
        2
    );
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn a_locked_account_takes_as_long_as_an_unknown_name() {
    let w = world(&[]).await;
    let unknown = w.auth(&login_req("no.such.user", PASSWORD));
    assert_error(&unknown, 401, "unknown name");
    lock(&w, "demo.viewer").await;
    let time = |username: &str, statuses: &mut Vec<u16>| {
        let started = Instant::now();
        let r = w.auth(&login_req(username, PASSWORD));
        let took = started.elapsed();
        statuses.push(r.status);
        took
    };
    let (mut locked, mut missing, mut statuses) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so a busy moment of the machine falls on both.
    for _ in 0..7 {
        locked.push(time("demo.viewer", &mut statuses));
        missing.push(time("no.such.user", &mut statuses));
    }
    let (locked, missing) = (median(locked), median(missing));
    eprintln!("medians of 7: locked account {locked:?}, unknown name {missing:?}");
    let ratio = locked.as_secs_f64().max(missing.as_secs_f64())
        / locked.as_secs_f64().min(missing.as_secs_f64());
    assert!(
        ratio < 3.0,
        "locked account {locked:?} vs unknown name {missing:?} (medians of 7)"
    );
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
}

#[tokio::test]
async fn a_taken_user_name_answers_the_same_whichever_plant_holds_it() {
    let w = world(&[]).await;
    let demo_admin = w.login("demo.admin").access;
    let second_admin = w.login("second.admin").access;
    let create = |token: &str, username: &str| {
        w.auth(
            &json_request(
                "POST",
                "/api/v1/users",
                &json!({"username": username, "password": "New-User-Pass-1", "role": "viewer"}),
            )
            .bearer(token),
        )
    };
    // "demo.viewer" belongs to Demo Plant.
    let own_plant = create(&demo_admin, "demo.viewer");
    let other_plant = create(&second_admin, "demo.viewer");
    let renamed = w.auth(
        &json_request(
            "PUT",
            &format!("/api/v1/users/{}", w.user_id("second.viewer")),
            &json!({"username": "demo.viewer"}),
        )
        .bearer(&second_admin),
    );
    let body = assert_error(&own_plant, 409, "taken in the caller's plant");
    assert_eq!(
        body["error"]["message"],
        "this username is already taken (user names are unique across the whole service); \
         choose another"
    );
    assert_eq!(
        other_plant.comparable(),
        own_plant.comparable(),
        "{}",
        other_plant.text()
    );
    assert_eq!(
        renamed.comparable(),
        own_plant.comparable(),
        "{}",
        renamed.text()
    );
    for leak in [DEMO, "plant", "tenant"] {
        assert!(
            !other_plant.text().contains(leak),
            "names the plant ({leak}): {}",
            other_plant.text()
        );
    }
}
