//! The `jobs` release binary: under the Lambda runtime interface with
//! EventBridge "Scheduled Event" envelopes, and from the command line (cron on
//! cPanel). One failing tenant never stops the others; every run is recorded
//! in `job_run` and the line's `system_monitor`.

use std::process::{Command, Output};

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

async fn count(db: &TestDb, tenant_db: Option<&str>, sql: &str) -> i64 {
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
    // Watermark and last run of every line in the client's system_monitor.
    assert_eq!(
        count(
            &db,
            Some(&plant.db_name),
            "SELECT COUNT(*) FROM system_monitor WHERE metric = 'downtime_watermark'"
        )
        .await,
        3
    );
    assert_eq!(
        count(&db, Some(&plant.db_name), "SELECT COUNT(*) FROM system_monitor WHERE metric = 'downtime_last_run' AND JSON_VALUE(value_json, '$.status') = 'ok'").await,
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

fn jobs_cli(db: &TestDb, args: &[&str]) -> Output {
    Command::new(bin("jobs"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(db.env())
        .output()
        .expect("run jobs")
}

fn text(o: &Output) -> String {
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
