//! Downtime summary over a window: count, total time, MTBF, MTTR, and the
//! Pareto of downtime by reason and by shift. Pure: the caller reads the stops
//! (already filtered) and the shift calendar.
//!
//! Stops are clipped to the window (docs/downtime.md#downtime: windows clip stops, never
//! re-classify them): a stop that began before the window counts once, with
//! the part of it inside the window.
//!
//! * MTTR = downtime / number of stops;
//! * MTBF = (observed time − downtime) / number of stops, the observed time
//!   being the window up to now, once per line.

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
    pub count: u64,
    pub total_seconds: f64,
    /// Share of the total downtime, 0–1.
    pub share: f64,
    /// Running share in Pareto order, 0–1.
    pub cumulative_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MicroSummary {
    pub count: u64,
    pub total_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub total_seconds: f64,
    pub observed_seconds: f64,
    pub mtbf_seconds: Option<f64>,
    pub mttr_seconds: Option<f64>,
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

/// Real seconds of `[start, end)` inside `window`.
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

/// Computes the summary. Stops that do not overlap the window are ignored.
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
        if !(s.start < input.window.end && s.end > input.window.start) {
            continue;
        }
        let d = clipped_ms(s.start, s.end, &input.window);
        if s.is_micro {
            micro.count += 1;
            micro.total_ms += d;
            if !input.include_micro {
                continue;
            }
        }
        count += 1;
        total_ms += d;
        if s.failure_id.is_some() {
            justified += 1;
        }
        let r = by_reason.entry(s.failure_id).or_default();
        r.count += 1;
        r.total_ms += d;
        // The shift the stop began in (or the window start, when it began before).
        let at = s.start.max(input.window.start);
        let shift = shift_at(input.shifts, at, input.tz);
        let key = shift.as_ref().map(|o| o.shift_id);
        if let Some(o) = shift {
            shift_names.entry(o.shift_id).or_insert(o.name);
        }
        let e = by_shift.entry(key).or_default();
        e.count += 1;
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
        assert_eq!(s.count, 3);
        assert_eq!(s.total_seconds, 600.0 + 3600.0 + 1800.0);
        assert_eq!(s.mttr_seconds, Some(6000.0 / 3.0));
        assert_eq!(s.mtbf_seconds, Some((86_400.0 - 6000.0) / 3.0));
        assert_eq!(
            s.micro_stops,
            MicroSummary {
                count: 1,
                total_seconds: 30.0
            }
        );
        assert_eq!(s.justified_count, 2);
        assert_eq!(s.by_reason[0].id, Some(2));
        assert_eq!(s.by_reason[0].label, "Avería mecánica");
        assert_eq!(s.by_reason[0].code.as_deref(), Some("MEC"));
        assert_eq!(s.by_reason[1].id, Some(3));
        assert_eq!(s.by_reason[1].label, "#3");
        assert_eq!(s.by_reason[2].id, None);
        assert!((s.by_reason[2].cumulative_share - 1.0).abs() < 1e-12);
        let shifts: Vec<_> = s
            .by_shift
            .iter()
            .map(|r| (r.id, r.label.as_str(), r.count))
            .collect();
        assert_eq!(
            shifts,
            vec![
                (Some(1), "Mañana", 1),
                (Some(2), "Tarde", 1),
                (None, "Fuera de turno", 1)
            ]
        );
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
}
