//! Property tests: the counts of a window are the sums of the counts of any
//! split of it into contiguous parts (a stop counts in the one part it starts
//! in, [`starts_in`]), and so are the clipped durations
//! (docs/downtime.md#counts-and-durations-in-windows).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;
use crate::oee::Shift;

const MINUTE_MS: i64 = 60_000;

fn base() -> DateTime<Utc> {
    // A week with Madrid's spring DST change in it.
    DateTime::parse_from_rfc3339("2026-03-27T21:37:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn at(ms: i64) -> DateTime<Utc> {
    base() + Duration::milliseconds(ms)
}

/// Stops on a minute grid (so many start exactly on a cut), some with a
/// sub-minute offset; lengths from nothing to hours, micro-stops short.
fn arb_stops(len_min: i64) -> impl Strategy<Value = Vec<SummaryStop>> {
    let stop = (
        -180..len_min + 180,
        prop::option::weighted(0.4, 0i64..MINUTE_MS),
        prop::bool::weighted(0.35),
        0i64..4 * 3_600_000,
        0i64..120_000,
        prop::option::of(1i64..4),
        1i64..3,
    )
        .prop_map(
            |(start_min, sub_ms, is_micro, long_ms, micro_ms, failure_id, line_id)| {
                let start = start_min * MINUTE_MS + sub_ms.unwrap_or(0);
                let len = if is_micro { micro_ms } else { long_ms };
                SummaryStop {
                    line_id,
                    start: at(start),
                    end: at(start + len),
                    is_micro,
                    failure_id,
                }
            },
        );
    prop::collection::vec(stop, 0..60)
}

#[derive(Debug, Clone)]
struct Case {
    tz: Tz,
    include_micro: bool,
    whole: Window,
    parts: Vec<Window>,
    stops: Vec<SummaryStop>,
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        // Up to three days, in minutes.
        1i64..3 * 1440,
        prop::sample::select(vec![chrono_tz::UTC, chrono_tz::Europe::Madrid]),
        any::<bool>(),
    )
        .prop_flat_map(|(len_min, tz, include_micro)| {
            (
                Just(len_min),
                Just(tz),
                Just(include_micro),
                prop::collection::btree_set(1..len_min.max(2), 0..12),
                arb_stops(len_min),
            )
        })
        .prop_map(|(len_min, tz, include_micro, cuts, stops)| {
            let mut bounds = vec![0];
            bounds.extend(cuts.into_iter().filter(|c| *c < len_min));
            bounds.push(len_min);
            let w = |a: i64, b: i64| Window {
                start: at(a * MINUTE_MS),
                end: at(b * MINUTE_MS),
            };
            Case {
                tz,
                include_micro,
                whole: w(0, len_min),
                parts: bounds.windows(2).map(|p| w(p[0], p[1])).collect(),
                stops,
            }
        })
}

fn shifts() -> Vec<Shift> {
    let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
    vec![
        Shift::new(1, "M", t(6), t(14)),
        Shift::new(2, "T", t(14), t(22)),
        Shift::new(3, "N", t(22), t(6)),
    ]
}

fn summary(case: &Case, window: Window, shifts: &[Shift]) -> Summary {
    summarize(&SummaryInput {
        window,
        now: at(10 * 86_400_000),
        lines: 2,
        stops: &case.stops,
        include_micro: case.include_micro,
        reasons: &BTreeMap::new(),
        shifts,
        tz: case.tz,
        labels: Labels {
            unjustified: "-",
            no_shift: "-",
        },
    })
}

/// A sum of seconds back in whole milliseconds (every input is whole ms).
fn ms_of(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

/// Count and milliseconds per row id.
fn rows(rows: &[ParetoRow]) -> BTreeMap<Option<i64>, (u64, i64)> {
    rows.iter()
        .map(|r| (r.id, (r.count, ms_of(r.total_seconds))))
        .collect()
}

fn add_rows(acc: &mut BTreeMap<Option<i64>, (u64, i64)>, part: &[ParetoRow]) {
    for (id, (n, ms)) in rows(part) {
        let e = acc.entry(id).or_default();
        e.0 += n;
        e.1 += ms;
    }
}

/// Rows with neither a count nor time carry nothing to compare.
fn nonzero(m: BTreeMap<Option<i64>, (u64, i64)>) -> BTreeMap<Option<i64>, (u64, i64)> {
    m.into_iter().filter(|(_, v)| *v != (0, 0)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Each stop starts in exactly one part when it starts in the whole, in
    /// none otherwise; its clipped parts add up to its clipped whole.
    #[test]
    fn each_stop_counts_once_and_its_time_adds_up(case in arb_case()) {
        for s in &case.stops {
            let n = case.parts.iter().filter(|p| starts_in(p, s.start)).count();
            prop_assert_eq!(n, usize::from(starts_in(&case.whole, s.start)));
            let parts: i64 = case.parts.iter().map(|p| clipped_ms(s.start, s.end, p)).sum();
            prop_assert_eq!(parts, clipped_ms(s.start, s.end, &case.whole));
        }
    }

    /// The summary of the whole window has the summed counts and durations
    /// of its parts: stops, micro-stops, justified and unjustified stops,
    /// the per-reason Pareto (counts and time) and the per-shift counts.
    #[test]
    fn the_parts_of_a_window_add_up_to_the_whole(case in arb_case()) {
        let shifts = shifts();
        let whole = summary(&case, case.whole, &shifts);
        let parts: Vec<Summary> = case.parts.iter().map(|p| summary(&case, *p, &shifts)).collect();

        let sum_u = |f: fn(&Summary) -> u64| parts.iter().map(f).sum::<u64>();
        let sum_ms = |f: fn(&Summary) -> f64| parts.iter().map(|p| ms_of(f(p))).sum::<i64>();
        prop_assert_eq!(sum_u(|s| s.count), whole.count);
        prop_assert_eq!(sum_u(|s| s.micro_stops.count), whole.micro_stops.count);
        prop_assert_eq!(sum_u(|s| s.justified_count), whole.justified_count);
        prop_assert_eq!(sum_u(|s| s.unjustified_count), whole.unjustified_count);
        prop_assert_eq!(sum_ms(|s| s.total_seconds), ms_of(whole.total_seconds));
        prop_assert_eq!(
            sum_ms(|s| s.micro_stops.total_seconds),
            ms_of(whole.micro_stops.total_seconds)
        );

        let mut by_reason = BTreeMap::new();
        let mut by_shift = BTreeMap::new();
        for p in &parts {
            add_rows(&mut by_reason, &p.by_reason);
            add_rows(&mut by_shift, &p.by_shift);
        }
        prop_assert_eq!(nonzero(by_reason), nonzero(rows(&whole.by_reason)));
        // Per shift only the counts add up: a stop's time goes to the shift
        // it (or the part) starts in.
        let counts = |m: BTreeMap<Option<i64>, (u64, i64)>| -> BTreeMap<Option<i64>, u64> {
            m.into_iter().map(|(k, v)| (k, v.0)).filter(|(_, n)| *n > 0).collect()
        };
        prop_assert_eq!(counts(by_shift), counts(rows(&whole.by_shift)));

        // The counts are those of the stops starting in the window.
        let expected = case
            .stops
            .iter()
            .filter(|s| starts_in(&case.whole, s.start) && (case.include_micro || !s.is_micro))
            .count() as u64;
        prop_assert_eq!(whole.count, expected);
    }
}
