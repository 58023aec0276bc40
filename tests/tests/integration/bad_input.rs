//! One policy for bad input (docs/api.md, "Bad input"), walked over every
//! operation of the OpenAPI document in process: the same mistake gets the same
//! status and error code on every route, with the parameter named.
//!
//! - an unknown query parameter → 422 naming it (every API operation);
//! - an unparsable date, a reversed range → 422 naming the date;
//! - `limit` = 0, -1, abc → 422 naming `limit`;
//! - an id parameter that is not a positive whole number → 422 naming it;
//! - a boolean that is not true/false/1/0 (`maybe`, `yes`) → 422 naming it;
//! - a path id that is not a positive whole number → 404.

use std::collections::BTreeSet;

use integration_tests::app::{http_routers, Answer, TestApp};
use integration_tests::testdb::TestDb;
use serde_json::Value;

const PASSWORD: &str = "Bad-Input-Pass-42";

/// A valid value of each parameter some route requires.
const VALID: [(&str, &str); 5] = [
    ("line_id", "1"),
    ("start_date", "2026-11-01"),
    ("end_date", "2026-11-02"),
    ("compare_start_date", "2026-10-01"),
    ("compare_end_date", "2026-10-02"),
];

struct Operation {
    method: String,
    path: String,
    /// Documented query parameters: (name, schema type).
    query: Vec<(String, String)>,
}

fn operations() -> Vec<Operation> {
    let doc: Value = serde_json::from_str(dashboard::openapi::document()).expect("document");
    let resolve = |v: &Value| -> Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => doc
                .pointer(r.trim_start_matches('#'))
                .cloned()
                .unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/") {
            continue;
        }
        for (method, op) in item.as_object().expect("path item") {
            if method == "parameters" {
                continue;
            }
            let params = op["parameters"]
                .as_array()
                .into_iter()
                .chain(item["parameters"].as_array())
                .flatten()
                .map(&resolve)
                .filter(|p| p["in"] == "query")
                .map(|p| {
                    let schema = resolve(&p["schema"]);
                    (
                        p["name"].as_str().unwrap_or_default().to_string(),
                        schema["type"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            out.push(Operation {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                query: params,
            });
        }
    }
    out
}

/// The path with `{…}` filled by `id`.
fn concrete(path: &str, id: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { id } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

fn check(failures: &mut Vec<String>, what: &str, a: &Answer, status: u16, field: Option<&str>) {
    let body = a.json();
    let code_ok = match status {
        422 => body["error"]["code"] == "validation_failed",
        404 => body["error"]["code"] == "not_found",
        _ => true,
    };
    let field_ok = field.is_none_or(|f| body["error"]["field"] == f);
    if a.status != status || !code_ok || !field_ok {
        failures.push(format!(
            "{what}: expected {status}{} got {} {}",
            field.map(|f| format!(" naming {f}")).unwrap_or_default(),
            a.status,
            a.text().chars().take(200).collect::<String>()
        ));
    }
}

#[tokio::test]
async fn every_route_answers_the_same_bad_input_the_same_way() {
    let db = TestDb::new()
        .await
        .expect("db")
        .with_demo_tenant("Bad Input Plant", "Europe/Madrid")
        .await
        .expect("tenant");
    let tenant_id = db.tenant("Bad Input Plant").tenant_id;
    let app = TestApp::new(
        db,
        http_routers(),
        // Several hundred calls by one user within a minute.
        &[("RATE_LIMIT_USER_PER_MIN", "100000")],
    )
    .expect("app");
    let admin = app
        .user_token(Some(tenant_id), "bad.admin", "admin", PASSWORD)
        .await
        .expect("admin");
    let root = app
        .user_token(None, "bad.root", "superadmin", PASSWORD)
        .await
        .expect("superadmin");

    let mut failures = Vec::new();
    let mut walked = BTreeSet::new();
    for op in operations() {
        let token = if op.path.starts_with("/api/v1/tenants") {
            &root
        } else {
            &admin
        };
        let id = if op.path.contains("{widget_id}") {
            "kpi_oee"
        } else {
            "1"
        };
        let path = concrete(&op.path, id);
        // Valid values of the documented parameters a request needs besides the
        // one under test, so each answer is about that one.
        let baseline = |except: &str| -> Vec<String> {
            VALID
                .iter()
                .filter(|(p, _)| *p != except && op.query.iter().any(|(q, _)| q == p))
                .map(|(p, v)| format!("{p}={v}"))
                .collect()
        };
        let call = |query: String| {
            let uri = if query.is_empty() {
                path.clone()
            } else {
                format!("{path}?{query}")
            };
            let method = op.method.clone();
            let token = token.clone();
            let app = &app;
            async move {
                let body = (method != "GET" && method != "DELETE").then(|| serde_json::json!({}));
                app.call(&method, &uri, Some(&token), body).await
            }
        };
        let name = format!("{} {}", op.method, op.path);
        walked.insert(name.clone());

        // Unknown parameter: refused before anything else, on every operation.
        let a = call("zzz_unknown=1".into()).await;
        let field = (op.path != "/api/v1/dashboard/widgets/{widget_id}").then_some("zzz_unknown");
        check(
            &mut failures,
            &format!("{name} ?zzz_unknown=1"),
            &a,
            422,
            field,
        );

        if op.path.contains('{') && op.method == "GET" {
            let a = app
                .call("GET", &concrete(&op.path, "abc"), Some(token), None)
                .await;
            check(&mut failures, &format!("{name} with id abc"), &a, 404, None);
        }
        if op.method != "GET" {
            continue;
        }
        for (param, kind) in &op.query {
            let bad: &[&str] = match (param.as_str(), kind.as_str()) {
                ("limit", _) => &["0", "-1", "abc"],
                ("start_date" | "end_date" | "compare_start_date" | "compare_end_date", _) => {
                    &["not-a-date"]
                }
                (_, "integer") => &["abc", "0"],
                (_, "boolean") => &["maybe", "yes"],
                _ => &[],
            };
            for value in bad {
                let mut query = baseline(param);
                if param.ends_with("_date") {
                    // The other end of the window stays valid.
                    query.retain(|q| {
                        !q.starts_with(&param.replace("end", "start"))
                            && !q.starts_with(&param.replace("start", "end"))
                    });
                    let other = if param.contains("start") {
                        param.replace("start", "end")
                    } else {
                        param.replace("end", "start")
                    };
                    if let Some((_, v)) = VALID.iter().find(|(p, _)| *p == other) {
                        query.push(format!("{other}={v}"));
                    }
                }
                query.push(format!("{param}={value}"));
                let a = call(query.join("&")).await;
                check(
                    &mut failures,
                    &format!("{name} ?{param}={value}"),
                    &a,
                    422,
                    Some(param),
                );
            }
        }
        if op.query.iter().any(|(p, _)| p == "start_date") {
            let mut query = baseline("start_date");
            query.retain(|q| !q.starts_with("end_date="));
            query.push("start_date=2026-11-02&end_date=2026-11-01".into());
            let a = call(query.join("&")).await;
            check(
                &mut failures,
                &format!("{name} reversed range"),
                &a,
                422,
                None,
            );
        }
    }
    assert!(walked.len() > 40, "walked only {} operations", walked.len());
    assert!(
        failures.is_empty(),
        "{} answers broke the policy:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
