use super::*;
use crate::downtime::testing::stop;
use chrono::{NaiveDate, TimeZone, Utc};

const T: Thresholds = Thresholds {
    downtime_threshold_ms: 120_000,
    micro_stop_ms: 20_000,
};

fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, milli: u32) -> i64 {
    let naive = NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|d| d.and_hms_milli_opt(h, mi, s, milli))
        .expect("valid date");
    Utc.from_utc_datetime(&naive).timestamp_millis()
}

fn dets(ats: &[i64]) -> Vec<Detection> {
    ats.iter()
        .enumerate()
        .map(|(i, &at)| Detection::new(i as i64 + 1, at))
        .collect()
}

#[test]
fn defaults_are_spec_values() {
    let t = Thresholds::default();
    assert_eq!(t.downtime_threshold_ms, 120_000);
    assert_eq!(t.micro_stop_ms, 20_000);
    assert_eq!(Thresholds::from_seconds(120, 20), Ok(t));
}

#[test]
fn bad_thresholds_are_refused() {
    assert!(Thresholds::new(0, 0).is_err());
    assert!(Thresholds::new(1000, -1).is_err());
    assert!(Thresholds::new(1000, 1001).is_err());
    assert!(Thresholds::new(1000, 1000).is_ok());
    assert!(Thresholds::from_seconds(i64::MAX, 0).is_err());
}

#[test]
fn exactly_at_threshold_is_not_a_stop_but_a_micro_stop() {
    let base = ms(2026, 4, 1, 6, 0, 0, 0);
    let ev = detect(dets(&[base, base + 120_000]), T).unwrap();
    assert_eq!(ev, vec![stop(base, base + 120_000, 2, true)]);
}

#[test]
fn one_ms_over_threshold_is_a_stop() {
    let base = ms(2026, 4, 1, 6, 0, 0, 0);
    let ev = detect(dets(&[base, base + 120_001]), T).unwrap();
    assert_eq!(ev, vec![stop(base, base + 120_001, 2, false)]);
    assert_eq!(ev[0].duration_seconds(), 120.001);
}

#[test]
fn micro_stop_bounds() {
    let base = ms(2026, 4, 1, 6, 0, 0, 0);
    // exactly 20 s: nothing; 20.001 s: micro-stop.
    let ev = detect(dets(&[base, base + 20_000, base + 40_001]), T).unwrap();
    assert_eq!(ev, vec![stop(base + 20_000, base + 40_001, 3, true)]);
}

#[test]
fn equal_timestamps_are_a_zero_gap() {
    let base = ms(2026, 4, 1, 6, 0, 0, 0);
    let d = vec![
        Detection::new(10, base),
        Detection::new(11, base),
        Detection::new(12, base),
        Detection::new(13, base + 200_000),
        Detection::new(14, base + 200_000),
    ];
    let ev = detect(d, T).unwrap();
    assert_eq!(ev, vec![stop(base, base + 200_000, 13, false)]);
}

#[test]
fn across_midnight() {
    let a = ms(2026, 4, 1, 23, 58, 30, 250);
    let b = ms(2026, 4, 2, 0, 3, 0, 0);
    let ev = detect(dets(&[a - 5_000, a, b, b + 1_000]), T).unwrap();
    // 23:58:30.250 → 00:03:00.000 = 269.750 s
    assert_eq!(ev, vec![stop(a, b, 3, false)]);
    assert_eq!(ev[0].duration_ms, 269_750);
}

#[test]
fn across_month_boundary() {
    let a = ms(2026, 1, 31, 23, 59, 0, 0);
    let b = ms(2026, 2, 1, 0, 1, 0, 1);
    let c = ms(2026, 2, 1, 0, 1, 30, 1);
    let ev = detect(dets(&[a, b, c]), T).unwrap();
    assert_eq!(
        ev,
        vec![stop(a, b, 2, false), stop(b, c, 3, true)],
        "120.001 s across Jan→Feb is a stop, then a 30 s micro-stop"
    );
    assert_eq!(ev[0].duration_ms, 120_001);
}

#[test]
fn open_stop_at_the_end() {
    let a = ms(2026, 4, 1, 6, 0, 0, 0);
    let b = ms(2026, 4, 1, 6, 0, 10, 0);
    let mut det = Detector::new(T);
    let ev = det.run(dets(&[a, b])).unwrap();
    assert!(ev.is_empty(), "the open gap is not stored as finished");
    assert_eq!(det.open_stop(b + 120_000), None, "exactly at threshold");
    assert_eq!(det.open_stop(b + 120_001), Some(b));
    assert_eq!(det.open_stop(b + 3_600_000), Some(b));
    assert_eq!(det.open_stop(b - 1), None, "clock behind the data");
    assert_eq!(Detector::new(T).open_stop(b), None, "no detections at all");
    assert_eq!(
        Detector::resume(Some(Detection::new(2, b)), T).open_stop(i64::MAX),
        Some(b)
    );
    assert_eq!(
        Detector::resume(Some(Detection::new(2, i64::MAX)), T).open_stop(i64::MIN),
        None
    );
}

#[test]
fn out_of_order_is_an_error_and_keeps_state() {
    let mut det = Detector::new(T);
    det.push(Detection::new(5, 1_000)).unwrap();
    det.push(Detection::new(6, 2_000)).unwrap();
    let err = det.push(Detection::new(4, 1_500)).unwrap_err();
    assert_eq!(
        err,
        DetectorError::OutOfOrder {
            watermark: Detection::new(6, 2_000),
            got: Detection::new(4, 1_500)
        }
    );
    assert!(err.to_string().contains("older than the watermark"));
    // Same time, smaller id also sorts before the watermark.
    assert!(det.push(Detection::new(5, 2_000)).is_err());
    assert_eq!(det.watermark(), Some(Detection::new(6, 2_000)));
    assert_eq!(det.processed(), 2);
    // The watermark itself again is harmless.
    assert_eq!(det.push(Detection::new(6, 2_000)), Ok(None));
    assert_eq!(det.watermark(), Some(Detection::new(6, 2_000)));
    // And the detector goes on.
    assert_eq!(
        det.push(Detection::new(7, 200_000)),
        Ok(Some(stop(2_000, 200_000, 7, false)))
    );
}

#[test]
fn push_clamped_takes_a_step_back_as_a_zero_gap() {
    let mut det = Detector::new(T);
    det.push_clamped(Detection::new(5, 1_000)).unwrap();
    det.push_clamped(Detection::new(6, 2_000)).unwrap();
    // Sorts before the watermark: no event, no error, time held.
    assert_eq!(det.push_clamped(Detection::new(4, 1_500)), Ok(None));
    assert_eq!(det.watermark(), Some(Detection::new(4, 2_000)));
    assert_eq!(det.processed(), 3);
    // The gap is measured from the held time.
    assert_eq!(
        det.push_clamped(Detection::new(7, 202_000)),
        Ok(Some(stop(2_000, 202_000, 7, false)))
    );
    // Well-ordered input: same as push.
    let d = dets(&[0, 30_000, 300_000, 300_000, 301_000]);
    let mut a = Detector::new(T);
    let mut got = Vec::new();
    for x in &d {
        got.extend(a.push_clamped(*x).unwrap());
    }
    assert_eq!(got, detect(d, T).unwrap());
}

#[test]
fn resume_refuses_a_detection_older_than_the_stored_watermark() {
    let mut det = Detector::resume(Some(Detection::new(100, 50_000)), T);
    assert!(matches!(
        det.push(Detection::new(99, 49_999)),
        Err(DetectorError::OutOfOrder { .. })
    ));
}

#[test]
fn gap_overflow_is_an_error_not_a_panic() {
    let mut det = Detector::new(T);
    det.push(Detection::new(1, i64::MIN)).unwrap();
    assert!(matches!(
        det.push(Detection::new(2, i64::MAX)),
        Err(DetectorError::GapOverflow { .. })
    ));
}

#[test]
fn feed_streams_events() {
    let mut det = Detector::new(T);
    let mut seen = Vec::new();
    det.feed(dets(&[0, 30_000, 300_000]), |e| seen.push(e))
        .unwrap();
    assert_eq!(
        seen,
        vec![stop(0, 30_000, 2, true), stop(30_000, 300_000, 3, false)]
    );
    assert_eq!(det.processed(), 3);
}

#[test]
fn watermark_roundtrips_through_json() {
    let d = Detection::new(42, 1_775_000_000_123);
    let s = serde_json::to_string(&d).unwrap();
    assert_eq!(serde_json::from_str::<Detection>(&s).unwrap(), d);
}

mod props {
    use super::super::*;
    use crate::downtime::reconcile::{reconcile, Justification, StoredEvent};
    use proptest::prelude::*;

    /// Gaps mixing bursts (0 ms, equal timestamps), running (≤ micro),
    /// micro-stops, values right at the thresholds and long stops.
    fn gap() -> impl Strategy<Value = i64> {
        prop_oneof![
            4 => Just(0i64),
            6 => 1i64..=20_000,
            2 => prop_oneof![
                Just(19_999i64), Just(20_000), Just(20_001),
                Just(119_999), Just(120_000), Just(120_001)
            ],
            3 => 20_001i64..=120_000,
            2 => 120_001i64..=86_400_000,
            1 => 86_400_000i64..=40 * 86_400_000,
        ]
    }

    fn stream() -> impl Strategy<Value = Vec<Detection>> {
        (
            1_700_000_000_000i64..1_900_000_000_000,
            prop::collection::vec((gap(), 1i64..=3), 0..300),
        )
            .prop_map(|(start, steps)| {
                let mut at = start;
                let mut id = 0i64;
                steps
                    .into_iter()
                    .map(|(g, id_step)| {
                        at += g;
                        id += id_step;
                        Detection::new(id, at)
                    })
                    .collect()
            })
    }

    fn thresholds() -> impl Strategy<Value = Thresholds> {
        prop_oneof![
            3 => Just(Thresholds::default()),
            1 => (1i64..=600_000).prop_flat_map(|t| (Just(t), 0..=t))
                .prop_map(|(t, m)| Thresholds::new(t, m).expect("valid")),
        ]
    }

    /// Reference: the rule of docs/downtime.md#downtime applied to consecutive pairs.
    fn reference(d: &[Detection], t: Thresholds) -> Vec<Event> {
        d.windows(2)
            .filter_map(|w| {
                let g = w[1].at - w[0].at;
                let is_micro = if g > t.downtime_threshold_ms {
                    false
                } else if g > t.micro_stop_ms {
                    true
                } else {
                    return None;
                };
                Some(Event {
                    start_ms: w[0].at,
                    end_ms: w[1].at,
                    duration_ms: g,
                    detection_id: w[1].id,
                    is_micro,
                })
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn full_run_matches_the_rule(d in stream(), t in thresholds()) {
            let ev = detect(d.iter().copied(), t).unwrap();
            prop_assert_eq!(&ev, &reference(&d, t));
            for e in &ev {
                prop_assert!(e.duration_ms > t.micro_stop_ms);
                prop_assert_eq!(e.duration_ms, e.end_ms - e.start_ms);
                prop_assert_eq!(e.is_micro, e.duration_ms <= t.downtime_threshold_ms);
            }
            // Starts are strictly increasing (unique start_time holds).
            prop_assert!(ev.windows(2).all(|w| w[0].start_ms < w[1].start_ms));
        }

        /// (a) any split into incremental runs, each resumed from the
        /// previous run's watermark (stored as JSON, as a DB would), gives
        /// exactly the events of one full run.
        #[test]
        fn incremental_runs_equal_one_run(
            d in stream(),
            t in thresholds(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let full = detect(d.iter().copied(), t).unwrap();
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(d.len() + 1)).collect();
            cuts.push(0);
            cuts.push(d.len());
            cuts.sort_unstable();
            let mut watermark_json = serde_json::to_string(&None::<Detection>).unwrap();
            let mut all = Vec::new();
            for w in cuts.windows(2) {
                let wm: Option<Detection> = serde_json::from_str(&watermark_json).unwrap();
                let mut det = Detector::resume(wm, t);
                all.extend(det.run(d[w[0]..w[1]].iter().copied()).unwrap());
                watermark_json = serde_json::to_string(&det.watermark()).unwrap();
            }
            prop_assert_eq!(all, full);
        }

        /// (b) a run killed at any point (its uncommitted events lost) and
        /// run again from the last committed watermark gives exactly the
        /// same events; so does re-running a finished run (nothing new).
        #[test]
        fn killed_run_resumed_equals_one_run(
            d in stream(),
            t in thresholds(),
            commit in any::<prop::sample::Index>(),
            killed in any::<prop::sample::Index>(),
            inclusive in any::<bool>(),
        ) {
            let full = detect(d.iter().copied(), t).unwrap();
            let c = commit.index(d.len() + 1);
            let k = c + killed.index(d.len() - c + 1);

            // First run: commits events + watermark after c detections,
            // processes up to k, then dies.
            let (committed, wm) = {
                let mut first = Detector::new(t);
                let committed = first.run(d[..c].iter().copied()).unwrap();
                let wm = first.watermark();
                let _lost = first.run(d[c..k].iter().copied()).unwrap();
                (committed, wm)
            };

            // Second run resumes from the committed watermark. An
            // inclusive resume query re-reads the watermark itself.
            let mut second = Detector::resume(wm, t);
            let start = if inclusive && c > 0 { c - 1 } else { c };
            let rest = second.run(d[start..].iter().copied()).unwrap();
            let mut all = committed;
            all.extend(rest);
            prop_assert_eq!(&all, &full);

            // A third run right after finds nothing new.
            let mut third = Detector::resume(second.watermark(), t);
            prop_assert!(third.run(std::iter::empty()).unwrap().is_empty());
            prop_assert_eq!(third.watermark(), d.last().copied());
        }

        /// Any detection sorting before the watermark is refused, and the
        /// state is untouched.
        #[test]
        fn older_than_watermark_is_refused(d in stream(), back in 1i64..1_000_000, idx in any::<prop::sample::Index>()) {
            prop_assume!(!d.is_empty());
            let mut det = Detector::new(Thresholds::default());
            det.run(d.iter().copied()).unwrap();
            let wm = det.watermark().unwrap();
            let late = d[idx.index(d.len())];
            let late = Detection::new(late.id, late.at.min(wm.at - back));
            prop_assert!(
                matches!(det.push(late), Err(DetectorError::OutOfOrder { .. })),
                "expected OutOfOrder"
            );
            prop_assert_eq!(det.watermark(), Some(wm));
        }

        /// Recomputing a window over the same detections changes nothing;
        /// reconciling with any other result keeps exactly the events
        /// present on both sides and accounts for every row.
        #[test]
        fn reconcile_accounts_for_every_row(d in stream(), e in stream(), t in thresholds()) {
            let old_ev = detect(d.iter().copied(), t).unwrap();
            let new_ev = detect(e.iter().copied(), t).unwrap();
            let old: Vec<StoredEvent> = old_ev.iter().enumerate().map(|(i, ev)| StoredEvent {
                downtime_id: i as i64 + 1,
                event: *ev,
                justification: Justification {
                    failure_id: (i % 3 == 0).then_some(1),
                    ..Justification::default()
                },
            }).collect();
            prop_assert!(reconcile(&old, &old_ev).is_noop());

            let r = reconcile(&old, &new_ev);
            prop_assert_eq!(r.keep.len() + r.delete.len(), old.len());
            prop_assert_eq!(r.keep.len() + r.insert.len(), new_ev.len());
            for k in &r.keep {
                let o = &old[(k.downtime_id - 1) as usize];
                prop_assert!(o.event.same_stop(&k.event));
                prop_assert_eq!(&o.justification, &k.justification);
            }
            let justified_deleted = r.delete.iter()
                .filter(|id| old[(**id - 1) as usize].justification.is_justified())
                .count();
            prop_assert_eq!(justified_deleted, r.changed_justified.len());
            // After applying it, the table holds exactly the new events.
            let mut after: Vec<Event> = r.keep.iter().map(|k| k.event).chain(r.insert.iter().copied()).collect();
            after.sort_by_key(|e| e.start_ms);
            prop_assert_eq!(after, new_ev);
        }
    }
}
