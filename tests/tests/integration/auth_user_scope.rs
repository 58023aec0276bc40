//! Who may manage whom inside one plant (issue 12, finding 1): a caller other
//! than the superadmin manages only users whose line scope lies within its own
//! (a user without a scope sees every line) and whose role is not above its
//! own, and cannot give a role above its own or lines it cannot see. Refusals
//! are 403 and change nothing.

use crate::auth_support as support;

use integration_tests::hosts::{RawResponse, TestRequest};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use support::*;

fn put(w: &World, token: &str, id: i64, body: Value) -> RawResponse {
    w.auth(&json_request("PUT", &format!("/api/v1/users/{id}"), &body).bearer(token))
}

fn delete(w: &World, token: &str, id: i64) -> RawResponse {
    w.auth(&request("DELETE", &format!("/api/v1/users/{id}")).bearer(token))
}

fn create(w: &World, token: &str, body: Value) -> RawResponse {
    w.auth(&json_request("POST", "/api/v1/users", &body).bearer(token))
}

fn sign_in(w: &World, username: &str, password: &str) -> RawResponse {
    w.auth(&TestRequest::post_json(
        "/api/v1/auth/login",
        &json!({"username": username, "password": password}),
    ))
}

/// Everything about a user row that a management call could change.
async fn row(w: &World, id: i64) -> (String, Option<String>, String, bool, bool, String) {
    let mut g = w.global().await;
    let r: Option<(String, Option<String>, String, bool, bool, String)> = g
        .exec_first(
            "SELECT CAST(role AS CHAR), CAST(permissions AS CHAR), COALESCE(email, ''), \
                    is_active = 1, deleted_at IS NOT NULL, password \
             FROM `user` WHERE user_id = ?",
            (id,),
        )
        .await
        .expect("user row");
    r.expect("the user exists")
}

fn assert_forbidden(r: &RawResponse, what: &str) -> String {
    let body = assert_error(r, 403, what);
    assert_eq!(body["error"]["code"], "forbidden", "{what}");
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_line_scoped_admin_manages_only_users_within_its_lines() {
    let mut w = world(&[]).await;
    let line1 = Some(r#"{"lines": [1]}"#);
    w.add_user("line1.admin", Some(DEMO), "admin", line1).await;
    let inside = w
        .add_user("line1.viewer", Some(DEMO), "viewer", line1)
        .await;
    let leaver = w
        .add_user("line1.leaver", Some(DEMO), "viewer", line1)
        .await;
    let wider = w
        .add_user(
            "lines13.viewer",
            Some(DEMO),
            "viewer",
            Some(r#"{"lines": [1, 3]}"#),
        )
        .await;
    let unscoped = w.user_id("demo.viewer");
    let admin = w.login("line1.admin").access;

    // The probe: promote an unscoped viewer and take its password in one call.
    let r = put(
        &w,
        &admin,
        unscoped,
        json!({"role": "admin", "password": "Taken-Over-123"}),
    );
    let message = assert_forbidden(&r, "promote and reset an unscoped viewer");
    assert!(message.contains("every line"), "{message}");
    assert_error(
        &sign_in(&w, "demo.viewer", "Taken-Over-123"),
        401,
        "the reset did not happen",
    );
    assert_eq!(row(&w, unscoped).await.0, "viewer");

    // Users outside the caller's lines: every kind of change is refused.
    for (target, name) in [(unscoped, "unscoped viewer"), (wider, "lines 1 and 3")] {
        let before = row(&w, target).await;
        for body in [
            json!({"role": "operator"}),
            json!({"password": "Reset-Pass-123"}),
            json!({"permissions": {"lines": [1]}}),
            json!({"is_active": false}),
            json!({"email": "moved@example.com"}),
        ] {
            assert_forbidden(
                &put(&w, &admin, target, body.clone()),
                &format!("{name}: {body}"),
            );
        }
        assert_forbidden(&delete(&w, &admin, target), &format!("{name}: delete"));
        assert_eq!(row(&w, target).await, before, "{name} unchanged");
    }
    assert_eq!(sign_in(&w, "demo.viewer", PASSWORD).status, 200);

    // Users within the caller's lines: every kind of change is allowed ...
    let r = put(&w, &admin, inside, json!({"role": "operator"}));
    assert_eq!(r.status, 200, "role change in scope: {}", r.text());
    assert_eq!(r.json()["data"]["role"], "operator");
    let r = put(&w, &admin, inside, json!({"password": "Reset-Pass-123"}));
    assert_eq!(r.status, 200, "password reset in scope: {}", r.text());
    assert_eq!(sign_in(&w, "line1.viewer", "Reset-Pass-123").status, 200);
    let r = put(
        &w,
        &admin,
        inside,
        json!({"permissions": {"lines": [1], "removed": ["data.export"]}}),
    );
    assert_eq!(r.status, 200, "permissions change in scope: {}", r.text());
    let r = put(&w, &admin, inside, json!({"is_active": false}));
    assert_eq!(r.status, 200, "deactivation in scope: {}", r.text());
    let r = put(&w, &admin, inside, json!({"is_active": true}));
    assert_eq!(r.status, 200, "reactivation in scope: {}", r.text());
    let r = delete(&w, &admin, leaver);
    assert_eq!(r.status, 200, "delete in scope: {}", r.text());
    let r = put(
        &w,
        &admin,
        w.user_id("line1.admin"),
        json!({"email": "line1.boss@example.com"}),
    );
    assert_eq!(r.status, 200, "own e-mail: {}", r.text());

    // ... except a change that would take the user out of the caller's lines.
    let before = row(&w, inside).await;
    for body in [
        json!({"permissions": {"lines": [1, 3]}}),
        json!({"permissions": {"lines": [3]}}),
        json!({"permissions": null}),
        json!({"permissions": {"extra": ["data.export"]}}),
    ] {
        assert_forbidden(
            &put(&w, &admin, inside, body.clone()),
            &format!("widen: {body}"),
        );
    }
    assert_eq!(row(&w, inside).await, before, "not widened");

    // Creating: the new user must be limited to the caller's lines; giving
    // no permissions means every line, which the caller cannot see.
    for (username, permissions) in [
        ("new.unscoped", None),
        ("new.line3", Some(json!({"lines": [3]}))),
        ("new.lines13", Some(json!({"lines": [1, 3]}))),
    ] {
        let mut body =
            json!({"username": username, "password": "New-User-Pass-1", "role": "viewer"});
        if let Some(p) = permissions {
            body["permissions"] = p;
        }
        assert_forbidden(&create(&w, &admin, body), &format!("create {username}"));
    }
    assert_eq!(
        w.count("SELECT COUNT(*) FROM `user` WHERE username LIKE 'new.%'")
            .await,
        0
    );
    let r = create(
        &w,
        &admin,
        json!({"username": "new.line1", "password": "New-User-Pass-1", "role": "operator",
               "permissions": {"lines": [1]}}),
    );
    assert_eq!(r.status, 201, "create in scope: {}", r.text());

    // An unscoped admin still manages everyone of its plant, scoped or not.
    let boss = w.login("demo.admin").access;
    let other = w.user_id("demo.other");
    for body in [
        json!({"role": "operator"}),
        json!({"password": "Reset-Pass-456"}),
        json!({"permissions": {"lines": [2]}}),
        json!({"is_active": false}),
        json!({"permissions": null, "is_active": true}),
    ] {
        let r = put(&w, &boss, other, body.clone());
        assert_eq!(r.status, 200, "unscoped admin: {body}: {}", r.text());
    }
    let scoped_admin = w.user_id("line1.admin");
    for body in [
        json!({"permissions": {"lines": [1, 2]}}),
        json!({"role": "manager"}),
    ] {
        let r = put(&w, &boss, scoped_admin, body.clone());
        assert_eq!(
            r.status,
            200,
            "unscoped admin on a scoped admin: {body}: {}",
            r.text()
        );
    }
    let r = delete(&w, &boss, wider);
    assert_eq!(r.status, 200, "unscoped admin deletes: {}", r.text());
    let r = create(
        &w,
        &boss,
        json!({"username": "new.everywhere", "password": "New-User-Pass-1", "role": "admin"}),
    );
    assert_eq!(r.status, 201, "unscoped admin creates: {}", r.text());
}

#[tokio::test]
async fn nobody_grants_or_manages_a_role_above_its_own() {
    let mut w = world(&[]).await;
    // A manager to whom an admin gave user management.
    w.add_user(
        "demo.usermgr",
        Some(DEMO),
        "manager",
        Some(r#"{"extra": ["users.read", "users.manage"]}"#),
    )
    .await;
    let second_admin = w.add_user("demo.admin2", Some(DEMO), "admin", None).await;
    let mgr = w.login("demo.usermgr").access;
    let viewer = w.user_id("demo.viewer");
    let admin = w.user_id("demo.admin");

    let before = row(&w, viewer).await;
    let message = assert_forbidden(
        &put(&w, &mgr, viewer, json!({"role": "admin"})),
        "manager grants admin",
    );
    assert!(message.contains("admin"), "{message}");
    assert_eq!(row(&w, viewer).await, before);
    let before = row(&w, admin).await;
    for body in [
        json!({"email": "taken@example.com"}),
        json!({"password": "Taken-Over-123"}),
        json!({"is_active": false}),
        json!({"role": "viewer"}),
    ] {
        assert_forbidden(
            &put(&w, &mgr, admin, body.clone()),
            &format!("manager on an admin: {body}"),
        );
    }
    assert_forbidden(&delete(&w, &mgr, admin), "manager deletes an admin");
    assert_eq!(row(&w, admin).await, before);
    assert_forbidden(
        &create(
            &w,
            &mgr,
            json!({"username": "mgr.admin", "password": "New-User-Pass-1", "role": "admin"}),
        ),
        "manager creates an admin",
    );

    // At or below its own rank it may.
    let r = put(&w, &mgr, viewer, json!({"role": "manager"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = put(
        &w,
        &mgr,
        w.user_id("demo.operator"),
        json!({"is_active": false}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = create(
        &w,
        &mgr,
        json!({"username": "mgr.operator", "password": "New-User-Pass-1", "role": "operator"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());

    // Admins manage admins; only the superadmin makes superadmins.
    let boss = w.login("demo.admin").access;
    let r = put(&w, &boss, second_admin, json!({"role": "manager"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_forbidden(
        &create(
            &w,
            &boss,
            json!({"username": "evil.root", "password": "New-User-Pass-1", "role": "superadmin"}),
        ),
        "admin creates a superadmin",
    );
    let root = w.login("root.op").access;
    let r = put(&w, &root, admin, json!({"permissions": {"lines": [3]}}));
    assert_eq!(r.status, 200, "superadmin: {}", r.text());
}
