//! Shared fixtures of the auth, production and tenancy tests (used by them
//! as `use crate::auth_support as support;`).
//!
//! Two plants: "Demo Plant" (the demo data set: lines 1–3, areas 1–12,
//! products 1–6) and "Second Plant" (its own small plant with lines 101–102,
//! areas 201–204, product 301 — nothing in common with Demo Plant, so a body
//! that leaks Demo Plant's data is recognisable), plus users of every role.
#![allow(dead_code)]

use std::collections::HashMap;

use integration_tests::hosts::{bin, run_cgi, run_cgi_raw, RawResponse, TestRequest};
use integration_tests::testdb::TestDb;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

pub const PASSWORD: &str = "Correct-Horse-42";
pub const DEMO: &str = "Demo Plant";
pub const SECOND: &str = "Second Plant";

/// Strings that only Demo Plant's data contains.
pub const DEMO_MARKERS: [&str; 6] = [
    "Envasado",
    "Etiquetado",
    "Paletizado",
    "Llenadora",
    "Demo Plant",
    "demo.",
];

pub struct World {
    pub db: TestDb,
    pub env: Vec<(String, String)>,
    pub demo: i64,
    pub second: i64,
    pub users: HashMap<String, i64>,
}

/// Users created by [`world`]: (username, tenant, role, permissions JSON).
pub const USERS: [(&str, Option<&str>, &str, Option<&str>); 10] = [
    ("root.op", None, "superadmin", None),
    ("demo.admin", Some(DEMO), "admin", None),
    ("demo.manager", Some(DEMO), "manager", None),
    ("demo.operator", Some(DEMO), "operator", None),
    ("demo.viewer", Some(DEMO), "viewer", None),
    (
        "demo.scoped",
        Some(DEMO),
        "manager",
        Some(r#"{"lines": [2]}"#),
    ),
    ("demo.other", Some(DEMO), "viewer", None),
    ("second.admin", Some(SECOND), "admin", None),
    ("second.viewer", Some(SECOND), "viewer", None),
    ("second.operator", Some(SECOND), "operator", None),
];

const SECOND_PLANT_SQL: &[&str] = &[
    "INSERT INTO production_line (line_id, line_name, line_code, is_active) VALUES \
     (101, 'Second Line A', 'second_a', 1), (102, 'Second Line B', 'second_b', 1)",
    "INSERT INTO area (area_id, line_id, area_name, area_type) VALUES \
     (201, 101, 'SA in', 'input'), (202, 101, 'SA out', 'output'), \
     (203, 102, 'SB in', 'input'), (204, 102, 'SB out', 'output')",
    "INSERT INTO product (product_id, product_name, product_code) VALUES (301, 'Second Widget', 'SW-1')",
    "INSERT INTO shift (shift_id, shift_name, start_time, end_time) VALUES (401, 'Second Day', '08:00:00', '16:00:00')",
];

/// Builds the two plants and the users (all with [`PASSWORD`]). `extra_env`
/// adds or overrides variables of the binaries' environment.
pub async fn world(extra_env: &[(&str, &str)]) -> World {
    world_on(extra_env, false).await
}

/// [`world`], with Second Plant's client database on the second server
/// (`TEST_SECOND_DATABASE_URL`) when `second_server`.
pub async fn world_on(extra_env: &[(&str, &str)], second_server: bool) -> World {
    let db = TestDb::new()
        .await
        .expect("test database")
        .with_demo_tenant(DEMO, "Europe/Madrid")
        .await
        .expect("demo tenant");
    let db = if second_server {
        let db = db
            .with_empty_tenant_on_second_server(SECOND, "America/Mexico_City")
            .await
            .expect("second tenant on the second server");
        db.check_placement()
            .await
            .expect("one plant on each server");
        db
    } else {
        db.with_empty_tenant(SECOND, "America/Mexico_City")
            .await
            .expect("second tenant")
    };
    let demo = db.tenant(DEMO).tenant_id;
    let second = db.tenant(SECOND).tenant_id;

    // Second Plant's own small client database.
    let mut c = db.client_conn(second).await.expect("second client db");
    for stmt in dash_store::schema::split_statements(dash_store::schema::REFERENCE_SQL) {
        c.query_drop(stmt).await.expect("reference schema");
    }
    for stmt in SECOND_PLANT_SQL {
        c.query_drop(*stmt).await.expect("second plant rows");
    }
    drop(c);

    let phc = dash_store::password::hash(PASSWORD).expect("hash");
    let mut g = db.global_conn().await.expect("global");
    let mut users = HashMap::new();
    for (name, tenant, role, perms) in USERS {
        let tenant_id = tenant.map(|t| db.tenant(t).tenant_id);
        g.exec_drop(
            "INSERT INTO `user` (tenant_id, username, email, password, role, permissions, is_active) \
             VALUES (?, ?, ?, ?, ?, ?, 1)",
            (tenant_id, name, format!("{name}@example.com"), &phc, role, perms),
        )
        .await
        .expect("user");
        users.insert(name.to_string(), g.last_insert_id().expect("id") as i64);
    }
    drop(g);

    let mut env = db.env();
    // Most tests make many requests from one address and user; the limits
    // have tests of their own.
    let defaults = [
        ("RATE_LIMIT_AUTH_IP_PER_MIN", "100000"),
        ("RATE_LIMIT_USER_PER_MIN", "100000"),
    ];
    for (k, v) in defaults.iter().chain(extra_env.iter()) {
        env.retain(|(ek, _)| ek != k);
        env.push((k.to_string(), v.to_string()));
    }
    World {
        db,
        env,
        demo,
        second,
        users,
    }
}

impl World {
    pub fn user_id(&self, name: &str) -> i64 {
        *self
            .users
            .get(name)
            .unwrap_or_else(|| panic!("no user {name}"))
    }

    /// The env with one variable changed (e.g. the injected clock).
    pub fn env_with(&self, pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        for (k, v) in pairs {
            env.retain(|(ek, _)| ek != k);
            env.push((k.to_string(), v.to_string()));
        }
        env
    }

    pub fn auth(&self, req: &TestRequest) -> RawResponse {
        run_cgi(&bin("auth"), &self.env, req)
    }

    pub fn production(&self, req: &TestRequest) -> RawResponse {
        run_cgi(&bin("production"), &self.env, req)
    }

    pub fn auth_at(&self, offset_seconds: i64, req: &TestRequest) -> RawResponse {
        let env = self.env_with(&[(
            "DASHBOARD_CLOCK_OFFSET_SECONDS",
            &offset_seconds.to_string(),
        )]);
        run_cgi(&bin("auth"), &env, req)
    }

    /// Signs in and returns the session; panics unless the login succeeds.
    pub fn login(&self, username: &str) -> Session {
        self.login_at(0, username)
    }

    pub fn login_at(&self, offset_seconds: i64, username: &str) -> Session {
        let resp = self.auth_at(
            offset_seconds,
            &TestRequest::post_json(
                "/api/v1/auth/login",
                &json!({"username": username, "password": PASSWORD}),
            ),
        );
        assert_eq!(resp.status, 200, "login {username}: {}", resp.text());
        Session::from_login(&resp)
    }

    pub async fn global(&self) -> mysql_async::Conn {
        self.db.global_conn().await.expect("global connection")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let mut g = self.global().await;
        g.query_first::<i64, _>(sql)
            .await
            .expect("count")
            .unwrap_or(0)
    }
}

/// What a login hands out.
#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub csrf: String,
    pub body: Value,
    /// `Set-Cookie` values.
    pub cookies: Vec<String>,
}

impl Session {
    pub fn from_login(resp: &RawResponse) -> Session {
        let body = resp.json();
        Session {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_string(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_string(),
            csrf: body["csrf_token"].as_str().unwrap_or("").to_string(),
            cookies: resp
                .headers
                .iter()
                .filter(|(k, _)| k == "set-cookie")
                .map(|(_, v)| v.clone())
                .collect(),
            body,
        }
    }

    /// The `Cookie` header a browser would send back.
    pub fn cookie_header(&self) -> String {
        format!(
            "dash_access={}; dash_refresh={}; dash_csrf={}",
            self.access, self.refresh, self.csrf
        )
    }
}

pub fn request(method: &str, uri: &str) -> TestRequest {
    TestRequest {
        method: method.into(),
        uri: uri.into(),
        ..Default::default()
    }
}

pub fn json_request(method: &str, uri: &str, body: &Value) -> TestRequest {
    raw_request(method, uri, serde_json::to_vec(body).expect("json"))
}

pub fn raw_request(method: &str, uri: &str, body: Vec<u8>) -> TestRequest {
    TestRequest {
        method: method.into(),
        uri: uri.into(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body,
    }
}

pub trait Bearer {
    fn bearer(self, token: &str) -> TestRequest;
}

impl Bearer for TestRequest {
    fn bearer(self, token: &str) -> TestRequest {
        self.header("Authorization", &format!("Bearer {token}"))
    }
}

/// Runs a request as CGI with another client address.
pub fn run_from_ip(
    binary: &str,
    env: &[(String, String)],
    req: &TestRequest,
    ip: &str,
) -> RawResponse {
    let mut vars = req.cgi_vars();
    for (k, v) in vars.iter_mut() {
        if k == "REMOTE_ADDR" {
            *v = ip.to_string();
        }
    }
    run_cgi_raw(&bin(binary), env, &vars, &req.body).0
}

/// Asserts a JSON error of docs/api.md#errors with this status, returning its body.
pub fn assert_error(resp: &RawResponse, status: u16, what: &str) -> Value {
    assert_eq!(resp.status, status, "{what}: {}", resp.text());
    let body = resp.json();
    assert!(
        body["error"]["code"].is_string(),
        "{what}: no error code in {body}"
    );
    assert!(
        body["error"]["message"].is_string(),
        "{what}: no error message in {body}"
    );
    body
}

/// Asserts that nothing of Demo Plant's data is in a response.
pub fn assert_no_demo_data(resp: &RawResponse, what: &str) {
    let text = resp.text();
    for marker in DEMO_MARKERS {
        assert!(
            !text.contains(marker),
            "{what} leaked Demo Plant data ({marker}): {text}"
        );
    }
}

impl World {
    /// Adds a user (with [`PASSWORD`]) to a plant of the world, or to no plant
    /// when `tenant` is `None`; returns its id.
    pub async fn add_user(
        &mut self,
        username: &str,
        tenant: Option<&str>,
        role: &str,
        permissions: Option<&str>,
    ) -> i64 {
        let tenant_id = tenant.map(|t| self.db.tenant(t).tenant_id);
        let phc = dash_store::password::hash(PASSWORD).expect("hash");
        let mut g = self.global().await;
        g.exec_drop(
            "INSERT INTO `user` (tenant_id, username, email, password, role, permissions, is_active) \
             VALUES (?, ?, ?, ?, ?, ?, 1)",
            (tenant_id, username, format!("{username}@example.com"), &phc, role, permissions),
        )
        .await
        .expect("user");
        let id = g.last_insert_id().expect("id") as i64;
        self.users.insert(username.to_string(), id);
        id
    }
}
