//! Properties of the engine over the golden plant (library level, real
//! database):
//! * for random splits of a window into sub-windows (cut at arbitrary
//!   milliseconds), the parts' times and counts add up to the window's
//!   exactly, and day buckets add up to the window;
//! * counts served by the minute rollup are identical to counts of the raw
//!   rows — for random windows cut anywhere, before and after late
//!   detections arrive, and after the rollup folds them in.

use crate::metrics_support as support;

use chrono::{DateTime, Duration, Utc};
use dash_core::oee::Totals;
use dash_core::timeutil::{Interval, Window};
use dash_store::metrics::{compute, Plant};
use dash_store::query::{self, rollup, CountSource, DetectionTable};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::*;

#[track_caller]
fn same_totals(a: &Totals, b: &Totals, what: &str) {
    assert_eq!(a.planned_ms, b.planned_ms, "{what}: planned");
    assert_eq!(a.downtime_ms, b.downtime_ms, "{what}: downtime");
    assert_eq!(a.run_ms, b.run_ms, "{what}: run");
    assert_eq!(a.micro_stop_ms, b.micro_stop_ms, "{what}: micro");
    assert_eq!(a.good, b.good, "{what}: good");
    assert_eq!(a.rejects, b.rejects, "{what}: rejects");
    assert_eq!(
        a.downtime_by_reason_ms, b.downtime_by_reason_ms,
        "{what}: reasons"
    );
    assert_eq!(
        a.missing_cycle_time.keys().collect::<Vec<_>>(),
        b.missing_cycle_time.keys().collect::<Vec<_>>(),
        "{what}: missing"
    );
    close(a.ideal_total_seconds, b.ideal_total_seconds);
    close(a.ideal_reject_seconds, b.ideal_reject_seconds);
}

fn random_cuts(rng: &mut StdRng, w: &Window, n: usize) -> Vec<DateTime<Utc>> {
    let (s, e) = (w.start.timestamp_millis(), w.end.timestamp_millis());
    let mut cuts: Vec<i64> = (0..n).map(|_| rng.random_range(s + 1..e)).collect();
    // Some cuts on whole minutes and on planned-time edges, where bugs hide.
    cuts.push(utc("2026-03-10T09:00:00Z").timestamp_millis());
    cuts.push(utc("2026-03-10T11:30:00Z").timestamp_millis());
    cuts.push(utc("2026-03-10T12:59:59.999Z").timestamp_millis());
    cuts.retain(|c| *c > s && *c < e);
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = vec![w.start];
    out.extend(cuts.into_iter().filter_map(DateTime::from_timestamp_millis));
    out.push(w.end);
    out
}

#[tokio::test]
async fn splits_add_up_and_the_rollup_equals_raw() {
    let g = golden().await;
    let state = g.state();
    let tenant = dash_store::tenancy::load_tenant(&state, g.tenant_id)
        .await
        .expect("tenant")
        .expect("exists");
    let meta = dash_store::metadata::for_tenant(&state, &tenant)
        .await
        .expect("meta");
    let plant = Plant::new(&tenant, &meta, state.now());
    let mut conn = state
        .db()
        .client(&tenant.db_location())
        .await
        .expect("conn");
    // 2026-03-09 00:00 CET → 2026-03-31 00:00 CEST (a DST change inside).
    let w = Window::new(utc("2026-03-08T23:00:00Z"), utc("2026-03-30T22:00:00Z")).expect("window");
    let lines = [1i64, 2];
    let whole = compute(&mut conn, &plant, &lines, &w, &[], CountSource::Raw)
        .await
        .expect("whole")
        .total;
    assert_eq!(whole.good, 500 + 290 + 100 + 600);

    // Day buckets partition the window.
    let days = plant.buckets(&w, Interval::Day).expect("buckets");
    assert_eq!(days.len(), 22);
    let c = compute(&mut conn, &plant, &lines, &w, &days, CountSource::Raw)
        .await
        .expect("days");
    same_totals(&c.total, &whole, "overall with buckets");
    let summed: Totals = c.total_buckets.iter().sum();
    same_totals(&summed, &whole, "sum of day buckets");

    // Random splits.
    let mut rng = StdRng::seed_from_u64(0x05ee_d0ee);
    for trial in 0..8 {
        let cuts = random_cuts(&mut rng, &w, 1 + trial * 3);
        let mut sum = Totals::default();
        for pair in cuts.windows(2) {
            let part = Window::new(pair[0], pair[1]).expect("part");
            sum += compute(&mut conn, &plant, &lines, &part, &[], CountSource::Raw)
                .await
                .expect("part")
                .total;
        }
        same_totals(
            &sum,
            &whole,
            &format!("split {trial} into {} parts", cuts.len() - 1),
        );
    }

    // The rollup: fold everything in (small batches: several transactions
    // merge into the same day rows), then compare with raw counts.
    let db_name = tenant.db_location().db_name;
    let mut tables = Vec::new();
    for id in lines {
        let line = meta.line(id).expect("line");
        let t = DetectionTable::open(&mut conn, &db_name, line, tenant.data_timezone())
            .await
            .expect("table");
        let rep = rollup::refresh_line(&mut conn, &t, 97)
            .await
            .expect("refresh");
        assert!(!rep.busy && rep.transactions > 1 && rep.rows > 0, "{rep:?}");
        tables.push(t);
    }
    compare_all(
        &mut conn,
        &plant,
        &lines,
        &w,
        &days,
        &tables,
        &mut rng,
        "after the first refresh",
    )
    .await;

    // Late detections: old times, new ids, some inside partial minutes.
    let mut late = Vec::new();
    for (i, at) in [
        "2026-03-10T07:15:12.345Z",
        "2026-03-10T12:59:59.998Z",
        "2026-03-29T00:59:59.999Z",
        "2026-03-12T03:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        let t = utc(at).naive_utc();
        let (line, area, product) = if i == 3 { (2, 21, 3) } else { (1, 12, 1) };
        for k in 0..5 {
            late.push((line, area, product, t + Duration::milliseconds(k * 7)));
        }
    }
    insert_detections(&mut conn, &late)
        .await
        .expect("late rows");
    compare_all(
        &mut conn,
        &plant,
        &lines,
        &w,
        &days,
        &tables,
        &mut rng,
        "late rows not yet folded in",
    )
    .await;
    for t in &tables {
        let rep = rollup::refresh_line(&mut conn, t, 100_000)
            .await
            .expect("refresh");
        assert_eq!(rep.rows, if t.line_id == 1 { 15 } else { 5 }, "{rep:?}");
    }
    compare_all(
        &mut conn,
        &plant,
        &lines,
        &w,
        &days,
        &tables,
        &mut rng,
        "after folding them in",
    )
    .await;
    let after = compute(&mut conn, &plant, &lines, &w, &[], CountSource::Auto)
        .await
        .expect("after")
        .total;
    // 20 late outputs, 4 of which (13:59:59.998 + 7, 14, 21, 28 ms local)
    // fall after the Day shift's end: 16 more good units in planned time.
    assert_eq!(after.good, whole.good + 16);

    // Resetting falls back to raw, and a rebuild gives the same again.
    rollup::reset_line(&mut conn, &tables[0])
        .await
        .expect("reset");
    assert_eq!(
        rollup::watermark(&mut conn, &tables[0]).await.expect("wm"),
        None
    );
    rollup::refresh_line(&mut conn, &tables[0], 1_000_000)
        .await
        .expect("rebuild");
    compare_all(
        &mut conn,
        &plant,
        &lines,
        &w,
        &days,
        &tables,
        &mut rng,
        "after a rebuild",
    )
    .await;
}

/// Rollup-served and raw answers are identical: the engine's totals over the
/// window and its day buckets, and plain counts over random windows.
#[allow(clippy::too_many_arguments)]
async fn compare_all(
    conn: &mut mysql_async::Conn,
    plant: &Plant<'_>,
    lines: &[i64],
    w: &Window,
    days: &[dash_core::timeutil::Bucket],
    tables: &[DetectionTable],
    rng: &mut StdRng,
    label: &str,
) {
    let auto = compute(conn, plant, lines, w, days, CountSource::Auto)
        .await
        .expect("auto");
    let raw = compute(conn, plant, lines, w, days, CountSource::Raw)
        .await
        .expect("raw");
    assert_eq!(auto.total, raw.total, "{label}: overall");
    assert_eq!(auto.total_buckets, raw.total_buckets, "{label}: buckets");
    for trial in 0..6 {
        let cuts = random_cuts(rng, w, 2 + trial * 5);
        let windows: Vec<Window> = cuts
            .windows(2)
            .map(|p| Window {
                start: p[0],
                end: p[1],
            })
            .collect();
        for t in tables {
            for products in [None, Some(&[1i64][..]), Some(&[3i64][..])] {
                let areas = [11i64, 12, 13, 21, 22];
                let a = query::count_in_windows(
                    conn,
                    t,
                    &windows,
                    None,
                    &areas,
                    products,
                    CountSource::Auto,
                )
                .await
                .expect("auto counts");
                let r = query::count_in_windows(
                    conn,
                    t,
                    &windows,
                    None,
                    &areas,
                    products,
                    CountSource::Raw,
                )
                .await
                .expect("raw counts");
                assert_eq!(a, r, "{label}: line {} trial {trial}", t.line_id);
                assert!(
                    a.iter().any(|m| !m.is_empty())
                        || products == Some(&[3i64][..])
                        || t.line_id == 2
                );
            }
        }
    }
}
