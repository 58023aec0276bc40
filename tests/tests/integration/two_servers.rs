//! Tenants on two database servers: Plant A's client database on the main
//! server, Plant B's on the second (`TEST_SECOND_DATABASE_URL`, started by make
//! test), both tenant rows in the one global database (docs/client-database.md,
//! "Where it lives": `db_host` / `db_port` of `config_tenant`).
//!
//! * the `jobs` binary's downtime run (as cron runs it, one process, every
//!   tenant) stores each plant's stops in its own database, on its own server;
//! * through the in-process app, each tenant's users get their own plant's
//!   lines, production totals, OEE and stops — equal to the same computation
//!   read directly from that tenant's client database on its server.
//!
//! Without `TEST_SECOND_DATABASE_URL` these tests fail under CI and are skipped
//! (with a note) in a local run.

use std::process::{Command, Output};

use chrono::{Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use dash_core::timeutil::Window;
use dash_store::demo::{DemoOptions, DemoSize};
use dash_store::metadata::TenantMetadata;
use dash_store::metrics::{compute, Plant};
use dash_store::query::CountSource;
use dash_store::tenancy::Tenant;
use integration_tests::app::{http_routers, TestApp};
use integration_tests::hosts::bin;
use integration_tests::testdb::{second_server_or_skip, TestDb, TestTenant};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde_json::Value;

const A: &str = "Plant A";
const B: &str = "Plant B";
const PASSWORD: &str = "Two-Servers-Pass-1";

/// Plant A on the main server, Plant B (another seed and zone, so that its
/// numbers differ) on the second; `None` when the test is skipped.
async fn two_plants(test: &str) -> Option<TestDb> {
    second_server_or_skip(test)?;
    let b_opts = DemoOptions {
        seed: 8,
        size: DemoSize::Small,
        days: 14,
        ..DemoOptions::default()
    };
    let db = TestDb::new()
        .await
        .expect("test database")
        .with_demo_tenant(A, "Europe/Madrid")
        .await
        .expect("Plant A")
        .with_demo_tenant_on_second_server_opts(B, "America/Mexico_City", b_opts)
        .await
        .expect("Plant B on the second server");
    db.check_placement()
        .await
        .expect("one client database on each server");
    Some(db)
}

/// `jobs downtime --json` over every tenant, as cron runs it.
fn run_downtime(db: &TestDb) -> (Output, Value) {
    let out = Command::new(bin("jobs"))
        .args(["downtime", "--json"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(db.env())
        .output()
        .expect("run jobs");
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, summary)
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The tenant row (from the global database) and the metadata read directly
/// from its client database, with a connection to that database.
async fn direct(db: &TestDb, t: &TestTenant) -> (Tenant, TenantMetadata, Conn) {
    let mut g = db.global_conn().await.expect("global");
    let tenant = dash_store::schema::find_tenant(&mut g, t.tenant_id)
        .await
        .expect("tenant")
        .expect("tenant row");
    let mut c = db.client_conn(t.tenant_id).await.expect("client database");
    let meta = dash_store::metadata::load(&mut c, &t.db_name)
        .await
        .expect("metadata");
    (tenant, meta, c)
}

async fn count(c: &mut Conn, sql: &str) -> u64 {
    c.query_first::<u64, _>(sql)
        .await
        .expect("count")
        .unwrap_or(0)
}

#[tokio::test]
async fn the_downtime_job_runs_over_tenants_on_both_servers() {
    let Some(db) =
        two_plants("two_servers::the_downtime_job_runs_over_tenants_on_both_servers").await
    else {
        return;
    };
    let (out, summary) = run_downtime(&db);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["ok"], 6, "{summary}");

    let mut stops_of = Vec::new();
    for name in [A, B] {
        let t = db.tenant(name).clone();
        let items: Vec<&Value> = summary["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| i["tenant_id"] == t.tenant_id)
            .collect();
        assert_eq!(items.len(), 3, "{name}: {summary}");
        let (_, meta, mut c) = direct(&db, &t).await;
        let mut stops = Vec::new();
        for item in items {
            assert_eq!(item["status"], "ok", "{name}: {item}");
            let line_id = item["line_id"].as_i64().expect("line_id");
            let code = &meta.line(line_id).expect("line").line_code;
            let detail = &item["detail"];
            // What the run says it stored is in this tenant's database, on
            // this tenant's server.
            let n = count(
                &mut c,
                &format!("SELECT COUNT(*) FROM downtime_events_{code} WHERE is_micro = 0"),
            )
            .await;
            let micro = count(
                &mut c,
                &format!("SELECT COUNT(*) FROM downtime_events_{code} WHERE is_micro = 1"),
            )
            .await;
            assert!(n > 0, "{name} line {line_id}: stops stored");
            assert_eq!(Some(n), detail["stops"].as_u64(), "{name}: {item}");
            assert_eq!(
                Some(micro),
                detail["micro_stops"].as_u64(),
                "{name}: {item}"
            );
            stops.push((line_id, n));
        }
        stops.sort_unstable();
        stops_of.push(stops);
    }
    assert_ne!(stops_of[0], stops_of[1], "two plants, two sets of stops");
    let mut g = db.global_conn().await.expect("global");
    assert_eq!(
        count(
            &mut g,
            "SELECT COUNT(*) FROM job_run WHERE job = 'downtime' AND status = 'ok' AND finished_at IS NOT NULL"
        )
        .await,
        6,
        "every line of both tenants recorded in the one global job_run"
    );

    // A second run (each line resumes from its watermark, on its server) finds
    // no new stop: the stored ones stay as they are.
    let (out, summary) = run_downtime(&db);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(summary["ok"], 6, "{summary}");
    for (name, before) in [A, B].into_iter().zip(&stops_of) {
        let t = db.tenant(name).clone();
        let (_, meta, mut c) = direct(&db, &t).await;
        let mut after = Vec::new();
        for line in &meta.lines {
            let code = &line.line_code;
            after.push((
                line.line_id,
                count(
                    &mut c,
                    &format!("SELECT COUNT(*) FROM downtime_events_{code} WHERE is_micro = 0"),
                )
                .await,
            ));
        }
        after.sort_unstable();
        assert_eq!(&after, before, "{name}: stops after a second run");
    }
}

/// What one tenant's user got from the app, as plain numbers.
#[derive(Debug, PartialEq)]
struct Seen {
    lines: Vec<(i64, String)>,
    production: (u64, u64, u64),
    stops: Vec<i64>,
}

#[tokio::test]
async fn each_tenant_reads_its_own_server_through_the_app() {
    let Some(db) =
        two_plants("two_servers::each_tenant_reads_its_own_server_through_the_app").await
    else {
        return;
    };
    let (out, summary) = run_downtime(&db);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(summary["ok"], 6, "{summary}");
    let app = TestApp::new(
        db,
        http_routers(),
        &[
            ("RATE_LIMIT_USER_PER_MIN", "100000"),
            ("RATE_LIMIT_AUTH_IP_PER_MIN", "100000"),
        ],
    )
    .expect("app");

    // Three whole UTC days, inside both plants' 14 days of history.
    let today = Utc::now().date_naive();
    let (from, to) = (today - Duration::days(4), today - Duration::days(1));
    let utc = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN));
    let window = Window::new(utc(from), utc(to)).expect("window");
    let dates = format!("start_date={from}T00:00:00Z&end_date={to}T00:00:00Z");

    let mut seen = Vec::new();
    for (name, user) in [(A, "plant.a.manager"), (B, "plant.b.manager")] {
        let t = app.db.tenant(name).clone();
        let token = app
            .user_token(Some(t.tenant_id), user, "manager", PASSWORD)
            .await
            .expect("user");
        let get = |uri: String| {
            let app = &app;
            let token = token.clone();
            async move {
                let r = app.call("GET", &uri, Some(&token), None).await;
                assert_eq!(r.status, 200, "{name} GET {uri}: {}", r.text());
                r.json()
            }
        };
        let (tenant, meta, mut c) = direct(&app.db, &t).await;
        // Stored wall times are UTC (the default data_timezone), as the SQL
        // below assumes.
        assert_eq!(
            tenant.data_timezone().name(),
            "UTC",
            "{name}: data_timezone"
        );
        let line = meta.line(1).expect("line 1");
        let code = line.line_code.clone();

        // production: the lines of its own database.
        let lines = get("/api/v1/production/lines".into()).await;
        let lines: Vec<(i64, String)> = lines["data"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| {
                (
                    l["line_id"].as_i64().expect("line_id"),
                    l["line_name"].as_str().expect("line_name").to_string(),
                )
            })
            .collect();
        let expected: Vec<(i64, String)> = meta
            .lines
            .iter()
            .map(|l| (l.line_id, l.line_name.clone()))
            .collect();
        assert_eq!(lines, expected, "{name}: production lines");

        // data: production totals == the detections of its own table, by area type.
        let prod = get(format!("/api/v1/data/production/summary?line_id=1&{dates}")).await;
        let by_type = |area_type: &'static str| {
            format!(
                "SELECT COUNT(*) FROM detection_line_{code} d JOIN area a ON a.area_id = d.area_id \
                 WHERE a.area_type = '{area_type}' AND d.detected_at >= '{from} 00:00:00' \
                 AND d.detected_at < '{to} 00:00:00'"
            )
        };
        let production = (
            count(&mut c, &by_type("output")).await,
            count(&mut c, &by_type("reject")).await,
            count(&mut c, &by_type("input")).await,
        );
        assert!(production.0 > 0, "{name}: output in the window");
        assert_eq!(
            (
                prod["data"]["good"].as_u64(),
                prod["data"]["rejects"].as_u64(),
                prod["data"]["input"].as_u64()
            ),
            (Some(production.0), Some(production.1), Some(production.2)),
            "{name}: production summary {prod}"
        );

        // metrics: the OEE == the engine over a direct connection to its database.
        let oee = get(format!("/api/v1/metrics/oee?line_id=1&{dates}")).await;
        let plant = Plant::new(&tenant, &meta, Utc::now());
        let computed = compute(&mut c, &plant, &[1], &window, &[], CountSource::Auto)
            .await
            .expect("OEE read directly");
        assert_eq!(computed.total.good, production.0, "{name}: OEE good");
        // Its times in the plant's zone, as the route shows them.
        let mut expected =
            serde_json::to_value(computed.to_result(tenant.timezone(), false)).expect("json");
        let mut got = oee["data"].clone();
        for v in [&mut expected, &mut got] {
            // The route names the reasons; the engine gives their ids.
            if let Some(items) = v
                .pointer_mut("/losses/downtime_by_reason")
                .and_then(Value::as_array_mut)
            {
                for item in items {
                    if let Value::Object(m) = item {
                        m.remove("reason");
                        m.remove("failure_code");
                    }
                }
            }
        }
        assert_eq!(got, expected, "{name}: OEE");

        // downtime: the stops overlapping the window, from its own table.
        let list = get(format!("/api/v1/downtime?line_id=1&{dates}&limit=1000")).await;
        assert!(list["next_cursor"].is_null(), "{name}: one page");
        let mut stops: Vec<i64> = list["data"]
            .as_array()
            .expect("stops")
            .iter()
            .map(|s| s["downtime_id"].as_i64().expect("downtime_id"))
            .collect();
        stops.sort_unstable();
        let expected: Vec<i64> = c
            .query(format!(
                "SELECT downtime_id FROM downtime_events_{code} WHERE is_micro = 0 \
                 AND start_time < '{to} 00:00:00' AND end_time > '{from} 00:00:00' \
                 ORDER BY downtime_id"
            ))
            .await
            .expect("stops read directly");
        assert!(!expected.is_empty(), "{name}: stops in the window");
        assert_eq!(stops, expected, "{name}: downtime list");

        seen.push(Seen {
            lines,
            production,
            stops,
        });
    }
    // The two plants' numbers differ: a tenant served the other's database
    // would have been caught above.
    assert_ne!(seen[0].production, seen[1].production);
    assert_ne!(seen[0].stops, seen[1].stops);
}
