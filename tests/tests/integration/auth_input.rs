//! Every field of login, refresh, change-password, users and tenants tried with
//! empty, ~1 MiB, non-UTF-8, emoji, SQL and script payloads: the answer is a
//! 4xx naming the field, or the value is stored exactly as sent (and is
//! harmless); never a 500, never markup stored.

use crate::auth_support as support;

use integration_tests::hosts::{RawResponse, TestRequest};
use serde_json::{json, Value};
use support::*;

const RAW_MARK: &str = "__RAW_NON_UTF8__";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Empty,
    Huge,
    NonUtf8,
    Emoji,
    Sql,
    Script,
}

const KINDS: [Kind; 6] = [
    Kind::Empty,
    Kind::Huge,
    Kind::NonUtf8,
    Kind::Emoji,
    Kind::Sql,
    Kind::Script,
];

fn payload(kind: Kind) -> String {
    match kind {
        Kind::Empty => String::new(),
        // Just under the 1 MiB body limit once wrapped in JSON.
        Kind::Huge => "a".repeat(1_000_000),
        Kind::NonUtf8 => RAW_MARK.to_string(),
        Kind::Emoji => "🙂🏭🔥 planta".to_string(),
        Kind::Sql => "x' OR '1'='1'; DROP TABLE `user`; --".to_string(),
        Kind::Script => "<script>alert(1)</script>".to_string(),
    }
}

/// Serialises `body`, replacing the non-UTF-8 mark by raw invalid bytes.
fn encode(body: &Value) -> Vec<u8> {
    let text = serde_json::to_string(body).expect("json");
    let bytes = text.into_bytes();
    let mark = RAW_MARK.as_bytes();
    match bytes.windows(mark.len()).position(|w| w == mark) {
        Some(pos) => {
            let mut out = bytes[..pos].to_vec();
            out.extend_from_slice(b"ab\xff\xfe\xc3cd");
            out.extend_from_slice(&bytes[pos + mark.len()..]);
            out
        }
        None => bytes,
    }
}

/// Sets `path` (`a` or `a.b`) in a JSON object.
fn set(body: &mut Value, path: &str, value: Value) {
    match path.split_once('.') {
        Some((outer, inner)) => {
            if !body[outer].is_object() {
                body[outer] = json!({});
            }
            body[outer][inner] = value;
        }
        None => body[path] = value,
    }
}

/// Checks the common rules; returns true when the request was accepted (2xx).
fn check(resp: &RawResponse, field: &str, what: &str) -> bool {
    assert!(
        resp.status < 500,
        "{what}: {} {}",
        resp.status,
        short(&resp.text())
    );
    if resp.status < 300 {
        return true;
    }
    let body = resp.json();
    assert!(body["error"]["code"].is_string(), "{what}: {body}");
    let text = resp.text();
    assert!(
        !text.contains("SELECT") && !text.contains("INSERT") && !text.contains("mysql"),
        "{what}: {text}"
    );
    if matches!(resp.status, 400 | 422) {
        let named = body["error"]["field"].as_str().unwrap_or("");
        assert!(
            named == field
                || named.starts_with(&format!("{field}."))
                || named.starts_with(&format!("{field}[")),
            "{what}: field {named:?}, expected {field:?}: {}",
            short(&text)
        );
    }
    false
}

fn short(s: &str) -> String {
    s.chars().take(300).collect()
}

/// Asserts the request was refused with 400/422 naming `field`.
fn refused(resp: &RawResponse, field: &str, what: &str) {
    assert!(!check(resp, field, what), "{what}: accepted");
    assert!(
        matches!(resp.status, 400 | 422),
        "{what}: {} {}",
        resp.status,
        short(&resp.text())
    );
}

#[tokio::test]
async fn login_refresh_and_password_fields() {
    let w = world(&[]).await;
    for kind in KINDS {
        let p = payload(kind);
        // username: every payload is refused by the name rule.
        let body = json!({"username": p, "password": PASSWORD});
        let r = w.auth(&raw_request("POST", "/api/v1/auth/login", encode(&body)));
        refused(&r, "username", &format!("login username {kind:?}"));
        // password: shape errors name it; well-formed wrong passwords are 401.
        let body = json!({"username": "demo.other", "password": p});
        let r = w.auth(&raw_request("POST", "/api/v1/auth/login", encode(&body)));
        match kind {
            Kind::Emoji | Kind::Sql | Kind::Script => {
                assert_error(&r, 401, &format!("login password {kind:?}"));
            }
            _ => refused(&r, "password", &format!("login password {kind:?}")),
        }
        // refresh_token
        let body = json!({ "refresh_token": p });
        let r = w.auth(&raw_request("POST", "/api/v1/auth/refresh", encode(&body)));
        match kind {
            Kind::Emoji | Kind::Sql | Kind::Script => {
                assert_error(&r, 401, &format!("refresh {kind:?}"));
            }
            _ => refused(&r, "refresh_token", &format!("refresh {kind:?}")),
        }
    }
    // The account was never locked by the three wrong passwords.
    assert_eq!(w.login("demo.other").body["user"]["username"], "demo.other");

    let s = w.login("demo.operator");
    for field in ["current_password", "new_password"] {
        for kind in KINDS {
            let mut body =
                json!({"current_password": PASSWORD, "new_password": "Valid-New-Pass-1"});
            body[field] = json!(payload(kind));
            let r = w.auth(
                &raw_request("POST", "/api/v1/auth/change-password", encode(&body))
                    .bearer(&s.access),
            );
            let what = format!("change-password {field} {kind:?}");
            if field == "new_password" && matches!(kind, Kind::Emoji | Kind::Sql | Kind::Script) {
                // Any printable text is a valid password: accepted, then changed back.
                assert_eq!(r.status, 200, "{what}: {}", r.text());
                let back = json!({"current_password": payload(kind), "new_password": PASSWORD});
                let r = w.auth(
                    &json_request("POST", "/api/v1/auth/change-password", &back).bearer(&s.access),
                );
                assert_eq!(r.status, 200, "{what} (back): {}", r.text());
            } else {
                refused(&r, field, &what);
            }
        }
    }

    // Bodies that are not what a route takes.
    let r = w.auth(&raw_request(
        "POST",
        "/api/v1/auth/login",
        vec![b'a'; 1024 * 1024 + 1],
    ));
    assert_error(&r, 413, "over 1 MiB");
    let r = w.auth(&raw_request(
        "POST",
        "/api/v1/auth/login",
        b"{not json".to_vec(),
    ));
    assert_error(&r, 400, "bad JSON");
    let r = w.auth(&raw_request(
        "POST",
        "/api/v1/auth/login",
        b"[1, 2]".to_vec(),
    ));
    assert_error(&r, 400, "array");
    let r = w.auth(&raw_request("POST", "/api/v1/auth/login", Vec::new()));
    assert_error(&r, 400, "empty body");
    let r = w.auth(&json_request(
        "POST",
        "/api/v1/auth/login",
        &json!({"username": "demo.admin", "password": PASSWORD, "tenant_id": 1}),
    ));
    assert_eq!(
        assert_error(&r, 422, "unknown field")["error"]["field"],
        "tenant_id"
    );
    let r = w.auth(&json_request(
        "POST",
        "/api/v1/auth/login",
        &json!({"username": 5, "password": PASSWORD}),
    ));
    assert_eq!(
        assert_error(&r, 422, "number")["error"]["field"],
        "username"
    );
    let form = TestRequest {
        method: "POST".into(),
        uri: "/api/v1/auth/login".into(),
        headers: vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: b"username=demo.admin&password=x".to_vec(),
    };
    assert_error(&w.auth(&form), 400, "form body");
}

#[tokio::test]
async fn user_fields_on_create_and_update() {
    let w = world(&[]).await;
    let admin = w.login("demo.admin");
    let mut n = 0;
    let fields = [
        "username",
        "password",
        "email",
        "role",
        "permissions",
        "is_active",
        "tenant_id",
    ];
    for field in fields {
        for kind in KINDS {
            n += 1;
            let mut body = json!({
                "username": format!("fuzz.{n}"),
                "password": "Fuzz-Password-1",
                "email": format!("fuzz{n}@example.com"),
                "role": "viewer",
            });
            body[field] = json!(payload(kind));
            let what = format!("POST /users {field} {kind:?}");
            let r =
                w.auth(&raw_request("POST", "/api/v1/users", encode(&body)).bearer(&admin.access));
            let accepted = check(&r, field, &what);
            let expect_accept = matches!(
                (field, kind),
                ("password", Kind::Emoji | Kind::Sql | Kind::Script) | ("email", Kind::Empty)
            );
            assert_eq!(
                accepted,
                expect_accept,
                "{what}: {} {}",
                r.status,
                short(&r.text())
            );
            if accepted {
                assert_eq!(r.status, 201);
                let user = &r.json()["data"];
                if field == "password" {
                    // Stored hashed, and it really is the password now.
                    let login = w.auth(&json_request(
                        "POST",
                        "/api/v1/auth/login",
                        &json!({"username": user["username"], "password": payload(kind)}),
                    ));
                    assert_eq!(login.status, 200, "{what}: login with it: {}", login.text());
                } else {
                    assert_eq!(user["email"], Value::Null, "{what}");
                }
            }
        }
    }

    // Updates of an existing user.
    let target = w.user_id("demo.other");
    for field in [
        "username",
        "email",
        "role",
        "password",
        "permissions",
        "is_active",
        "tenant_id",
    ] {
        for kind in KINDS {
            let mut body = json!({});
            body[field] = json!(payload(kind));
            let what = format!("PUT /users {field} {kind:?}");
            let r = w.auth(
                &raw_request("PUT", &format!("/api/v1/users/{target}"), encode(&body))
                    .bearer(&admin.access),
            );
            let accepted = check(&r, field, &what);
            let expect_accept = matches!(
                (field, kind),
                ("password", Kind::Emoji | Kind::Sql | Kind::Script) | ("email", Kind::Empty)
            );
            assert_eq!(
                accepted,
                expect_accept,
                "{what}: {} {}",
                r.status,
                short(&r.text())
            );
        }
    }

    // Query parameters of the list.
    for (param, value) in [
        ("q", "' OR 1=1 --"),
        ("q", "<script>alert(1)</script>"),
        ("q", "🙂"),
        ("q", "%"),
        ("q", "_"),
    ] {
        let uri = format!("/api/v1/users?{param}={}", encode_query(value));
        let r = w.auth(&TestRequest::get(&uri).bearer(&admin.access));
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        assert_eq!(
            r.json()["data"].as_array().map(Vec::len),
            Some(0),
            "{uri} matched nothing"
        );
    }
    for (param, value) in [
        ("q", "a".repeat(101)),
        ("role", "<script>".to_string()),
        ("role", "' OR 1=1".to_string()),
        ("active", "maybe".to_string()),
        ("limit", "0".to_string()),
        ("limit", "100000".to_string()),
        ("cursor", "abc".to_string()),
        ("cursor", "-5".to_string()),
        ("tenant_id", "1 OR 1=1".to_string()),
    ] {
        let uri = format!("/api/v1/users?{param}={}", encode_query(&value));
        let r = w.auth(&TestRequest::get(&uri).bearer(&admin.access));
        assert_eq!(
            assert_error(&r, 422, &uri)["error"]["field"],
            param,
            "{uri}"
        );
    }
    for path in [
        "abc",
        "-1",
        "0",
        "99999999999999999999",
        "1%20OR%201=1",
        "%3Cscript%3E",
        "%ff",
    ] {
        let r = w.auth(&TestRequest::get(&format!("/api/v1/users/{path}")).bearer(&admin.access));
        assert_error(&r, 404, path);
    }

    // Nothing that looks like markup or SQL reached a user row.
    assert_eq!(
        w.count("SELECT COUNT(*) FROM `user` WHERE username LIKE '%<%' OR email LIKE '%<%' OR username LIKE '%''%' OR email LIKE '%''%'")
            .await,
        0
    );
    assert!(
        w.count("SELECT COUNT(*) FROM `user`").await >= 10,
        "the table is intact"
    );
}

fn encode_query(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[tokio::test]
async fn tenant_fields_on_create_and_update() {
    let w = world(&[]).await;
    let root = w.login("root.op");
    let mut n = 0;
    let fields = [
        "company_name",
        "asociated_since",
        "is_active",
        "config",
        "config.timezone",
        "config.data_timezone",
        "config.language",
        "config.theme",
        "config.db_name",
        "config.db_host",
        "config.production_day_start",
    ];
    let mut accepted_names = Vec::new();
    for field in fields {
        for kind in KINDS {
            n += 1;
            let mut body = json!({
                "company_name": format!("Fuzz Company {n}"),
                "config": {"timezone": "Europe/Madrid"},
            });
            set(&mut body, field, json!(payload(kind)));
            let what = format!("POST /tenants {field} {kind:?}");
            let r =
                w.auth(&raw_request("POST", "/api/v1/tenants", encode(&body)).bearer(&root.access));
            let accepted = check(&r, field, &what);
            let expect_accept = field == "company_name" && matches!(kind, Kind::Emoji | Kind::Sql);
            assert_eq!(
                accepted,
                expect_accept,
                "{what}: {} {}",
                r.status,
                short(&r.text())
            );
            if accepted {
                let data = &r.json()["data"];
                assert_eq!(
                    data["company_name"],
                    payload(kind).as_str(),
                    "{what}: stored exactly"
                );
                let id = data["tenant_id"].as_i64().expect("id");
                let read = w
                    .auth(&TestRequest::get(&format!("/api/v1/tenants/{id}")).bearer(&root.access));
                assert_eq!(read.json()["data"]["company_name"], payload(kind).as_str());
                accepted_names.push(payload(kind));
            }
        }
    }
    assert_eq!(accepted_names.len(), 2);

    // Updates of Second Plant.
    for field in [
        "company_name",
        "asociated_since",
        "config",
        "config.timezone",
        "config.language",
        "config.db_name",
    ] {
        for kind in KINDS {
            let mut body = json!({});
            set(&mut body, field, json!(payload(kind)));
            let what = format!("PUT /tenants {field} {kind:?}");
            let r = w.auth(
                &raw_request(
                    "PUT",
                    &format!("/api/v1/tenants/{}", w.second),
                    encode(&body),
                )
                .bearer(&root.access),
            );
            let accepted = check(&r, field, &what);
            // The emoji and SQL names are taken by the tenants created above: 409.
            assert!(
                !accepted || field == "company_name",
                "{what}: {}",
                short(&r.text())
            );
            if field == "company_name" && matches!(kind, Kind::Emoji | Kind::Sql) {
                assert_error(&r, 409, &what);
            }
        }
    }
    let name: Option<String> = {
        use mysql_async::prelude::Queryable;
        let mut g = w.global().await;
        g.exec_first(
            "SELECT company_name FROM tenant WHERE tenant_id = ?",
            (w.second,),
        )
        .await
        .expect("select")
    };
    assert_eq!(
        name.as_deref(),
        Some(SECOND),
        "refused updates changed nothing"
    );
    assert_eq!(
        w.count(
            "SELECT COUNT(*) FROM tenant WHERE company_name LIKE '%<%' OR config_tenant LIKE '%<%'"
        )
        .await,
        0
    );
    // The SQL payload is just a name: the tables are all there.
    assert!(w.count("SELECT COUNT(*) FROM `user`").await >= 10);
}
