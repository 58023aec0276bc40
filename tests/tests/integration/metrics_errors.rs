//! Bad input to the data and metrics functions: every refusal is a 4xx that
//! names the field (docs/api.md#errors), never a 500; other plants' and out-of-scope
//! ids are 404; nothing runs without a token.
//!
//! Build first: `cargo build --release -p auth -p data -p metrics`.

use crate::metrics_support as support;

use integration_tests::hosts::{bin, run_cgi, TestRequest};
use serde_json::json;
use support::*;

const D1: &str = "start_date=2026-03-10&end_date=2026-03-11";

#[track_caller]
fn refused(r: &integration_tests::hosts::RawResponse, status: u16, field: &str) {
    assert_eq!(
        r.status,
        status,
        "expected {status} on {field}: {}",
        r.text()
    );
    let body = r.json();
    assert_eq!(body["error"]["field"], field, "{body}");
    let text = r.text();
    assert!(
        !text.contains("SELECT") && !text.contains("detection_line"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field() {
    let g = golden().await;
    for binary_route in [
        ("metrics", "/api/v1/metrics/oee"),
        ("data", "/api/v1/data/production/summary"),
    ] {
        let (bin_name, route) = binary_route;
        let get = |q: &str| g.get(bin_name, &format!("{route}?{q}"));
        // Reversed and empty windows.
        refused(
            &get("line_id=1&start_date=2026-03-11&end_date=2026-03-10"),
            422,
            "end_date",
        );
        refused(
            &get("line_id=1&start_date=2026-03-11&end_date=2026-03-11"),
            422,
            "end_date",
        );
        // Longer than max_query_days (31 for this plant).
        refused(
            &get("line_id=1&start_date=2026-01-01&end_date=2026-03-01"),
            422,
            "end_date",
        );
        refused(
            &get("line_id=1&range=this_month&start_date=2026-01-01"),
            422,
            "range",
        );
        // Dates and ranges that do not parse.
        refused(
            &get("line_id=1&start_date=2026-13-01&end_date=2026-03-11"),
            422,
            "start_date",
        );
        refused(
            &get("line_id=1&start_date=2026-03-10&end_date=yesterday"),
            422,
            "end_date",
        );
        refused(&get("line_id=1&range=tomorrow"), 422, "range");
        refused(&get("line_id=1"), 422, "range");
        // Bad time zones.
        refused(
            &get(&format!("line_id=1&{D1}&timezone=Mars/Olympus")),
            422,
            "timezone",
        );
        refused(
            &get(&format!(
                "line_id=1&{D1}&timezone=%27%3B%20DROP%20TABLE%20user"
            )),
            422,
            "timezone",
        );
        // Unknown and non-numeric ids.
        refused(&get(&format!("line_id=999&{D1}")), 404, "line_id");
        refused(&get(&format!("line_ids=1,999&{D1}")), 404, "line_ids");
        refused(&get(&format!("line_id=abc&{D1}")), 422, "line_id");
        refused(&get(&format!("line_ids=1,x&{D1}")), 422, "line_ids");
        refused(
            &get(&format!("line_id=1%27%20OR%201%3D1&{D1}")),
            422,
            "line_id",
        );
        refused(&get(&format!("line_id=-1&{D1}")), 422, "line_id");
        refused(&get(&format!("line_id=1&line_ids=2&{D1}")), 422, "line_ids");
    }
    // Unknown intervals.
    refused(
        &g.get(
            "metrics",
            &format!("/api/v1/metrics/oee?line_id=1&{D1}&interval=minute"),
        ),
        422,
        "interval",
    );
    refused(
        &g.get(
            "metrics",
            &format!("/api/v1/metrics/quality?line_id=1&{D1}&interval=1"),
        ),
        422,
        "interval",
    );
    // Hourly buckets over too many hours are refused on interval.
    let long = g.get(
        "metrics",
        "/api/v1/metrics/oee?line_id=1&start_date=2026-03-01&end_date=2026-03-31&interval=hour",
    );
    assert_eq!(long.status, 200, "{}", long.text());
    // OEE filters that make no sense are named.
    refused(
        &g.get(
            "metrics",
            &format!("/api/v1/metrics/oee?line_id=1&{D1}&area_id=12"),
        ),
        422,
        "area_id",
    );
    refused(
        &g.get(
            "metrics",
            &format!("/api/v1/metrics/comparison?line_id=1&{D1}&by=shifts"),
        ),
        422,
        "by",
    );
    refused(
        &g.get(
            "metrics",
            &format!("/api/v1/metrics/comparison?line_id=1&{D1}&compare_start_date=2026-02-30"),
        ),
        422,
        "compare_start_date",
    );

    // Data filters.
    let det = |q: &str| g.get("data", &format!("/api/v1/data/detections?{q}"));
    refused(&det(D1), 422, "line_id");
    refused(&det(&format!("line_ids=1,2&{D1}")), 422, "line_ids");
    refused(&det(&format!("line_id=1&{D1}&area_id=21")), 404, "area_id");
    refused(
        &det(&format!("line_id=1&{D1}&area_ids=12,9999")),
        404,
        "area_ids",
    );
    refused(
        &det(&format!("line_id=1&{D1}&product_id=999")),
        404,
        "product_id",
    );
    refused(
        &det(&format!("line_id=1&{D1}&shift_id=77")),
        404,
        "shift_id",
    );
    refused(&det(&format!("line_id=1&{D1}&shift_id=x")), 422, "shift_id");
    refused(
        &det(&format!("line_id=1&{D1}&cursor=not-a-cursor")),
        422,
        "cursor",
    );
    refused(&det(&format!("line_id=1&{D1}&limit=0")), 422, "limit");
    refused(&det(&format!("line_id=1&{D1}&limit=many")), 422, "limit");
    refused(
        &det(&format!("line_id=1&{D1}&order=sideways")),
        422,
        "order",
    );
    let agg = |body: serde_json::Value| g.post("data", "/api/v1/data/detections/aggregate", &body);
    refused(
        &agg(
            json!({"line_id": 1, "start_date": "2026-03-10", "end_date": "2026-03-11", "group_by": "minute"}),
        ),
        422,
        "group_by",
    );
    refused(
        &agg(
            json!({"line_id": 1, "start_date": "2026-03-10", "end_date": "2026-03-11", "group_by": ["day", "hour"]}),
        ),
        422,
        "group_by",
    );
    refused(
        &agg(
            json!({"line_id": 1, "start_date": "2026-03-10", "end_date": "2026-03-11", "lines": [1]}),
        ),
        422,
        "lines",
    );
    refused(
        &agg(json!({"line_id": "x", "start_date": "2026-03-10", "end_date": "2026-03-11"})),
        422,
        "line_id",
    );
    refused(
        &agg(json!({"line_id": 1, "start_date": "2026-03-11", "end_date": "2026-03-10"})),
        422,
        "end_date",
    );
    refused(
        &agg(json!({"line_ids": [{"id": 1}], "range": "today"})),
        422,
        "line_ids",
    );
    let bad_json = run_cgi(
        &bin("data"),
        &g.env,
        &TestRequest {
            method: "POST".into(),
            uri: "/api/v1/data/detections/aggregate".into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Authorization".into(), format!("Bearer {}", g.token)),
            ],
            body: b"{not json".to_vec(),
        },
    );
    assert_eq!(bad_json.status, 400, "{}", bad_json.text());
}

#[tokio::test]
async fn scope_other_plants_and_tokens() {
    let g = golden().await;
    // A user limited to line 2 gets 404 for line 1, in every route.
    for (b, route) in [
        ("metrics", "/api/v1/metrics/oee"),
        ("metrics", "/api/v1/metrics/comparison"),
        ("data", "/api/v1/data/detections"),
        ("data", "/api/v1/data/production/by-product"),
    ] {
        let r = g.get_as(b, &format!("{route}?line_id=1&{D1}"), &g.scoped_token);
        refused(&r, 404, "line_id");
        let r = g.get_as(b, &format!("{route}?line_id=2&{D1}"), &g.scoped_token);
        assert_eq!(r.status, 200, "{route}: {}", r.text());
    }
    // Without a line parameter the scoped user only gets line 2.
    let d = g.data("metrics", &format!("/api/v1/metrics/oee?{D1}"));
    assert_eq!(d["line_ids"], json!([1, 2]));
    let r = g.get_as(
        "metrics",
        &format!("/api/v1/metrics/oee?{D1}"),
        &g.scoped_token,
    );
    assert_eq!(r.json()["data"]["line_ids"], json!([2]));
    // The other plant's user cannot reach this plant's lines 1 and 2 (its own
    // plant has lines 1–3 with other data): line ids are per tenant.
    let mine = g.data(
        "data",
        &format!("/api/v1/data/production/summary?line_id=1&{D1}"),
    );
    let theirs = g.get_as(
        "data",
        &format!("/api/v1/data/production/summary?line_id=1&{D1}"),
        &g.other_token,
    );
    assert_eq!(theirs.status, 200);
    assert_ne!(
        theirs.json()["data"]["lines"][0]["line_name"],
        mine["lines"][0]["line_name"]
    );
    let r = g.get_as(
        "data",
        &format!("/api/v1/data/detections?line_id=7&{D1}"),
        &g.other_token,
    );
    refused(&r, 404, "line_id");
    // No token, a bad token: 401.
    for b in ["data", "metrics"] {
        let route = if b == "data" {
            "/api/v1/data/production/summary"
        } else {
            "/api/v1/metrics/oee"
        };
        let r = run_cgi(
            &bin(b),
            &g.env,
            &TestRequest::get(&format!("{route}?line_id=1&{D1}")),
        );
        assert_eq!(r.status, 401, "{}", r.text());
        let r = run_cgi(
            &bin(b),
            &g.env,
            &TestRequest::get(&format!("{route}?line_id=1&{D1}"))
                .header("Authorization", "Bearer nope"),
        );
        assert_eq!(r.status, 401);
    }
    // Health needs no token.
    for b in ["data", "metrics"] {
        let r = run_cgi(
            &bin(b),
            &g.env,
            &TestRequest::get(&format!("/api/v1/{b}/health")),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
}
