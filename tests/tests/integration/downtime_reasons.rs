//! Reason capture where the stop happens (issue 14, docs/downtime.md): a
//! reason for a running stop (`PUT /downtime/running`), kept in the
//! product's state until `jobs downtime` stores the stop and then put on it;
//! one reason for several stops (`POST /downtime/justify`, all or nothing);
//! editing a justified stop; and the demo's simulated operators' reasons.
//! Through the release binaries as CGI, over a real MariaDB.

use crate::auth_support as support;

use std::process::Command;

use chrono::{Duration, NaiveDateTime, Utc};
use dash_store::demo::{DemoOptions, DemoSize};
use integration_tests::hosts::{bin, run_cgi, RawResponse};
use integration_tests::testdb::TestDb;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use support::{assert_error, json_request, world, Bearer, World};

use crate::downtime_api::{all_pages, compute_stops, get, reason_ids};

/// Line 1 of the demo plant and its tables.
const LINE: i64 = 1;
const DETECTIONS: &str = "detection_line_linea_1_envasado";

fn send(w: &World, method: &str, uri: &str, token: &str, body: Value) -> RawResponse {
    run_cgi(
        &bin("downtime"),
        &w.env,
        &json_request(method, uri, &body).bearer(token),
    )
}

fn running(w: &World, token: &str, body: Value) -> RawResponse {
    send(w, "PUT", "/api/v1/downtime/running", token, body)
}

fn bulk(w: &World, token: &str, body: Value) -> RawResponse {
    send(w, "POST", "/api/v1/downtime/justify", token, body)
}

fn field(resp: &RawResponse, status: u16, what: &str) -> Value {
    assert_error(resp, status, what)["error"]["field"].clone()
}

async fn audit_details(w: &World, action: &str) -> Vec<Value> {
    let mut g = w.global().await;
    let rows: Vec<String> = g
        .exec(
            "SELECT CAST(details AS CHAR) FROM audit_log WHERE action = ? AND tenant_id = ? ORDER BY audit_id",
            (action, w.demo),
        )
        .await
        .expect("audit");
    rows.iter()
        .map(|d| serde_json::from_str(d).expect("details JSON"))
        .collect()
}

/// Line 1 stops half an hour ago: its newest detections are removed (the
/// demo's data ends now; its data zone is UTC).
async fn stop_line_one(w: &World) -> NaiveDateTime {
    let mut c = w.db.client_conn(w.demo).await.expect("client");
    let cut = Utc::now().naive_utc() - Duration::minutes(30);
    c.exec_drop(
        format!("DELETE FROM {DETECTIONS} WHERE detected_at > ?"),
        (cut,),
    )
    .await
    .expect("cut");
    cut
}

/// A unit leaves line 1's output area now: its stop ends.
async fn restart_line_one(w: &World) {
    let mut c = w.db.client_conn(w.demo).await.expect("client");
    let area: i64 = c
        .exec_first(
            "SELECT area_id FROM area WHERE line_id = ? AND area_type = 'output'",
            (LINE,),
        )
        .await
        .expect("area")
        .expect("an output area");
    c.exec_drop(
        format!("INSERT INTO {DETECTIONS} (detected_at, area_id, product_id) SELECT ?, ?, product_id FROM {DETECTIONS} ORDER BY detected_at DESC LIMIT 1"),
        (Utc::now().naive_utc() - Duration::seconds(5), area),
    )
    .await
    .expect("a new unit");
}

#[tokio::test]
async fn a_running_stop_gets_its_reason_and_the_job_puts_it_on_the_stored_stop() {
    let w = world(&[]).await;
    stop_line_one(&w).await;
    compute_stops(&w);
    let operator = w.login("demo.operator").access;
    let viewer = w.login("demo.viewer").access;
    let scoped = w.login("demo.scoped").access;
    let other_plant = w.login("second.operator").access;
    let reasons = reason_ids(&w).await;

    let list = get(&w, &operator, "/api/v1/downtime?line_id=1&range=today");
    assert_eq!(list.status, 200, "{}", list.text());
    let open = list.json()["open_stops"][0].clone();
    assert_eq!(open["line_id"], LINE, "line 1 is stopped: {open}");
    assert_eq!(open["failure_id"], Value::Null, "no reason yet: {open}");
    let since = open["since"].as_str().expect("since").to_string();
    let body = |reason: i64, comment: &str| json!({"line_id": LINE, "since": since, "failure_id": reason, "comment": comment});

    // Refusals, each naming its field; nothing is kept.
    assert_error(&running(&w, &viewer, body(reasons[0], "x")), 403, "viewer");
    assert_eq!(
        field(
            &running(&w, &scoped, body(reasons[0], "x")),
            404,
            "line out of scope"
        ),
        "line_id"
    );
    assert_eq!(
        field(
            &running(&w, &other_plant, body(reasons[0], "x")),
            404,
            "another plant's line"
        ),
        "line_id"
    );
    assert_eq!(
        field(
            &running(
                &w,
                &operator,
                json!({"since": since, "failure_id": reasons[0]})
            ),
            422,
            "no line"
        ),
        "line_id"
    );
    assert_eq!(
        field(
            &running(
                &w,
                &operator,
                json!({"line_id": LINE, "since": "ten past", "failure_id": reasons[0]})
            ),
            422,
            "since not an instant"
        ),
        "since"
    );
    assert_eq!(
        field(
            &running(
                &w,
                &operator,
                json!({"line_id": LINE, "failure_id": reasons[0]})
            ),
            422,
            "no since"
        ),
        "since"
    );
    assert_eq!(
        field(
            &running(&w, &operator, body(987_654, "x")),
            422,
            "unknown reason"
        ),
        "failure_id"
    );
    assert_eq!(
        field(
            &running(
                &w,
                &operator,
                json!({"line_id": LINE, "since": since, "failure_id": reasons[0], "colour": 1})
            ),
            422,
            "unknown field"
        ),
        "colour"
    );
    let other_since = "2020-01-01T00:00:00.000+00:00";
    assert_eq!(
        field(
            &running(
                &w,
                &operator,
                json!({"line_id": LINE, "since": other_since, "failure_id": reasons[0]})
            ),
            409,
            "another stop's since"
        ),
        "since"
    );
    assert_eq!(
        get(&w, &operator, "/api/v1/downtime?line_id=1&range=today").json()["open_stops"][0]
            ["failure_id"],
        Value::Null,
        "nothing was kept"
    );

    // Given, then changed while it runs: the newest reason is the one kept.
    let ok = running(&w, &operator, body(reasons[0], "first guess"));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["data"]["failure_id"], reasons[0]);
    let ok = running(&w, &operator, body(reasons[1], "Atasco en la llenadora"));
    assert_eq!(ok.status, 200, "{}", ok.text());
    let shown = get(&w, &operator, "/api/v1/downtime?line_id=1&range=today").json()["open_stops"]
        [0]
    .clone();
    assert_eq!(shown["failure_id"], reasons[1], "{shown}");
    assert_eq!(shown["justification"], "Atasco en la llenadora");
    assert_eq!(shown["justified_by"], w.user_id("demo.operator"));
    let audit = audit_details(&w, "downtime.justify_running").await;
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["before"], Value::Null);
    assert_eq!(audit[1]["before"]["failure_id"], reasons[0]);
    assert_eq!(audit[1]["after"]["failure_id"], reasons[1]);

    // Kept in the product's own table, never in the client's.
    let mut c = w.db.client_conn(w.demo).await.expect("client");
    let waiting: Vec<String> = c
        .exec(
            "SELECT entry FROM dash_line_state WHERE line_id = ? AND entry LIKE 'running_stop_reason:%'",
            (LINE,),
        )
        .await
        .expect("state");
    assert_eq!(waiting.len(), 1, "{waiting:?}");

    // A job run while the line is still stopped stores nothing and keeps it.
    compute_stops(&w);
    assert_eq!(
        get(&w, &operator, "/api/v1/downtime?line_id=1&range=today").json()["open_stops"][0]
            ["failure_id"],
        reasons[1]
    );

    // The line runs again: the job stores the stop with the reason given.
    restart_line_one(&w).await;
    compute_stops(&w);
    let since_instant = chrono::DateTime::parse_from_rfc3339(&since).expect("since");
    let stops = all_pages(&w, &operator, "line_id=1&range=today");
    let stored = stops
        .iter()
        .find(|s| {
            chrono::DateTime::parse_from_rfc3339(s["start_time"].as_str().unwrap()).unwrap()
                == since_instant
        })
        .unwrap_or_else(|| panic!("no stored stop starts at {since}: {stops:?}"));
    assert_eq!(stored["failure_id"], reasons[1], "{stored}");
    assert_eq!(stored["justification"], "Atasco en la llenadora");
    assert_eq!(stored["justified_by"], w.user_id("demo.operator"));
    let left: Vec<String> = c
        .exec(
            "SELECT entry FROM dash_line_state WHERE line_id = ? AND entry LIKE 'running_stop_reason:%'",
            (LINE,),
        )
        .await
        .expect("state");
    assert!(
        left.is_empty(),
        "the entry is forgotten once applied: {left:?}"
    );

    // The stop has ended: a reason for it as a running stop is a conflict.
    assert_eq!(
        field(
            &running(&w, &operator, body(reasons[0], "late")),
            409,
            "ended stop"
        ),
        "since"
    );
}

#[tokio::test]
async fn bulk_justification_is_all_or_nothing_and_audited_per_stop() {
    let w = world(&[]).await;
    compute_stops(&w);
    let operator = w.login("demo.operator").access;
    let viewer = w.login("demo.viewer").access;
    let scoped = w.login("demo.scoped").access;
    let other_plant = w.login("second.operator").access;
    let reasons = reason_ids(&w).await;
    let reason = reasons[2];

    let pending = all_pages(&w, &operator, "range=last_7_days&justified=false");
    let pick: Vec<&Value> = pending
        .iter()
        .filter(|s| s["line_id"] == 1)
        .take(2)
        .chain(pending.iter().filter(|s| s["line_id"] == 2).take(1))
        .collect();
    assert_eq!(pick.len(), 3, "three unjustified stops on lines 1 and 2");
    let item = |s: &Value| json!({"line_id": s["line_id"], "downtime_id": s["downtime_id"], "expected_updated_at": s["updated_at"]});
    let items: Vec<Value> = pick.iter().map(|s| item(s)).collect();
    let all = |extra: Value| {
        let mut b = json!({"stops": items, "failure_id": reason, "comment": "Turno de noche: falta de material"});
        if let (Value::Object(m), Value::Object(e)) = (&mut b, extra) {
            m.extend(e);
        }
        b
    };
    let justified_now =
        |w: &World| all_pages(w, &operator, "range=last_7_days&justified=true").len();

    // Refusals, each naming the item and field.
    assert_error(&bulk(&w, &viewer, all(json!({}))), 403, "viewer");
    assert_eq!(
        field(
            &bulk(&w, &operator, json!({"failure_id": reason})),
            422,
            "no stops"
        ),
        "stops"
    );
    assert_eq!(
        field(
            &bulk(&w, &operator, json!({"stops": [], "failure_id": reason})),
            422,
            "empty"
        ),
        "stops"
    );
    assert_eq!(
        field(
            &bulk(
                &w,
                &operator,
                json!({"stops": [items[0], {"line_id": 1, "downtime_id": "x"}], "failure_id": reason})
            ),
            422,
            "bad id"
        ),
        "stops[1].downtime_id"
    );
    assert_eq!(
        field(
            &bulk(
                &w,
                &operator,
                json!({"stops": [items[0], items[0]], "failure_id": reason})
            ),
            422,
            "the same stop twice"
        ),
        "stops[1]"
    );
    assert_eq!(
        field(
            &bulk(&w, &operator, json!({"stops": items})),
            422,
            "no reason"
        ),
        "failure_id"
    );
    assert_eq!(
        field(
            &bulk(&w, &operator, all(json!({"failure_id": 987_654}))),
            422,
            "unknown reason"
        ),
        "failure_id"
    );
    assert_eq!(
        field(
            &bulk(&w, &operator, all(json!({"comment": "x".repeat(1001)}))),
            422,
            "long comment"
        ),
        "comment"
    );
    // Another line's or another plant's stops are refused, naming the item.
    assert_eq!(
        field(
            &bulk(&w, &scoped, all(json!({}))),
            404,
            "line 1 out of scope"
        ),
        "stops[0].line_id"
    );
    assert_eq!(
        field(
            &bulk(&w, &other_plant, all(json!({}))),
            404,
            "another plant"
        ),
        "stops[0].line_id"
    );
    // An unknown stop in the middle: nothing is saved.
    let mut with_unknown = items.clone();
    with_unknown[1]["downtime_id"] = json!(999_999_999);
    assert_eq!(
        field(
            &bulk(
                &w,
                &operator,
                json!({"stops": with_unknown, "failure_id": reason})
            ),
            404,
            "unknown stop"
        ),
        "stops[1].downtime_id"
    );
    assert_eq!(justified_now(&w), 0, "all or nothing");

    // Someone justifies the third stop meanwhile: the set is a conflict and
    // the first two are not justified either.
    let third = pick[2];
    let uri = format!(
        "/api/v1/downtime/{}?line_id={}",
        third["downtime_id"], third["line_id"]
    );
    let single = send(
        &w,
        "PUT",
        &uri,
        &operator,
        json!({"failure_id": reasons[0]}),
    );
    assert_eq!(single.status, 200, "{}", single.text());
    let resp = bulk(&w, &operator, all(json!({})));
    assert_eq!(
        field(&resp, 409, "stale item"),
        "stops[2].expected_updated_at"
    );
    assert_eq!(justified_now(&w), 1, "only the single justification");

    // With the fresh version, all three at once.
    let mut fresh = items.clone();
    fresh[2]["expected_updated_at"] = single.json()["data"]["updated_at"].clone();
    let ok = bulk(
        &w,
        &operator,
        json!({"stops": fresh, "failure_id": reason, "comment": "Turno de noche: falta de material"}),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let body = ok.json();
    let data = body["data"].as_array().expect("data");
    assert_eq!(data.len(), 3, "{body}");
    for s in data {
        assert_eq!(s["failure_id"], reason, "{s}");
        assert_eq!(s["justification"], "Turno de noche: falta de material");
    }
    assert_eq!(justified_now(&w), 3);

    // Audited one row per stop; the edited one shows its old and new reason.
    let audit = audit_details(&w, "downtime.justify").await;
    assert_eq!(audit.len(), 4, "one single, three in bulk: {audit:?}");
    let bulk_rows: Vec<&Value> = audit.iter().filter(|d| d["bulk_count"] == 3).collect();
    assert_eq!(bulk_rows.len(), 3);
    let edited = bulk_rows
        .iter()
        .find(|d| d["downtime_id"] == third["downtime_id"])
        .expect("the edited stop's row");
    assert_eq!(edited["before"]["failure_id"], reasons[0]);
    assert_eq!(edited["after"]["failure_id"], reason);
}

#[tokio::test]
async fn editing_a_justified_stop_is_audited_with_both_reasons() {
    let w = world(&[]).await;
    compute_stops(&w);
    let operator = w.login("demo.operator").access;
    let reasons = reason_ids(&w).await;
    let stop = all_pages(&w, &operator, "line_id=1&range=last_7_days")[0].clone();
    let uri = format!("/api/v1/downtime/{}?line_id=1", stop["downtime_id"]);
    let first = send(
        &w,
        "PUT",
        &uri,
        &operator,
        json!({"failure_id": reasons[0], "expected_updated_at": stop["updated_at"]}),
    );
    assert_eq!(first.status, 200, "{}", first.text());
    // An edit made from the old version is a conflict; from the new one it is kept.
    let stale = send(
        &w,
        "PUT",
        &uri,
        &operator,
        json!({"failure_id": reasons[1], "expected_updated_at": stop["updated_at"]}),
    );
    assert_error(&stale, 409, "edit from a stale version");
    let edit = send(
        &w,
        "PUT",
        &uri,
        &operator,
        json!({"failure_id": reasons[1], "comment": "era otra cosa", "expected_updated_at": first.json()["data"]["updated_at"]}),
    );
    assert_eq!(edit.status, 200, "{}", edit.text());
    let audit = audit_details(&w, "downtime.justify").await;
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1]["before"]["failure_id"], reasons[0]);
    assert_eq!(audit[1]["after"]["failure_id"], reasons[1]);
    assert_eq!(audit[1]["after"]["justification"], "era otra cosa");
}

/// Stops of the demo's line tables: (stops, with a reason, distinct reasons,
/// with a reason among those starting in the last 8 hours).
async fn demo_stop_reasons(c: &mut mysql_async::Conn, end: NaiveDateTime) -> (i64, i64, i64, i64) {
    let mut totals = (0, 0, 0, 0);
    for code in [
        "linea_1_envasado",
        "linea_2_etiquetado",
        "linea_3_paletizado",
    ] {
        let row: (i64, i64, i64, i64) = c
            .exec_first(
                format!(
                    "SELECT COUNT(*), COUNT(failure_id), COUNT(DISTINCT failure_id), \
                     COUNT(CASE WHEN start_time > ? THEN failure_id END) \
                     FROM downtime_events_{code} WHERE is_micro = 0"
                ),
                (end - Duration::hours(8),),
            )
            .await
            .expect("stops")
            .expect("a row");
        totals = (
            totals.0 + row.0,
            totals.1 + row.1,
            totals.2.max(row.2),
            totals.3 + row.3,
        );
    }
    totals
}

#[tokio::test]
async fn the_demo_gives_most_incident_stops_a_reason_and_leaves_recent_ones_to_ask() {
    let end = Utc::now();
    let opts = DemoOptions {
        seed: 7,
        size: DemoSize::Small,
        days: 14,
        end: Some(end),
        shop_floor: true,
        ..DemoOptions::default()
    };
    let db = TestDb::new()
        .await
        .expect("test database")
        .with_demo_tenant_opts("Reasons Plant", "Europe/Madrid", opts)
        .await
        .expect("demo tenant");
    let tenant = db.tenant("Reasons Plant").tenant_id;
    let mut c = db.client_conn(tenant).await.expect("client");
    let incidents: i64 = c
        .query_first("SELECT COUNT(*) FROM incident")
        .await
        .expect("incidents")
        .expect("a count");
    let out = Command::new(bin("jobs"))
        .args(["downtime", "--tenant", &tenant.to_string()])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(db.env())
        .output()
        .expect("jobs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (stops, justified, distinct, recent_justified) =
        demo_stop_reasons(&mut c, end.naive_utc()).await;
    eprintln!("demo: {stops} stops, {justified} with a reason ({distinct} reasons at most per line), {incidents} incidents");
    assert!(
        justified * 10 >= incidents * 7,
        "most incidents' stops have their reason: {justified} of {incidents}"
    );
    assert!(justified < stops, "some stops stay unjustified");
    assert!(distinct >= 4, "a Pareto worth reading: {distinct} reasons");
    assert_eq!(
        recent_justified, 0,
        "the last hours' stops are left for the operators"
    );
    let waiting: i64 = c
        .query_first(
            "SELECT COUNT(*) FROM dash_line_state WHERE entry LIKE 'running_stop_reason:%'",
        )
        .await
        .expect("state")
        .expect("a count");
    assert_eq!(waiting, 0, "every queued reason was settled by the job");
}
