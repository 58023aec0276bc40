//! Client databases as a client makes them (docs/client-database.md): the
//! product reads the client's tables, keeps its own state in its own tables
//! (`dash_line_state`, `dash_rollup`, `downtime_events_<code>`), never touches
//! the client's `system_monitor`, verifies a database before registering it,
//! and treats its rollup as a cache that may be missing, foreign or corrupt.

use chrono::{TimeZone, Utc};
use dash_core::timeutil::{Interval, Window};
use dash_store::demo::{self, DemoOptions, DemoSize};
use dash_store::metrics::{compute, Plant};
use dash_store::query::CountSource;
use dash_store::schema::{self, NewTenant, SchemaError};
use integration_tests::testdb::TestDb;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde_json::Value;

use crate::jobs::{automatic_counts_equal_raw, count, jobs_cli, text};

const LINE_CODES: [&str; 3] = [
    "linea_1_envasado",
    "linea_2_etiquetado",
    "linea_3_paletizado",
];

/// The demo plant both databases of a comparison hold: the same seed and a
/// fixed end, so the same detections with the same ids.
fn plant_opts() -> DemoOptions {
    DemoOptions {
        seed: 11,
        size: DemoSize::Small,
        days: 10,
        end: Some(Utc.with_ymd_and_hms(2026, 11, 20, 9, 30, 0).unwrap()),
        ..DemoOptions::default()
    }
}

/// Makes `db_name` the way a client would: the plant's catalogs and detection
/// tables and the client's own `system_monitor` (a telemetry table with the
/// client's columns, holding rows of its own) — and none of the product's
/// tables.
async fn client_made_database(server: &mut Conn, db_name: &str) {
    demo::load_demo(server, db_name, &plant_opts())
        .await
        .expect("demo plant");
    let mut drops = vec![
        "dash_line_state".to_string(),
        "dash_rollup".to_string(),
        "system_monitor".to_string(),
    ];
    drops.extend(LINE_CODES.iter().map(|c| format!("downtime_events_{c}")));
    for t in drops {
        server
            .query_drop(format!("DROP TABLE `{db_name}`.`{t}`"))
            .await
            .expect("drop");
    }
    server
        .query_drop(format!(
            "CREATE TABLE `{db_name}`.system_monitor (
                monitor_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                recorded_at DATETIME NOT NULL,
                metric VARCHAR(50) NOT NULL,
                value DOUBLE NULL,
                details TEXT NULL)"
        ))
        .await
        .expect("client's system_monitor");
    server
        .query_drop(format!(
            "INSERT INTO `{db_name}`.system_monitor (recorded_at, metric, value, details) VALUES
                ('2026-11-19 08:00:00', 'cpu', 41.5, 'plc-1'),
                ('2026-11-19 08:01:00', 'downtime_watermark', 7, 'the client''s own metric'),
                ('2026-11-19 08:02:00', 'rollup_min_watermark', NULL, NULL)"
        ))
        .await
        .expect("client telemetry");
}

/// Every row of the client's `system_monitor`, in order.
async fn system_monitor_rows(server: &mut Conn, db_name: &str) -> Vec<String> {
    server
        .query(format!(
            "SELECT CONCAT_WS('|', monitor_id, recorded_at, metric, IFNULL(value, 'null'), \
             IFNULL(details, 'null')) FROM `{db_name}`.system_monitor ORDER BY monitor_id"
        ))
        .await
        .expect("system_monitor rows")
}

/// The stored stops of every line: (start, end, duration, micro).
async fn stops(server: &mut Conn, db_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for code in LINE_CODES {
        let rows: Vec<String> = server
            .query(format!(
                "SELECT CONCAT_WS('|', '{code}', start_time, end_time, duration_seconds, is_micro) \
                 FROM `{db_name}`.`downtime_events_{code}` ORDER BY start_time"
            ))
            .await
            .expect("stops");
        out.extend(rows);
    }
    out
}

fn verified(name: &str, db_name: &str) -> NewTenant {
    NewTenant {
        company_name: name.to_string(),
        timezone: "Europe/Madrid".into(),
        db_name: Some(db_name.to_string()),
        verify: true,
        ..NewTenant::default()
    }
}

fn summary_of(run: &std::process::Output) -> Value {
    assert!(run.status.success(), "{}", text(run));
    serde_json::from_slice(&run.stdout).expect("JSON summary")
}

/// The OEE of every line over the demo's last week, by day.
async fn oee_by_line(db: &TestDb, tenant_id: i64) -> Vec<String> {
    let env = db.env();
    let config = shared::config::Config::from_lookup(|k| {
        env.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.clone())
    })
    .expect("config");
    let state =
        shared::state::AppState::new("test", dash_store::HostKind::Cli, config).expect("state");
    let tenant = dash_store::tenancy::load_tenant(&state, tenant_id)
        .await
        .expect("tenant")
        .expect("tenant exists");
    let location = tenant.db_location();
    let mut conn = state.db().client(&location).await.expect("conn");
    let meta = dash_store::metadata::load(&mut conn, &location.db_name)
        .await
        .expect("metadata");
    let end = plant_opts().end.expect("fixed end");
    let plant = Plant::new(&tenant, &meta, end);
    let today = plant.cal.production_date(end);
    let w = Window::new(
        plant.cal.day_start(today - chrono::Duration::days(7)),
        plant.cal.day_start(today),
    )
    .expect("window");
    let days = plant.buckets(&w, Interval::Day).expect("days");
    let mut out = Vec::new();
    for line in &meta.lines {
        let c = compute(
            &mut conn,
            &plant,
            &[line.line_id],
            &w,
            &days,
            CountSource::Auto,
        )
        .await
        .expect("oee");
        assert!(c.total.good > 0, "line {} has output", line.line_id);
        out.push(format!("{:?} {:?}", c.total, c.total_buckets));
    }
    out
}

#[tokio::test]
async fn a_client_database_with_its_own_system_monitor() {
    // The reference: the same plant, provisioned by the product from the start.
    let db = TestDb::new()
        .await
        .expect("test database")
        .with_demo_tenant_opts("Reference Plant", "Europe/Madrid", plant_opts())
        .await
        .expect("reference plant");
    let reference = db.tenant("Reference Plant").clone();
    let mut server = db.server_conn().await.expect("server");
    let client_db = db.db_name("client_made");
    client_made_database(&mut server, &client_db).await;
    let monitor_before = system_monitor_rows(&mut server, &client_db).await;

    // register-tenant verifies it and creates only the product's tables.
    let mut g = db.global_conn().await.expect("global");
    let r = schema::register_tenant(
        &mut g,
        db.server_url(),
        &verified("Client Plant", &client_db),
    )
    .await
    .expect("a complete client database is registered");
    let mut created = r.provisioned.clone();
    created.sort();
    let mut expected: Vec<String> = vec!["dash_line_state".into(), "dash_rollup".into()];
    expected.extend(LINE_CODES.iter().map(|c| format!("downtime_events_{c}")));
    assert_eq!(created, expected);
    assert!(!r.database_created);

    // The downtime job: stops, then the rollup, on both plants.
    let client_run = summary_of(&jobs_cli(
        &db,
        &["downtime", "--tenant", &r.tenant_id.to_string(), "--json"],
    ));
    let reference_run = summary_of(&jobs_cli(
        &db,
        &[
            "downtime",
            "--tenant",
            &reference.tenant_id.to_string(),
            "--json",
        ],
    ));
    for run in [&client_run, &reference_run] {
        assert_eq!(run["ok"], 3, "{run}");
        assert_eq!(run["warned"], 0, "{run}");
        for item in run["items"].as_array().expect("items") {
            assert_eq!(item["detail"]["rollup"]["status"], "ok", "{item}");
        }
    }
    let client_stops = stops(&mut server, &client_db).await;
    assert!(client_stops.len() > 50, "{} stops", client_stops.len());
    assert_eq!(client_stops, stops(&mut server, &reference.db_name).await);

    // Rollup-served counts are the raw counts, and the OEE is the reference's.
    automatic_counts_equal_raw(
        &db,
        r.tenant_id,
        "client-made database",
        true,
        plant_opts().end,
    )
    .await;
    assert_eq!(
        oee_by_line(&db, r.tenant_id).await,
        oee_by_line(&db, reference.tenant_id).await
    );

    // The client's table is as the client left it.
    assert_eq!(
        system_monitor_rows(&mut server, &client_db).await,
        monitor_before
    );
    let columns: Vec<String> = server
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'system_monitor' ORDER BY ORDINAL_POSITION",
            (&client_db,),
        )
        .await
        .expect("columns");
    assert_eq!(
        columns,
        ["monitor_id", "recorded_at", "metric", "value", "details"]
    );
    // And verify-client is content with it.
    let report = schema::verify_client(&mut server, &client_db)
        .await
        .expect("verify");
    assert!(report.is_ok(), "{}", report.to_text());
}

#[tokio::test]
async fn register_tenant_refuses_an_incomplete_client_database() {
    let db = TestDb::new().await.expect("test database");
    let mut server = db.server_conn().await.expect("server");
    let mut g = db.global_conn().await.expect("global");
    let client_db = db.db_name("incomplete");
    client_made_database(&mut server, &client_db).await;
    for sql in [
        format!("DROP TABLE `{client_db}`.shift_break, `{client_db}`.shift"),
        format!("ALTER TABLE `{client_db}`.area DROP COLUMN area_type"),
        format!("DROP TABLE `{client_db}`.detection_line_linea_2_etiquetado"),
    ] {
        server.query_drop(sql).await.expect("break the database");
    }

    let refused =
        schema::register_tenant(&mut g, db.server_url(), &verified("Half Plant", &client_db))
            .await
            .expect_err("refused");
    let SchemaError::Schema(message) = &refused else {
        panic!("not a schema refusal: {refused:?}");
    };
    for what in [
        "MISSING  shift",
        "MISSING  area.area_type",
        "MISSING  detection_line_linea_2_etiquetado",
        "--skip-verify",
        "docs/client-database.md",
    ] {
        assert!(message.contains(what), "{what}: {message}");
    }
    // The product's own tables are not the client's problem: not listed.
    assert!(!message.contains("dash_line_state"), "{message}");
    assert!(!message.contains("downtime_events_"), "{message}");
    // Nothing was registered or created.
    assert_eq!(
        count(
            &db,
            None,
            "SELECT COUNT(*) FROM tenant WHERE company_name = 'Half Plant'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &db,
            Some(&client_db),
            "SELECT COUNT(*) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'dash\\_%'"
        )
        .await,
        0
    );

    // A database that does not exist, and no database named at all.
    let missing = db.db_name("not_there");
    let refused =
        schema::register_tenant(&mut g, db.server_url(), &verified("Ghost Plant", &missing))
            .await
            .expect_err("refused");
    assert!(
        refused.to_string().contains(&format!("database {missing}")),
        "{refused}"
    );
    let mut unnamed = verified("Unnamed Plant", "x");
    unnamed.db_name = None;
    let refused = schema::register_tenant(&mut g, db.server_url(), &unnamed)
        .await
        .expect_err("refused");
    assert!(matches!(refused, SchemaError::Invalid(_)), "{refused:?}");
    assert!(refused.to_string().contains("--db-name"), "{refused}");

    // --skip-verify registers it anyway; verify-client then lists the problems,
    // the client's and the product's (with the command that creates the latter).
    let mut skipped = verified("Half Plant", &client_db);
    skipped.verify = false;
    let r = schema::register_tenant(&mut g, db.server_url(), &skipped)
        .await
        .expect("registered without verification");
    assert!(r.provisioned.is_empty());
    let report = schema::verify_client(&mut server, &client_db)
        .await
        .expect("verify");
    let problems: Vec<String> = report.problems().iter().map(|p| p.target()).collect();
    for table in ["dash_line_state", "dash_rollup", "shift"] {
        assert!(
            problems.contains(&table.to_string()),
            "{table}: {problems:?}"
        );
    }
    let text = report.to_text();
    assert!(
        text.contains("MISSING  dash_rollup — the product's own table: `dashctl provision-client"),
        "{text}"
    );
    let client_side: Vec<String> = report
        .client_problems()
        .iter()
        .map(|p| p.target())
        .collect();
    assert!(
        client_side.iter().all(|t| !t.starts_with("dash_")),
        "{client_side:?}"
    );

    // A database is one tenant's: another registration of it is refused, also
    // when it names the default server explicitly, verified or not.
    let opts = mysql_async::Opts::from_url(db.server_url()).expect("server URL");
    for (host, verify) in [
        (None, false),
        (Some(opts.ip_or_hostname().to_uppercase()), true),
    ] {
        let mut copy = verified("Copy Plant", &client_db);
        copy.verify = verify;
        copy.db_port = host.as_ref().map(|_| opts.tcp_port());
        copy.db_host = host;
        let refused = schema::register_tenant(&mut g, db.server_url(), &copy)
            .await
            .expect_err("a database in use");
        assert!(matches!(refused, SchemaError::Conflict(_)), "{refused:?}");
        assert!(
            refused
                .to_string()
                .contains(&format!("tenant {} (Half Plant)", r.tenant_id)),
            "{refused}"
        );
    }
    assert_eq!(
        count(
            &db,
            None,
            "SELECT COUNT(*) FROM tenant WHERE company_name = 'Copy Plant'"
        )
        .await,
        0
    );

    // A product table of another shape (a client's own dash_rollup) is named too.
    server
        .query_drop(format!("CREATE TABLE `{client_db}`.dash_rollup (id INT)"))
        .await
        .expect("foreign dash_rollup");
    let report = schema::verify_client(&mut server, &client_db)
        .await
        .expect("verify");
    assert!(
        report
            .to_text()
            .contains("MISSING  dash_rollup.entry — the product's own table has another shape"),
        "{}",
        report.to_text()
    );
}

/// Breaks the rollup of `tenant` with `sql` (run in its client database),
/// then: counts still equal the raw counts, and the next downtime run stores
/// its stops (status ok) with the rollup's trouble as a warning.
async fn survives(db: &TestDb, tenant_db: &str, tid: i64, what: &str, sql: &[String]) -> Value {
    let mut server = db.server_conn().await.expect("server");
    for s in sql {
        server
            .query_drop(s.clone())
            .await
            .expect("break the rollup");
    }
    automatic_counts_equal_raw(db, tid, what, false, None).await;
    // A detection 10 minutes after the line's newest output detection: the
    // run has a stop to compute.
    server
        .query_drop(format!(
            "INSERT INTO `{tenant_db}`.detection_line_linea_1_envasado (detected_at, area_id, product_id)
             SELECT d.detected_at + INTERVAL 10 MINUTE, d.area_id, d.product_id
               FROM `{tenant_db}`.detection_line_linea_1_envasado d
               JOIN `{tenant_db}`.area a ON a.area_id = d.area_id AND a.area_type = 'output'
              ORDER BY d.detected_at DESC, d.detection_id DESC LIMIT 1"
        ))
        .await
        .expect("a detection after a 10-minute gap");
    let stops_before = count(
        db,
        Some(tenant_db),
        "SELECT COUNT(*) FROM downtime_events_linea_1_envasado",
    )
    .await;
    let run = jobs_cli(
        db,
        &[
            "downtime",
            "--tenant",
            &tid.to_string(),
            "--line",
            "1",
            "--json",
        ],
    );
    let summary = summary_of(&run);
    assert_eq!(summary["ok"], 1, "{what}: {summary}");
    assert_eq!(summary["failed"], 0, "{what}: {summary}");
    assert_eq!(
        count(
            db,
            Some(tenant_db),
            "SELECT COUNT(*) FROM downtime_events_linea_1_envasado"
        )
        .await,
        stops_before + 1,
        "{what}: the 10-minute gap is a stop"
    );
    summary["items"][0].clone()
}

#[tokio::test]
async fn the_rollup_is_only_a_cache() {
    let db = TestDb::new()
        .await
        .expect("test database")
        .with_demo_tenant("Cache Plant", "Europe/Madrid")
        .await
        .expect("plant");
    let plant = db.tenant("Cache Plant").clone();
    let tid = plant.tenant_id;
    let d = plant.db_name.clone();
    summary_of(&jobs_cli(
        &db,
        &["downtime", "--tenant", &tid.to_string(), "--json"],
    ));
    automatic_counts_equal_raw(&db, tid, "built", true, None).await;

    // A day document that does not parse: counts fall back to raw rows.
    let item = survives(
        &db,
        &d,
        tid,
        "a corrupt day document",
        &[format!(
            "UPDATE `{d}`.dash_rollup SET value_json = '{{\"v\":1,\"c\":{{\"\":[[0,' \
             WHERE line_id = 1 AND entry LIKE 'rollup\\_min:%'"
        )],
    )
    .await;
    // The refresh met it (the new detection's day) and rebuilt the rollup.
    assert!(item["detail"]["rollup"]["rebuilt"].is_string(), "{item}");
    assert!(
        item["warnings"][0]
            .as_str()
            .unwrap_or("")
            .contains("rebuilt"),
        "{item}"
    );
    automatic_counts_equal_raw(&db, tid, "rebuilt", true, None).await;

    // A watermark that does not parse.
    let item = survives(
        &db,
        &d,
        tid,
        "a corrupt watermark",
        &[format!(
            "UPDATE `{d}`.dash_rollup SET value_json = 'garbage' WHERE line_id = 1 AND entry = 'rollup_min_watermark'"
        )],
    )
    .await;
    assert!(item["detail"]["rollup"]["rebuilt"].is_string(), "{item}");
    automatic_counts_equal_raw(&db, tid, "rebuilt again", true, None).await;

    // A table of another shape under the product's name, then none at all.
    for (what, sql) in [
        (
            "a foreign dash_rollup",
            vec![
                format!("DROP TABLE `{d}`.dash_rollup"),
                format!("CREATE TABLE `{d}`.dash_rollup (id INT, note TEXT)"),
            ],
        ),
        (
            "no dash_rollup",
            vec![format!("DROP TABLE `{d}`.dash_rollup")],
        ),
    ] {
        let item = survives(&db, &d, tid, what, &sql).await;
        assert_eq!(item["status"], "ok", "{what}: {item}");
        assert_eq!(
            item["detail"]["rollup"]["status"], "skipped",
            "{what}: {item}"
        );
        let warning = item["warnings"][0].as_str().unwrap_or("");
        assert!(
            warning.contains("rollup skipped") && warning.contains("provision-client"),
            "{what}: {item}"
        );
    }

    // provision-client puts it back; the next run builds it.
    let mut server = db.server_conn().await.expect("server");
    let r = schema::provision_client(&mut server, &d, false)
        .await
        .expect("provision");
    assert_eq!(r.created, vec!["dash_rollup".to_string()]);
    let run = summary_of(&jobs_cli(
        &db,
        &["downtime", "--tenant", &tid.to_string(), "--json"],
    ));
    assert_eq!(run["warned"], 0, "{run}");
    automatic_counts_equal_raw(&db, tid, "provisioned again", true, None).await;
}
