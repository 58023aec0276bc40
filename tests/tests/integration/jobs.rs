//! The `jobs` release binary: under the Lambda runtime interface with
//! EventBridge "Scheduled Event" envelopes, and from the command line (cron on
//! cPanel). One failing tenant never stops the others; every run is recorded
//! in `job_run` and the line's `dash_line_state`. The downtime run also brings
//! each line's minute rollup up to date, and the counts it serves are the
//! raw detections' counts.

use std::process::{Command, Output};

use dash_core::timeutil::{Interval, Window};
use dash_store::metrics::{compute, Plant};
use dash_store::query::{self, CountSource, DetectionTable};
use integration_tests::hosts::{bin, LambdaRuntime};
use integration_tests::testdb::TestDb;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

const PLANT: &str = "Plant A";
const BROKEN: &str = "Broken Plant";

async fn world() -> TestDb {
    TestDb::new()
        .await
        .expect("test database")
        .with_demo_tenant(PLANT, "Europe/Madrid")
        .await
        .expect("demo tenant")
        // A tenant whose client database has no tables at all: its run fails.
        .with_empty_tenant(BROKEN, "UTC")
        .await
        .expect("broken tenant")
}

fn scheduled(rule: &str, detail: Value) -> Value {
    json!({
        "version": "0",
        "id": "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-04-01T06:15:00Z",
        "region": "eu-west-1",
        "resources": [format!("arn:aws:events:eu-west-1:123456789012:rule/{rule}")],
        "detail": detail
    })
}

fn items_of(summary: &Value, tenant_id: i64) -> Vec<&Value> {
    summary["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["tenant_id"] == tenant_id)
        .collect()
}

pub(crate) async fn count(db: &TestDb, tenant_db: Option<&str>, sql: &str) -> i64 {
    let mut conn = match tenant_db {
        Some(name) => {
            let mut c = db.server_conn().await.expect("server");
            c.query_drop(format!("USE `{name}`")).await.expect("use");
            c
        }
        None => db.global_conn().await.expect("global"),
    };
    conn.query_first::<i64, _>(sql)
        .await
        .expect("count")
        .unwrap_or(0)
}

async fn stops_of(db: &TestDb, tenant_db: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for code in [
        "linea_1_envasado",
        "linea_2_etiquetado",
        "linea_3_paletizado",
    ] {
        out.push(
            count(
                db,
                Some(tenant_db),
                &format!("SELECT COUNT(*) FROM downtime_events_{code}"),
            )
            .await,
        );
    }
    out
}

#[tokio::test]
async fn scheduled_events_run_the_jobs_under_the_lambda_runtime() {
    let db = world().await;
    let plant = db.tenant(PLANT).clone();
    let broken = db.tenant(BROKEN).clone();
    let mut runtime = LambdaRuntime::start();
    runtime.spawn_function(&bin("jobs"), &db.env());

    // The every-15-minutes rule: its name says which job.
    let summary = runtime
        .invoke(&scheduled("dashboard-jobs-downtime", json!({})))
        .expect("downtime invocation");
    assert_eq!(summary["job"], "downtime", "{summary}");
    let ok = items_of(&summary, plant.tenant_id);
    assert_eq!(ok.len(), 3, "{summary}");
    for item in &ok {
        assert_eq!(item["status"], "ok", "{item}");
        assert!(item["rows"].as_u64().unwrap_or(0) > 1000, "{item}");
        assert!(item["detail"]["stops"].as_u64().unwrap_or(0) > 0, "{item}");
    }
    // The broken tenant failed, alone.
    let failed = items_of(&summary, broken.tenant_id);
    assert_eq!(failed.len(), 1, "{summary}");
    assert_eq!(failed[0]["status"], "failed");
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["ok"], 3);

    let first = stops_of(&db, &plant.db_name).await;
    assert!(first.iter().all(|n| *n > 0), "{first:?}");
    // Watermark and last run of every line in the product's dash_line_state.
    assert_eq!(
        count(
            &db,
            Some(&plant.db_name),
            "SELECT COUNT(*) FROM dash_line_state WHERE entry = 'downtime_watermark'"
        )
        .await,
        3
    );
    assert_eq!(
        count(&db, Some(&plant.db_name), "SELECT COUNT(*) FROM dash_line_state WHERE entry = 'downtime_last_run' AND JSON_VALUE(value_json, '$.status') = 'ok'").await,
        3
    );
    // Every unit of work is in job_run, finished.
    assert_eq!(
        count(
            &db,
            None,
            "SELECT COUNT(*) FROM job_run WHERE job = 'downtime' AND finished_at IS NOT NULL"
        )
        .await,
        4
    );
    assert_eq!(
        count(
            &db,
            None,
            "SELECT COUNT(*) FROM job_run WHERE job = 'downtime' AND status = 'failed'"
        )
        .await,
        1
    );

    // The next scheduled run finds nothing new and changes nothing.
    let again = runtime
        .invoke(&scheduled("dashboard-jobs-downtime", json!({})))
        .expect("second downtime invocation");
    for item in items_of(&again, plant.tenant_id) {
        assert_eq!(item["status"], "ok", "{item}");
        assert_eq!(item["rows"], 0, "{item}");
    }
    assert_eq!(stops_of(&db, &plant.db_name).await, first);

    // detail.job picks the job whatever the rule is called; options come with it.
    let parts = runtime
        .invoke(&scheduled(
            "nightly",
            json!({"job": "partitions", "months": 6, "tenant_id": plant.tenant_id}),
        ))
        .expect("partitions invocation");
    assert_eq!(parts["job"], "partitions", "{parts}");
    assert_eq!(parts["failed"], 0, "{parts}");
    assert_eq!(parts["ok"], 3, "{parts}");
    for item in parts["items"].as_array().expect("items") {
        assert!(
            item["detail"]["added"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
            "{item}"
        );
    }
    // Running it again adds nothing (and drops nothing).
    let parts_again = runtime
        .invoke(&json!({"job": "partitions", "months": 6, "tenant_id": plant.tenant_id}))
        .expect("partitions again");
    for item in parts_again["items"].as_array().expect("items") {
        assert_eq!(item["detail"]["added"], json!([]), "{item}");
    }
    let rows_now = count(
        &db,
        Some(&plant.db_name),
        "SELECT COUNT(*) FROM detection_line_linea_1_envasado",
    )
    .await;
    assert!(rows_now > 0);

    // A plain input works too.
    let hk = runtime
        .invoke(&json!({"job": "housekeeping"}))
        .expect("housekeeping invocation");
    assert_eq!(hk["job"], "housekeeping", "{hk}");
    assert_eq!(hk["ok"], 1, "{hk}");

    // An event that names no job is an invocation error, not a crash: the
    // function still answers the next one.
    let err = runtime
        .invoke(&scheduled("mystery-rule", json!({})))
        .unwrap_err();
    assert!(err.contains("cannot tell which job"), "{err}");
    let hk = runtime
        .invoke(&json!({"job": "housekeeping"}))
        .expect("still alive");
    assert_eq!(hk["failed"], 0);
}

pub(crate) fn jobs_cli(db: &TestDb, args: &[&str]) -> Output {
    Command::new(bin("jobs"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(db.env())
        .output()
        .expect("run jobs")
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn the_command_line_runs_the_same_jobs_for_cron() {
    let db = world().await;
    let plant = db.tenant(PLANT).clone();

    let help = jobs_cli(&db, &["--help"]);
    assert!(help.status.success(), "{}", text(&help));
    assert!(String::from_utf8_lossy(&help.stdout)
        .contains("jobs downtime [--tenant ID] [--line ID] [--from TIME]"));
    let bad = jobs_cli(&db, &["explode"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let bad = jobs_cli(&db, &["downtime", "--from", "last tuesday"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));

    // One line of one tenant.
    let tid = plant.tenant_id.to_string();
    let one = jobs_cli(&db, &["downtime", "--tenant", &tid, "--line", "2"]);
    assert!(one.status.success(), "{}", text(&one));
    let out = String::from_utf8_lossy(&one.stdout);
    assert!(
        out.contains(&format!("OK       tenant {tid} line 2")),
        "{out}"
    );
    let stops = stops_of(&db, &plant.db_name).await;
    assert_eq!(stops[0], 0);
    assert!(stops[1] > 0);

    // Every tenant: the broken one fails (exit 1) but every line of the other runs.
    let all = jobs_cli(&db, &["downtime", "--json"]);
    assert_eq!(all.status.code(), Some(1), "{}", text(&all));
    let summary: Value = serde_json::from_slice(&all.stdout).expect("JSON summary");
    assert_eq!(summary["ok"], 3, "{summary}");
    assert_eq!(summary["failed"], 1, "{summary}");
    let stops = stops_of(&db, &plant.db_name).await;
    assert!(stops.iter().all(|n| *n > 0), "{stops:?}");

    // Late data: a justified stop gets a detection in its middle; recomputing
    // from before it keeps the other justifications and reports that one.
    let mut c = db.client_conn(plant.tenant_id).await.expect("client");
    let (stop_id, start, end): (i64, String, String) = c
        .query_first(
            "SELECT downtime_id, CAST(start_time AS CHAR), CAST(end_time AS CHAR) FROM downtime_events_linea_1_envasado \
             WHERE is_micro = 0 AND duration_seconds > 600 ORDER BY start_time DESC LIMIT 1",
        )
        .await
        .expect("stop")
        .expect("a long stop exists");
    c.query_drop(
        "UPDATE downtime_events_linea_1_envasado SET failure_id = 1, justification = 'kept', justified_by = 1 \
         WHERE is_micro = 0",
    )
    .await
    .expect("justify all");
    let justified_before: i64 = c
        .query_first(
            "SELECT COUNT(*) FROM downtime_events_linea_1_envasado WHERE justification = 'kept'",
        )
        .await
        .expect("count")
        .unwrap_or(0);
    let output_area: i64 = c
        .query_first("SELECT area_id FROM area WHERE line_id = 1 AND area_type = 'output' LIMIT 1")
        .await
        .expect("area")
        .expect("output area");
    c.exec_drop(
        "INSERT INTO detection_line_linea_1_envasado (detected_at, area_id, product_id) \
         VALUES (TIMESTAMPADD(MICROSECOND, TIMESTAMPDIFF(MICROSECOND, ?, ?) DIV 2, ?), ?, 1)",
        (&start, &end, &start, output_area),
    )
    .await
    .expect("late detection");
    drop(c);
    let from = &start[..10];
    let late = jobs_cli(
        &db,
        &[
            "downtime", "--tenant", &tid, "--line", "1", "--from", from, "--json",
        ],
    );
    assert!(late.status.success(), "{}", text(&late));
    let summary: Value = serde_json::from_slice(&late.stdout).expect("JSON summary");
    let recompute = &summary["items"][0]["detail"]["recompute"];
    assert_eq!(recompute["deleted"], 1, "{summary}");
    assert_eq!(recompute["inserted"], 2, "{summary}");
    assert!(recompute["kept"].as_u64().unwrap_or(0) > 0, "{summary}");
    let changed = recompute["changed_justified"].as_array().expect("changed");
    assert_eq!(changed.len(), 1, "{summary}");
    assert_eq!(changed[0]["downtime_id"], stop_id);
    assert_eq!(changed[0]["replaced_by"].as_array().map(Vec::len), Some(2));
    let justified_after = count(
        &db,
        Some(&plant.db_name),
        "SELECT COUNT(*) FROM downtime_events_linea_1_envasado WHERE justification = 'kept'",
    )
    .await;
    assert_eq!(justified_after, justified_before - 1);

    // Partitions and housekeeping from cron.
    let parts = jobs_cli(&db, &["partitions", "--tenant", &tid, "--months", "5"]);
    assert!(parts.status.success(), "{}", text(&parts));
    let hk = jobs_cli(&db, &["housekeeping"]);
    assert!(hk.status.success(), "{}", text(&hk));
    assert!(
        String::from_utf8_lossy(&hk.stdout).contains("housekeeping finished"),
        "{}",
        text(&hk)
    );
    assert!(
        count(&db, None, "SELECT COUNT(*) FROM job_run WHERE job IN ('partitions', 'housekeeping') AND status = 'ok'").await
            >= 4
    );
}

/// The in-process state of the `jobs` and HTTP binaries on the test databases.
fn state_of(db: &TestDb) -> shared::state::AppState {
    let env = db.env();
    let config = shared::config::Config::from_lookup(|k| {
        env.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.clone())
    })
    .expect("config");
    shared::state::AppState::new("test", dash_store::HostKind::Cli, config).expect("state")
}

/// For every line: the OEE of the last 15 days (by day, cut at now) and the
/// production by hour (every area) served with the rollup are exactly the
/// figures of the raw rows, and the rollup path really reads the rollup.
async fn rollup_equals_raw(db: &TestDb, tenant_id: i64, what: &str) {
    automatic_counts_equal_raw(db, tenant_id, what, true, None).await;
}

/// Like [`rollup_equals_raw`]; `rollup_read` says whether the automatic path
/// must plan to read the rollup (false: it may fall back to raw rows, as it
/// does when the rollup is missing, foreign or unreadable); `at` is the end
/// of the data (default now).
pub(crate) async fn automatic_counts_equal_raw(
    db: &TestDb,
    tenant_id: i64,
    what: &str,
    rollup_read: bool,
    at: Option<chrono::DateTime<chrono::Utc>>,
) {
    let state = state_of(db);
    let tenant = dash_store::tenancy::load_tenant(&state, tenant_id)
        .await
        .expect("tenant")
        .expect("tenant exists");
    let meta = dash_store::metadata::load(
        &mut state
            .db()
            .client(&tenant.db_location())
            .await
            .expect("conn"),
        &tenant.db_location().db_name,
    )
    .await
    .expect("metadata");
    let at = at.unwrap_or_else(|| state.now());
    let plant = Plant::new(&tenant, &meta, at);
    let today = plant.cal.production_date(at);
    let w = Window::new(
        plant.cal.day_start(today - chrono::Duration::days(15)),
        plant.cal.day_start(today + chrono::Duration::days(1)),
    )
    .expect("window");
    let days = plant.buckets(&w, Interval::Day).expect("days");
    let hours: Vec<Window> = plant
        .buckets(&w, Interval::Hour)
        .expect("hours")
        .iter()
        .map(|b| b.window())
        .collect();
    let mut conn = state
        .db()
        .client(&tenant.db_location())
        .await
        .expect("conn");
    let db_name = tenant.db_location().db_name;
    for line in &meta.lines {
        let id = line.line_id;
        let auto = compute(&mut conn, &plant, &[id], &w, &days, CountSource::Auto)
            .await
            .expect("auto");
        let raw = compute(&mut conn, &plant, &[id], &w, &days, CountSource::Raw)
            .await
            .expect("raw");
        assert!(raw.total.good > 0, "{what}: line {id} has output");
        assert_eq!(auto.total, raw.total, "{what}: line {id} OEE");
        assert_eq!(
            auto.total_buckets, raw.total_buckets,
            "{what}: line {id} OEE by day"
        );
        let table = DetectionTable::open(&mut conn, &db_name, line, tenant.data_timezone())
            .await
            .expect("table");
        let areas: Vec<i64> = meta.areas_of_line(id).map(|a| a.area_id).collect();
        let mut by_hour = Vec::new();
        for source in [CountSource::Auto, CountSource::Raw] {
            by_hour.push(
                query::count_in_windows(&mut conn, &table, &hours, None, &areas, None, source)
                    .await
                    .expect("count"),
            );
        }
        assert_eq!(
            by_hour[0], by_hour[1],
            "{what}: line {id} production by hour"
        );
        // One window of whole days (read from the rollup's day totals).
        let mut whole = Vec::new();
        for source in [CountSource::Auto, CountSource::Raw] {
            whole.push(
                query::count_in_windows(&mut conn, &table, &[w], None, &areas, None, source)
                    .await
                    .expect("count"),
            );
        }
        assert_eq!(whole[0], whole[1], "{what}: line {id} production");
        if !rollup_read {
            continue;
        }
        // The rollup path reads the rollup rows (not only raw rows).
        let plan = query::plan_in_windows(
            &mut conn,
            &table,
            &[w],
            None,
            &areas,
            None,
            CountSource::Auto,
        )
        .await
        .expect("plan");
        assert!(
            plan.iter().any(|(sql, _)| sql.contains("dash_rollup")),
            "{what}: line {id} is served by the rollup"
        );
    }
}

async fn rollup_watermarks(db: &TestDb, tenant_db: &str) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for (line_id, code) in [
        (1, "linea_1_envasado"),
        (2, "linea_2_etiquetado"),
        (3, "linea_3_paletizado"),
    ] {
        let max_id = count(
            db,
            Some(tenant_db),
            &format!("SELECT MAX(detection_id) FROM detection_line_{code}"),
        )
        .await;
        let watermark = count(
            db,
            Some(tenant_db),
            &format!(
                "SELECT CAST(JSON_VALUE(value_json, '$.detection_id') AS SIGNED) FROM dash_rollup \
                 WHERE entry = 'rollup_min_watermark' AND line_id = {line_id}"
            ),
        )
        .await;
        out.push((max_id, watermark));
    }
    out
}

#[tokio::test]
async fn the_downtime_run_brings_the_rollup_up_to_date() {
    let db = world().await;
    let plant = db.tenant(PLANT).clone();
    let tid = plant.tenant_id.to_string();
    // Nothing rolled up yet: every count is raw.
    assert_eq!(
        count(
            &db,
            Some(&plant.db_name),
            "SELECT COUNT(*) FROM dash_rollup"
        )
        .await,
        0
    );

    let run = jobs_cli(&db, &["downtime", "--tenant", &tid, "--json"]);
    assert!(run.status.success(), "{}", text(&run));
    let summary: Value = serde_json::from_slice(&run.stdout).expect("JSON summary");
    assert_eq!(summary["ok"], 3, "{summary}");
    for item in summary["items"].as_array().expect("items") {
        let r = &item["detail"]["rollup"];
        assert_eq!(r["status"], "ok", "{item}");
        assert!(r["rows"].as_u64().unwrap_or(0) > 1000, "{item}");
        assert!(r["days"].as_u64().unwrap_or(0) > 0, "{item}");
    }
    // Every line folded in up to its newest detection, and recorded.
    for (max_id, watermark) in rollup_watermarks(&db, &plant.db_name).await {
        assert!(max_id > 0);
        assert_eq!(watermark, max_id);
    }
    assert_eq!(
        count(&db, Some(&plant.db_name), "SELECT COUNT(*) FROM dash_line_state WHERE entry = 'rollup_last_run' AND JSON_VALUE(value_json, '$.status') = 'ok'").await,
        3
    );
    rollup_equals_raw(&db, plant.tenant_id, "after the first run").await;

    // Late and new detections: counted raw until the next run folds them in.
    let mut c = db.client_conn(plant.tenant_id).await.expect("client");
    let areas: Vec<i64> = c
        .query("SELECT area_id FROM area WHERE line_id = 1 ORDER BY area_id")
        .await
        .expect("areas");
    for (i, area) in areas.iter().enumerate() {
        c.exec_drop(
            "INSERT INTO detection_line_linea_1_envasado (detected_at, area_id, product_id) \
             SELECT TIMESTAMPADD(SECOND, ?, MAX(detected_at) - INTERVAL 2 DAY), ?, 1 FROM detection_line_linea_1_envasado",
            (17 * i as i64 + 1, area),
        )
        .await
        .expect("late detection");
    }
    drop(c);
    rollup_equals_raw(&db, plant.tenant_id, "with late detections not folded in").await;
    let again = jobs_cli(
        &db,
        &["downtime", "--tenant", &tid, "--line", "1", "--json"],
    );
    assert!(again.status.success(), "{}", text(&again));
    let summary: Value = serde_json::from_slice(&again.stdout).expect("JSON summary");
    assert_eq!(
        summary["items"][0]["detail"]["rollup"]["rows"],
        areas.len() as u64,
        "{summary}"
    );
    let marks = rollup_watermarks(&db, &plant.db_name).await;
    assert_eq!(marks[0].1, marks[0].0, "{marks:?}");
    rollup_equals_raw(
        &db,
        plant.tenant_id,
        "after the late detections are folded in",
    )
    .await;

    // A run with nothing new folds nothing in and changes nothing.
    let idle = jobs_cli(&db, &["downtime", "--tenant", &tid, "--json"]);
    assert!(idle.status.success(), "{}", text(&idle));
    let summary: Value = serde_json::from_slice(&idle.stdout).expect("JSON summary");
    for item in summary["items"].as_array().expect("items") {
        assert_eq!(item["detail"]["rollup"]["rows"], 0, "{item}");
    }
    assert_eq!(rollup_watermarks(&db, &plant.db_name).await, marks);
}
