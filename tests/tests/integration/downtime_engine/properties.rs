//! Properties over random detection streams: any split into incremental runs,
//! a killed run run again and runs started at once all give the stops of one
//! full run; a held lock makes runs busy.

use super::*;

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
