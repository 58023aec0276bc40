//! Every instant in an answer carries its offset (docs/api.md#shapes): the
//! JSON answers of every API route for a demo plant — the downtime routes
//! with a justified stop (so `justified_at` and `updated_at` are set), data,
//! metrics, production, the dashboard API, users, tenants, the sign-in
//! answer — and the stop CSV hold no string that is a date-time without an
//! offset (`^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$`). A date alone
//! (`2026-04-01`) is a date, not an instant, and passes.

use chrono::{DateTime, Utc};
use integration_tests::app::{http_routers, Answer, TestApp};
use integration_tests::testdb::TestDb;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

const PASSWORD: &str = "Offsets-Pass-42";
const PLANT: &str = "Offsets Plant";

/// `^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$`: a date-time without an offset.
fn is_naive_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, to: usize| {
        b.get(from..to)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let head = digits(0, 4)
        && b.get(4) == Some(&b'-')
        && digits(5, 7)
        && b.get(7) == Some(&b'-')
        && digits(8, 10)
        && b.get(10) == Some(&b'T')
        && digits(11, 13)
        && b.get(13) == Some(&b':')
        && digits(14, 16);
    if !head {
        return false;
    }
    match &b[16..] {
        [] => true,
        [b':', s1, s2, rest @ ..] if s1.is_ascii_digit() && s2.is_ascii_digit() => match rest {
            [] => true,
            [b'.', frac @ ..] => !frac.is_empty() && frac.iter().all(u8::is_ascii_digit),
            _ => false,
        },
        _ => false,
    }
}

/// Every string of `v` (keys too) that is a date-time without an offset, with its path.
fn naive_times(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::String(s) if is_naive_date_time(s) => out.push(format!("{path} = {s:?}")),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                naive_times(item, &format!("{path}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                if is_naive_date_time(k) {
                    out.push(format!("{path} has the key {k:?}"));
                }
                naive_times(item, &format!("{path}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// An instant with an explicit offset (RFC 3339), read.
fn instant(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What the walk saw: the answers read and the naive times found.
#[derive(Default)]
struct Walk {
    answers: usize,
    failures: Vec<String>,
}

impl Walk {
    /// Checks one JSON answer; `expect` is its status.
    fn json(&mut self, what: &str, a: &Answer, expect: u16) -> Value {
        if a.status != expect {
            self.failures.push(format!(
                "{what}: status {} (expected {expect}): {}",
                a.status,
                a.text().chars().take(300).collect::<String>()
            ));
        }
        let body = a.json();
        if body.is_null() {
            self.failures.push(format!("{what}: not JSON"));
        }
        let mut naive = Vec::new();
        naive_times(&body, "", &mut naive);
        self.failures
            .extend(naive.into_iter().map(|n| format!("{what}: {n}")));
        self.answers += 1;
        body
    }
}

#[test]
fn the_pattern_is_the_documented_one() {
    for naive in [
        "2026-04-01T10:00",
        "2026-04-01T10:00:00",
        "2026-04-01T10:00:00.123",
        "2026-04-01T10:00:00.1",
    ] {
        assert!(is_naive_date_time(naive), "{naive}");
    }
    for fine in [
        "2026-04-01",
        "2026-04-01T10:00:00.000+02:00",
        "2026-04-01T10:00:00Z",
        "2026-04-01T10:00:00.",
        "2026-04-01 10:00:00",
        "10:00",
        "x2026-04-01T10:00",
    ] {
        assert!(!is_naive_date_time(fine), "{fine}");
    }
}

#[tokio::test]
async fn every_instant_in_an_answer_carries_its_offset() {
    let db = TestDb::new()
        .await
        .expect("db")
        .with_demo_tenant(PLANT, "Europe/Madrid")
        .await
        .expect("tenant");
    let tenant_id = db.tenant(PLANT).tenant_id;
    let app = TestApp::new(
        db,
        http_routers(),
        &[
            ("RATE_LIMIT_USER_PER_MIN", "100000"),
            ("RATE_LIMIT_AUTH_IP_PER_MIN", "100000"),
        ],
    )
    .expect("app");
    let admin = app
        .user_token(Some(tenant_id), "offsets.admin", "admin", PASSWORD)
        .await
        .expect("admin");
    let root = app
        .user_token(None, "offsets.root", "superadmin", PASSWORD)
        .await
        .expect("superadmin");
    let mut walk = Walk::default();

    // The sign-in answer (its user has signed in before: last_login_at is set).
    let login = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "offsets.admin", "password": PASSWORD})),
        )
        .await;
    let body = walk.json("POST /auth/login", &login, 200);
    assert!(
        instant(&body["user"]["last_login_at"]).is_some(),
        "last_login_at: {}",
        body["user"]
    );

    // Stops, computed in process.
    let calc = app
        .call(
            "POST",
            "/api/v1/downtime/calculate",
            Some(&admin),
            Some(json!({"line_ids": [1, 2], "range": "last_7_days"})),
        )
        .await;
    walk.json("POST /downtime/calculate", &calc, 200);
    let list = app
        .call(
            "GET",
            "/api/v1/downtime?line_id=1&range=last_7_days",
            Some(&admin),
            None,
        )
        .await;
    let body = walk.json("GET /downtime", &list, 200);
    let stop_id = body["data"][0]["downtime_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no stop on line 1: {body}"));
    let stop_uri = format!("/api/v1/downtime/{stop_id}?line_id=1");
    let stop = walk.json(
        "GET /downtime/{id}",
        &app.call("GET", &stop_uri, Some(&admin), None).await,
        200,
    )["data"]
        .clone();
    let read_version = stop["updated_at"].clone();
    let written = instant(&read_version).unwrap_or_else(|| panic!("updated_at: {stop}"));
    // Written by the database's clock: an instant of the last minutes, not
    // the session's wall time read as another zone's.
    let age = Utc::now() - written;
    assert!(
        age.num_seconds().abs() < 600,
        "updated_at {read_version} is {age} from now"
    );

    // Justify it with the version as read, offset and all.
    let mut client = app.db.client_conn(tenant_id).await.expect("client");
    let failure_id: i64 = client
        .query_first("SELECT failure_id FROM failure WHERE is_active = 1 ORDER BY failure_id")
        .await
        .expect("reasons")
        .expect("a reason");
    drop(client);
    let justified = app
        .call(
            "PUT",
            &stop_uri,
            Some(&admin),
            Some(json!({"failure_id": failure_id, "comment": "offsets",
                        "expected_updated_at": read_version})),
        )
        .await;
    let body = walk.json("PUT /downtime/{id}", &justified, 200);
    let after = &body["data"];
    let justified_at = instant(&after["justified_at"]).unwrap_or_else(|| panic!("{after}"));
    let updated = instant(&after["updated_at"]).unwrap_or_else(|| panic!("{after}"));
    assert!(updated > written, "the version moves forward: {after}");
    assert!(
        (justified_at - Utc::now()).num_seconds().abs() < 600,
        "justified_at {}",
        after["justified_at"]
    );
    assert!(
        after["updated_at"]
            .as_str()
            .is_some_and(|s| s.ends_with("+01:00") || s.ends_with("+02:00")),
        "in the plant's offset (Europe/Madrid): {after}"
    );
    // The version read before is stale now, in any offset.
    let stale = app
        .call(
            "PUT",
            &stop_uri,
            Some(&admin),
            Some(json!({"failure_id": failure_id, "expected_updated_at": read_version})),
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.text());
    let utc_version = updated.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let again = app
        .call(
            "PUT",
            &stop_uri,
            Some(&admin),
            Some(json!({"failure_id": failure_id, "comment": "offsets again",
                        "expected_updated_at": utc_version})),
        )
        .await;
    walk.json("PUT /downtime/{id} (version in UTC)", &again, 200);

    // The justified stop everywhere it shows.
    let one = walk.json(
        "GET /downtime/{id} justified",
        &app.call("GET", &stop_uri, Some(&admin), None).await,
        200,
    );
    assert!(instant(&one["data"]["justified_at"]).is_some(), "{one}");
    let justified_list = walk.json(
        "GET /downtime?justified=true",
        &app.call(
            "GET",
            "/api/v1/downtime?line_id=1&range=last_7_days&justified=true",
            Some(&admin),
            None,
        )
        .await,
        200,
    );
    assert!(
        justified_list["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|s| s["downtime_id"] == stop_id)),
        "{justified_list}"
    );
    let csv = app
        .call(
            "GET",
            "/api/v1/downtime?line_id=1&range=last_7_days&justified=true&format=csv",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(csv.status, 200, "{}", csv.text());
    let text = csv.text();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let mut rows = 0;
    for line in lines {
        rows += 1;
        for (i, cell) in line.split(',').enumerate() {
            let cell = cell.trim_matches('"');
            if is_naive_date_time(cell) {
                walk.failures
                    .push(format!("CSV column {:?}: {cell:?}", header.get(i)));
            }
            if header.get(i) == Some(&"justified_at") {
                assert!(
                    DateTime::parse_from_rfc3339(cell).is_ok(),
                    "justified_at {cell:?}"
                );
            }
        }
    }
    assert!(rows > 0, "{text}");

    // Every GET of the API, with the parameters a plant route needs.
    let doc: Value = serde_json::from_str(dashboard::openapi::document()).expect("document");
    let catalog = app
        .call("GET", "/api/v1/dashboard/catalog", Some(&admin), None)
        .await
        .json();
    let widget_types: Vec<String> = catalog["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["widget_type"].as_str().map(str::to_string))
        .collect();
    assert!(!widget_types.is_empty(), "{catalog}");
    let mut widgets_answered = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/") || item.get("get").is_none() {
            continue;
        }
        let declared = |name: &str| {
            let op = &item["get"];
            op["parameters"].as_array().into_iter().flatten().any(|p| {
                p["name"] == name
                    || p["$ref"]
                        .as_str()
                        .is_some_and(|r| r.to_ascii_lowercase().ends_with(&name.replace('_', "")))
            })
        };
        let mut query = Vec::new();
        if declared("line_id") {
            query.push("line_id=1".to_string());
        }
        if declared("range") {
            query.push("range=last_7_days".to_string());
        }
        let with_query = |p: String| {
            if query.is_empty() {
                p
            } else {
                format!("{p}?{}", query.join("&"))
            }
        };
        if path.contains("{widget_id}") {
            for w in &widget_types {
                let uri = path.replace("{widget_id}", w);
                let a = app.call("GET", &uri, Some(&admin), None).await;
                // A widget whose params are required answers 422 bare; what answers is walked.
                if a.status == 200 {
                    widgets_answered += 1;
                    walk.json(&format!("GET {uri}"), &a, 200);
                }
            }
            continue;
        }
        let (uri, token) = match path.as_str() {
            "/api/v1/downtime/{id}" => (stop_uri.clone(), &admin),
            "/api/v1/tenants/current" => (path.clone(), &admin),
            "/api/v1/tenants/{id}" => (format!("/api/v1/tenants/{tenant_id}"), &root),
            "/api/v1/users/{id}" => {
                let users = app.call("GET", "/api/v1/users", Some(&root), None).await;
                let id = users.json()["data"][0]["user_id"].as_i64().expect("a user");
                (format!("/api/v1/users/{id}"), &root)
            }
            p if p.starts_with("/api/v1/tenants") || p.starts_with("/api/v1/users") => {
                (with_query(p.to_string()), &root)
            }
            p => (with_query(p.replace("{id}", "1")), &admin),
        };
        walk.json(
            &format!("GET {path}"),
            &app.call("GET", &uri, Some(token), None).await,
            200,
        );
        if token == &root {
            // The plant admin's view of the same route, where it has one.
            let a = app.call("GET", &uri, Some(&admin), None).await;
            if a.status == 200 {
                walk.json(&format!("GET {path} as the plant's admin"), &a, 200);
            }
        }
    }
    assert!(
        widgets_answered > 5,
        "only {widgets_answered} widgets answered"
    );

    // The answers of the writes beyond downtime.
    walk.json(
        "POST /data/detections/aggregate",
        &app.call(
            "POST",
            "/api/v1/data/detections/aggregate",
            Some(&admin),
            Some(
                json!({"line_ids": [1, 2], "range": "last_7_days", "group_by": ["day", "product"]}),
            ),
        )
        .await,
        200,
    );
    let created = walk.json(
        "POST /tenants",
        &app.call(
            "POST",
            "/api/v1/tenants",
            Some(&root),
            Some(json!({"company_name": "Offsets Second", "config": {"timezone": "America/Mexico_City"}})),
        )
        .await,
        201,
    );
    let second = created["data"]["tenant_id"].as_i64().expect("tenant id");
    assert!(
        instant(&created["data"]["created_at"]).is_some(),
        "{created}"
    );
    walk.json(
        "PUT /tenants/{id}",
        &app.call(
            "PUT",
            &format!("/api/v1/tenants/{second}"),
            Some(&root),
            Some(json!({"config": {"theme": "light"}})),
        )
        .await,
        200,
    );
    walk.json(
        "POST /tenants/{id}/deactivate",
        &app.call(
            "POST",
            &format!("/api/v1/tenants/{second}/deactivate"),
            Some(&root),
            None,
        )
        .await,
        200,
    );
    let user = walk.json(
        "POST /users",
        &app.call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "offsets.viewer", "password": "Offsets-Viewer-1", "role": "viewer"})),
        )
        .await,
        201,
    );
    let user_id = user["data"]["user_id"].as_i64().expect("user id");
    walk.json(
        "PUT /users/{id}",
        &app.call(
            "PUT",
            &format!("/api/v1/users/{user_id}"),
            Some(&admin),
            Some(json!({"email": "offsets.viewer@example.com"})),
        )
        .await,
        200,
    );

    assert!(walk.answers > 40, "walked only {} answers", walk.answers);
    assert!(
        walk.failures.is_empty(),
        "{} times without an offset or unexpected answers:\n{}",
        walk.failures.len(),
        walk.failures.join("\n")
    );
}
