//! Property tests: the figures of a window are the sums of the figures of any
//! split of it into contiguous parts (a stop counts in the one part it starts
//! in, [`starts_in`]; time is clipped), and its downtime is the OEE engine's
//! (docs/downtime.md#counts-and-durations-in-windows, docs/oee.md#downtime).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;
use crate::oee::{ReasonCategory, ShiftBreak};

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
/// sub-minute offset; lengths from nothing to hours, micro-stops short;
/// reasons 1–3, reason 3 planned; some left out by a filter.
fn arb_stops(len_min: i64) -> impl Strategy<Value = Vec<SummaryStop>> {
    let stop = (
        -180..len_min + 180,
        prop::option::weighted(0.4, 0i64..MINUTE_MS),
        prop::bool::weighted(0.35),
        0i64..4 * 3_600_000,
        0i64..120_000,
        prop::option::of(1i64..4),
        prop::bool::weighted(0.85),
    )
        .prop_map(
            |(start_min, sub_ms, is_micro, long_ms, micro_ms, failure_id, selected)| {
                let start = start_min * MINUTE_MS + sub_ms.unwrap_or(0);
                let len = if is_micro { micro_ms } else { long_ms };
                SummaryStop {
                    stop: Stop {
                        start: at(start),
                        end: at(start + len),
                        is_micro,
                        reason_category: failure_id.map(|id| {
                            if id == 3 {
                                ReasonCategory::Planned
                            } else {
                                ReasonCategory::Unplanned
                            }
                        }),
                        failure_id,
                    },
                    selected,
                }
            },
        );
    // Two lines; the engine never stores overlapping stops on a line, but
    // the summary must stay exact when bad data has them.
    prop::collection::vec(stop, 0..40)
}

#[derive(Debug, Clone)]
struct Case {
    tz: Tz,
    micro_as_stops: bool,
    whole: Window,
    parts: Vec<Window>,
    lines: Vec<(Vec<SummaryStop>, Option<OpenStop>)>,
}

fn arb_open(len_min: i64) -> impl Strategy<Value = Option<OpenStop>> {
    prop::option::weighted(
        0.4,
        (-60..len_min + 60).prop_map(|m| OpenStop {
            last_detection: at(m * MINUTE_MS),
            threshold_seconds: 120,
        }),
    )
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        // Up to three days, in minutes.
        1i64..3 * 1440,
        prop::sample::select(vec![chrono_tz::UTC, chrono_tz::Europe::Madrid]),
        any::<bool>(),
    )
        .prop_flat_map(|(len_min, tz, micro_as_stops)| {
            (
                Just(len_min),
                Just(tz),
                Just(micro_as_stops),
                prop::collection::btree_set(1..len_min.max(2), 0..12),
                prop::collection::vec((arb_stops(len_min), arb_open(len_min)), 1..3),
            )
        })
        .prop_map(|(len_min, tz, micro_as_stops, cuts, lines)| {
            let mut bounds = vec![0];
            bounds.extend(cuts.into_iter().filter(|c| *c < len_min));
            bounds.push(len_min);
            let w = |a: i64, b: i64| Window {
                start: at(a * MINUTE_MS),
                end: at(b * MINUTE_MS),
            };
            Case {
                tz,
                micro_as_stops,
                whole: w(0, len_min),
                parts: bounds.windows(2).map(|p| w(p[0], p[1])).collect(),
                lines,
            }
        })
}

/// Two shifts with a gap at night and a break: time outside planned time
/// in every case.
fn shifts() -> (Vec<Shift>, Vec<ShiftBreak>) {
    let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
    let shifts = vec![
        Shift::new(1, "M", t(6, 0), t(14, 0)),
        Shift::new(2, "T", t(14, 0), t(22, 0)),
    ];
    let breaks = vec![ShiftBreak {
        shift_id: 1,
        start_time: t(10, 0),
        end_time: t(10, 30),
    }];
    (shifts, breaks)
}

/// Long after every case: whole windows are judged.
fn now() -> DateTime<Utc> {
    at(10 * 86_400_000)
}

fn summary(case: &Case, window: Window) -> Summary {
    let (shifts, breaks) = shifts();
    let lines: Vec<LineStops<'_>> = case
        .lines
        .iter()
        .enumerate()
        .map(|(i, (stops, open))| LineStops {
            line_id: i as i64 + 1,
            stops,
            open_stop: *open,
            open_selected: true,
        })
        .collect();
    summarize(&SummaryInput {
        window,
        now: now(),
        tz: case.tz,
        shifts: &shifts,
        breaks: &breaks,
        lines: &lines,
        micro_as_stops: case.micro_as_stops,
        reasons: &BTreeMap::new(),
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
        for s in case.lines.iter().flat_map(|(stops, _)| stops).map(|s| &s.stop) {
            let n = case.parts.iter().filter(|p| starts_in(p, s.start)).count();
            prop_assert_eq!(n, usize::from(starts_in(&case.whole, s.start)));
            let parts: i64 = case.parts.iter().map(|p| clipped_ms(s.start, s.end, p)).sum();
            prop_assert_eq!(parts, clipped_ms(s.start, s.end, &case.whole));
        }
    }

    /// The summary of the whole window has the summed figures of its parts:
    /// stops, micro-stops, justified and unjustified stops, downtime, time
    /// outside planned time, and both Paretos (counts and time).
    #[test]
    fn the_parts_of_a_window_add_up_to_the_whole(case in arb_case()) {
        let whole = summary(&case, case.whole);
        let parts: Vec<Summary> = case.parts.iter().map(|p| summary(&case, *p)).collect();

        let sum_u = |f: fn(&Summary) -> u64| parts.iter().map(f).sum::<u64>();
        let sum_ms = |f: fn(&Summary) -> f64| parts.iter().map(|p| ms_of(f(p))).sum::<i64>();
        prop_assert_eq!(sum_u(|s| s.count), whole.count);
        prop_assert_eq!(sum_u(|s| s.micro_stops.count), whole.micro_stops.count);
        prop_assert_eq!(sum_u(|s| s.justified_count), whole.justified_count);
        prop_assert_eq!(sum_u(|s| s.unjustified_count), whole.unjustified_count);
        prop_assert_eq!(sum_ms(|s| s.downtime_seconds), ms_of(whole.downtime_seconds));
        prop_assert_eq!(
            sum_ms(|s| s.outside_planned_seconds),
            ms_of(whole.outside_planned_seconds)
        );
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
        prop_assert_eq!(nonzero(by_shift), nonzero(rows(&whole.by_shift)));
    }

    /// With every stop selected, downtime, its split by reason and the
    /// micro-stop time are exactly the OEE engine's for the same lines.
    #[test]
    fn the_downtime_is_the_oee_engines(case in arb_case()) {
        let mut case = case;
        for (stops, _) in &mut case.lines {
            for s in stops.iter_mut() {
                s.selected = true;
            }
        }
        let s = summary(&case, case.whole);
        let (shifts, breaks) = shifts();
        let mut downtime = 0i64;
        let mut micro = 0i64;
        let mut by_reason: BTreeMap<Option<i64>, i64> = BTreeMap::new();
        for (stops, open) in &case.lines {
            let stops: Vec<Stop> = stops
                .iter()
                .map(|s| Stop { is_micro: s.stop.is_micro && !case.micro_as_stops, ..s.stop.clone() })
                .collect();
            let model = TimeModel::build(&LineInputs {
                window: case.whole,
                now: now(),
                tz: case.tz,
                shifts: &shifts,
                breaks: &breaks,
                stops: &stops,
                open_stop: *open,
            });
            downtime += model.downtime.total_ms();
            micro += model.micro_stops.total_ms();
            for (k, v) in &model.downtime_by_reason {
                *by_reason.entry(*k).or_default() += v.total_ms();
            }
        }
        prop_assert_eq!(ms_of(s.downtime_seconds), downtime);
        // Micro-stops counted as stops are no micro-stop time to the model.
        if !case.micro_as_stops {
            prop_assert_eq!(ms_of(s.micro_stops.total_seconds), micro);
        }
        let summary_rows: BTreeMap<Option<i64>, i64> = s
            .by_reason
            .iter()
            .filter(|r| r.total_seconds > 0.0)
            .map(|r| (r.id, ms_of(r.total_seconds)))
            .collect();
        prop_assert_eq!(summary_rows, by_reason);
        let shift_ms: i64 = s.by_shift.iter().map(|r| ms_of(r.total_seconds)).sum();
        prop_assert_eq!(shift_ms, downtime);
    }
}
