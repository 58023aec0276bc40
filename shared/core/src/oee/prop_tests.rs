//! Property tests: the engine is additive over any split of a window, and
//! seeing a model through a sub-window equals building it for that sub-window.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;
use crate::timeutil::{buckets, ms_to_utc, Interval, PlantCalendar, Window};

fn quarter(q: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(q / 4, (q % 4) * 15, 0).unwrap()
}

fn arb_shift() -> impl Strategy<Value = Shift> {
    (
        1i64..=3,
        0u32..96,
        0u32..96,
        prop::option::weighted(0.3, prop::collection::vec(1u8..=7, 0..5)),
        prop::bool::weighted(0.9),
    )
        .prop_map(|(id, s, e, days, active)| Shift {
            id,
            name: format!("S{id}"),
            start_time: quarter(s),
            end_time: quarter(e),
            days_of_week: days,
            is_active: active,
        })
}

fn arb_break() -> impl Strategy<Value = ShiftBreak> {
    (1i64..=3, 0u32..96, 1u32..8).prop_map(|(id, s, len)| ShiftBreak {
        shift_id: id,
        start_time: quarter(s),
        end_time: quarter((s + len) % 96),
    })
}

const DAY_MS: i64 = 86_400_000;

/// Window bases around both 2026 DST changes in Madrid and a plain week.
fn base(i: usize) -> DateTime<Utc> {
    let s = [
        "2026-03-27T00:00:00Z",
        "2026-10-23T00:00:00Z",
        "2026-06-10T00:00:00Z",
    ][i];
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn arb_stop() -> impl Strategy<Value = (i64, i64, bool, Option<bool>, Option<i64>)> {
    (
        -DAY_MS..5 * DAY_MS,
        0i64..6 * 3_600_000,
        prop::bool::weighted(0.3),
        prop::option::of(any::<bool>()),
        prop::option::of(1i64..4),
    )
}

#[derive(Debug, Clone)]
struct Case {
    tz: Tz,
    window: Window,
    now: DateTime<Utc>,
    shifts: Vec<Shift>,
    breaks: Vec<ShiftBreak>,
    stops: Vec<Stop>,
    open_stop: Option<OpenStop>,
    cuts: Vec<DateTime<Utc>>,
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        0usize..3,
        prop::sample::select(vec![
            chrono_tz::Europe::Madrid,
            chrono_tz::America::Santiago,
            chrono_tz::UTC,
        ]),
        0i64..2 * DAY_MS,
        1i64..4 * DAY_MS,
        prop::collection::vec(arb_shift(), 0..4),
        prop::collection::vec(arb_break(), 0..4),
        prop::collection::vec(arb_stop(), 0..12),
        prop::option::of((0i64..6 * DAY_MS, 0i64..900)),
        0i64..7 * DAY_MS,
        prop::collection::vec(0.0f64..1.0, 0..6),
    )
        .prop_map(
            |(b, tz, offset, len, shifts, breaks, stops, open, now, cuts)| {
                let base = base(b);
                let at = |ms: i64| base + Duration::milliseconds(ms);
                let window = Window::new(at(offset), at(offset + len)).unwrap();
                let stops = stops
                    .into_iter()
                    .map(|(s, l, is_micro, planned, failure_id)| Stop {
                        start: at(s),
                        end: at(s + l),
                        is_micro,
                        reason_category: planned.map(|p| {
                            if p {
                                ReasonCategory::Planned
                            } else {
                                ReasonCategory::Unplanned
                            }
                        }),
                        failure_id,
                    })
                    .collect();
                let mut cuts: Vec<DateTime<Utc>> = cuts
                    .into_iter()
                    .map(|f| at(offset + (f * len as f64) as i64))
                    .collect();
                cuts.sort();
                Case {
                    tz,
                    window,
                    now: at(now),
                    shifts,
                    breaks,
                    stops,
                    open_stop: open.map(|(last, threshold)| OpenStop {
                        last_detection: at(last),
                        threshold_seconds: threshold,
                    }),
                    cuts,
                }
            },
        )
}

fn build(c: &Case, window: Window) -> TimeModel {
    TimeModel::build(&LineInputs {
        window,
        now: c.now,
        tz: c.tz,
        shifts: &c.shifts,
        breaks: &c.breaks,
        stops: &c.stops,
        open_stop: c.open_stop,
    })
}

fn parts(c: &Case) -> Vec<Window> {
    let mut bounds = vec![c.window.start];
    bounds.extend(c.cuts.iter().copied());
    bounds.push(c.window.end);
    bounds
        .windows(2)
        .map(|p| Window {
            start: p[0],
            end: p[1],
        })
        .collect()
}

fn check_invariants(m: &TimeModel) -> Result<(), TestCaseError> {
    prop_assert_eq!(m.planned.subtract(&m.elapsed), IntervalSet::new());
    prop_assert_eq!(m.downtime.subtract(&m.planned), IntervalSet::new());
    prop_assert_eq!(m.run.union(&m.downtime), m.planned.clone());
    prop_assert!(m.run.intersect(&m.downtime).is_empty());
    prop_assert_eq!(m.micro_stops.subtract(&m.run), IntervalSet::new());
    let by_reason: i64 = m
        .downtime_by_reason
        .values()
        .map(IntervalSet::total_ms)
        .sum();
    prop_assert_eq!(by_reason, m.downtime.total_ms());
    Ok(())
}

proptest! {
    #[test]
    fn sub_windows_add_up_to_the_whole(c in arb_case()) {
        let whole = build(&c, c.window);
        check_invariants(&whole)?;
        let counts = Counts::new();
        let ct = CycleTimes::default();
        let whole_totals = whole.totals(&counts, &ct);
        let mut sum = Totals::default();
        for part in parts(&c) {
            let built = build(&c, part);
            check_invariants(&built)?;
            prop_assert_eq!(&built, &whole.restrict(&part));
            sum += &built.totals(&counts, &ct);
        }
        prop_assert_eq!(sum.planned_ms, whole_totals.planned_ms);
        prop_assert_eq!(sum.downtime_ms, whole_totals.downtime_ms);
        prop_assert_eq!(sum.run_ms, whole_totals.run_ms);
        prop_assert_eq!(sum.micro_stop_ms, whole_totals.micro_stop_ms);
        let nonzero = |t: &Totals| {
            t.downtime_by_reason_ms
                .iter()
                .filter(|(_, v)| **v != 0)
                .map(|(k, v)| (*k, *v))
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(nonzero(&sum), nonzero(&whole_totals));
    }

    #[test]
    fn buckets_add_up_to_the_whole(c in arb_case(), interval in prop::sample::select(Interval::ALL.to_vec()), day_start in 0u32..96) {
        let cal = PlantCalendar::new(c.tz, quarter(day_start));
        let whole = build(&c, c.window);
        let bs = buckets(&c.window, interval, &cal, &c.shifts);
        for b in &bs {
            prop_assert!(b.start < b.end);
            prop_assert!(c.window.start <= b.start && b.end <= c.window.end);
            prop_assert_eq!(b.seconds, b.window().seconds());
        }
        if interval != Interval::Shift || !has_active_shifts(&c.shifts) {
            // Calendar buckets tile the window.
            prop_assert_eq!(bs.first().map(|b| b.start), Some(c.window.start));
            prop_assert_eq!(bs.last().map(|b| b.end), Some(c.window.end));
            for p in bs.windows(2) {
                prop_assert_eq!(p[0].end, p[1].start);
            }
            let sum: Totals = bs
                .iter()
                .map(|b| whole.restrict(&b.window()).totals(&Counts::new(), &CycleTimes::default()))
                .sum();
            prop_assert_eq!(sum.planned_ms, whole.planned.total_ms());
            prop_assert_eq!(sum.run_ms, whole.run.total_ms());
        } else {
            // Shift buckets cover exactly the shift time of the window.
            let covered = IntervalSet::from_spans(bs.iter().map(|b| (b.start, b.end)));
            let shift_time = IntervalSet::from_spans(
                shift_occurrences(&c.shifts, &c.window, c.tz).iter().map(|o| (o.start, o.end)),
            )
            .clip(&c.window);
            prop_assert_eq!(covered, shift_time);
        }
    }

    #[test]
    fn resolve_local_is_exact_or_first_after_gap(
        tz in prop::sample::select(vec![
            chrono_tz::Europe::Madrid,
            chrono_tz::America::Santiago,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::America::New_York,
            chrono_tz::Asia::Kolkata,
        ]),
        secs in 1_767_225_600i64..1_798_761_600, // 2026
    ) {
        let naive = ms_to_utc(secs * 1000).naive_utc();
        let r = crate::timeutil::resolve_local(tz, naive);
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).naive_local();
        prop_assert!(local(r) >= naive);
        if local(r) != naive {
            // In a gap: the instant just before r is still before the gap.
            prop_assert!(local(r - Duration::seconds(1)) < naive);
        } else {
            // Ambiguous or single: no earlier instant shows the same wall time.
            prop_assert!(local(r - Duration::hours(1)) != naive);
            prop_assert!(local(r - Duration::minutes(30)) != naive);
        }
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,40}") {
        let _ = crate::timeutil::parse_instant(&s, chrono_tz::Europe::Madrid, "start_date");
    }

    #[test]
    fn parse_accepts_generated_forms(
        secs in 0i64..(DAY_MS / 1000 * 365 * 3),
        form in 0usize..4,
    ) {
        let t = ms_to_utc(1_767_225_600_000 + secs * 1000);
        let tz = chrono_tz::Europe::Madrid;
        let local = t.with_timezone(&tz);
        let s = match form {
            0 => local.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            1 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            2 => local.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string(),
            _ => crate::timeutil::format_instant(t, tz),
        };
        prop_assert_eq!(crate::timeutil::parse_instant(&s, tz, "start_date").unwrap(), t);
    }
}
