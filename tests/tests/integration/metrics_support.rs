//! The hand-built "golden" plant of the data and metrics tests (used as
//! `use crate::metrics_support as support;`).
//!
//! Plant zone Europe/Madrid, DATETIMEs stored in UTC. Every figure the tests
//! expect is worked out below from these rows.
//!
//! Shifts (every day): Day 06:00–14:00 with a break 10:00–10:30; Night
//! 22:00–06:00 (crossing midnight). Reasons: 1 JAM "Atasco" (unplanned),
//! 2 CLEAN "Limpieza" (planned). Products: 1 "Widget" (ideal 60 s), 2 "Sin
//! ciclo" (no ideal cycle time, and no default), 3 "Rápido" (ideal 100 s).
//! `max_query_days` = 31.
//!
//! Line 1 "Golden A" (areas 11 input, 12 output, 13 reject):
//! * D1 = Tuesday 2026-03-10 (CET, +01:00), local times:
//!   - stops: S1 07:00–07:30 Atasco (unplanned, 1800 s); S2 12:00–12:30
//!     Limpieza (planned, 1800 s); M1 08:00:00–08:00:30 micro-stop (30 s);
//!     S3 21:40–22:15 unjustified, begun before the night shift (counts
//!     22:00–22:15 = 900 s);
//!   - output (product 1) inside planned time: 200 every 108 s from 00:00:30,
//!     50 every 60 s from 06:00:00.000 (the shift start counts), 100 every
//!     60 s from 08:01, 50 every 60 s from 10:30, 49 every 60 s from 12:30
//!     plus one at 13:59:59.999, 50 every 60 s from 22:20 → 500 good;
//!   - output outside planned time: 10:10 (break), 12:10 (planned stop),
//!     14:00:00.000 (end is exclusive), 20 every 60 s from 15:00 → 23;
//!   - rejects (product 1): 13 every 20 min from 00:10 (planned), one at
//!     15:30 (not planned) → 14; input: 30 every 60 s from 08:10.
//! * D2 = Sunday 2026-03-29, the spring-forward day (23 h): 290 outputs of
//!   product 1 every 3 min inside planned time: 100 from 00:00 CET
//!   (23:00Z), 80 from 06:00 CEST (04:00Z), 70 from 10:30 CEST (08:30Z), 40
//!   from 22:00 CEST (20:00Z). No stops.
//! * 2026-04-05 12:00 CEST: one output (the line's newest detection: the line
//!   is "stopped since" then).
//!
//! Line 2 "Golden B" (areas 21 output, 22 reject):
//! * D3 = Wednesday 2026-03-11: 100 outputs of product 2 every 60 s from 06:00.
//! * D4 = Thursday 2026-03-12: 600 outputs of product 3 every 60 s from 00:00
//!   (00:00–09:59, all planned).
//! * 2026-04-05 12:00 CEST: one output of product 3 (newest detection).
#![allow(dead_code)]

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use integration_tests::hosts::{bin, run_cgi, RawResponse, TestRequest};
use integration_tests::testdb::TestDb;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

pub const PLANT: &str = "Golden Plant";
pub const OTHER: &str = "Other Plant";
pub const PASSWORD: &str = "Golden-Ratio-1618";

pub struct Golden {
    pub db: TestDb,
    pub env: Vec<(String, String)>,
    pub tenant_id: i64,
    pub client_db: String,
    /// Bearer token of `golden.manager` (every line).
    pub token: String,
    /// Bearer token of `golden.scoped` (line 2 only).
    pub scoped_token: String,
    /// Bearer token of a manager of the other plant.
    pub other_token: String,
}

/// A UTC instant from `YYYY-MM-DDTHH:MM:SS[.fff]Z`.
pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// `n` detections every `step_s` seconds from `from` (UTC).
fn series(from: &str, n: i64, step_s: i64) -> Vec<NaiveDateTime> {
    let start = utc(from);
    (0..n)
        .map(|i| naive(start + Duration::seconds(i * step_s)))
        .collect()
}

const CATALOG: &[&str] = &[
    "INSERT INTO production_line (line_id, line_name, line_code, is_active) VALUES \
     (1, 'Golden A', 'golden_a', 1), (2, 'Golden B', 'golden_b', 1)",
    "INSERT INTO area (area_id, line_id, area_name, area_type) VALUES \
     (11, 1, 'Entrada A', 'input'), (12, 1, 'Salida A', 'output'), (13, 1, 'Rechazo A', 'reject'), \
     (21, 2, 'Salida B', 'output'), (22, 2, 'Rechazo B', 'reject')",
    "INSERT INTO product (product_id, product_name, product_code, ideal_cycle_time_seconds) VALUES \
     (1, 'Widget', 'W-1', 60.000), (2, 'Sin ciclo', 'NC-2', NULL), (3, 'Rápido', 'R-3', 100.000)",
    "INSERT INTO shift (shift_id, shift_name, start_time, end_time, days_of_week, is_active) VALUES \
     (1, 'Day', '06:00:00', '14:00:00', NULL, 1), (2, 'Night', '22:00:00', '06:00:00', NULL, 1)",
    "INSERT INTO shift_break (break_id, shift_id, break_name, start_time, end_time) VALUES \
     (1, 1, 'Pausa', '10:00:00', '10:30:00')",
    "INSERT INTO failure (failure_id, failure_code, failure_name, failure_category, is_active) VALUES \
     (1, 'JAM', 'Atasco', 'unplanned', 1), (2, 'CLEAN', 'Limpieza', 'planned', 1)",
    "INSERT INTO system_config (config_key, config_value) VALUES ('max_query_days', '31')",
];

/// (line, area, product, stored UTC value) of every golden detection.
pub fn detections() -> Vec<(i64, i64, i64, NaiveDateTime)> {
    let mut out = Vec::new();
    let mut add = |line: i64, area: i64, product: i64, v: Vec<NaiveDateTime>| {
        out.extend(v.into_iter().map(|t| (line, area, product, t)));
    };
    // Line 1, D1 (local = UTC + 1 h).
    add(1, 12, 1, series("2026-03-09T23:00:30Z", 200, 108));
    add(1, 12, 1, series("2026-03-10T05:00:00Z", 50, 60));
    add(1, 12, 1, series("2026-03-10T07:01:00Z", 100, 60));
    add(1, 12, 1, series("2026-03-10T09:30:00Z", 50, 60));
    add(1, 12, 1, series("2026-03-10T11:30:00Z", 49, 60));
    add(1, 12, 1, series("2026-03-10T12:59:59.999Z", 1, 1));
    add(1, 12, 1, series("2026-03-10T21:20:00Z", 50, 60));
    add(1, 12, 1, series("2026-03-10T09:10:00Z", 1, 1));
    add(1, 12, 1, series("2026-03-10T11:10:00Z", 1, 1));
    add(1, 12, 1, series("2026-03-10T13:00:00Z", 1, 1));
    add(1, 12, 1, series("2026-03-10T14:00:00Z", 20, 60));
    add(1, 13, 1, series("2026-03-09T23:10:00Z", 13, 1200));
    add(1, 13, 1, series("2026-03-10T14:30:00Z", 1, 1));
    add(1, 11, 1, series("2026-03-10T07:10:00Z", 30, 60));
    // Line 1, D2 (spring forward at 01:00Z).
    add(1, 12, 1, series("2026-03-28T23:00:00Z", 100, 180));
    add(1, 12, 1, series("2026-03-29T04:00:00Z", 80, 180));
    add(1, 12, 1, series("2026-03-29T08:30:00Z", 70, 180));
    add(1, 12, 1, series("2026-03-29T20:00:00Z", 40, 180));
    add(1, 12, 1, series("2026-04-05T10:00:00Z", 1, 1));
    // Line 2, D3 and D4.
    add(2, 21, 2, series("2026-03-11T05:00:00Z", 100, 60));
    add(2, 21, 3, series("2026-03-11T23:00:00Z", 600, 60));
    add(2, 21, 3, series("2026-04-05T10:00:00Z", 1, 1));
    out
}

/// Stops of line 1 (start, end UTC, is_micro, failure).
const STOPS_A: &[(&str, &str, bool, Option<i64>)] = &[
    (
        "2026-03-10T06:00:00Z",
        "2026-03-10T06:30:00Z",
        false,
        Some(1),
    ),
    (
        "2026-03-10T11:00:00Z",
        "2026-03-10T11:30:00Z",
        false,
        Some(2),
    ),
    ("2026-03-10T07:00:00Z", "2026-03-10T07:00:30Z", true, None),
    ("2026-03-10T20:40:00Z", "2026-03-10T21:15:00Z", false, None),
];

/// Inserts detections in multi-row statements.
pub async fn insert_detections(
    c: &mut mysql_async::Conn,
    rows: &[(i64, i64, i64, NaiveDateTime)],
) -> anyhow::Result<()> {
    for line in [1i64, 2] {
        let table = if line == 1 {
            "detection_line_golden_a"
        } else {
            "detection_line_golden_b"
        };
        let mine: Vec<_> = rows.iter().filter(|r| r.0 == line).collect();
        for chunk in mine.chunks(500) {
            let mut sql = format!("INSERT INTO {table} (detected_at, area_id, product_id) VALUES ");
            let mut params: Vec<mysql_async::Value> = Vec::new();
            for (i, (_, area, product, at)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str("(?, ?, ?)");
                params.push((*at).into());
                params.push((*area).into());
                params.push((*product).into());
            }
            c.exec_drop(sql, params).await?;
        }
    }
    Ok(())
}

/// Builds the golden plant, a second plant, users, and logs them in.
pub async fn golden() -> Golden {
    let db = TestDb::new()
        .await
        .expect("test database")
        .with_empty_tenant(PLANT, "Europe/Madrid")
        .await
        .expect("golden tenant")
        .with_demo_tenant(OTHER, "America/Mexico_City")
        .await
        .expect("other tenant");
    let tenant_id = db.tenant(PLANT).tenant_id;
    let other_id = db.tenant(OTHER).tenant_id;
    let client_db = db.tenant(PLANT).db_name.clone();

    let mut c = db.client_conn(tenant_id).await.expect("client db");
    for stmt in dash_store::schema::split_statements(dash_store::schema::REFERENCE_SQL) {
        c.query_drop(stmt).await.expect("reference schema");
    }
    for stmt in CATALOG {
        c.query_drop(*stmt).await.expect("catalog rows");
    }
    let from = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    for code in ["golden_a", "golden_b"] {
        dash_store::schema::create_detection_table(&mut c, &client_db, code, from, 3)
            .await
            .expect("detection table");
    }
    dash_store::schema::provision_client(&mut c, &client_db, false)
        .await
        .expect("downtime tables");
    insert_detections(&mut c, &detections())
        .await
        .expect("detections");
    for (s, e, micro, failure) in STOPS_A {
        let (s, e) = (utc(s), utc(e));
        let duration = (e - s).num_milliseconds() as f64 / 1000.0;
        c.exec_drop(
            "INSERT INTO downtime_events_golden_a (start_time, end_time, duration_seconds, detection_id, is_micro, failure_id) \
             VALUES (?, ?, ?, 0, ?, ?)",
            (naive(s), naive(e), duration, *micro, *failure),
        )
        .await
        .expect("stop");
    }
    drop(c);

    let phc = dash_store::password::hash(PASSWORD).expect("hash");
    let mut g = db.global_conn().await.expect("global");
    for (name, tenant, perms) in [
        ("golden.manager", tenant_id, None),
        ("golden.scoped", tenant_id, Some(r#"{"lines": [2]}"#)),
        ("other.manager", other_id, None),
    ] {
        g.exec_drop(
            "INSERT INTO `user` (tenant_id, username, email, password, role, permissions, is_active) \
             VALUES (?, ?, ?, ?, 'manager', ?, 1)",
            (tenant, name, format!("{name}@example.com"), &phc, perms),
        )
        .await
        .expect("user");
    }
    drop(g);

    let mut env = db.env();
    env.push(("RATE_LIMIT_USER_PER_MIN".into(), "100000".into()));
    env.push(("RATE_LIMIT_AUTH_IP_PER_MIN".into(), "100000".into()));
    let token = login(&env, "golden.manager");
    let scoped_token = login(&env, "golden.scoped");
    let other_token = login(&env, "other.manager");
    Golden {
        db,
        env,
        tenant_id,
        client_db,
        token,
        scoped_token,
        other_token,
    }
}

/// Logs a user in through the real `auth` binary and returns the access token.
pub fn login(env: &[(String, String)], username: &str) -> String {
    let r = run_cgi(
        &bin("auth"),
        env,
        &TestRequest::post_json(
            "/api/v1/auth/login",
            &json!({ "username": username, "password": PASSWORD }),
        ),
    );
    assert_eq!(r.status, 200, "login of {username}: {}", r.text());
    r.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

impl Golden {
    /// `GET` on a function binary as the golden manager.
    pub fn get(&self, binary: &str, uri: &str) -> RawResponse {
        self.get_as(binary, uri, &self.token)
    }

    pub fn get_as(&self, binary: &str, uri: &str, token: &str) -> RawResponse {
        run_cgi(
            &bin(binary),
            &self.env,
            &TestRequest::get(uri).header("Authorization", &format!("Bearer {token}")),
        )
    }

    pub fn post(&self, binary: &str, uri: &str, body: &Value) -> RawResponse {
        run_cgi(
            &bin(binary),
            &self.env,
            &TestRequest::post_json(uri, body)
                .header("Authorization", &format!("Bearer {}", self.token)),
        )
    }

    /// `{"data": …}` of a 200 answer.
    pub fn data(&self, binary: &str, uri: &str) -> Value {
        let r = self.get(binary, uri);
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        r.json()["data"].clone()
    }

    /// An in-process state on the test databases (library-level tests).
    pub fn state(&self) -> shared::state::AppState {
        let env = self.env.clone();
        let config = shared::config::Config::from_lookup(|k| {
            env.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.clone())
        })
        .expect("config");
        shared::state::AppState::new("test", dash_store::HostKind::Cli, config).expect("state")
    }
}

/// Asserts `a == b` within 1e-9 (relative to the larger magnitude).
#[track_caller]
pub fn close(a: f64, b: f64) {
    let scale = a.abs().max(b.abs()).max(1.0);
    assert!((a - b).abs() <= 1e-9 * scale, "{a} != {b}");
}

/// The number at `v[key]`.
#[track_caller]
pub fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}
