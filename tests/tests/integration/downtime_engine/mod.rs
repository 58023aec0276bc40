//! The DB-backed downtime engine (docs/downtime.md#downtime) against a real MariaDB/MySQL:
//!
//! * properties over random detection streams — (a) any split into
//!   incremental runs gives exactly the stops of one full run, (b) a run
//!   killed at any point and run again gives exactly the same, (c) runs
//!   started at once leave no duplicate;
//! * golden stops computed by hand: a gap exactly at the threshold, 1 ms
//!   over, equal timestamps, across midnight, across a month (partition)
//!   boundary, across both DST changes of the data zone, the open stop;
//! * recomputing a window keeps the justification of unchanged stops and
//!   reports the justified stops that changed.
//!
//! `DOWNTIME_PROP_SEED` and `DOWNTIME_PROP_CASES` reproduce or widen a run.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use dash_core::timeutil::{data_naive_to_utc, parse_timezone};
use dash_store::downtime::engine::{self, EngineOptions, LineSpec, RecomputeOutcome, RunOutcome};
use dash_store::downtime::store::{fmt_naive, lock_name};
use dash_store::downtime::{Detection, Detector, Thresholds};
use integration_tests::testdb::TestDb;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------
// Fixture: a client database with lines we define, detections we insert
// ---------------------------------------------------------------------------

/// (detection_id, detected_at, area_id)
type Det = (i64, NaiveDateTime, i64);
/// (start_time, end_time, duration ms, detection_id, is_micro)
type Row = (NaiveDateTime, NaiveDateTime, i64, i64, bool);

struct Plant {
    db: TestDb,
    db_name: String,
    conn: Conn,
}

fn naive(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn secs(s: &str) -> i64 {
    // "120.001" → 120001 ms, exact.
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<3}");
    whole.parse::<i64>().expect("seconds") * 1000 + frac[..3].parse::<i64>().expect("millis")
}

async fn plant() -> Plant {
    let db = TestDb::new()
        .await
        .expect("test database")
        .with_empty_tenant("Engine Plant", "Europe/Madrid")
        .await
        .expect("tenant");
    let db_name = db.tenant("Engine Plant").db_name.clone();
    let mut conn = db.server_conn().await.expect("server connection");
    dash_store::schema::provision_client(&mut conn, &db_name, true)
        .await
        .expect("reference schema");
    conn.query_drop(format!(
        "INSERT INTO `{db_name}`.failure (failure_id, failure_code, failure_name, failure_category) VALUES \
         (1, 'MEC', 'Avería mecánica', 'unplanned'), (2, 'CHG', 'Cambio de formato', 'planned')"
    ))
    .await
    .expect("reasons");
    Plant { db, db_name, conn }
}

impl Plant {
    /// A line `line_id` with code `code`, `outputs` output areas (ids
    /// `line_id * 10 + 1 …`) and one reject area (`line_id * 10 + 9`); its
    /// detection table is partitioned by month from December 2025.
    async fn line(
        &mut self,
        line_id: i64,
        code: &str,
        outputs: usize,
        t: Thresholds,
        data_tz: &str,
    ) -> LineSpec {
        let db = &self.db_name;
        self.conn
            .exec_drop(
                format!("INSERT INTO `{db}`.production_line (line_id, line_name, line_code, is_active) VALUES (?, ?, ?, 1)"),
                (line_id, format!("Línea {code}"), code),
            )
            .await
            .expect("line");
        let mut output_areas = Vec::new();
        for i in 0..outputs {
            let area = line_id * 10 + 1 + i as i64;
            output_areas.push(area);
            self.conn
                .exec_drop(
                    format!("INSERT INTO `{db}`.area (area_id, line_id, area_name, area_type) VALUES (?, ?, ?, 'output')"),
                    (area, line_id, format!("out {area}")),
                )
                .await
                .expect("area");
        }
        self.conn
            .exec_drop(
                format!("INSERT INTO `{db}`.area (area_id, line_id, area_name, area_type) VALUES (?, ?, 'reject', 'reject')"),
                (line_id * 10 + 9, line_id),
            )
            .await
            .expect("reject area");
        dash_store::schema::create_detection_table(
            &mut self.conn,
            db,
            code,
            NaiveDate::from_ymd_opt(2025, 12, 1).expect("date"),
            1,
        )
        .await
        .expect("detection table");
        dash_store::schema::provision_client(&mut self.conn, db, false)
            .await
            .expect("downtime table");
        LineSpec {
            line_id,
            line_name: format!("Línea {code}"),
            line_code: code.to_string(),
            is_active: true,
            output_areas,
            thresholds: t,
            data_tz: parse_timezone(data_tz).expect("zone"),
            plant_tz: parse_timezone(data_tz).expect("zone"),
        }
    }

    async fn insert(&mut self, spec: &LineSpec, dets: &[Det]) {
        for chunk in dets.chunks(1000) {
            let values: Vec<String> = chunk
                .iter()
                .map(|(id, at, area)| format!("({id}, '{}', {area}, NULL)", fmt_naive(at)))
                .collect();
            self.conn
                .query_drop(format!(
                    "INSERT INTO `{}`.`detection_line_{}` (detection_id, detected_at, area_id, product_id) VALUES {}",
                    self.db_name,
                    spec.line_code,
                    values.join(",")
                ))
                .await
                .expect("insert detections");
        }
    }

    async fn stored(&mut self, spec: &LineSpec) -> Vec<Row> {
        self.conn
            .query(format!(
                "SELECT start_time, end_time, CAST(ROUND(duration_seconds * 1000) AS SIGNED), detection_id, is_micro \
                 FROM `{}`.`downtime_events_{}` ORDER BY start_time",
                self.db_name, spec.line_code
            ))
            .await
            .expect("stored stops")
    }

    /// Forgets everything about a line (its detections, stops and watermark).
    async fn reset(&mut self, spec: &LineSpec) {
        let db = &self.db_name;
        for sql in [
            format!("TRUNCATE TABLE `{db}`.`detection_line_{}`", spec.line_code),
            format!("TRUNCATE TABLE `{db}`.`downtime_events_{}`", spec.line_code),
            format!(
                "DELETE FROM `{db}`.dash_line_state WHERE line_id = {}",
                spec.line_id
            ),
        ] {
            self.conn.query_drop(sql).await.expect("reset");
        }
    }

    /// A connection of its own, as a separate process would have.
    async fn own_conn(&self) -> Conn {
        let opts = OptsBuilder::from_opts(Opts::from_url(self.db.server_url()).expect("url"))
            .db_name(Some(self.db_name.clone()))
            .prefer_socket(false);
        Conn::new(opts).await.expect("connection")
    }

    async fn run(&mut self, spec: &LineSpec, page_size: usize) -> RunOutcome {
        engine::run_incremental(
            &mut self.conn,
            &self.db_name,
            spec,
            &EngineOptions { page_size },
        )
        .await
        .expect("incremental run")
    }

    /// Runs until the run is not refused as busy (a killed session's lock is
    /// released when the server notices the connection is gone).
    async fn run_to_completion(&mut self, spec: &LineSpec, page_size: usize) {
        for _ in 0..500 {
            match self.run(spec, page_size).await {
                RunOutcome::Done(_) => return,
                RunOutcome::Busy => tokio::time::sleep(StdDuration::from_millis(10)).await,
                RunOutcome::Skipped { reason } => panic!("skipped: {reason}"),
            }
        }
        panic!("the line stayed locked");
    }
}

/// The stops of one uninterrupted pass of the pure detector over the output
/// detections, as rows with the stored wall times.
fn expected(dets: &[Det], spec: &LineSpec) -> Vec<Row> {
    let mut out_dets: Vec<&Det> = dets
        .iter()
        .filter(|d| spec.output_areas.contains(&d.2))
        .collect();
    out_dets.sort_by_key(|d| (d.1, d.0));
    let mut det = Detector::new(spec.thresholds);
    let mut prev: Option<NaiveDateTime> = None;
    let mut rows = Vec::new();
    for (id, at, _) in out_dets {
        let ms = data_naive_to_utc(*at, spec.data_tz).timestamp_millis();
        if let Some(e) = det.push(Detection::new(*id, ms)).expect("ordered") {
            rows.push((
                prev.expect("previous detection"),
                *at,
                e.duration_ms,
                *id,
                e.is_micro,
            ));
        }
        prev = Some(*at);
    }
    rows
}

// ---------------------------------------------------------------------------
// Random streams
// ---------------------------------------------------------------------------

fn seed() -> u64 {
    std::env::var("DOWNTIME_PROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

fn cases(default: usize) -> usize {
    std::env::var("DOWNTIME_PROP_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Gaps mixing bursts (equal timestamps), running, values right at the
/// thresholds, micro-stops, stops and multi-day gaps (across months).
fn gap(rng: &mut StdRng, t: Thresholds) -> i64 {
    match rng.random_range(0..20) {
        0..=3 => 0,
        4..=9 => rng.random_range(1..=t.micro_stop_ms.max(1)),
        10..=11 => {
            let edges = [
                t.micro_stop_ms - 1,
                t.micro_stop_ms,
                t.micro_stop_ms + 1,
                t.downtime_threshold_ms - 1,
                t.downtime_threshold_ms,
                t.downtime_threshold_ms + 1,
            ];
            edges[rng.random_range(0..edges.len())].max(0)
        }
        12..=14 => rng
            .random_range(t.micro_stop_ms..=t.downtime_threshold_ms)
            .max(0),
        15..=17 => {
            rng.random_range(t.downtime_threshold_ms + 1..=t.downtime_threshold_ms + 3_600_000)
        }
        18 => rng.random_range(3_600_000..=86_400_000 * 2),
        _ => rng.random_range(86_400_000..=86_400_000 * 20),
    }
}

fn thresholds(rng: &mut StdRng) -> Thresholds {
    if rng.random_bool(0.6) {
        Thresholds::default()
    } else {
        let t = rng.random_range(1_000..=300_000);
        Thresholds::new(t, rng.random_range(0..=t)).expect("valid thresholds")
    }
}

/// `n` detections of `spec`'s areas (output ones mostly, some rejects that
/// must be ignored), ids increasing, times non-decreasing from January 2026.
fn stream(rng: &mut StdRng, n: usize, spec: &LineSpec) -> Vec<Det> {
    let mut at =
        naive("2026-01-20 00:00:00") + Duration::milliseconds(rng.random_range(0..86_400_000 * 20));
    let mut id = rng.random_range(1..1000);
    let reject = spec.line_id * 10 + 9;
    (0..n)
        .map(|_| {
            at += Duration::milliseconds(gap(rng, spec.thresholds));
            id += rng.random_range(1..=3);
            let area = if rng.random_bool(0.15) {
                reject
            } else {
                spec.output_areas[rng.random_range(0..spec.output_areas.len())]
            };
            (id, at, area)
        })
        .collect()
}

fn page_size(rng: &mut StdRng) -> usize {
    match rng.random_range(0..4) {
        0 => 1,
        1 => rng.random_range(2..10),
        2 => rng.random_range(10..100),
        _ => 50_000,
    }
}

mod golden;
mod properties;
