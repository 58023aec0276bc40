//! The OpenAPI document (`infra/openapi/openapi.json`) against everything that
//! lists routes:
//!
//! * the code — every route of the six HTTP routers is documented, every
//!   documented operation is served, by the function its `x-function` names;
//! * the dashboard function serves the document at `/api/v1/openapi.json`,
//!   the committed document (minified, key order kept), with an ETag;
//! * the route table snapshot (`tests/snapshots/openapi-routes.txt`, rewrite it
//!   with `UPDATE_SNAPSHOTS=1` after changing the document on purpose);
//! * the SAM template's HttpApi events (`infra/aws/template.yaml`) and the
//!   `cargo lambda watch` routers (root and functions' `Cargo.toml`).
//!
//! No database is needed: routers and documents are compared, and the document
//! route never touches a database.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dash_store::HostKind;
use integration_tests::app::http_routers;
use integration_tests::hosts::HTTP_GROUPS;
use serde_json::Value;
use shared::config::Config;
use shared::http::Request;
use shared::state::AppState;

/// `(METHOD, path)` → function.
type RouteTable = BTreeMap<(String, String), String>;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    let path = repo_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn document() -> Value {
    serde_json::from_str(dashboard::openapi::document())
        .expect("infra/openapi/openapi.json is JSON")
}

fn code_routes() -> RouteTable {
    let routers = http_routers();
    let mut table = RouteTable::new();
    for router in &routers {
        for route in router.routes() {
            let key = (route.method.as_str().to_string(), route.pattern.to_string());
            if let Some(other) = table.insert(key.clone(), router.group.to_string()) {
                panic!(
                    "{} {} is served by both {other} and {}",
                    key.0, key.1, router.group
                );
            }
        }
    }
    table
}

fn documented_routes(doc: &Value) -> RouteTable {
    let mut table = RouteTable::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let function = op["x-function"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no x-function"));
            table.insert(
                (method.to_ascii_uppercase(), path.clone()),
                function.to_string(),
            );
        }
    }
    table
}

fn describe(routes: &[(&(String, String), &String)]) -> String {
    routes
        .iter()
        .map(|((m, p), f)| format!("\n    {m:<6} {p}  ({f})"))
        .collect()
}

/// Compares two route tables; `what` names them in the failure message.
fn assert_same_routes(left: &RouteTable, right: &RouteTable, left_name: &str, right_name: &str) {
    let only_left: Vec<_> = left
        .iter()
        .filter(|(k, _)| !right.contains_key(*k))
        .collect();
    let only_right: Vec<_> = right
        .iter()
        .filter(|(k, _)| !left.contains_key(*k))
        .collect();
    let moved: Vec<String> = left
        .iter()
        .filter_map(|(k, f)| {
            right.get(k).filter(|g| *g != f).map(|g| {
                format!(
                    "\n    {} {}: {left_name} says {f}, {right_name} says {g}",
                    k.0, k.1
                )
            })
        })
        .collect();
    let mut report = String::new();
    if !only_left.is_empty() {
        report += &format!(
            "\n  in {left_name}, missing in {right_name}:{}",
            describe(&only_left)
        );
    }
    if !only_right.is_empty() {
        report += &format!(
            "\n  in {right_name}, missing in {left_name}:{}",
            describe(&only_right)
        );
    }
    if !moved.is_empty() {
        report += &format!("\n  served by another function:{}", moved.concat());
    }
    assert!(
        report.is_empty(),
        "{left_name} and {right_name} differ:{report}"
    );
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let code = code_routes();
    for g in HTTP_GROUPS {
        assert!(
            code.contains_key(&("GET".to_string(), format!("/api/v1/{g}/health"))),
            "{g} has no health route"
        );
    }
    assert_same_routes(
        &code,
        &documented_routes(&document()),
        "the code (api::<group>::router())",
        "openapi.json",
    );
}

/// The query parameters an operation documents (its own and its path item's).
fn documented_query(doc: &Value, path: &str, method: &str) -> BTreeSet<String> {
    let item = &doc["paths"][path];
    let own = item[method.to_ascii_lowercase()]["parameters"].as_array();
    let shared_params = item["parameters"].as_array();
    own.into_iter()
        .chain(shared_params)
        .flatten()
        .map(|p| resolve(doc, p))
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect()
}

/// The one bad-input policy refuses a query parameter a route does not take
/// (422 naming it); the lists it checks against are declared beside the
/// routes and must be the document's, so the contract and the check agree.
#[test]
fn every_route_takes_exactly_the_query_parameters_it_documents() {
    use shared::router::QueryRule;
    let doc = document();
    let routers = http_routers();
    let mut wrong = Vec::new();
    for route in routers.iter().flat_map(|r| r.routes()) {
        let method = route.method.as_str();
        let documented = documented_query(&doc, route.pattern, method);
        match route.query {
            QueryRule::Only(names) => {
                let declared: BTreeSet<String> = names.iter().map(|n| n.to_string()).collect();
                if declared != documented {
                    wrong.push(format!(
                        "{method} {}: code takes {declared:?}, the document lists {documented:?}",
                        route.pattern
                    ));
                }
            }
            // The widget route takes the widget's own params, checked against its schema.
            QueryRule::Handler => assert_eq!(
                documented,
                BTreeSet::from(["params".to_string()]),
                "{method} {}",
                route.pattern
            ),
            QueryRule::Unchecked => assert!(
                !route.pattern.starts_with("/api/"),
                "{method} {}: an API route must declare its query parameters",
                route.pattern
            ),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn test_state() -> AppState {
    let config = Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some("mysql://root@127.0.0.1:1".into()),
        "JWT_SECRET" => Some("openapi-test-secret-0123456789abcdef".into()),
        _ => None,
    })
    .expect("config");
    AppState::new("dashboard", HostKind::FastCgi, config).expect("state")
}

/// A GET request (the method type comes from the `http` crate, through `Request::new`).
fn get(path: &str) -> Request {
    Request::new("GET".parse().expect("method"), path)
}

#[tokio::test]
async fn the_handler_serves_the_committed_document() {
    let resp = dashboard::openapi::serve(get("/api/v1/openapi.json"), test_state())
        .await
        .expect("served");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let served: Value = serde_json::from_slice(resp.body()).expect("JSON");
    assert_eq!(
        served,
        document(),
        "served document differs from openapi.json"
    );
    assert!(
        resp.body().len() < dashboard::openapi::document().len(),
        "served minified"
    );
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let mut again = get("/api/v1/openapi.json");
    again
        .headers
        .insert("if-none-match", etag.parse().expect("header value"));
    let resp = dashboard::openapi::serve(again, test_state())
        .await
        .expect("served");
    assert_eq!(resp.status(), 304);
    assert!(resp.body().is_empty());
}

#[tokio::test]
async fn the_dashboard_function_serves_it_at_api_v1_openapi_json() {
    let app = shared::app::App::new(dashboard::router(), Ok(test_state()));
    let resp = app.handle(get("/api/v1/openapi.json")).await;
    assert_eq!(
        resp.status(),
        200,
        "GET /api/v1/openapi.json is not routed by the dashboard function: register \
         `.get(\"/api/v1/openapi.json\", crate::openapi::serve)` in shared/src/api/dashboard.rs"
    );
    let served: Value = serde_json::from_slice(resp.body()).expect("JSON");
    assert_eq!(
        served,
        document(),
        "the served document is not the committed one"
    );
    assert!(resp.headers().contains_key("etag"));
}

/// One line per operation: method, path, function, who may call it, operationId.
fn route_table_text(doc: &Value) -> String {
    let mut rows = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let security = match op.get("security").and_then(Value::as_array) {
                Some(list) if list.is_empty() => "public".to_string(),
                Some(list) => list
                    .iter()
                    .filter_map(|s| s.as_object().and_then(|o| o.keys().next().cloned()))
                    .collect::<Vec<_>>()
                    .join("|"),
                None => "token".to_string(),
            };
            rows.push(format!(
                "{:<6} {:<44} {:<10} {:<11} {}",
                method.to_ascii_uppercase(),
                path,
                op["x-function"].as_str().unwrap_or("?"),
                security,
                op["operationId"].as_str().unwrap_or("?")
            ));
        }
    }
    rows.sort();
    let mut text = String::from(
        "# Every operation of infra/openapi/openapi.json: method, path, function, auth, operationId.\n\
         # Generated by tests/tests/integration/openapi.rs; rewrite with UPDATE_SNAPSHOTS=1 cargo test --test integration -- openapi::.\n",
    );
    for r in rows {
        text.push_str(r.trim_end());
        text.push('\n');
    }
    text
}

#[test]
fn the_route_table_matches_its_snapshot() {
    let text = route_table_text(&document());
    let path = repo_root().join("tests/snapshots/openapi-routes.txt");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != text {
        let old: BTreeSet<&str> = committed.lines().collect();
        let new: BTreeSet<&str> = text.lines().collect();
        let diff: String = old
            .difference(&new)
            .map(|l| format!("\n  - {l}"))
            .chain(new.difference(&old).map(|l| format!("\n  + {l}")))
            .collect();
        panic!(
            "the operations of openapi.json changed (UPDATE_SNAPSHOTS=1 cargo test --test integration -- openapi:: \
             accepts it):{diff}"
        );
    }
}

fn collect_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if k == "$ref" {
                    if let Some(s) = x.as_str() {
                        out.push(s);
                    }
                } else {
                    collect_refs(x, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// The parameter object behind a `$ref` (or the object itself).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or(&Value::Null),
        None => v,
    }
}

#[test]
fn the_document_is_consistent() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], shared::health::VERSION);
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    for r in &refs {
        assert!(
            r.starts_with("#/") && doc.pointer(&r[1..]).is_some(),
            "$ref {r} does not resolve"
        );
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        let templated: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_string)
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| resolve(&doc, p))
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, templated, "{method} {path}: path parameters");
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}: responses"
            );
            assert!(
                op["summary"].is_string() && op["description"].is_string(),
                "{method} {path}: texts"
            );
            let public = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| s.is_empty());
            let has_401 = op["responses"].get("401").is_some();
            let page = !path.starts_with("/api/");
            assert!(
                public || page || has_401,
                "{method} {path}: authenticated but no 401 documented"
            );
        }
    }
}

/// `(METHOD, path)` → function of the HttpApi events of the SAM template. The
/// template is written in one style (one `Method:` then one `Path:` per event,
/// inside `<Group>Function` resources), which this reads without a YAML parser.
fn sam_routes(text: &str) -> (RouteTable, BTreeSet<String>) {
    let mut table = RouteTable::new();
    let mut default_routes = BTreeSet::new();
    let mut function: Option<String> = None;
    let mut method: Option<String> = None;
    let mut in_http_event = false;
    let mut event_has_path = false;
    let mut event_name = String::new();
    let finish_event =
        |in_http: bool, has_path: bool, f: &Option<String>, defaults: &mut BTreeSet<String>| {
            if in_http && !has_path {
                if let Some(f) = f {
                    defaults.insert(f.clone());
                }
            }
        };
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if indent == 2 && t.ends_with(':') && !t.starts_with('#') {
            finish_event(
                in_http_event,
                event_has_path,
                &function,
                &mut default_routes,
            );
            in_http_event = false;
            let name = t.trim_end_matches(':');
            function = name
                .strip_suffix("Function")
                .map(|g| g.to_ascii_lowercase())
                .filter(|g| HTTP_GROUPS.contains(&g.as_str()) || g == "jobs");
        } else if indent == 8 && t.ends_with(':') && !t.starts_with('#') {
            finish_event(
                in_http_event,
                event_has_path,
                &function,
                &mut default_routes,
            );
            in_http_event = false;
            event_has_path = false;
            event_name = t.trim_end_matches(':').to_string();
        } else if indent == 10 && t == "Type: HttpApi" {
            in_http_event = true;
        } else if in_http_event && indent == 12 {
            if let Some(m) = t.strip_prefix("Method: ") {
                method = Some(m.trim().to_ascii_uppercase());
            } else if let Some(p) = t.strip_prefix("Path: ") {
                let m = method
                    .take()
                    .unwrap_or_else(|| panic!("template event {event_name}: Path before Method"));
                let f = function
                    .clone()
                    .unwrap_or_else(|| panic!("event {event_name} outside a function"));
                event_has_path = true;
                assert!(
                    table.insert((m.clone(), p.trim().to_string()), f).is_none(),
                    "template routes {m} {p} twice"
                );
            }
        }
    }
    finish_event(
        in_http_event,
        event_has_path,
        &function,
        &mut default_routes,
    );
    (table, default_routes)
}

#[test]
fn the_sam_template_routes_every_json_route_to_its_function() {
    let doc = document();
    let api: RouteTable = documented_routes(&doc)
        .into_iter()
        .filter(|((_, p), _)| p.starts_with("/api/"))
        .collect();
    let (sam, default_routes) = sam_routes(&read("infra/aws/template.yaml"));
    assert_same_routes(
        &api,
        &sam,
        "openapi.json (/api/ routes)",
        "infra/aws/template.yaml",
    );
    assert_eq!(
        default_routes,
        BTreeSet::from(["dashboard".to_string()]),
        "the $default route (pages, static files) belongs to the dashboard function"
    );
    // Everything that is not JSON API goes to the $default route, i.e. to dashboard.
    for ((m, p), f) in documented_routes(&doc) {
        if !p.starts_with("/api/") {
            assert_eq!(
                f, "dashboard",
                "{m} {p} reaches the dashboard function only on AWS"
            );
        }
    }
}

/// The `"path" = "function"` lines of one TOML table (written flat, one route a line).
fn toml_router(text: &str, header: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t == header;
            continue;
        }
        if !inside || t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (k, v) = t
            .split_once('=')
            .unwrap_or_else(|| panic!("{header}: cannot read {t:?}"));
        let unquote = |s: &str| s.trim().trim_matches('"').to_string();
        assert!(
            out.insert(unquote(k), unquote(v)).is_none(),
            "{header}: {k} twice"
        );
    }
    out
}

#[test]
fn cargo_lambda_watch_serves_every_function_on_its_production_paths() {
    let doc = document();
    let mut by_path: BTreeMap<String, String> = BTreeMap::new();
    for ((_, path), f) in documented_routes(&doc) {
        by_path.insert(path, f);
    }
    let workspace = toml_router(
        &read("Cargo.toml"),
        "[workspace.metadata.lambda.watch.router]",
    );
    assert_eq!(
        workspace, by_path,
        "[workspace.metadata.lambda.watch.router] in Cargo.toml must map every documented path to its function"
    );
    for g in HTTP_GROUPS {
        let own = toml_router(
            &read(&format!("functions/{g}/Cargo.toml")),
            "[package.metadata.lambda.watch.router]",
        );
        let want: BTreeMap<String, String> = by_path
            .iter()
            .filter(|(_, f)| *f == g)
            .map(|(p, f)| (p.clone(), f.clone()))
            .collect();
        assert_eq!(
            own, want,
            "functions/{g}/Cargo.toml: [package.metadata.lambda.watch.router]"
        );
    }
}
