//! Downtime summary over a window: count, total time, MTBF, MTTR, and the
//! Pareto of downtime by reason and by shift. Pure: the caller reads the stops
//! (already filtered) and the shift calendar.
//!
//! Windows never re-classify stops (docs/downtime.md#counts-and-durations-in-windows),
//! they only decide what is counted where:
//!
//! * **durations are clipped**: a stop overlapping the window gives it the
//!   part of it inside the window;
//! * **counts go by start**: a stop or micro-stop is one event of the single
//!   window it starts in ([`starts_in`], the one rule every count of stops
//!   goes through), so the counts of the parts of a window add up to the
//!   window's. A stop that began before the window gives it time, not a count.
//!
//! * MTTR = downtime / number of stops starting in the window;
//! * MTBF = (observed time − downtime) / number of stops starting in the
//!   window, the observed time being the window up to now, once per line.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::oee::{shift_at, Shift};
use crate::timeutil::Window;

/// A stored stop as the summary needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryStop {
    pub line_id: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub is_micro: bool,
    pub failure_id: Option<i64>,
}

/// A reason code's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonInfo {
    pub code: String,
    pub name: String,
    pub category: String,
}

/// One bar of a Pareto chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParetoRow {
    /// `failure_id` or `shift_id`; `None` = not justified / outside every shift.
    pub id: Option<i64>,
    pub label: String,
    /// Reason code (`by_reason` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `planned` / `unplanned` (`by_reason` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Stops of the row starting in the window ([`starts_in`]); a row of a
    /// stop that began before the window has its time and a count of 0.
    pub count: u64,
    /// Clipped to the window.
    pub total_seconds: f64,
    /// Share of the total downtime, 0–1.
    pub share: f64,
    /// Running share in Pareto order, 0–1.
    pub cumulative_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MicroSummary {
    /// Micro-stops starting in the window ([`starts_in`]).
    pub count: u64,
    /// Clipped to the window.
    pub total_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Stops starting in the window ([`starts_in`]).
    pub count: u64,
    /// Downtime clipped to the window.
    pub total_seconds: f64,
    pub observed_seconds: f64,
    /// `None` when no stop starts in the window.
    pub mtbf_seconds: Option<f64>,
    /// `None` when no stop starts in the window.
    pub mttr_seconds: Option<f64>,
    /// Of `count`, those with a reason (and without one).
    pub justified_count: u64,
    pub unjustified_count: u64,
    /// Micro-stops in the window (a performance loss, never in the totals
    /// unless `include_micro`).
    pub micro_stops: MicroSummary,
    pub by_reason: Vec<ParetoRow>,
    pub by_shift: Vec<ParetoRow>,
}

/// Labels of the Pareto rows without an id, in the reader's language: each
/// caller passes its own (the dashboard its translations, the API its words).
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a> {
    /// The `by_reason` row of stops without a reason.
    pub unjustified: &'a str,
    /// The `by_shift` row of stops outside every shift.
    pub no_shift: &'a str,
}

pub struct SummaryInput<'a> {
    pub window: Window,
    pub now: DateTime<Utc>,
    /// How many lines the window is observed on (MTBF's observed time).
    pub lines: usize,
    pub stops: &'a [SummaryStop],
    pub include_micro: bool,
    pub reasons: &'a BTreeMap<i64, ReasonInfo>,
    pub shifts: &'a [Shift],
    pub tz: Tz,
    pub labels: Labels<'a>,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Whether a stop (or micro-stop) starting at `start` counts in `window`:
/// `window.start <= start < window.end`. The one counting rule of
/// docs/downtime.md#counts-and-durations-in-windows — an event belongs to
/// exactly one of any windows that split a span, the one it starts in —
/// used by every count of stops: the summary's count, micro-stop count,
/// justified count, Pareto counts and so MTBF and MTTR.
pub fn starts_in(window: &Window, start: DateTime<Utc>) -> bool {
    window.contains(start)
}

/// Milliseconds of `[start, end)` inside `window`.
pub fn clipped_ms(start: DateTime<Utc>, end: DateTime<Utc>, window: &Window) -> i64 {
    let s = ms(start).max(ms(window.start));
    let e = ms(end).min(ms(window.end));
    (e - s).max(0)
}

#[derive(Default)]
struct Acc {
    count: u64,
    total_ms: i64,
}

fn pareto(
    groups: BTreeMap<Option<i64>, Acc>,
    total_ms: i64,
    label: impl Fn(Option<i64>) -> (String, Option<String>, Option<String>),
) -> Vec<ParetoRow> {
    let mut rows: Vec<(Option<i64>, Acc)> = groups.into_iter().collect();
    rows.sort_by(|a, b| {
        b.1.total_ms
            .cmp(&a.1.total_ms)
            .then(b.1.count.cmp(&a.1.count))
            .then(a.0.cmp(&b.0))
    });
    let mut running = 0i64;
    rows.into_iter()
        .map(|(id, acc)| {
            running += acc.total_ms;
            let (label, code, category) = label(id);
            let share = |x: i64| {
                if total_ms > 0 {
                    x as f64 / total_ms as f64
                } else {
                    0.0
                }
            };
            ParetoRow {
                id,
                label,
                code,
                category,
                count: acc.count,
                total_seconds: acc.total_ms as f64 / 1000.0,
                share: share(acc.total_ms),
                cumulative_share: share(running),
            }
        })
        .collect()
}

/// Computes the summary. Stops that neither overlap the window nor start in
/// it are ignored.
pub fn summarize(input: &SummaryInput<'_>) -> Summary {
    let observed = Window {
        start: input.window.start,
        end: input.window.end.min(input.now).max(input.window.start),
    };
    let mut count = 0u64;
    let mut total_ms = 0i64;
    let mut justified = 0u64;
    let mut micro = Acc::default();
    let mut by_reason: BTreeMap<Option<i64>, Acc> = BTreeMap::new();
    let mut by_shift: BTreeMap<Option<i64>, Acc> = BTreeMap::new();
    let mut shift_names: BTreeMap<i64, String> = BTreeMap::new();
    for s in input.stops {
        // Its time wherever it overlaps the window; its one count only in
        // the window it starts in.
        let d = clipped_ms(s.start, s.end, &input.window);
        let n = u64::from(starts_in(&input.window, s.start));
        if d == 0 && n == 0 {
            continue;
        }
        if s.is_micro {
            micro.count += n;
            micro.total_ms += d;
            if !input.include_micro {
                continue;
            }
        }
        count += n;
        total_ms += d;
        if s.failure_id.is_some() {
            justified += n;
        }
        let r = by_reason.entry(s.failure_id).or_default();
        r.count += n;
        r.total_ms += d;
        // The shift the stop began in (or the window start, when it began
        // before: then its time only, not a count).
        let at = s.start.max(input.window.start);
        let shift = shift_at(input.shifts, at, input.tz);
        let key = shift.as_ref().map(|o| o.shift_id);
        if let Some(o) = shift {
            shift_names.entry(o.shift_id).or_insert(o.name);
        }
        let e = by_shift.entry(key).or_default();
        e.count += n;
        e.total_ms += d;
    }
    let observed_ms = observed
        .duration_ms()
        .saturating_mul(input.lines.max(1) as i64);
    let reasons = input.reasons;
    let labels = input.labels;
    Summary {
        count,
        total_seconds: total_ms as f64 / 1000.0,
        observed_seconds: observed_ms as f64 / 1000.0,
        mtbf_seconds: (count > 0)
            .then(|| (observed_ms - total_ms).max(0) as f64 / 1000.0 / count as f64),
        mttr_seconds: (count > 0).then(|| total_ms as f64 / 1000.0 / count as f64),
        justified_count: justified,
        unjustified_count: count - justified,
        micro_stops: MicroSummary {
            count: micro.count,
            total_seconds: micro.total_ms as f64 / 1000.0,
        },
        by_reason: pareto(by_reason, total_ms, |id| match id {
            None => (labels.unjustified.to_string(), None, None),
            Some(id) => match reasons.get(&id) {
                Some(r) => (
                    r.name.clone(),
                    Some(r.code.clone()),
                    Some(r.category.clone()),
                ),
                None => (format!("#{id}"), None, None),
            },
        }),
        by_shift: pareto(by_shift, total_ms, |id| match id {
            None => (labels.no_shift.to_string(), None, None),
            Some(id) => (
                shift_names
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| format!("#{id}")),
                None,
                None,
            ),
        }),
    }
}

#[cfg(test)]
mod prop_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    const LABELS: Labels<'static> = Labels {
        unjustified: "Sin justificar",
        no_shift: "Fuera de turno",
    };

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn stop(start: &str, end: &str, micro: bool, reason: Option<i64>) -> SummaryStop {
        SummaryStop {
            line_id: 1,
            start: utc(start),
            end: utc(end),
            is_micro: micro,
            failure_id: reason,
        }
    }

    #[test]
    fn totals_pareto_and_clipping() {
        let window = Window::new(utc("2026-04-01T00:00:00Z"), utc("2026-04-02T00:00:00Z")).unwrap();
        let stops = vec![
            // Began before the window: 10 min inside it.
            stop("2026-03-31T23:50:00Z", "2026-04-01T00:10:00Z", false, None),
            stop(
                "2026-04-01T07:00:00Z",
                "2026-04-01T08:00:00Z",
                false,
                Some(2),
            ),
            stop(
                "2026-04-01T15:00:00Z",
                "2026-04-01T15:30:00Z",
                false,
                Some(3),
            ),
            stop("2026-04-01T16:00:00Z", "2026-04-01T16:00:30Z", true, None),
            // Outside.
            stop(
                "2026-04-02T01:00:00Z",
                "2026-04-02T02:00:00Z",
                false,
                Some(2),
            ),
        ];
        let mut reasons = BTreeMap::new();
        reasons.insert(
            2,
            ReasonInfo {
                code: "MEC".into(),
                name: "Avería mecánica".into(),
                category: "unplanned".into(),
            },
        );
        let shifts = vec![
            Shift::new(
                1,
                "Mañana",
                NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
                NaiveTime::from_hms_opt(14, 0, 0).unwrap(),
            ),
            Shift::new(
                2,
                "Tarde",
                NaiveTime::from_hms_opt(14, 0, 0).unwrap(),
                NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            ),
        ];
        let s = summarize(&SummaryInput {
            window,
            now: utc("2026-04-03T00:00:00Z"),
            lines: 1,
            stops: &stops,
            include_micro: false,
            reasons: &reasons,
            shifts: &shifts,
            tz: chrono_tz::UTC,
            labels: LABELS,
        });
        // Counts go by start: the stop that began before the window (23:50)
        // gives it its 10 minutes but is counted in the previous day, so 2
        // stops here (3 when every overlapping stop was counted), and MTTR
        // and MTBF divide by 2.
        assert_eq!(s.count, 2);
        assert_eq!(s.total_seconds, 600.0 + 3600.0 + 1800.0);
        assert_eq!(s.mttr_seconds, Some(6000.0 / 2.0));
        assert_eq!(s.mtbf_seconds, Some((86_400.0 - 6000.0) / 2.0));
        assert_eq!(
            s.micro_stops,
            MicroSummary {
                count: 1,
                total_seconds: 30.0
            }
        );
        assert_eq!(s.justified_count, 2);
        // The unjustified one began before the window.
        assert_eq!(s.unjustified_count, 0);
        assert_eq!(s.by_reason[0].id, Some(2));
        assert_eq!(s.by_reason[0].label, "Avería mecánica");
        assert_eq!(s.by_reason[0].code.as_deref(), Some("MEC"));
        assert_eq!(s.by_reason[1].id, Some(3));
        assert_eq!(s.by_reason[1].label, "#3");
        assert_eq!(s.by_reason[2].id, None);
        // Its row keeps its clipped time, with no stop counted (was 1).
        assert_eq!(
            (s.by_reason[2].count, s.by_reason[2].total_seconds),
            (0, 600.0)
        );
        assert!((s.by_reason[2].cumulative_share - 1.0).abs() < 1e-12);
        let shifts: Vec<_> = s
            .by_shift
            .iter()
            .map(|r| (r.id, r.label.as_str(), r.count))
            .collect();
        // The stop from 23:50 lies outside every shift with 10 minutes and no
        // count (was 1).
        assert_eq!(
            shifts,
            vec![
                (Some(1), "Mañana", 1),
                (Some(2), "Tarde", 1),
                (None, "Fuera de turno", 0)
            ]
        );
        let counted: u64 = s.by_reason.iter().map(|r| r.count).sum();
        assert_eq!(counted, s.count);
    }

    #[test]
    fn empty_has_no_mtbf() {
        let window = Window::new(utc("2026-04-01T00:00:00Z"), utc("2026-04-02T00:00:00Z")).unwrap();
        let s = summarize(&SummaryInput {
            window,
            now: utc("2026-04-01T12:00:00Z"),
            lines: 2,
            stops: &[],
            include_micro: true,
            reasons: &BTreeMap::new(),
            shifts: &[],
            tz: chrono_tz::UTC,
            labels: LABELS,
        });
        assert_eq!(s.count, 0);
        assert_eq!(s.mtbf_seconds, None);
        assert_eq!(s.observed_seconds, 2.0 * 43_200.0);
        assert!(s.by_reason.is_empty());
    }

    /// Issue 13: a micro-stop from 23:59:46 to 00:00:26 plant time is one
    /// micro-stop of the first day only; its 40 s split 14 s / 26 s.
    #[test]
    fn a_micro_stop_across_midnight_counts_in_the_day_it_starts() {
        use chrono::TimeZone;
        let tz = chrono_tz::Europe::Madrid;
        let local = |d: u32, h: u32, m: u32, s: u32| {
            tz.with_ymd_and_hms(2026, 4, d, h, m, s)
                .unwrap()
                .with_timezone(&Utc)
        };
        let day1 = Window::new(local(1, 0, 0, 0), local(2, 0, 0, 0)).unwrap();
        let day2 = Window::new(local(2, 0, 0, 0), local(3, 0, 0, 0)).unwrap();
        let both = Window::new(day1.start, day2.end).unwrap();
        let stops = vec![SummaryStop {
            line_id: 1,
            start: local(1, 23, 59, 46),
            end: local(2, 0, 0, 26),
            is_micro: true,
            failure_id: None,
        }];
        assert!(starts_in(&day1, stops[0].start));
        assert!(!starts_in(&day2, stops[0].start));
        for include_micro in [false, true] {
            let sum = |window| {
                summarize(&SummaryInput {
                    window,
                    now: local(10, 0, 0, 0),
                    lines: 1,
                    stops: &stops,
                    include_micro,
                    reasons: &BTreeMap::new(),
                    shifts: &[],
                    tz,
                    labels: LABELS,
                })
            };
            let (d1, d2, w) = (sum(day1), sum(day2), sum(both));
            let micro = |s: &Summary| (s.micro_stops.count, s.micro_stops.total_seconds);
            assert_eq!(micro(&d1), (1, 14.0));
            assert_eq!(micro(&d2), (0, 26.0));
            assert_eq!(micro(&w), (1, 40.0));
            let n = u64::from(include_micro);
            // As a stop too, when micro-stops count as stops.
            assert_eq!((d1.count, d2.count, w.count), (n, 0, n));
            assert_eq!(
                d1.unjustified_count + d2.unjustified_count,
                w.unjustified_count
            );
            assert_eq!(d2.mttr_seconds, None, "no stop starts in day 2");
            if include_micro {
                assert_eq!(d1.mttr_seconds, Some(14.0));
                assert_eq!(w.mttr_seconds, Some(40.0));
                assert_eq!(d2.total_seconds, 26.0);
                assert_eq!(d2.by_reason[0].count, 0);
            }
        }
    }
}
