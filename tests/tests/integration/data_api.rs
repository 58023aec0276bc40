//! The `data` function over the golden plant (rows in `metrics_support.rs`),
//! through the real release binary: keyset pages, CSV, filters, aggregates,
//! production totals, and the `user_query` trace.
//!
//! Build first: `cargo build --release -p auth -p data`.
//!
//! D1 (2026-03-10, CET) of line A holds 567 detections: 523 outputs (500 in
//! planned time + 23 outside), 14 rejects, 30 inputs, all product 1.

use crate::metrics_support as support;

use std::collections::HashSet;

use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use support::*;

const D1: &str = "start_date=2026-03-10&end_date=2026-03-11";
const DET: &str = "/api/v1/data/detections";

fn list(g: &Golden, uri: &str) -> (Vec<Value>, Option<String>) {
    let r = g.get("data", uri);
    assert_eq!(r.status, 200, "{uri}: {}", r.text());
    let body = r.json();
    let items = body["data"].as_array().expect("data").clone();
    (items, body["next_cursor"].as_str().map(str::to_string))
}

#[tokio::test]
async fn detections_pages_csv_and_filters() {
    let g = golden().await;

    // Keyset pages of 100 walk all 567 detections once, in time order.
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut uri = format!("{DET}?line_id=1&{D1}&limit=100");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let (items, next) = list(&g, &uri);
        pages += 1;
        for it in &items {
            assert!(
                seen.insert(it["detection_id"].as_i64().expect("id")),
                "duplicate {it}"
            );
        }
        all.extend(items);
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages < 20, "pagination does not end");
    }
    assert_eq!(pages, 6);
    assert_eq!(all.len(), 567);
    let times: Vec<String> = all
        .iter()
        .map(|i| i["detected_at"].as_str().unwrap_or("").to_string())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "ascending detected_at");
    // Names joined from the cache; times in the plant's offset.
    let first = &all[0];
    assert_eq!(first["detected_at"], "2026-03-10T00:00:30.000+01:00");
    assert_eq!(first["area_name"], "Salida A");
    assert_eq!(first["area_type"], "output");
    assert_eq!(first["product_name"], "Widget");
    assert_eq!(first["line_id"], 1);
    // The edge of the window: 13:59:59.999 is there, in its own millisecond.
    assert!(times.iter().any(|t| t == "2026-03-10T13:59:59.999+01:00"));
    // Another zone: offset-less dates are read in it and times shown in it.
    // 2026-03-10 00:00 UTC is 01:00 in the plant: the first detection after
    // it is 00:00:30 CET + 34 × 108 s = 00:01:42 UTC.
    let (items, _) = list(&g, &format!("{DET}?line_id=1&{D1}&limit=1&timezone=UTC"));
    assert_eq!(items[0]["detected_at"], "2026-03-10T00:01:42.000+00:00");

    // Newest first.
    let (items, _) = list(&g, &format!("{DET}?line_id=1&{D1}&limit=2&order=desc"));
    assert_eq!(items[0]["detected_at"], "2026-03-10T23:09:00.000+01:00");
    // Descending pages also cover everything once.
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut uri = format!("{DET}?line_id=1&{D1}&limit=250&order=desc");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let (items, next) = list(&g, &uri);
        n += items.len();
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(n, 567);

    // Filters: the reject area; product 2 (none); the Day shift (06:00–14:00:
    // 252 outputs and 30 inputs, 14:00:00.000 excluded).
    let (items, _) = list(&g, &format!("{DET}?line_id=1&{D1}&area_id=13&limit=1000"));
    assert_eq!(items.len(), 14);
    let (items, _) = list(&g, &format!("{DET}?line_id=1&{D1}&product_id=2&limit=1000"));
    assert!(items.is_empty());
    let (items, _) = list(&g, &format!("{DET}?line_id=1&{D1}&shift_id=1&limit=1000"));
    assert_eq!(items.len(), 282);
    assert!(items.iter().all(|i| {
        let t = i["detected_at"].as_str().unwrap_or("");
        ("2026-03-10T06:00:00.000+01:00".."2026-03-10T14:00:00.000+01:00").contains(&t)
    }));

    // CSV with Accept: text/csv, paged by X-Next-Cursor.
    let csv = |uri: &str| {
        integration_tests::hosts::run_cgi(
            &integration_tests::hosts::bin("data"),
            &g.env,
            &integration_tests::hosts::TestRequest::get(uri)
                .header("Authorization", &format!("Bearer {}", g.token))
                .header("Accept", "text/csv"),
        )
    };
    let r = csv(&format!("{DET}?line_id=1&{D1}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/csv"));
    let text = r.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "detection_id,line_id,line_name,detected_at,area_id,area_name,area_type,product_id,product_code,product_name");
    assert_eq!(lines.len(), 1 + 567);
    assert!(
        lines[1]
            .contains(",Golden A,2026-03-10T00:00:30.000+01:00,12,Salida A,output,1,W-1,Widget"),
        "{}",
        lines[1]
    );
    assert!(r.header("x-next-cursor").is_none());
    let r = csv(&format!("{DET}?line_id=1&{D1}&limit=500"));
    assert_eq!(r.text().lines().count(), 1 + 500);
    let next = r.header("x-next-cursor").expect("next cursor").to_string();
    let r = csv(&format!("{DET}?line_id=1&{D1}&limit=500&cursor={next}"));
    assert_eq!(r.text().lines().count(), 1 + 67);
    assert!(r.header("x-next-cursor").is_none());

    // Ties: detections at the very same millisecond, on two areas, paged two
    // at a time in both directions, come once each in (time, id) order.
    let mut c = g.db.client_conn(g.tenant_id).await.expect("client");
    let at = utc("2026-03-20T10:00:00.500Z").naive_utc();
    let later = utc("2026-03-20T10:00:01Z").naive_utc();
    let mut rows = Vec::new();
    for _ in 0..5 {
        rows.push((2, 21, 3, at));
    }
    for _ in 0..3 {
        rows.push((2, 22, 3, at));
    }
    rows.push((2, 21, 3, later));
    insert_detections(&mut c, &rows).await.expect("tied rows");
    let day = "start_date=2026-03-20&end_date=2026-03-21";
    for order in ["asc", "desc"] {
        let mut got: Vec<(String, i64)> = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let mut uri = format!("{DET}?line_id=2&{day}&limit=2&order={order}");
            if let Some(c) = &cursor {
                uri.push_str(&format!("&cursor={c}"));
            }
            let (items, next) = list(&g, &uri);
            got.extend(items.iter().map(|i| {
                (
                    i["detected_at"].as_str().unwrap_or("").to_string(),
                    i["detection_id"].as_i64().unwrap_or(0),
                )
            }));
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(got.len(), 9, "{order}: {got:?}");
        let mut want = got.clone();
        want.sort();
        if order == "desc" {
            want.reverse();
        }
        assert_eq!(got, want, "{order}");
        let unique: HashSet<i64> = got.iter().map(|g| g.1).collect();
        assert_eq!(unique.len(), 9);
    }
}

#[tokio::test]
async fn aggregates_and_production_totals() {
    let g = golden().await;

    // Summary of D1, line A: every detection in the window, planned or not.
    let s = g.data(
        "data",
        &format!("/api/v1/data/production/summary?line_id=1&{D1}"),
    );
    assert_eq!(s["good"], 523);
    assert_eq!(s["rejects"], 14);
    assert_eq!(s["total"], 537);
    assert_eq!(s["input"], 30);
    assert_eq!(s["detections"], 567);
    close(num(&s, "reject_rate"), 14.0 / 537.0);
    assert_eq!(s["lines"][0]["line_name"], "Golden A");
    // Night shift only: 00:00–06:00 and 22:00–24:00 → 200 + 50 outputs, 13 rejects.
    let s = g.data(
        "data",
        &format!("/api/v1/data/production/summary?line_id=1&{D1}&shift_id=2"),
    );
    assert_eq!(
        (s["good"].as_u64(), s["rejects"].as_u64()),
        (Some(250), Some(13))
    );
    // Both lines over D1–D4: line B adds 100 (product 2) + 600 (product 3).
    let s = g.data(
        "data",
        "/api/v1/data/production/summary?line_ids=1,2&start_date=2026-03-10&end_date=2026-03-13",
    );
    assert_eq!(s["good"], 523 + 700);
    assert_eq!(s["lines"].as_array().map(Vec::len), Some(2));

    // By product over D1–D4, largest first.
    let r = g.get(
        "data",
        "/api/v1/data/production/by-product?line_ids=1,2&start_date=2026-03-10&end_date=2026-03-13",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let items = r.json()["data"].as_array().expect("items").clone();
    let summary: Vec<(i64, u64, u64)> = items
        .iter()
        .map(|i| {
            (
                i["product_id"].as_i64().unwrap_or(0),
                i["good"].as_u64().unwrap_or(0),
                i["rejects"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(summary, [(3, 600, 0), (1, 523, 14), (2, 100, 0)]);
    assert_eq!(items[0]["product_name"], "Rápido");

    // By area of D1, every area of the line.
    let r = g.get(
        "data",
        &format!("/api/v1/data/production/by-area?line_id=1&{D1}"),
    );
    let items = r.json()["data"].as_array().expect("items").clone();
    let per: Vec<(i64, u64)> = items
        .iter()
        .map(|i| {
            (
                i["area_id"].as_i64().unwrap_or(0),
                i["detections"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(per, [(11, 30), (12, 523), (13, 14)]);

    // Aggregate by hour: 24 rows adding up to 567. 00:00–01:00 holds 34
    // outputs (00:00:30 + k·108 s, k ≤ 33) and 3 rejects (00:10, 00:30, 00:50);
    // 15:00 holds 20 outputs and the reject at 15:30.
    let agg = |body: Value| {
        let r = g.post("data", "/api/v1/data/detections/aggregate", &body);
        assert_eq!(r.status, 200, "{body}: {}", r.text());
        r.json()["data"].as_array().expect("rows").clone()
    };
    let rows = agg(
        json!({"line_id": 1, "start_date": "2026-03-10", "end_date": "2026-03-11", "group_by": "hour"}),
    );
    assert_eq!(rows.len(), 24);
    assert_eq!(
        rows.iter()
            .map(|r| r["count"].as_u64().unwrap_or(0))
            .sum::<u64>(),
        567
    );
    assert_eq!(rows[0]["label"], "2026-03-10 00:00");
    assert_eq!(rows[0]["count"], 37);
    assert_eq!(rows[15]["label"], "2026-03-10 15:00");
    assert_eq!(rows[15]["count"], 21);
    assert_eq!(rows[18]["count"], 0, "empty buckets are listed");
    // The spring-forward day has 23 hourly rows.
    let rows = agg(
        json!({"line_id": 1, "start_date": "2026-03-29", "end_date": "2026-03-30", "interval": "hour"}),
    );
    assert_eq!(rows.len(), 23);
    assert_eq!(
        rows.iter()
            .map(|r| r["count"].as_u64().unwrap_or(0))
            .sum::<u64>(),
        290
    );
    // By day, product and area.
    let rows = agg(
        json!({"line_ids": [1], "start_date": "2026-03-10", "end_date": "2026-03-11", "group_by": ["day", "product", "area"]}),
    );
    let got: Vec<(i64, i64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["product_id"].as_i64().unwrap_or(0),
                r["area_id"].as_i64().unwrap_or(0),
                r["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got, [(1, 11, 30), (1, 12, 523), (1, 13, 14)]);
    assert_eq!(rows[0]["label"], "2026-03-10");
    assert_eq!(rows[1]["area_name"], "Salida A");
    // By shift, then by line without an interval.
    let rows = agg(
        json!({"line_id": 1, "start_date": "2026-03-10", "end_date": "2026-03-11", "group_by": "shift"}),
    );
    let got: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap_or("").to_string(),
                r["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Night 2026-03-09".to_string(), 213),
            ("Day 2026-03-10".to_string(), 282),
            ("Night 2026-03-10".to_string(), 50)
        ]
    );
    let rows = agg(
        json!({"line_ids": "1,2", "start_date": "2026-03-10", "end_date": "2026-03-13", "group_by": "line", "area_ids": [12, 21]}),
    );
    let got: Vec<(i64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["line_id"].as_i64().unwrap_or(0),
                r["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got, [(1, 523), (2, 700)]);

    // Every call left a user_query row with its endpoint, parameters and rows.
    let mut gconn = g.db.global_conn().await.expect("global");
    let rows: Vec<(String, Option<String>, u32)> = gconn
        .query("SELECT endpoint, CAST(parameters AS CHAR), row_count FROM user_query ORDER BY query_id")
        .await
        .expect("user_query");
    let by_product = rows
        .iter()
        .find(|r| r.0 == "GET /api/v1/data/production/by-product")
        .expect("by-product traced");
    assert_eq!(by_product.2, 3);
    let params: Value =
        serde_json::from_str(by_product.1.as_deref().unwrap_or("null")).expect("parameters JSON");
    assert_eq!(params["line_ids"], "1,2", "{by_product:?}");
    let aggs = rows
        .iter()
        .filter(|r| r.0 == "POST /api/v1/data/detections/aggregate")
        .count();
    assert_eq!(aggs, 5);
    assert!(rows
        .iter()
        .any(|r| r.0 == "POST /api/v1/data/detections/aggregate" && r.2 == 24));
}
