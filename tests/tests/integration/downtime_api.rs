//! The `downtime` function (docs/api.md#routes, §6, §12) through its release binary as
//! CGI: list with filters, pagination and CSV; one stop; justification (roles,
//! reasons, comment size, stale updates, audit); recomputation of a window;
//! the summary with MTBF, MTTR and the Paretos.

use crate::auth_support as support;

use std::collections::HashSet;
use std::process::Command;

use integration_tests::hosts::{bin, run_cgi, RawResponse, TestRequest};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use support::{assert_error, json_request, raw_request, request, world, Bearer, World};

fn dt(w: &World, req: &TestRequest) -> RawResponse {
    run_cgi(&bin("downtime"), &w.env, req)
}

pub(crate) fn get(w: &World, token: &str, uri: &str) -> RawResponse {
    dt(w, &request("GET", uri).bearer(token))
}

/// Computes the demo plant's stops with the jobs binary, as cron would.
pub(crate) fn compute_stops(w: &World) {
    let out = Command::new(bin("jobs"))
        .args(["downtime", "--tenant", &w.demo.to_string()])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(w.env.clone())
        .output()
        .expect("jobs");
    assert!(
        out.status.success(),
        "jobs downtime: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A plant time of the API as an instant.
fn instant(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn is_plant_time(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    // 2026-04-01T06:00:00.000+02:00
    b.len() == 29
        && b[10] == b'T'
        && b[19] == b'.'
        && (b[23] == b'+' || b[23] == b'-')
        && b[26] == b':'
        && s[..19].chars().filter(char::is_ascii_digit).count() == 14
}

pub(crate) async fn reason_ids(w: &World) -> Vec<i64> {
    let mut c = w.db.client_conn(w.demo).await.expect("client");
    c.query("SELECT failure_id FROM failure WHERE is_active = 1 ORDER BY failure_id")
        .await
        .expect("reasons")
}

pub(crate) fn all_pages(w: &World, token: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let uri = match &cursor {
            Some(c) => format!("/api/v1/downtime?{query}&limit=1000&cursor={c}"),
            None => format!("/api/v1/downtime?{query}&limit=1000"),
        };
        let resp = get(w, token, &uri);
        assert_eq!(resp.status, 200, "{uri}: {}", resp.text());
        let body = resp.json();
        out.extend(body["data"].as_array().expect("data").iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("too many pages");
}

#[tokio::test]
async fn lists_filters_pages_csv_and_summary() {
    let w = world(&[]).await;
    compute_stops(&w);
    let viewer = w.login("demo.viewer").access;

    let resp = get(&w, &viewer, "/api/v1/downtime?line_id=1&range=last_7_days");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.json();
    let data = body["data"].as_array().expect("data");
    assert!(!data.is_empty(), "{body}");
    let first = &data[0];
    for key in [
        "downtime_id",
        "line_id",
        "start_time",
        "end_time",
        "duration_seconds",
        "is_micro",
        "failure_id",
        "reason",
        "justification",
        "justified_by",
        "justified_at",
    ] {
        assert!(first.get(key).is_some(), "stop lacks {key}: {first}");
    }
    assert!(
        is_plant_time(&first["start_time"]) && is_plant_time(&first["end_time"]),
        "{first}"
    );
    assert!(data
        .iter()
        .all(|s| s["is_micro"] == false && s["line_id"] == 1));
    // Newest first.
    let starts: Vec<&str> = data
        .iter()
        .map(|s| s["start_time"].as_str().unwrap_or(""))
        .collect();
    let mut sorted = starts.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(starts, sorted);
    assert!(body.get("open_stops").is_some());

    // Keyset pages: disjoint, and together the same as one big page.
    let p1 = get(
        &w,
        &viewer,
        "/api/v1/downtime?line_ids=1,2&range=last_7_days&limit=5",
    )
    .json();
    let cursor = p1["next_cursor"].as_str().expect("more than 5 stops");
    let p2 = get(
        &w,
        &viewer,
        &format!("/api/v1/downtime?line_ids=1,2&range=last_7_days&limit=5&cursor={cursor}"),
    )
    .json();
    let ids = |p: &Value| -> Vec<(i64, i64)> {
        p["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|s| {
                (
                    s["line_id"].as_i64().unwrap_or(0),
                    s["downtime_id"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    };
    let big = get(
        &w,
        &viewer,
        "/api/v1/downtime?line_ids=1,2&range=last_7_days&limit=10",
    )
    .json();
    let mut paged = ids(&p1);
    paged.extend(ids(&p2));
    assert_eq!(paged, ids(&big));
    assert_eq!(paged.iter().collect::<HashSet<_>>().len(), 10);
    let junk = get(&w, &viewer, "/api/v1/downtime?line_id=1&cursor=%27%3B--");
    assert_error(&junk, 422, "bad cursor");

    // Filters.
    let micro = all_pages(&w, &viewer, "line_id=1&range=last_7_days&micro=only");
    assert!(!micro.is_empty() && micro.iter().all(|s| s["is_micro"] == true));
    let long = all_pages(&w, &viewer, "line_id=1&range=last_7_days&min_duration=600");
    assert!(long
        .iter()
        .all(|s| s["duration_seconds"].as_f64().unwrap_or(0.0) >= 600.0));
    let stops = all_pages(&w, &viewer, "line_id=1&range=last_7_days");
    assert!(long.len() < stops.len());
    let with_micro = all_pages(&w, &viewer, "line_id=1&range=last_7_days&micro=include");
    assert_eq!(with_micro.len(), stops.len() + micro.len());
    assert_eq!(
        all_pages(&w, &viewer, "line_id=1&range=last_7_days&justified=true").len(),
        0
    );
    let unknown_reason = get(&w, &viewer, "/api/v1/downtime?line_id=1&reason=NOPE");
    assert_error(&unknown_reason, 422, "unknown reason filter");
    assert_error(
        &get(&w, &viewer, "/api/v1/downtime?line_id=1&micro=maybe"),
        422,
        "bad micro",
    );
    assert_error(
        &get(&w, &viewer, "/api/v1/downtime?line_id=1&min_duration=-5"),
        422,
        "negative duration",
    );

    // A range over max_query_days (366) is refused with the field named.
    let long_range = get(
        &w,
        &viewer,
        "/api/v1/downtime?line_id=1&start_date=2024-01-01&end_date=2026-01-10",
    );
    let body = assert_error(&long_range, 422, "range over the maximum");
    assert_eq!(body["error"]["field"], "end_date");
    assert_error(
        &get(&w, &viewer, "/api/v1/downtime?line_id=1&range=forever"),
        422,
        "unknown range",
    );
    assert_error(
        &get(
            &w,
            &viewer,
            "/api/v1/downtime?line_id=1&start_date=yesterday",
        ),
        422,
        "bad date",
    );
    // Unknown and other plants' lines.
    assert_error(
        &get(&w, &viewer, "/api/v1/downtime?line_id=101"),
        404,
        "other plant's line",
    );
    assert_error(
        &get(&w, &viewer, "/api/v1/downtime?line_ids=1,999"),
        404,
        "unknown line",
    );

    // CSV.
    let csv = dt(
        &w,
        &request("GET", "/api/v1/downtime?line_id=1&range=last_7_days")
            .bearer(&viewer)
            .header("Accept", "text/csv"),
    );
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert!(csv
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/csv")));
    let text = csv.text();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .is_some_and(|h| h.starts_with("downtime_id,line_id,line_name,start_time")));
    assert_eq!(lines.count(), stops.len());

    // Summary: the same stops, with MTTR and MTBF and the Paretos.
    let sum = get(
        &w,
        &viewer,
        "/api/v1/downtime/summary?line_id=1&range=last_7_days",
    );
    assert_eq!(sum.status, 200, "{}", sum.text());
    let s = sum.json()["data"].clone();
    // The list shows every stop overlapping the window; the summary counts
    // only those starting in it (docs/downtime.md#counts-and-durations-in-windows),
    // so a stop running across the window start is listed but not counted
    // (this was `stops.len()` when every overlapping stop counted).
    let window_start = instant(&s["window"]["start"]);
    let starting = |list: &[Value]| {
        list.iter()
            .filter(|x| instant(&x["start_time"]) >= window_start)
            .count() as u64
    };
    let stored = starting(&stops);
    assert!(stored > 0 && stored + 1 >= stops.len() as u64, "{s}");
    // The running stop is a stop too when it started in the window.
    let running = s["open_stops"]
        .as_array()
        .expect("open stops")
        .iter()
        .filter(|o| instant(&o["since"]) >= window_start)
        .count() as u64;
    let counted = stored + running;
    assert_eq!(s["count"].as_u64(), Some(counted), "{s}");
    assert_eq!(
        s["micro_stops"]["count"].as_u64(),
        Some(starting(&micro)),
        "{s}"
    );
    let total = s["downtime_seconds"].as_f64().expect("downtime")
        + s["outside_planned_seconds"]
            .as_f64()
            .expect("outside planned time");
    assert!(total > 0.0);
    let mttr = s["mttr_seconds"].as_f64().expect("mttr");
    assert!((mttr - total / counted as f64).abs() < 1e-6);
    assert!(s["mtbf_seconds"].as_f64().expect("mtbf") > 0.0);
    let by_reason = s["by_reason"].as_array().expect("by_reason");
    assert_eq!(by_reason.len(), 1, "nothing justified yet: {s}");
    assert_eq!(by_reason[0]["id"], Value::Null);
    assert!((by_reason[0]["cumulative_share"].as_f64().unwrap_or(0.0) - 1.0).abs() < 1e-9);
    let shift_total: u64 = s["by_shift"]
        .as_array()
        .expect("by_shift")
        .iter()
        .map(|r| r["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(shift_total, counted);
    assert_error(
        &get(
            &w,
            &viewer,
            "/api/v1/downtime/summary?line_id=1&start_date=2020-01-01&end_date=2026-01-01",
        ),
        422,
        "summary range",
    );

    // Another plant sees only its own lines (which have no stops yet).
    let second = w.login("second.viewer").access;
    let theirs = get(&w, &second, "/api/v1/downtime?range=last_7_days");
    assert_eq!(theirs.status, 200, "{}", theirs.text());
    assert_eq!(theirs.json()["data"], json!([]));
    support::assert_no_demo_data(&theirs, "another plant's list");
    let theirs = get(&w, &second, "/api/v1/downtime/summary?range=last_7_days");
    assert_eq!(theirs.status, 200, "{}", theirs.text());
    assert_eq!(theirs.json()["data"]["count"], 0);

    // No token, no data.
    assert_error(
        &dt(&w, &request("GET", "/api/v1/downtime?line_id=1")),
        401,
        "anonymous",
    );
}

#[tokio::test]
async fn justification_rules() {
    let w = world(&[]).await;
    compute_stops(&w);
    let operator = w.login("demo.operator").access;
    let viewer = w.login("demo.viewer").access;
    let scoped = w.login("demo.scoped").access;
    let other_plant = w.login("second.operator").access;
    let reasons = reason_ids(&w).await;
    let reason = reasons[0];

    let list = get(
        &w,
        &operator,
        "/api/v1/downtime?line_id=1&range=last_7_days&limit=3",
    )
    .json();
    let stop = list["data"][0].clone();
    let id = stop["downtime_id"].as_i64().expect("id");
    let uri = format!("/api/v1/downtime/{id}?line_id=1");

    // One stop, with an ETag; line_id is required (ids are per line).
    let one = get(&w, &operator, &uri);
    assert_eq!(one.status, 200, "{}", one.text());
    assert_eq!(one.json()["data"]["downtime_id"], id);
    let etag1 = one.header("etag").expect("etag").to_string();
    let updated1 = one.json()["data"]["updated_at"]
        .as_str()
        .expect("updated_at")
        .to_string();
    let body = assert_error(
        &get(&w, &operator, &format!("/api/v1/downtime/{id}")),
        422,
        "no line_id",
    );
    assert_eq!(body["error"]["field"], "line_id");
    assert_error(
        &get(&w, &operator, "/api/v1/downtime/999999999?line_id=1"),
        404,
        "unknown stop",
    );
    assert_error(
        &get(&w, &operator, "/api/v1/downtime/abc?line_id=1"),
        404,
        "not an id",
    );
    let not_modified = dt(
        &w,
        &request("GET", &uri)
            .bearer(&operator)
            .header("If-None-Match", &etag1),
    );
    assert_eq!(not_modified.status, 304);

    let put = |token: &str, body: Value| dt(&w, &json_request("PUT", &uri, &body).bearer(token));

    // A viewer may not justify.
    let resp = put(&viewer, json!({"failure_id": reason, "comment": "no"}));
    assert_error(&resp, 403, "viewer PUT");
    // Another plant's user, or one limited to other lines: 404, never the stop.
    let resp = put(&other_plant, json!({"failure_id": reason, "comment": "x"}));
    assert_error(&resp, 404, "other tenant's stop");
    assert_error(&get(&w, &other_plant, &uri), 404, "other tenant's stop GET");
    assert_error(&get(&w, &scoped, &uri), 404, "line out of scope");
    // Unknown reason.
    let body = assert_error(
        &put(&operator, json!({"failure_id": 987654, "comment": "x"})),
        422,
        "unknown reason",
    );
    assert_eq!(body["error"]["field"], "failure_id");
    assert_error(
        &put(&operator, json!({"comment": "x"})),
        422,
        "reason missing",
    );
    assert_error(
        &put(&operator, json!({"failure_id": "many"})),
        422,
        "reason not a number",
    );
    assert_error(
        &put(&operator, json!({"failure_id": reason, "colour": "red"})),
        422,
        "unknown field",
    );
    // A 100 KB comment.
    let body = assert_error(
        &put(
            &operator,
            json!({"failure_id": reason, "comment": "x".repeat(100 * 1024)}),
        ),
        422,
        "100 KB comment",
    );
    assert_eq!(body["error"]["field"], "comment");
    // A body over 1 MiB.
    let huge = raw_request("PUT", &uri, vec![b' '; 1024 * 1024 + 10]).bearer(&operator);
    assert_error(&dt(&w, &huge), 413, "body over 1 MiB");
    // Broken JSON.
    assert_error(
        &dt(
            &w,
            &raw_request("PUT", &uri, b"{\"failure_id\":".to_vec()).bearer(&operator),
        ),
        400,
        "bad JSON",
    );
    assert_eq!(
        get(&w, &operator, &uri).json()["data"]["failure_id"],
        Value::Null,
        "nothing was written"
    );

    // A good justification, with the ETag as precondition.
    let comment = "Rotura de cinta <script>alert(1)</script> ' OR 1=1 --";
    let ok = dt(
        &w,
        &json_request(
            "PUT",
            &uri,
            &json!({"failure_id": reason, "comment": comment}),
        )
        .bearer(&operator)
        .header("If-Match", &etag1),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let after = ok.json()["data"].clone();
    assert_eq!(after["failure_id"], reason);
    assert_eq!(after["justification"], comment, "stored as given, safely");
    assert_eq!(after["justified_by"], w.user_id("demo.operator"));
    assert!(is_plant_time(&after["justified_at"]), "{after}");
    assert!(after["reason"].is_string());
    let etag2 = ok.header("etag").expect("etag").to_string();
    assert_ne!(etag1, etag2);

    // Stale preconditions are conflicts.
    let stale = dt(
        &w,
        &json_request(
            "PUT",
            &uri,
            &json!({"failure_id": reason, "comment": "late"}),
        )
        .bearer(&operator)
        .header("If-Match", &etag1),
    );
    assert_error(&stale, 409, "stale If-Match");
    let stale = put(
        &operator,
        json!({"failure_id": reason, "comment": "late", "expected_updated_at": updated1}),
    );
    assert_error(&stale, 409, "stale expected_updated_at");
    let fresh = put(
        &operator,
        json!({"failure_id": reasons[reasons.len() - 1], "comment": "second thoughts", "expected_updated_at": after["updated_at"]}),
    );
    assert_eq!(fresh.status, 200, "{}", fresh.text());

    // Audited with before and after.
    let mut g = w.global().await;
    let details: Vec<String> = g
        .exec(
            "SELECT CAST(details AS CHAR) FROM audit_log WHERE action = 'downtime.justify' AND tenant_id = ? \
             AND user_id = ? ORDER BY audit_id",
            (w.demo, w.user_id("demo.operator")),
        )
        .await
        .expect("audit");
    assert_eq!(details.len(), 2, "{details:?}");
    let first: Value = serde_json::from_str(&details[0]).expect("details JSON");
    assert_eq!(first["before"]["failure_id"], Value::Null);
    assert_eq!(first["after"]["failure_id"], reason);
    assert_eq!(first["after"]["justification"], comment);
    let second: Value = serde_json::from_str(&details[1]).expect("details JSON");
    assert_eq!(second["before"]["justification"], comment);
    assert_eq!(second["after"]["justification"], "second thoughts");

    // The justified stop shows in the filters and the summary.
    let justified = all_pages(&w, &operator, "line_id=1&range=last_7_days&justified=true");
    assert_eq!(justified.len(), 1);
    let sum = get(
        &w,
        &operator,
        "/api/v1/downtime/summary?line_id=1&range=last_7_days",
    )
    .json();
    assert!(sum["data"]["by_reason"]
        .as_array()
        .expect("by_reason")
        .iter()
        .any(|r| r["id"] == reasons[reasons.len() - 1]));
    assert_eq!(sum["data"]["justified_count"], 1);
}

#[tokio::test]
async fn calculate_recomputes_a_window_and_reports_changed_justifications() {
    let w = world(&[]).await;
    compute_stops(&w);
    let manager = w.login("demo.manager").access;
    let operator = w.login("demo.operator").access;
    let reason = reason_ids(&w).await[0];

    let post = |token: &str, body: Value| {
        dt(
            &w,
            &json_request("POST", "/api/v1/downtime/calculate", &body).bearer(token),
        )
    };
    assert_error(
        &post(&operator, json!({"line_id": 1, "range": "last_7_days"})),
        403,
        "operator calculate",
    );
    let body = assert_error(
        &post(
            &manager,
            json!({"line_id": 1, "start_date": "2024-01-01", "end_date": "2026-01-10"}),
        ),
        422,
        "calculate over the maximum",
    );
    assert_eq!(body["error"]["field"], "end_date");
    assert_error(&post(&manager, json!({"line_id": 1})), 422, "no window");
    assert_error(
        &post(&manager, json!({"line_id": 101, "range": "today"})),
        404,
        "other plant's line",
    );

    // Justify two long stops of line 1.
    let long = all_pages(&w, &manager, "line_id=1&range=last_7_days&min_duration=300");
    assert!(long.len() >= 2, "{long:?}");
    let (keep, split) = (&long[long.len() - 1], &long[0]);
    for s in [keep, split] {
        let uri = format!("/api/v1/downtime/{}?line_id=1", s["downtime_id"]);
        let r = dt(
            &w,
            &json_request(
                "PUT",
                &uri,
                &json!({"failure_id": reason, "comment": "antes"}),
            )
            .bearer(&manager),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }

    // Nothing new: recomputing changes nothing.
    let r = post(&manager, json!({"line_ids": [1], "range": "last_7_days"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let line = r.json()["data"]["lines"][0].clone();
    assert_eq!(line["status"], "done", "{line}");
    assert_eq!(line["recomputed"]["deleted"], 0, "{line}");
    assert_eq!(line["recomputed"]["inserted"], 0, "{line}");
    assert_eq!(line["changed_justified"], json!([]));

    // Late data inside one justified stop.
    let split_id = split["downtime_id"].as_i64().expect("id");
    let mut c = w.db.client_conn(w.demo).await.expect("client");
    c.exec_drop(
        "INSERT INTO detection_line_linea_1_envasado (detected_at, area_id, product_id) \
         SELECT TIMESTAMPADD(MICROSECOND, TIMESTAMPDIFF(MICROSECOND, start_time, end_time) DIV 2, start_time), \
                (SELECT area_id FROM area WHERE line_id = 1 AND area_type = 'output' LIMIT 1), 1 \
         FROM downtime_events_linea_1_envasado WHERE downtime_id = ?",
        (split_id,),
    )
    .await
    .expect("late detection");
    drop(c);
    let r = post(&manager, json!({"line_id": 1, "range": "last_7_days"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let line = r.json()["data"]["lines"][0].clone();
    assert_eq!(line["recomputed"]["deleted"], 1, "{line}");
    assert_eq!(line["recomputed"]["inserted"], 2, "{line}");
    let changed = line["changed_justified"].as_array().expect("changed");
    assert_eq!(changed.len(), 1, "{line}");
    assert_eq!(changed[0]["stop"]["downtime_id"], split_id);
    assert_eq!(changed[0]["stop"]["justification"], "antes");
    assert_eq!(changed[0]["replaced_by"].as_array().map(Vec::len), Some(2));
    assert!(is_plant_time(&changed[0]["replaced_by"][0]["start_time"]));

    // The unchanged justified stop kept its row and justification; the split one is gone.
    let kept = get(
        &w,
        &manager,
        &format!("/api/v1/downtime/{}?line_id=1", keep["downtime_id"]),
    );
    assert_eq!(kept.status, 200);
    assert_eq!(kept.json()["data"]["justification"], "antes");
    assert_error(
        &get(
            &w,
            &manager,
            &format!("/api/v1/downtime/{split_id}?line_id=1"),
        ),
        404,
        "replaced stop",
    );

    // Audited.
    let mut g = w.global().await;
    let n: Option<i64> = g
        .exec_first(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'downtime.calculate' AND tenant_id = ?",
            (w.demo,),
        )
        .await
        .expect("audit");
    assert_eq!(n, Some(2));
}
