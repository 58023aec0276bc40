//! The tenancy and role matrix over every route of the `auth` and `production`
//! functions:
//!
//! * a user of Second Plant using Demo Plant's ids gets 404 or 403 and never a
//!   byte of Demo Plant's data;
//! * the tenant comes from the token only (headers, query and body cannot
//!   change it);
//! * a viewer (and an operator, a manager) gets 403 on every write of the auth
//!   function, and each role gets exactly what docs/roles.md#roles gives it.
//!
//! The two plants live on two database servers when there is a second one
//! (`TEST_SECOND_DATABASE_URL`, which make test starts): Demo Plant's client
//! database on the main server, Second Plant's on the second, its global row on
//! the main one (docs/client-database.md, "Where it lives"). Without it a local
//! run keeps both on the main server (with a note); under CI it fails.

use crate::auth_support as support;

use integration_tests::hosts::{RawResponse, TestRequest};
use integration_tests::testdb::second_server_or_one;
use serde_json::json;
use support::*;

/// The matrix's world: `support::world` with Second Plant's client database on
/// the second server (when there is one).
async fn matrix_world(test: &str) -> World {
    world_on(&[], second_server_or_one(test).is_some()).await
}

fn call(w: &World, binary: &str, req: &TestRequest) -> RawResponse {
    match binary {
        "auth" => w.auth(req),
        _ => w.production(req),
    }
}

#[tokio::test]
async fn second_plant_users_never_reach_demo_plant() {
    let w = matrix_world("tenancy_matrix::second_plant_users_never_reach_demo_plant").await;
    let demo_user = w.user_id("demo.viewer");
    let demo_admin = w.user_id("demo.admin");
    let demo = w.demo;

    for who in ["second.admin", "second.operator", "second.viewer"] {
        let s = w.login(who);
        let mut requests: Vec<(&str, TestRequest)> = vec![
            ("production", TestRequest::get("/api/v1/production/lines/1")),
            ("production", TestRequest::get("/api/v1/production/lines/2")),
            ("production", TestRequest::get("/api/v1/production/lines/3")),
            (
                "production",
                TestRequest::get("/api/v1/production/lines/1/areas"),
            ),
            (
                "production",
                TestRequest::get("/api/v1/production/lines/3/areas"),
            ),
            (
                "production",
                TestRequest::get("/api/v1/production/areas?line_id=1"),
            ),
            (
                "production",
                TestRequest::get("/api/v1/production/areas?line_id=2"),
            ),
            (
                "auth",
                TestRequest::get(&format!("/api/v1/users/{demo_user}")),
            ),
            (
                "auth",
                TestRequest::get(&format!("/api/v1/users/{demo_admin}")),
            ),
            (
                "auth",
                json_request(
                    "PUT",
                    &format!("/api/v1/users/{demo_user}"),
                    &json!({"role": "admin"}),
                ),
            ),
            (
                "auth",
                json_request(
                    "PUT",
                    &format!("/api/v1/users/{demo_user}"),
                    &json!({"password": "Taken-Over-123"}),
                ),
            ),
            (
                "auth",
                request("DELETE", &format!("/api/v1/users/{demo_user}")),
            ),
            ("auth", TestRequest::get(&format!("/api/v1/tenants/{demo}"))),
            (
                "auth",
                json_request(
                    "PUT",
                    &format!("/api/v1/tenants/{demo}"),
                    &json!({"company_name": "Pwned"}),
                ),
            ),
            (
                "auth",
                json_request(
                    "POST",
                    &format!("/api/v1/tenants/{demo}/deactivate"),
                    &json!({}),
                ),
            ),
            (
                "auth",
                json_request(
                    "POST",
                    &format!("/api/v1/tenants/{demo}/activate"),
                    &json!({}),
                ),
            ),
            (
                "auth",
                TestRequest::get(&format!("/api/v1/users?tenant_id={demo}")),
            ),
            (
                "auth",
                json_request(
                    "POST",
                    "/api/v1/users",
                    &json!({"username": "planted.user", "password": "Planted-Pass-1", "role": "admin", "tenant_id": demo}),
                ),
            ),
            ("auth", TestRequest::get("/api/v1/tenants")),
        ];
        for p in 1..=6 {
            requests.push((
                "production",
                TestRequest::get(&format!("/api/v1/production/products/{p}")),
            ));
        }
        for (binary, req) in requests {
            let what = format!("{who} {} {}", req.method, req.uri);
            let r = call(&w, binary, &req.bearer(&s.access));
            assert!(
                matches!(r.status, 403 | 404),
                "{what}: {} {}",
                r.status,
                r.text()
            );
            assert_no_demo_data(&r, &what);
        }
        // Their own lists show only Second Plant, whatever they add to the request.
        for (binary, uri) in [
            ("production", "/api/v1/production/lines"),
            ("production", "/api/v1/production/areas"),
            ("production", "/api/v1/production/products"),
            ("production", "/api/v1/production/shifts"),
            ("auth", "/api/v1/auth/me"),
            ("auth", "/api/v1/users/me"),
            ("auth", "/api/v1/tenants/current"),
        ] {
            for variant in [
                uri.to_string(),
                format!("{uri}?tenant_id={demo}"),
                format!(
                    "{uri}{}tenant={demo}",
                    if uri.contains('?') { "&" } else { "?" }
                ),
            ] {
                let req = TestRequest::get(&variant)
                    .header("X-Tenant-Id", &demo.to_string())
                    .header("Cookie", &format!("tenant_id={demo}"))
                    .bearer(&s.access);
                let r = call(&w, binary, &req);
                // A tenant named in the query is a parameter these routes do not
                // take: refused with 422 naming it (docs/api.md, "Bad input"),
                // never a way into another plant.
                let expected = if variant.contains('?') { 422 } else { 200 };
                assert_eq!(r.status, expected, "{who} {variant}: {}", r.text());
                if expected == 422 {
                    let field = r.json()["error"]["field"].as_str().map(str::to_string);
                    assert!(
                        matches!(field.as_deref(), Some("tenant_id" | "tenant")),
                        "{who} {variant}: {}",
                        r.text()
                    );
                }
                assert_no_demo_data(&r, &variant);
            }
        }
        let lines = w
            .production(&TestRequest::get("/api/v1/production/lines").bearer(&s.access))
            .json();
        let line_ids: Vec<i64> = lines["data"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|l| l["line_id"].as_i64())
            .collect();
        assert_eq!(line_ids, vec![101, 102], "{who}");
        let current = w
            .auth(&TestRequest::get("/api/v1/tenants/current").bearer(&s.access))
            .json();
        assert_eq!(current["data"]["tenant_id"], w.second);
    }

    // The admin's user list never shows another plant's users.
    let admin = w.login("second.admin");
    let users = w.auth(&TestRequest::get("/api/v1/users?limit=200").bearer(&admin.access));
    assert_eq!(users.status, 200);
    assert_no_demo_data(&users, "second.admin GET /users");
    assert!(users.json()["data"]
        .as_array()
        .expect("list")
        .iter()
        .all(|u| u["tenant_id"] == w.second));

    // Nothing of Demo Plant changed.
    assert_eq!(
        w.count(&format!("SELECT COUNT(*) FROM tenant WHERE tenant_id = {demo} AND is_active = 1 AND company_name = 'Demo Plant'"))
            .await,
        1
    );
    assert_eq!(
        w.count(&format!("SELECT COUNT(*) FROM `user` WHERE user_id = {demo_user} AND role = 'viewer' AND deleted_at IS NULL"))
            .await,
        1
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM `user` WHERE username = 'planted.user'")
            .await,
        0
    );
    let demo_login = w.login("demo.viewer");
    assert_eq!(demo_login.body["user"]["role"], "viewer");
}

/// Every write of the auth function, for a user of Demo Plant.
fn writes(w: &World) -> Vec<TestRequest> {
    let other = w.user_id("demo.other");
    let demo = w.demo;
    vec![
        json_request(
            "POST",
            "/api/v1/users",
            &json!({"username": "by.viewer", "password": "Viewer-Pass-1", "role": "viewer"}),
        ),
        json_request(
            "PUT",
            &format!("/api/v1/users/{other}"),
            &json!({"email": "x@example.com"}),
        ),
        json_request(
            "PUT",
            &format!("/api/v1/users/{other}"),
            &json!({"role": "admin"}),
        ),
        request("DELETE", &format!("/api/v1/users/{other}")),
        json_request(
            "POST",
            "/api/v1/tenants",
            &json!({"company_name": "By Viewer", "config": {"timezone": "UTC"}}),
        ),
        json_request(
            "PUT",
            &format!("/api/v1/tenants/{demo}"),
            &json!({"company_name": "Renamed"}),
        ),
        json_request(
            "POST",
            &format!("/api/v1/tenants/{demo}/deactivate"),
            &json!({}),
        ),
        json_request(
            "POST",
            &format!("/api/v1/tenants/{demo}/activate"),
            &json!({}),
        ),
    ]
}

#[tokio::test]
async fn viewers_operators_and_managers_get_403_on_every_write() {
    let w =
        matrix_world("tenancy_matrix::viewers_operators_and_managers_get_403_on_every_write").await;
    for who in [
        "demo.viewer",
        "demo.operator",
        "demo.manager",
        "demo.scoped",
    ] {
        let s = w.login(who);
        let me = w.user_id(who);
        let mut reqs = writes(&w);
        // Even on themselves: role, permissions and activity are an admin's to change.
        reqs.push(json_request(
            "PUT",
            &format!("/api/v1/users/{me}"),
            &json!({"role": "admin"}),
        ));
        reqs.push(json_request(
            "DELETE",
            &format!("/api/v1/users/{me}"),
            &json!({}),
        ));
        for req in reqs {
            let what = format!("{who} {} {}", req.method, req.uri);
            let r = w.auth(&req.bearer(&s.access));
            assert_error(&r, 403, &what);
        }
        // The same writes by cookie with a valid CSRF token are still 403.
        let req = writes(&w).remove(0);
        let r = w.auth(
            &req.header("Cookie", &s.cookie_header())
                .header("X-CSRF-Token", &s.csrf),
        );
        assert_error(&r, 403, &format!("{who} by cookie"));
        // Reads of other users and of tenants are an admin's too.
        for uri in [
            "/api/v1/users".to_string(),
            "/api/v1/tenants".to_string(),
            format!("/api/v1/users/{}", w.user_id("demo.admin")),
        ] {
            assert_error(
                &w.auth(&TestRequest::get(&uri).bearer(&s.access)),
                403,
                &format!("{who} GET {uri}"),
            );
        }
        // What everyone may do for themselves.
        for uri in [
            "/api/v1/auth/me",
            "/api/v1/users/me",
            "/api/v1/tenants/current",
            &format!("/api/v1/users/{me}"),
            &format!("/api/v1/tenants/{}", w.demo),
        ] {
            let r = w.auth(&TestRequest::get(uri).bearer(&s.access));
            assert_eq!(r.status, 200, "{who} GET {uri}: {}", r.text());
        }
    }
    assert_eq!(
        w.count("SELECT COUNT(*) FROM `user` WHERE username = 'by.viewer'")
            .await,
        0
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM tenant WHERE company_name IN ('By Viewer', 'Renamed')")
            .await,
        0
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM `user` WHERE deleted_at IS NOT NULL")
            .await,
        0
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM tenant WHERE is_active = 0")
            .await,
        0
    );
}

#[tokio::test]
async fn admins_and_the_superadmin_get_what_their_role_allows() {
    let w =
        matrix_world("tenancy_matrix::admins_and_the_superadmin_get_what_their_role_allows").await;
    let admin = w.login("demo.admin");
    let demo = w.demo;
    let other = w.user_id("demo.other");
    // Admin: users of the plant yes, tenants no.
    for (req, status) in [
        (TestRequest::get("/api/v1/users"), 200),
        (TestRequest::get(&format!("/api/v1/users/{other}")), 200),
        (
            json_request(
                "PUT",
                &format!("/api/v1/users/{other}"),
                &json!({"email": "other@example.com"}),
            ),
            200,
        ),
        (
            json_request(
                "POST",
                "/api/v1/users",
                &json!({"username": "by.admin", "password": "Admin-Pass-1", "role": "operator"}),
            ),
            201,
        ),
        (TestRequest::get("/api/v1/tenants"), 403),
        (
            json_request(
                "POST",
                "/api/v1/tenants",
                &json!({"company_name": "X", "config": {"timezone": "UTC"}}),
            ),
            403,
        ),
        (
            json_request(
                "PUT",
                &format!("/api/v1/tenants/{demo}"),
                &json!({"company_name": "Renamed"}),
            ),
            403,
        ),
        (
            json_request(
                "POST",
                &format!("/api/v1/tenants/{demo}/deactivate"),
                &json!({}),
            ),
            403,
        ),
        (
            TestRequest::get(&format!("/api/v1/tenants/{}", w.second)),
            404,
        ),
        (
            json_request(
                "POST",
                "/api/v1/users",
                &json!({"username": "evil.root", "password": "Admin-Pass-1", "role": "superadmin"}),
            ),
            403,
        ),
        (
            request("DELETE", &format!("/api/v1/users/{}", w.user_id("root.op"))),
            404,
        ),
        (
            request(
                "DELETE",
                &format!("/api/v1/users/{}", w.user_id("second.viewer")),
            ),
            404,
        ),
    ] {
        let what = format!("admin {} {}", req.method, req.uri);
        let r = w.auth(&req.bearer(&admin.access));
        assert_eq!(r.status, status, "{what}: {}", r.text());
    }
    // Superadmin: tenants and any tenant's users; no plant data.
    let root = w.login("root.op");
    for (req, status) in [
        (TestRequest::get("/api/v1/tenants"), 200),
        (TestRequest::get(&format!("/api/v1/tenants/{demo}")), 200),
        (TestRequest::get("/api/v1/tenants/current"), 404),
        (
            TestRequest::get(&format!("/api/v1/users?tenant_id={}", w.second)),
            200,
        ),
        (TestRequest::get(&format!("/api/v1/users/{other}")), 200),
        (
            json_request(
                "POST",
                "/api/v1/users",
                &json!({"username": "second.new", "password": "Root-Pass-12", "role": "manager", "tenant_id": w.second}),
            ),
            201,
        ),
        (
            json_request(
                "POST",
                "/api/v1/users",
                &json!({"username": "no.tenant", "password": "Root-Pass-12", "role": "manager"}),
            ),
            422,
        ),
    ] {
        let what = format!("superadmin {} {}", req.method, req.uri);
        let r = w.auth(&req.bearer(&root.access));
        assert_eq!(r.status, status, "{what}: {}", r.text());
    }
    let r = w.production(&TestRequest::get("/api/v1/production/lines").bearer(&root.access));
    assert_error(&r, 403, "superadmin has no plant");
}
