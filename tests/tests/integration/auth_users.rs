//! Users and tenants through the real `auth` binary: create, read, list with
//! filters and keyset pagination, update, soft delete, permissions refinement,
//! tenant registration, activation, and the audit trail of each change.

use crate::auth_support as support;

use integration_tests::hosts::TestRequest;
use serde_json::{json, Value};
use support::*;

fn all_pages(w: &World, token: &str, base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let sep = if base.contains('?') { '&' } else { '?' };
        let uri = match &cursor {
            Some(c) => format!("{base}{sep}cursor={c}"),
            None => base.to_string(),
        };
        let r = w.auth(&TestRequest::get(&uri).bearer(token));
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        let body = r.json();
        out.extend(body["data"].as_array().cloned().unwrap_or_default());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(|u| u["username"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn an_admin_manages_the_users_of_its_plant() {
    let w = world(&[]).await;
    let admin = w.login("demo.admin");
    let t = admin.access.clone();

    // Create.
    let r = w.auth(
        &json_request(
            "POST",
            "/api/v1/users",
            &json!({"username": "new.operator", "password": "New-Operator-1", "role": "operator",
                    "email": "new.operator@example.com", "permissions": {"lines": [1, 3], "extra": ["data.export"]}}),
        )
        .bearer(&t),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json()["data"].clone();
    let id = created["user_id"].as_i64().expect("id");
    assert_eq!(created["tenant_id"], w.demo);
    assert_eq!(created["role"], "operator");
    assert_eq!(created["permissions"]["lines"], json!([1, 3]));
    assert!(created.get("password").is_none());
    assert!(!r.text().contains("argon2"));
    let dup = w.auth(
        &json_request(
            "POST",
            "/api/v1/users",
            &json!({"username": "new.operator", "password": "New-Operator-1", "role": "viewer"}),
        )
        .bearer(&t),
    );
    assert_eq!(
        assert_error(&dup, 409, "duplicate")["error"]["message"],
        "this username is already taken (user names are unique across the whole service); \
         choose another"
    );
    let bad_line = w.auth(
        &json_request(
            "POST",
            "/api/v1/users",
            &json!({"username": "bad.line", "password": "Bad-Line-123", "role": "viewer", "permissions": {"lines": [77]}}),
        )
        .bearer(&t),
    );
    assert_eq!(
        assert_error(&bad_line, 422, "unknown line")["error"]["field"],
        "permissions.lines"
    );
    let escalate = w.auth(
        &json_request(
            "POST",
            "/api/v1/users",
            &json!({"username": "esc.user", "password": "Escalate-123", "role": "viewer", "permissions": {"extra": ["tenants.manage"]}}),
        )
        .bearer(&t),
    );
    assert_eq!(
        assert_error(&escalate, 422, "escalation")["error"]["field"],
        "permissions.extra"
    );
    let weak = w.auth(
        &json_request(
            "POST",
            "/api/v1/users",
            &json!({"username": "weak.user", "password": "short", "role": "viewer"}),
        )
        .bearer(&t),
    );
    assert_eq!(
        assert_error(&weak, 422, "weak password")["error"]["field"],
        "password"
    );

    // The new user signs in with its line scope.
    let login = w.auth(&TestRequest::post_json(
        "/api/v1/auth/login",
        &json!({"username": "new.operator", "password": "New-Operator-1"}),
    ));
    assert_eq!(login.status, 200, "{}", login.text());
    let op = Session::from_login(&login);
    let lines = w
        .production(&TestRequest::get("/api/v1/production/lines").bearer(&op.access))
        .json();
    let ids: Vec<i64> = lines["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|l| l["line_id"].as_i64())
        .collect();
    assert_eq!(ids, vec![1, 3]);

    // Read, filter, search, paginate.
    let one = w.auth(&TestRequest::get(&format!("/api/v1/users/{id}")).bearer(&t));
    assert_eq!(one.json()["data"]["username"], "new.operator");
    let all = all_pages(&w, &t, "/api/v1/users?limit=2");
    let mut got = names(&all);
    got.sort();
    assert_eq!(
        got,
        vec![
            "demo.admin",
            "demo.manager",
            "demo.operator",
            "demo.other",
            "demo.scoped",
            "demo.viewer",
            "new.operator"
        ]
    );
    let mut ids_in_order: Vec<i64> = all.iter().filter_map(|u| u["user_id"].as_i64()).collect();
    let before = ids_in_order.clone();
    ids_in_order.sort();
    assert_eq!(before, ids_in_order, "keyset order, no duplicates");
    let ops = all_pages(&w, &t, "/api/v1/users?role=operator");
    assert_eq!(names(&ops), vec!["demo.operator", "new.operator"]);
    let found = all_pages(&w, &t, "/api/v1/users?q=new.op");
    assert_eq!(names(&found), vec!["new.operator"]);
    let by_mail = all_pages(&w, &t, "/api/v1/users?q=operator%40example");
    assert_eq!(names(&by_mail), vec!["demo.operator", "new.operator"]);

    // Update: role, permissions, email; deactivate; reactivate; password reset.
    let r = w.auth(
        &json_request(
            "PUT",
            &format!("/api/v1/users/{id}"),
            &json!({"role": "manager", "permissions": {"lines": [2]}, "email": null}),
        )
        .bearer(&t),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let updated = r.json()["data"].clone();
    assert_eq!(updated["role"], "manager");
    assert_eq!(updated["email"], Value::Null);
    assert!(updated["effective_permissions"]
        .as_array()
        .expect("perms")
        .iter()
        .any(|p| p == "layout.edit_own"));
    let lines = w
        .production(&TestRequest::get("/api/v1/production/lines").bearer(&op.access))
        .json();
    let ids: Vec<i64> = lines["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|l| l["line_id"].as_i64())
        .collect();
    assert_eq!(ids, vec![2], "the new scope applies to the live session");

    let r = w.auth(
        &json_request(
            "PUT",
            &format!("/api/v1/users/{id}"),
            &json!({"is_active": false}),
        )
        .bearer(&t),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["is_active"], false);
    assert_error(
        &w.auth(&TestRequest::get("/api/v1/auth/me").bearer(&op.access)),
        401,
        "deactivated",
    );
    let inactive = all_pages(&w, &t, "/api/v1/users?active=false");
    assert_eq!(names(&inactive), vec!["new.operator"]);
    let r = w.auth(
        &json_request(
            "PUT",
            &format!("/api/v1/users/{id}"),
            &json!({"is_active": true, "password": "Reset-Pass-99"}),
        )
        .bearer(&t),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let relog = w.auth(&TestRequest::post_json(
        "/api/v1/auth/login",
        &json!({"username": "new.operator", "password": "Reset-Pass-99"}),
    ));
    assert_eq!(relog.status, 200, "{}", relog.text());

    // Admins cannot lock themselves out.
    let me = w.user_id("demo.admin");
    let r = w.auth(
        &json_request(
            "PUT",
            &format!("/api/v1/users/{me}"),
            &json!({"role": "viewer"}),
        )
        .bearer(&t),
    );
    assert_eq!(assert_error(&r, 422, "own role")["error"]["field"], "role");
    let r = w.auth(
        &json_request(
            "PUT",
            &format!("/api/v1/users/{me}"),
            &json!({"is_active": false}),
        )
        .bearer(&t),
    );
    assert_eq!(
        assert_error(&r, 422, "self deactivation")["error"]["field"],
        "is_active"
    );
    assert_error(
        &w.auth(&request("DELETE", &format!("/api/v1/users/{me}")).bearer(&t)),
        409,
        "self delete",
    );
    let r = w.auth(
        &json_request(
            "PUT",
            &format!("/api/v1/users/{me}"),
            &json!({"email": "boss@example.com"}),
        )
        .bearer(&t),
    );
    assert_eq!(r.status, 200, "own e-mail is fine: {}", r.text());

    // Soft delete.
    let r = w.auth(&request("DELETE", &format!("/api/v1/users/{id}")).bearer(&t));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["deleted"], true);
    assert_error(
        &w.auth(&TestRequest::get(&format!("/api/v1/users/{id}")).bearer(&t)),
        404,
        "deleted user",
    );
    assert_error(
        &w.auth(&request("DELETE", &format!("/api/v1/users/{id}")).bearer(&t)),
        404,
        "deleted twice",
    );
    assert!(!names(&all_pages(&w, &t, "/api/v1/users")).contains(&"new.operator".to_string()));
    let gone = w.auth(&TestRequest::post_json(
        "/api/v1/auth/login",
        &json!({"username": "new.operator", "password": "Reset-Pass-99"}),
    ));
    assert_error(&gone, 401, "deleted user login");
    assert_eq!(
        w.count(&format!(
            "SELECT COUNT(*) FROM `user` WHERE user_id = {id} AND deleted_at IS NOT NULL"
        ))
        .await,
        1,
        "the row stays (soft delete)"
    );

    for (action, n) in [("user.create", 1), ("user.update", 4), ("user.delete", 1)] {
        assert_eq!(
            w.count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND user_id = {me}"
            ))
            .await,
            n,
            "{action}"
        );
    }
}

#[tokio::test]
async fn the_superadmin_registers_and_manages_tenants() {
    let w = world(&[]).await;
    let root = w.login("root.op");
    let t = root.access.clone();

    let r = w.auth(
        &json_request(
            "POST",
            "/api/v1/tenants",
            &json!({"company_name": "Planta Norte", "config": {"timezone": "America/Bogota", "language": "en"}}),
        )
        .bearer(&t),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let data = r.json()["data"].clone();
    let id = data["tenant_id"].as_i64().expect("id");
    assert_eq!(data["is_active"], true);
    assert_eq!(data["config"]["timezone"], "America/Bogota");
    assert_eq!(data["config"]["language"], "en");
    assert_eq!(data["config"]["theme"], "dark");
    assert_eq!(data["config"]["data_timezone"], "UTC");
    assert_eq!(data["config"]["db_name"], format!("dashboard_client_{id}"));
    assert!(data["asociated_since"]
        .as_str()
        .is_some_and(|d| d.len() == 10));
    assert!(data["client_database"]["note"]
        .as_str()
        .is_some_and(|n| n.contains("dashctl provision-client")));

    let dup = w.auth(
        &json_request(
            "POST",
            "/api/v1/tenants",
            &json!({"company_name": "Planta Norte", "config": {"timezone": "UTC"}}),
        )
        .bearer(&t),
    );
    assert_error(&dup, 409, "duplicate company");
    let no_tz = w.auth(
        &json_request(
            "POST",
            "/api/v1/tenants",
            &json!({"company_name": "Sin Zona"}),
        )
        .bearer(&t),
    );
    assert_eq!(
        assert_error(&no_tz, 422, "no timezone")["error"]["field"],
        "config.timezone"
    );

    // (A database name under the test's prefix: it must not exist on the server.)
    let norte_db = w.db.db_name("norte");
    let r = w.auth(
        &json_request(
            "PUT",
            &format!("/api/v1/tenants/{id}"),
            &json!({"company_name": "Planta Norte S.A.", "asociated_since": "2025-01-15",
                    "config": {"theme": "light", "language": null, "db_name": norte_db}}),
        )
        .bearer(&t),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let data = r.json()["data"].clone();
    assert_eq!(data["company_name"], "Planta Norte S.A.");
    assert_eq!(data["asociated_since"], "2025-01-15");
    assert_eq!(data["config"]["theme"], "light");
    assert_eq!(data["config"]["language"], Value::Null);
    assert_eq!(
        data["config"]["timezone"], "America/Bogota",
        "merged, not replaced"
    );
    assert_eq!(data["config"]["db_name"], norte_db.as_str());

    let r = w.auth(
        &json_request(
            "POST",
            &format!("/api/v1/tenants/{id}/deactivate"),
            &json!({}),
        )
        .bearer(&t),
    );
    assert_eq!(r.json()["data"]["is_active"], false);
    let inactive = w
        .auth(&TestRequest::get("/api/v1/tenants?active=false").bearer(&t))
        .json();
    assert_eq!(inactive["data"].as_array().map(Vec::len), Some(1));
    let r = w.auth(
        &json_request(
            "POST",
            &format!("/api/v1/tenants/{id}/activate"),
            &json!({}),
        )
        .bearer(&t),
    );
    assert_eq!(r.json()["data"]["is_active"], true);
    assert_error(
        &w.auth(&json_request("POST", "/api/v1/tenants/9999/activate", &json!({})).bearer(&t)),
        404,
        "unknown",
    );
    assert_error(
        &w.auth(&TestRequest::get("/api/v1/tenants/9999").bearer(&t)),
        404,
        "unknown",
    );

    // Keyset pagination over the three tenants.
    let first = w
        .auth(&TestRequest::get("/api/v1/tenants?limit=2").bearer(&t))
        .json();
    assert_eq!(first["data"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"].as_str().expect("cursor").to_string();
    let second = w
        .auth(&TestRequest::get(&format!("/api/v1/tenants?limit=2&cursor={cursor}")).bearer(&t))
        .json();
    assert_eq!(second["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["next_cursor"], Value::Null);
    let found = w
        .auth(&TestRequest::get("/api/v1/tenants?q=Norte").bearer(&t))
        .json();
    assert_eq!(found["data"][0]["tenant_id"], id);

    // A user for the new tenant, then its admin sees only its tenant.
    let r = w.auth(
        &json_request(
            "POST",
            "/api/v1/users",
            &json!({"username": "norte.admin", "password": "Norte-Admin-1", "role": "admin", "tenant_id": id}),
        )
        .bearer(&t),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let norte = w.auth(&TestRequest::post_json(
        "/api/v1/auth/login",
        &json!({"username": "norte.admin", "password": "Norte-Admin-1"}),
    ));
    assert_eq!(norte.status, 200, "{}", norte.text());
    let n = Session::from_login(&norte);
    let current = w
        .auth(&TestRequest::get("/api/v1/tenants/current").bearer(&n.access))
        .json();
    assert_eq!(current["data"]["company_name"], "Planta Norte S.A.");
    let users = w
        .auth(&TestRequest::get("/api/v1/users").bearer(&n.access))
        .json();
    assert_eq!(
        names(users["data"].as_array().expect("list")),
        vec!["norte.admin"]
    );
    // Its plant database does not exist yet: plant data answers 503 with a clear code, never 500.
    let p = w.production(&TestRequest::get("/api/v1/production/lines").bearer(&n.access));
    assert_eq!(p.status, 503, "{}", p.text());

    for action in [
        "tenant.create",
        "tenant.update",
        "tenant.activate",
        "tenant.deactivate",
    ] {
        assert_eq!(
            w.count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND entity_id = '{id}'"
            ))
            .await,
            1,
            "{action}"
        );
    }
}
