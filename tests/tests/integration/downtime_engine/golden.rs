//! Golden stops computed by hand (thresholds, midnight, partitions, DST), and
//! recomputing a window: justifications of unchanged stops stay, nothing
//! outside the window moves.

use super::*;

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
