//! Downtime summary over a window: count, downtime, MTBF, MTTR, and the
//! Pareto of downtime by reason and by shift. Pure: the caller reads the
//! stops and the plant's calendar.
//!
//! **Downtime is the OEE engine's downtime** (docs/oee.md#downtime): the
//! summary builds each line's [`TimeModel`] from the same inputs the OEE
//! builds it from, so `downtime_seconds` and the Pareto by reason are, for
//! the same lines, window and stops, exactly the OEE's `downtime_seconds` and
//! `losses.downtime_by_reason`. Stop time in the window but outside planned
//! time (breaks, no shift, planned-reason stops) is `outside_planned_seconds`,
//! a figure of its own, never added to downtime
//! (docs/oee.md#downtime-outside-planned-time).
//!
//! Windows never re-classify stops (docs/downtime.md#counts-and-durations-in-windows),
//! they only decide what is counted where:
//!
//! * **time is clipped**: a stop gives a window the part of it inside it;
//! * **counts go by start**: a stop or micro-stop is one event of the single
//!   window it starts in ([`starts_in`], the one rule every count of stops
//!   goes through), so the counts of the parts of a window add up to the
//!   window's. A stop that began before the window gives it time, not a count.
//!
//! * MTTR = stop time (downtime + outside planned time) / stops starting in
//!   the window: how long a stop lasts;
//! * MTBF = (observed time − stop time) / stops starting in the window, the
//!   observed time being the window up to now, once per line.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::oee::{
    shift_at, shift_occurrences, IntervalSet, LineInputs, OpenStop, Shift, ShiftBreak, Stop,
    TimeModel,
};
use crate::timeutil::Window;

/// A stored stop of a line, and whether the summary is about it (a list's
/// filter chooses). Stops the summary is not about still shape planned time:
/// a changeover filtered out of a summary is still not planned time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryStop {
    pub stop: Stop,
    pub selected: bool,
}

/// One line's stops overlapping the window, micro-stops included.
#[derive(Debug, Clone, Copy)]
pub struct LineStops<'a> {
    pub line_id: i64,
    pub stops: &'a [SummaryStop],
    /// The gap after the line's newest detection ([`OpenStop`]): an
    /// unjustified stop from its start to now, in the summary when
    /// `open_selected`.
    pub open_stop: Option<OpenStop>,
    pub open_selected: bool,
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
    /// stop that began before the window has its time and a count of 0, a
    /// row of stops wholly outside planned time a count and no time.
    pub count: u64,
    /// Downtime (in planned time) of the row, clipped to the window.
    pub total_seconds: f64,
    /// Share of the downtime, 0–1.
    pub share: f64,
    /// Running share in Pareto order, 0–1.
    pub cumulative_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MicroSummary {
    /// Micro-stops starting in the window ([`starts_in`]).
    pub count: u64,
    /// Micro-stop time in run time, clipped to the window: the OEE's
    /// `losses.micro_stop_seconds`.
    pub total_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Stops starting in the window ([`starts_in`]), the running one included.
    pub count: u64,
    /// Downtime: stop time inside planned time (what availability loses),
    /// clipped to the window. The OEE's `downtime_seconds`.
    pub downtime_seconds: f64,
    /// Stop time in the window outside planned time: during breaks, outside
    /// every shift, and stops justified with a planned reason.
    pub outside_planned_seconds: f64,
    pub observed_seconds: f64,
    /// `None` when no stop starts in the window.
    pub mtbf_seconds: Option<f64>,
    /// `None` when no stop starts in the window.
    pub mttr_seconds: Option<f64>,
    /// Of `count`, those with a reason (and without one).
    pub justified_count: u64,
    pub unjustified_count: u64,
    /// The longest stop's time in the window (downtime or not), 0 without stops.
    pub longest_seconds: f64,
    /// Micro-stops in the window (a performance loss, never downtime unless
    /// the caller counts them as stops).
    pub micro_stops: MicroSummary,
    /// Downtime per reason; its rows add up to `downtime_seconds`.
    pub by_reason: Vec<ParetoRow>,
    /// Downtime per shift (the time inside each occurrence, counts where the
    /// stop starts); its rows add up to `downtime_seconds`.
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
    pub tz: Tz,
    pub shifts: &'a [Shift],
    pub breaks: &'a [ShiftBreak],
    /// Every line the window is observed on (MTBF's observed time), with
    /// its stops.
    pub lines: &'a [LineStops<'a>],
    /// Micro-stops count as stops: their time in planned time is downtime.
    pub micro_as_stops: bool,
    pub reasons: &'a BTreeMap<i64, ReasonInfo>,
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
    let mut rows: Vec<(Option<i64>, Acc)> = groups
        .into_iter()
        .filter(|(_, acc)| acc.count > 0 || acc.total_ms > 0)
        .collect();
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

/// What one line gives the summary.
#[derive(Default)]
struct LinePart {
    count: u64,
    justified: u64,
    longest_ms: i64,
    micro: Acc,
    downtime: IntervalSet,
    outside_ms: i64,
    by_reason: BTreeMap<Option<i64>, Acc>,
    by_shift: BTreeMap<Option<i64>, Acc>,
}

fn summarize_line(
    input: &SummaryInput<'_>,
    line: &LineStops<'_>,
    shift_names: &mut BTreeMap<i64, String>,
) -> LinePart {
    let window = input.window;
    // The model sees the stops as the summary counts them: micro-stops as
    // stops when the caller says so. Every stop enters it, selected or not.
    let as_counted = |s: &Stop| Stop {
        is_micro: s.is_micro && !input.micro_as_stops,
        ..s.clone()
    };
    let stops: Vec<Stop> = line.stops.iter().map(|s| as_counted(&s.stop)).collect();
    let model = TimeModel::build(&LineInputs {
        window,
        now: input.now,
        tz: input.tz,
        shifts: input.shifts,
        breaks: input.breaks,
        stops: &stops,
        open_stop: line.open_stop,
    });
    // The running stop, as the model counts it.
    let open = line
        .open_stop
        .and_then(|o| o.since(input.now))
        .filter(|_| line.open_selected)
        .map(|since| Stop {
            start: since,
            end: input.now.max(since),
            is_micro: false,
            reason_category: None,
            failure_id: None,
        });
    // Each selected stop as read and as counted (the running one is no
    // micro-stop either way).
    let selected = line
        .stops
        .iter()
        .zip(stops.iter())
        .filter(|(s, _)| s.selected)
        .map(|(read, counted)| (read.stop.is_micro, counted))
        .chain(open.iter().map(|o| (false, o)));

    let mut part = LinePart::default();
    let mut spans_by_reason: BTreeMap<Option<i64>, Vec<(i64, i64)>> = BTreeMap::new();
    let mut micro_spans = Vec::new();
    for (read_as_micro, s) in selected {
        let n = u64::from(starts_in(&window, s.start));
        // Micro-stop figures are always given, also when they count as stops.
        if read_as_micro {
            part.micro.count += n;
            micro_spans.push((ms(s.start), ms(s.end)));
        }
        if s.is_micro {
            continue;
        }
        part.count += n;
        if s.failure_id.is_some() {
            part.justified += n;
        }
        part.longest_ms = part.longest_ms.max(clipped_ms(s.start, s.end, &window));
        spans_by_reason
            .entry(s.failure_id)
            .or_default()
            .push((ms(s.start), ms(s.end)));
        part.by_reason.entry(s.failure_id).or_default().count += n;
        if n > 0 {
            let shift = shift_at(input.shifts, s.start, input.tz);
            if let Some(o) = &shift {
                shift_names.entry(o.shift_id).or_insert(o.name.clone());
            }
            part.by_shift
                .entry(shift.map(|o| o.shift_id))
                .or_default()
                .count += 1;
        }
    }
    // Downtime is the model's, per reason: the selected stops' share of it.
    let mut stop_time = IntervalSet::new();
    for (reason, spans) in spans_by_reason {
        let spans = IntervalSet::from_ms(spans);
        let down = model
            .downtime_by_reason
            .get(&reason)
            .map(|d| d.intersect(&spans))
            .unwrap_or_default();
        part.by_reason.entry(reason).or_default().total_ms += down.total_ms();
        part.downtime = part.downtime.union(&down);
        stop_time = stop_time.union(&spans);
    }
    part.outside_ms = stop_time.clip(&window).subtract(&model.planned).total_ms();
    // Micro-stop time in planned time: the model's micro-stop time (the
    // OEE's), or, when they count as stops, their time in planned time.
    let micro_time = if input.micro_as_stops {
        &model.planned
    } else {
        &model.micro_stops
    };
    part.micro.total_ms = IntervalSet::from_ms(micro_spans)
        .intersect(micro_time)
        .total_ms();
    // Per shift: the downtime inside each occurrence (an overlap of two
    // shifts goes to the earlier one); without shifts, the row of no shift.
    let mut assigned = IntervalSet::new();
    for o in shift_occurrences(input.shifts, &window, input.tz) {
        let inside = part.downtime.clip(&o.window()).subtract(&assigned);
        if inside.is_empty() {
            continue;
        }
        shift_names.entry(o.shift_id).or_insert(o.name.clone());
        part.by_shift.entry(Some(o.shift_id)).or_default().total_ms += inside.total_ms();
        assigned = assigned.union(&inside);
    }
    let rest = part.downtime.subtract(&assigned).total_ms();
    if rest > 0 {
        part.by_shift.entry(None).or_default().total_ms += rest;
    }
    part
}

/// Computes the summary of the selected stops of every line.
pub fn summarize(input: &SummaryInput<'_>) -> Summary {
    let observed = Window {
        start: input.window.start,
        end: input.window.end.min(input.now).max(input.window.start),
    };
    let mut count = 0u64;
    let mut justified = 0u64;
    let mut downtime_ms = 0i64;
    let mut outside_ms = 0i64;
    let mut longest_ms = 0i64;
    let mut micro = Acc::default();
    let mut by_reason: BTreeMap<Option<i64>, Acc> = BTreeMap::new();
    let mut by_shift: BTreeMap<Option<i64>, Acc> = BTreeMap::new();
    let mut shift_names: BTreeMap<i64, String> = BTreeMap::new();
    for line in input.lines {
        let part = summarize_line(input, line, &mut shift_names);
        count += part.count;
        justified += part.justified;
        downtime_ms += part.downtime.total_ms();
        outside_ms += part.outside_ms;
        longest_ms = longest_ms.max(part.longest_ms);
        micro.count += part.micro.count;
        micro.total_ms += part.micro.total_ms;
        for (groups, of_line) in [
            (&mut by_reason, part.by_reason),
            (&mut by_shift, part.by_shift),
        ] {
            for (k, acc) in of_line {
                let e = groups.entry(k).or_default();
                e.count += acc.count;
                e.total_ms += acc.total_ms;
            }
        }
    }
    let observed_ms = observed
        .duration_ms()
        .saturating_mul(input.lines.len().max(1) as i64);
    let stop_ms = downtime_ms + outside_ms;
    let reasons = input.reasons;
    let labels = input.labels;
    Summary {
        count,
        downtime_seconds: downtime_ms as f64 / 1000.0,
        outside_planned_seconds: outside_ms as f64 / 1000.0,
        observed_seconds: observed_ms as f64 / 1000.0,
        mtbf_seconds: (count > 0)
            .then(|| (observed_ms - stop_ms).max(0) as f64 / 1000.0 / count as f64),
        mttr_seconds: (count > 0).then(|| stop_ms as f64 / 1000.0 / count as f64),
        justified_count: justified,
        unjustified_count: count - justified,
        longest_seconds: longest_ms as f64 / 1000.0,
        micro_stops: MicroSummary {
            count: micro.count,
            total_seconds: micro.total_ms as f64 / 1000.0,
        },
        by_reason: pareto(by_reason, downtime_ms, |id| match id {
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
        by_shift: pareto(by_shift, downtime_ms, |id| match id {
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
    use crate::oee::ReasonCategory;
    use chrono::NaiveTime;

    const LABELS: Labels<'static> = Labels {
        unjustified: "Sin justificar",
        no_shift: "Fuera de turno",
    };

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn stop(
        start: &str,
        end: &str,
        micro: bool,
        reason: Option<(i64, ReasonCategory)>,
    ) -> SummaryStop {
        SummaryStop {
            stop: Stop {
                start: utc(start),
                end: utc(end),
                is_micro: micro,
                reason_category: reason.map(|r| r.1),
                failure_id: reason.map(|r| r.0),
            },
            selected: true,
        }
    }

    const UNPLANNED: ReasonCategory = ReasonCategory::Unplanned;

    fn day_shifts() -> Vec<Shift> {
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        vec![
            Shift::new(1, "Mañana", t(6), t(14)),
            Shift::new(2, "Tarde", t(14), t(22)),
        ]
    }

    fn input<'a>(
        window: Window,
        now: &str,
        shifts: &'a [Shift],
        lines: &'a [LineStops<'a>],
        reasons: &'a BTreeMap<i64, ReasonInfo>,
    ) -> SummaryInput<'a> {
        SummaryInput {
            window,
            now: utc(now),
            tz: chrono_tz::UTC,
            shifts,
            breaks: &[],
            lines,
            micro_as_stops: false,
            reasons,
            labels: LABELS,
        }
    }

    fn line(stops: &[SummaryStop]) -> LineStops<'_> {
        LineStops {
            line_id: 1,
            stops,
            open_stop: None,
            open_selected: true,
        }
    }

    /// Downtime is what availability loses; stop time outside planned time
    /// (no shift, planned reasons) is its own figure; counts go by start.
    #[test]
    fn downtime_is_in_planned_time_and_the_rest_is_named_apart() {
        let window = Window::new(utc("2026-04-01T00:00:00Z"), utc("2026-04-02T00:00:00Z")).unwrap();
        let stops = vec![
            // Began the day before, outside every shift: 10 min outside
            // planned time here, no count.
            stop("2026-03-31T23:50:00Z", "2026-04-01T00:10:00Z", false, None),
            stop(
                "2026-04-01T07:00:00Z",
                "2026-04-01T08:00:00Z",
                false,
                Some((2, UNPLANNED)),
            ),
            // A changeover: not planned time, so not downtime.
            stop(
                "2026-04-01T10:00:00Z",
                "2026-04-01T10:20:00Z",
                false,
                Some((4, ReasonCategory::Planned)),
            ),
            stop(
                "2026-04-01T15:00:00Z",
                "2026-04-01T15:30:00Z",
                false,
                Some((3, UNPLANNED)),
            ),
            stop("2026-04-01T16:00:00Z", "2026-04-01T16:00:30Z", true, None),
            // After the last shift.
            stop("2026-04-01T22:30:00Z", "2026-04-01T23:00:00Z", false, None),
            // Outside the window.
            stop(
                "2026-04-02T01:00:00Z",
                "2026-04-02T02:00:00Z",
                false,
                Some((2, UNPLANNED)),
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
        let shifts = day_shifts();
        let lines = [line(&stops)];
        let s = summarize(&input(
            window,
            "2026-04-03T00:00:00Z",
            &shifts,
            &lines,
            &reasons,
        ));
        assert_eq!(s.count, 4);
        assert_eq!(s.downtime_seconds, 3600.0 + 1800.0);
        assert_eq!(s.outside_planned_seconds, 600.0 + 1200.0 + 1800.0);
        assert_eq!(s.mttr_seconds, Some(9000.0 / 4.0));
        assert_eq!(s.mtbf_seconds, Some((86_400.0 - 9000.0) / 4.0));
        assert_eq!(s.longest_seconds, 3600.0);
        assert_eq!(
            s.micro_stops,
            MicroSummary {
                count: 1,
                total_seconds: 30.0
            }
        );
        assert_eq!((s.justified_count, s.unjustified_count), (3, 1));
        let rows: Vec<_> = s
            .by_reason
            .iter()
            .map(|r| (r.id, r.label.as_str(), r.count, r.total_seconds))
            .collect();
        assert_eq!(
            rows,
            vec![
                (Some(2), "Avería mecánica", 1, 3600.0),
                (Some(3), "#3", 1, 1800.0),
                (None, "Sin justificar", 1, 0.0),
                (Some(4), "#4", 1, 0.0),
            ]
        );
        assert!((s.by_reason[1].cumulative_share - 1.0).abs() < 1e-12);
        let shifts_rows: Vec<_> = s
            .by_shift
            .iter()
            .map(|r| (r.id, r.label.as_str(), r.count, r.total_seconds))
            .collect();
        assert_eq!(
            shifts_rows,
            vec![
                (Some(1), "Mañana", 2, 3600.0),
                (Some(2), "Tarde", 1, 1800.0),
                (None, "Fuera de turno", 1, 0.0),
            ]
        );

        // The OEE's downtime of the same line and window, from the same model.
        let model = TimeModel::build(&LineInputs {
            window,
            now: utc("2026-04-03T00:00:00Z"),
            tz: chrono_tz::UTC,
            shifts: &shifts,
            breaks: &[],
            stops: &stops.iter().map(|s| s.stop.clone()).collect::<Vec<_>>(),
            open_stop: None,
        });
        assert_eq!(model.downtime.total_seconds(), s.downtime_seconds);
        assert_eq!(
            model.micro_stops.total_seconds(),
            s.micro_stops.total_seconds
        );
    }

    /// The running stop is downtime while in planned time, then outside it;
    /// a filter that leaves a changeover out still leaves its time unplanned.
    #[test]
    fn the_running_stop_counts_and_unselected_stops_still_shape_planned_time() {
        let window = Window::new(utc("2026-04-01T00:00:00Z"), utc("2026-04-02T00:00:00Z")).unwrap();
        let mut stops = vec![
            stop(
                "2026-04-01T08:00:00Z",
                "2026-04-01T09:00:00Z",
                false,
                Some((4, ReasonCategory::Planned)),
            ),
            stop(
                "2026-04-01T08:30:00Z",
                "2026-04-01T08:40:00Z",
                false,
                Some((2, UNPLANNED)),
            ),
        ];
        stops[0].selected = false;
        let shifts = day_shifts();
        let lines = [LineStops {
            open_stop: Some(OpenStop {
                last_detection: utc("2026-04-01T21:00:00Z"),
                threshold_seconds: 120,
            }),
            ..line(&stops)
        }];
        let reasons = BTreeMap::new();
        let s = summarize(&input(
            window,
            "2026-04-01T23:00:00Z",
            &shifts,
            &lines,
            &reasons,
        ));
        // The 08:30 stop lies inside the changeover: no downtime, outside 10 min.
        // The running stop: 21–22 in the Tarde shift, 22–23 after it.
        assert_eq!(s.count, 2);
        assert_eq!(s.downtime_seconds, 3600.0);
        assert_eq!(s.outside_planned_seconds, 600.0 + 3600.0);
        assert_eq!(s.unjustified_count, 1);
        assert_eq!(s.by_reason[0].id, None);
        assert_eq!(s.by_reason[0].total_seconds, 3600.0);
        assert_eq!(s.by_shift[0].id, Some(2));
    }

    #[test]
    fn empty_has_no_mtbf() {
        let window = Window::new(utc("2026-04-01T00:00:00Z"), utc("2026-04-02T00:00:00Z")).unwrap();
        let reasons = BTreeMap::new();
        let lines = [
            line(&[]),
            LineStops {
                line_id: 2,
                ..line(&[])
            },
        ];
        let s = summarize(&input(
            window,
            "2026-04-01T12:00:00Z",
            &[],
            &lines,
            &reasons,
        ));
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
            stop: Stop {
                start: local(1, 23, 59, 46),
                end: local(2, 0, 0, 26),
                is_micro: true,
                reason_category: None,
                failure_id: None,
            },
            selected: true,
        }];
        assert!(starts_in(&day1, stops[0].stop.start));
        assert!(!starts_in(&day2, stops[0].stop.start));
        let lines = [line(&stops)];
        let reasons = BTreeMap::new();
        for micro_as_stops in [false, true] {
            // No shifts: the whole window is planned.
            let sum = |window| {
                summarize(&SummaryInput {
                    window,
                    now: local(10, 0, 0, 0),
                    tz,
                    shifts: &[],
                    breaks: &[],
                    lines: &lines,
                    micro_as_stops,
                    reasons: &reasons,
                    labels: LABELS,
                })
            };
            let (d1, d2, w) = (sum(day1), sum(day2), sum(both));
            let micro = |s: &Summary| (s.micro_stops.count, s.micro_stops.total_seconds);
            assert_eq!(micro(&d1), (1, 14.0));
            assert_eq!(micro(&d2), (0, 26.0));
            assert_eq!(micro(&w), (1, 40.0));
            let n = u64::from(micro_as_stops);
            assert_eq!((d1.count, d2.count, w.count), (n, 0, n));
            if micro_as_stops {
                // A stop then, and downtime.
                assert_eq!(d1.mttr_seconds, Some(14.0));
                assert_eq!(w.mttr_seconds, Some(40.0));
                assert_eq!(d2.downtime_seconds, 26.0);
                assert_eq!(d2.by_reason[0].count, 0);
            }
            assert_eq!(d2.mttr_seconds, None, "no stop starts in day 2");
        }
    }
}
