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
                "DELETE FROM `{db}`.system_monitor WHERE line_id = {}",
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

/// Polls a future at most `budget` times, then gives up on it (dropping it
/// is what a killed process does to its work).
struct Budget<F: Future> {
    inner: Pin<Box<F>>,
    left: usize,
}

impl<F: Future> Future for Budget<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        match self.inner.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => Poll::Pending,
        }
    }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_split_into_incremental_runs_equals_one_full_run() {
    let seed = seed();
    eprintln!("DOWNTIME_PROP_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut p = plant().await;
    let t = Thresholds::default();
    let full_single = p.line(1, "full_single", 1, t, "UTC").await;
    let inc_single = p.line(2, "inc_single", 1, t, "UTC").await;
    let full_multi = p.line(3, "full_multi", 2, t, "UTC").await;
    let inc_multi = p.line(4, "inc_multi", 2, t, "UTC").await;

    for case in 0..cases(24) {
        let (full, inc) = if case % 2 == 0 {
            (&full_single, &inc_single)
        } else {
            (&full_multi, &inc_multi)
        };
        let th = thresholds(&mut rng);
        let full = LineSpec {
            thresholds: th,
            ..full.clone()
        };
        let inc = LineSpec {
            thresholds: th,
            ..inc.clone()
        };
        p.reset(&full).await;
        p.reset(&inc).await;
        let n = rng.random_range(0..=260);
        let dets = stream(&mut rng, n, &full);
        // The same detections on the incremental line's areas.
        let dets_inc: Vec<Det> = dets
            .iter()
            .map(|(id, at, area)| (*id, *at, area - full.line_id * 10 + inc.line_id * 10))
            .collect();
        let want = expected(&dets, &full);

        p.insert(&full, &dets).await;
        p.run(&full, 50_000).await;
        let got_full = p.stored(&full).await;
        assert_eq!(
            got_full, want,
            "case {case} (seed {seed}): one full run differs from the rule"
        );

        let mut cuts: Vec<usize> = (0..rng.random_range(0..8))
            .map(|_| rng.random_range(0..=n))
            .collect();
        cuts.push(0);
        cuts.push(n);
        cuts.sort_unstable();
        for w in cuts.windows(2) {
            p.insert(&inc, &dets_inc[w[0]..w[1]]).await;
            let ps = page_size(&mut rng);
            p.run(&inc, ps).await;
            if rng.random_bool(0.3) {
                // Running again at once finds nothing new.
                p.run(&inc, ps).await;
            }
        }
        let got_inc = p.stored(&inc).await;
        assert_eq!(
            got_inc, got_full,
            "case {case} (seed {seed}): incremental runs split at {cuts:?} differ from one full run"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_run_again_gives_the_same_stops() {
    let seed = seed();
    eprintln!("DOWNTIME_PROP_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut p = plant().await;
    let single = p
        .line(5, "kill_single", 1, Thresholds::default(), "UTC")
        .await;
    let multi = p
        .line(6, "kill_multi", 2, Thresholds::default(), "UTC")
        .await;
    let mut killed_total = 0;

    for case in 0..cases(24) {
        let spec = LineSpec {
            thresholds: thresholds(&mut rng),
            ..(if case % 2 == 0 { &single } else { &multi }).clone()
        };
        p.reset(&spec).await;
        let n = rng.random_range(1..=240);
        let dets = stream(&mut rng, n, &spec);
        let want = expected(&dets, &spec);
        // Data arrives in two parts; runs are killed in between and after.
        let cut = rng.random_range(0..=n);
        for part in [&dets[..cut], &dets[cut..]] {
            p.insert(&spec, part).await;
            for _ in 0..rng.random_range(1..=3) {
                let ps = rng.random_range(1..=40);
                let budget = rng.random_range(1..=150);
                let mut conn = p.own_conn().await;
                let db_name = p.db_name.clone();
                let opts = EngineOptions { page_size: ps };
                let outcome = Budget {
                    inner: Box::pin(engine::run_incremental(&mut conn, &db_name, &spec, &opts)),
                    left: budget,
                }
                .await;
                if outcome.is_none() {
                    killed_total += 1;
                }
                // The process dies: its connection goes away with whatever
                // transaction it had open.
                drop(conn);
            }
        }
        p.run_to_completion(&spec, rng.random_range(1..=50_000))
            .await;
        let got = p.stored(&spec).await;
        assert_eq!(
            got, want,
            "case {case} (seed {seed}): killed and resumed runs differ from one run"
        );
    }
    assert!(
        killed_total > 0,
        "no run was actually killed; the budgets are too large"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runs_started_at_once_leave_no_duplicate() {
    let seed = seed();
    eprintln!("DOWNTIME_PROP_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut p = plant().await;
    let single = p
        .line(7, "conc_single", 1, Thresholds::default(), "UTC")
        .await;
    let multi = p
        .line(8, "conc_multi", 2, Thresholds::default(), "UTC")
        .await;
    let mut busy_seen = 0;

    for case in 0..cases(12) {
        let spec = LineSpec {
            thresholds: thresholds(&mut rng),
            ..(if case % 2 == 0 { &single } else { &multi }).clone()
        };
        p.reset(&spec).await;
        let n = rng.random_range(50..=300);
        let dets = stream(&mut rng, n, &spec);
        let want = expected(&dets, &spec);
        p.insert(&spec, &dets).await;

        let runners = rng.random_range(2..=4);
        let mut conns = Vec::new();
        for _ in 0..runners {
            conns.push(p.own_conn().await);
        }
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(runners));
        let mut tasks = Vec::new();
        for mut conn in conns {
            let spec = spec.clone();
            let db_name = p.db_name.clone();
            let barrier = barrier.clone();
            let ps = rng.random_range(1..=30);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let out = engine::run_incremental(
                    &mut conn,
                    &db_name,
                    &spec,
                    &EngineOptions { page_size: ps },
                )
                .await
                .expect("concurrent run");
                let _ = conn.disconnect().await;
                out
            }));
        }
        let mut done = 0;
        for task in tasks {
            match task.await.expect("task") {
                RunOutcome::Done(_) => done += 1,
                RunOutcome::Busy => busy_seen += 1,
                RunOutcome::Skipped { reason } => panic!("skipped: {reason}"),
            }
        }
        assert!(done >= 1, "case {case}: every run was refused");
        // Whoever was refused, the next run completes the line.
        p.run_to_completion(&spec, 50_000).await;
        let got = p.stored(&spec).await;
        assert_eq!(
            got, want,
            "case {case} (seed {seed}): concurrent runs differ from one run"
        );
        let distinct: Option<i64> = p
            .conn
            .query_first(format!(
                "SELECT COUNT(*) - COUNT(DISTINCT start_time) FROM `{}`.`downtime_events_{}`",
                p.db_name, spec.line_code
            ))
            .await
            .expect("count");
        assert_eq!(distinct, Some(0), "duplicate stops");
    }
    eprintln!("runs refused as busy: {busy_seen}");
    assert!(
        busy_seen > 0,
        "the lock was never contended; the test did not test it"
    );
}

#[tokio::test]
async fn a_held_lock_makes_runs_and_recomputations_busy() {
    let mut p = plant().await;
    let spec = p.line(9, "locked", 1, Thresholds::default(), "UTC").await;
    p.insert(
        &spec,
        &[
            (1, naive("2026-04-01 06:00:00"), 91),
            (2, naive("2026-04-01 06:10:00"), 91),
        ],
    )
    .await;
    let mut holder = p.own_conn().await;
    let name = lock_name(&p.db_name, spec.line_id);
    let got: Option<i64> = holder
        .exec_first("SELECT GET_LOCK(?, 0)", (&name,))
        .await
        .expect("lock");
    assert_eq!(got, Some(1));
    assert!(matches!(p.run(&spec, 10).await, RunOutcome::Busy));
    let from = data_naive_to_utc(naive("2026-04-01 00:00:00"), spec.data_tz);
    let r = engine::recompute(
        &mut p.conn,
        &p.db_name,
        &spec,
        from,
        None,
        &EngineOptions::default(),
    )
    .await
    .expect("recompute");
    assert!(matches!(r, RecomputeOutcome::Busy));
    assert!(p.stored(&spec).await.is_empty());
    drop(holder);
    p.run_to_completion(&spec, 10).await;
    assert_eq!(p.stored(&spec).await.len(), 1);
}

// ---------------------------------------------------------------------------
// Golden stops, computed by hand
// ---------------------------------------------------------------------------

fn row(start: &str, end: &str, duration: &str, detection_id: i64, is_micro: bool) -> Row {
    (
        naive(start),
        naive(end),
        secs(duration),
        detection_id,
        is_micro,
    )
}

#[tokio::test]
async fn golden_stops_computed_by_hand() {
    let mut p = plant().await;
    // Two output areas (101, 102) and a reject area (109) whose detections never count.
    let spec = p.line(10, "golden", 2, Thresholds::default(), "UTC").await;
    let d = |id: i64, at: &str, area: i64| (id, naive(at), area);
    let dets = vec![
        // A gap of exactly 120 s: not a stop (a micro-stop); 1 ms over: a stop.
        d(1, "2026-04-01 06:00:00.000", 101),
        d(2, "2026-04-01 06:02:00.000", 102),
        d(100, "2026-04-01 06:03:00.000", 109), // reject: ignored
        d(3, "2026-04-01 06:04:00.001", 101),
        // Equal timestamps: the stop starts at the last detection of the
        // burst and is ended by the first detection (lowest id) after it.
        d(4, "2026-04-01 06:04:10.000", 101),
        d(5, "2026-04-01 06:04:10.000", 102),
        d(6, "2026-04-01 06:04:10.000", 101),
        d(8, "2026-04-01 06:10:00.000", 101),
        d(7, "2026-04-01 06:10:00.000", 102),
        // Across midnight: 23:58:30.250 → 00:03:00.000 = 269.750 s.
        d(9, "2026-04-01 23:58:30.250", 101),
        d(10, "2026-04-02 00:03:00.000", 101),
        d(11, "2026-04-02 00:03:00.500", 102),
        // Across a month (and partition) boundary: 120.001 s, then a 30 s micro-stop.
        d(12, "2026-04-30 23:59:00.000", 101),
        d(13, "2026-05-01 00:01:00.001", 101),
        d(14, "2026-05-01 00:01:30.001", 101),
    ];
    p.insert(&spec, &dets).await;
    p.run(&spec, 4).await;
    let want = vec![
        row(
            "2026-04-01 06:00:00.000",
            "2026-04-01 06:02:00.000",
            "120.000",
            2,
            true,
        ),
        row(
            "2026-04-01 06:02:00.000",
            "2026-04-01 06:04:00.001",
            "120.001",
            3,
            false,
        ),
        row(
            "2026-04-01 06:04:10.000",
            "2026-04-01 06:10:00.000",
            "350.000",
            7,
            false,
        ),
        // 06:10:00.000 → 23:58:30.250 = 17 h 48 min 30.25 s
        row(
            "2026-04-01 06:10:00.000",
            "2026-04-01 23:58:30.250",
            "64110.250",
            9,
            false,
        ),
        row(
            "2026-04-01 23:58:30.250",
            "2026-04-02 00:03:00.000",
            "269.750",
            10,
            false,
        ),
        // 04-02 00:03:00.500 → 04-30 23:59:00.000 = 28 d 23 h 55 min 59.5 s
        row(
            "2026-04-02 00:03:00.500",
            "2026-04-30 23:59:00.000",
            "2505359.500",
            12,
            false,
        ),
        row(
            "2026-04-30 23:59:00.000",
            "2026-05-01 00:01:00.001",
            "120.001",
            13,
            false,
        ),
        row(
            "2026-05-01 00:01:00.001",
            "2026-05-01 00:01:30.001",
            "30.000",
            14,
            true,
        ),
    ];
    assert_eq!(p.stored(&spec).await, want);
    // The two months are really different partitions.
    let p04: Option<i64> = p
        .conn
        .query_first(format!(
            "SELECT COUNT(*) FROM `{}`.detection_line_golden PARTITION (p202604)",
            p.db_name
        ))
        .await
        .expect("p202604");
    let p05: Option<i64> = p
        .conn
        .query_first(format!(
            "SELECT COUNT(*) FROM `{}`.detection_line_golden PARTITION (p202605)",
            p.db_name
        ))
        .await
        .expect("p202605");
    assert_eq!((p04, p05), (Some(13), Some(2)));

    // The open stop: the last detection is 00:01:30.001; exactly at the
    // threshold the line is not stopped yet, 1 ms later it is, and nothing is
    // stored for it.
    let last = data_naive_to_utc(naive("2026-05-01 00:01:30.001"), spec.data_tz);
    let at = |ms: i64| last + Duration::milliseconds(ms);
    assert_eq!(
        engine::open_stop(&mut p.conn, &p.db_name, &spec, at(120_000))
            .await
            .expect("open"),
        None
    );
    let open = engine::open_stop(&mut p.conn, &p.db_name, &spec, at(120_001))
        .await
        .expect("open")
        .expect("stopped since");
    assert_eq!(open.since, last);
    assert_eq!(open.duration_ms, 120_001);
    assert_eq!(fmt_naive(&open.since_naive), "2026-05-01 00:01:30.001");
    // Running again stores nothing more.
    p.run(&spec, 50_000).await;
    assert_eq!(p.stored(&spec).await.len(), want.len());
}

#[tokio::test]
async fn golden_stops_across_dst_changes_of_the_data_zone() {
    let mut p = plant().await;
    // The client stores plant-local wall times (data_timezone Europe/Madrid).
    let spec = p
        .line(11, "golden_dst", 1, Thresholds::default(), "Europe/Madrid")
        .await;
    let d = |id: i64, at: &str| (id, naive(at), 111);
    let dets = vec![
        // Spring forward (02:00 → 03:00): 01:59:00 → 03:01:00.001 on the wall
        // is 62 min apart, but only 120.001 s really passed: a stop of 120.001 s.
        d(1, "2026-03-29 01:59:00.000"),
        d(2, "2026-03-29 03:01:00.001"),
        // …and 03:01:00.001 → 03:03:00.001 (no change) is exactly 120 s: micro.
        d(3, "2026-03-29 03:03:00.001"),
        // Fall back (03:00 → 02:00): 01:59:00 CEST → 03:01:00 CET is 62 min on
        // the wall but 2 h 2 min really: a stop of 7320 s.
        d(4, "2026-10-25 01:59:00.000"),
        d(5, "2026-10-25 03:01:00.000"),
    ];
    p.insert(&spec, &dets).await;
    p.run(&spec, 2).await;
    let want = vec![
        row(
            "2026-03-29 01:59:00.000",
            "2026-03-29 03:01:00.001",
            "120.001",
            2,
            false,
        ),
        row(
            "2026-03-29 03:01:00.001",
            "2026-03-29 03:03:00.001",
            "120.000",
            3,
            true,
        ),
        // 03-29 03:03:00.001 CEST → 10-25 01:59:00 CEST: 210 days − 1 h 4 min 0.001 s.
        row(
            "2026-03-29 03:03:00.001",
            "2026-10-25 01:59:00.000",
            "18140159.999",
            4,
            false,
        ),
        row(
            "2026-10-25 01:59:00.000",
            "2026-10-25 03:01:00.000",
            "7320.000",
            5,
            false,
        ),
    ];
    assert_eq!(p.stored(&spec).await, want);
}

// ---------------------------------------------------------------------------
// Recomputation keeps justifications
// ---------------------------------------------------------------------------

async fn justify(
    p: &mut Plant,
    spec: &LineSpec,
    start: &str,
    failure_id: i64,
    comment: &str,
) -> i64 {
    let table = format!("`{}`.`downtime_events_{}`", p.db_name, spec.line_code);
    p.conn
        .exec_drop(
            format!(
                "UPDATE {table} SET failure_id = ?, justification = ?, justified_by = 7, \
                 justified_at = '2026-04-02 08:00:00' WHERE start_time = ?"
            ),
            (failure_id, comment, naive(start)),
        )
        .await
        .expect("justify");
    let id: Option<i64> = p
        .conn
        .exec_first(
            format!("SELECT downtime_id FROM {table} WHERE start_time = ?"),
            (naive(start),),
        )
        .await
        .expect("id");
    id.expect("justified stop exists")
}

type Justified = (
    i64,
    NaiveDateTime,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

async fn justified_rows(p: &mut Plant, spec: &LineSpec) -> Vec<Justified> {
    p.conn
        .query(format!(
            "SELECT downtime_id, start_time, failure_id, justification, justified_by, detection_id \
             FROM `{}`.`downtime_events_{}` ORDER BY start_time",
            p.db_name, spec.line_code
        ))
        .await
        .expect("rows")
}

#[tokio::test]
async fn recomputing_a_window_keeps_justifications_of_unchanged_stops() {
    let mut p = plant().await;
    let spec = p.line(12, "late", 1, Thresholds::default(), "UTC").await;
    let d = |id: i64, at: &str| (id, naive(at), 121);
    let mut dets = vec![
        d(10, "2026-04-01 06:00:00"),
        d(20, "2026-04-01 06:05:00"), // stop A 06:00 → 06:05
        d(30, "2026-04-01 06:05:10"),
        d(40, "2026-04-01 06:05:20"),
        d(50, "2026-04-01 06:15:00"), // stop B 06:05:20 → 06:15, ended by 50
        d(60, "2026-04-01 06:15:05"),
        d(70, "2026-04-01 07:00:00"), // stop C 06:15:05 → 07:00
        d(80, "2026-04-01 07:00:10"),
    ];
    p.insert(&spec, &dets).await;
    p.run(&spec, 3).await;
    assert_eq!(p.stored(&spec).await, expected(&dets, &spec));
    let a = justify(&mut p, &spec, "2026-04-01 06:00:00", 1, "rotura de cinta").await;
    let b = justify(&mut p, &spec, "2026-04-01 06:05:20", 2, "cambio de formato").await;
    let c = justify(&mut p, &spec, "2026-04-01 06:15:05", 1, "atasco").await;

    // Late data: a detection inside stop C splits it; one with a lower id at
    // the very time stop B ended now ends it (same stop, other detection);
    // one during running time changes nothing.
    let late = vec![
        d(65, "2026-04-01 06:40:00"),
        d(45, "2026-04-01 06:15:00"),
        d(15, "2026-04-01 06:05:05"),
    ];
    p.insert(&spec, &late).await;
    dets.extend(late);

    let from = data_naive_to_utc(naive("2026-04-01 05:00:00"), spec.data_tz);
    let to = data_naive_to_utc(naive("2026-04-01 08:00:00"), spec.data_tz);
    let report = match engine::recompute(
        &mut p.conn,
        &p.db_name,
        &spec,
        from,
        Some(to),
        &EngineOptions { page_size: 2 },
    )
    .await
    .expect("recompute")
    {
        RecomputeOutcome::Done(r) => r,
        other => panic!("recompute: {other:?}"),
    };
    // The table now holds exactly what one run over all detections gives.
    assert_eq!(p.stored(&spec).await, expected(&dets, &spec));
    assert_eq!(report.kept, 2, "{report:?}");
    assert_eq!(report.relinked, 1, "{report:?}");
    assert_eq!(report.deleted, 1, "{report:?}");
    assert_eq!(report.inserted, 2, "{report:?}");
    assert_eq!(report.changed_justified.len(), 1);
    let changed = &report.changed_justified[0];
    assert_eq!(changed.old.downtime_id, c);
    assert_eq!(changed.old.failure_id, Some(1));
    assert_eq!(changed.old.justification.as_deref(), Some("atasco"));
    let replaced: Vec<(String, String)> = changed
        .replaced_by
        .iter()
        .map(|e| (fmt_naive(&e.start), fmt_naive(&e.end)))
        .collect();
    assert_eq!(
        replaced,
        vec![
            (
                "2026-04-01 06:15:05.000".to_string(),
                "2026-04-01 06:40:00.000".to_string()
            ),
            (
                "2026-04-01 06:40:00.000".to_string(),
                "2026-04-01 07:00:00.000".to_string()
            ),
        ]
    );

    let rows = justified_rows(&mut p, &spec).await;
    let find = |start: &str| {
        rows.iter()
            .find(|r| r.1 == naive(start))
            .cloned()
            .expect("row")
    };
    assert_eq!(
        find("2026-04-01 06:00:00"),
        (
            a,
            naive("2026-04-01 06:00:00"),
            Some(1),
            Some("rotura de cinta".into()),
            Some(7),
            Some(20)
        ),
        "unchanged stop keeps its row and justification"
    );
    assert_eq!(
        find("2026-04-01 06:05:20"),
        (
            b,
            naive("2026-04-01 06:05:20"),
            Some(2),
            Some("cambio de formato".into()),
            Some(7),
            Some(45)
        ),
        "same stop ended by another detection keeps its justification"
    );
    let new_c1 = find("2026-04-01 06:15:05");
    assert_ne!(new_c1.0, c);
    assert_eq!((new_c1.2, new_c1.3.clone(), new_c1.4), (None, None, None));

    // Recomputing again changes nothing.
    let again = match engine::recompute(
        &mut p.conn,
        &p.db_name,
        &spec,
        from,
        Some(to),
        &EngineOptions::default(),
    )
    .await
    .expect("recompute again")
    {
        RecomputeOutcome::Done(r) => r,
        other => panic!("recompute: {other:?}"),
    };
    assert_eq!(
        (again.deleted, again.inserted, again.relinked),
        (0, 0, 0),
        "{again:?}"
    );
    assert!(again.changed_justified.is_empty());
    assert_eq!(justified_rows(&mut p, &spec).await, rows);

    // The incremental run goes on from the same watermark.
    let more = vec![d(90, "2026-04-01 07:10:00"), d(100, "2026-04-01 07:10:01")];
    p.insert(&spec, &more).await;
    dets.extend(more);
    p.run(&spec, 50_000).await;
    assert_eq!(p.stored(&spec).await, expected(&dets, &spec));
}

#[tokio::test]
async fn recomputing_a_window_in_the_middle_moves_nothing_outside_it() {
    let mut p = plant().await;
    let spec = p.line(13, "window", 1, Thresholds::default(), "UTC").await;
    let mut rng = StdRng::seed_from_u64(seed());
    let mut dets = stream(&mut rng, 400, &spec);
    p.insert(&spec, &dets).await;
    p.run(&spec, 37).await;
    let before = justified_rows(&mut p, &spec).await;
    // Justify every stop so any row the recomputation touches would show.
    p.conn
        .query_drop(format!(
            "UPDATE `{}`.`downtime_events_{}` SET failure_id = 1, justification = CONCAT('j', downtime_id)",
            p.db_name, spec.line_code
        ))
        .await
        .expect("justify all");
    let outputs: Vec<&Det> = dets
        .iter()
        .filter(|d| spec.output_areas.contains(&d.2))
        .collect();
    let (lo, hi) = (
        outputs[outputs.len() / 3].1,
        outputs[2 * outputs.len() / 3].1,
    );
    // A late detection in the middle of the window, on a whole millisecond as
    // DATETIME(3) stores it.
    let mid = lo + Duration::milliseconds((hi - lo).num_milliseconds() / 2);
    let late = (1_000_000, mid, spec.output_areas[0]);
    p.insert(&spec, &[late]).await;
    dets.push(late);
    let report = match engine::recompute(
        &mut p.conn,
        &p.db_name,
        &spec,
        data_naive_to_utc(lo, spec.data_tz),
        Some(data_naive_to_utc(hi, spec.data_tz)),
        &EngineOptions { page_size: 5 },
    )
    .await
    .expect("recompute")
    {
        RecomputeOutcome::Done(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(p.stored(&spec).await, expected(&dets, &spec), "{report:?}");
    // Every stop that is still the same stop kept its justification.
    let after = justified_rows(&mut p, &spec).await;
    let stored_now = p.stored(&spec).await;
    for (row, now) in after.iter().zip(&stored_now) {
        let was = before.iter().find(|b| b.1 == row.1);
        match was {
            Some(b) if b.0 == row.0 => {
                assert_eq!(row.3.as_deref(), Some(format!("j{}", row.0).as_str()))
            }
            _ => assert_eq!(row.2, None, "a new stop {now:?} has no justification"),
        }
    }
    assert!(report.changed_justified.len() <= 2, "{report:?}");
}
