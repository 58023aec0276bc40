//! Planned time, downtime and run time of one line over one window.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{planned_shift_time, Counts, CycleTimes, IntervalSet, Shift, ShiftBreak, Totals};
use crate::timeutil::Window;

/// `failure.failure_category`: planned stops (changeovers, cleaning, meetings)
/// are taken out of planned time instead of counting as downtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasonCategory {
    Planned,
    Unplanned,
}

impl ReasonCategory {
    /// Reads the column value (case-insensitive); anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "planned" => Some(Self::Planned),
            "unplanned" => Some(Self::Unplanned),
            _ => None,
        }
    }
}

/// A stored stop (a row of `downtime_events_<code>`), with the category of its
/// justification reason if it has one. Unjustified stops are unplanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub is_micro: bool,
    pub reason_category: Option<ReasonCategory>,
    pub failure_id: Option<i64>,
}

impl Stop {
    fn is_planned(&self) -> bool {
        self.reason_category == Some(ReasonCategory::Planned)
    }
}

/// The gap after the line's newest output detection, not yet a stored stop
/// (docs/downtime.md#downtime): once longer than the threshold it is downtime "since" then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenStop {
    pub last_detection: DateTime<Utc>,
    pub threshold_seconds: i64,
}

impl OpenStop {
    /// When the line has been stopped since, if it counts as stopped at `now`.
    pub fn since(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let gap_ms = now.timestamp_millis() - self.last_detection.timestamp_millis();
        (gap_ms > self.threshold_seconds.saturating_mul(1000)).then_some(self.last_detection)
    }
}

/// Everything the time side of OEE needs for one line and one window.
#[derive(Debug, Clone, Copy)]
pub struct LineInputs<'a> {
    pub window: Window,
    /// Time beyond `now` is not planned yet: the window is cut there, so
    /// "today" at 10:00 is judged on 00:00–10:00.
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub shifts: &'a [Shift],
    pub breaks: &'a [ShiftBreak],
    /// Stops overlapping the window, micro-stops included; order does not matter.
    pub stops: &'a [Stop],
    pub open_stop: Option<OpenStop>,
}

/// The time side of OEE for one line: every set already cut to the window and
/// to `now`. Invariants: `run = planned − downtime`, `downtime ⊆ planned`,
/// `micro_stops ⊆ run`, and the per-reason sets are disjoint and cover
/// `downtime`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeModel {
    /// `[window.start, min(window.end, now))`.
    pub elapsed: IntervalSet,
    /// Shifts − breaks − stops justified with a planned reason. Count detections here.
    pub planned: IntervalSet,
    pub downtime: IntervalSet,
    pub run: IntervalSet,
    pub micro_stops: IntervalSet,
    /// Downtime per `failure_id` (`None` = not justified yet, or the open stop).
    pub downtime_by_reason: BTreeMap<Option<i64>, IntervalSet>,
}

impl TimeModel {
    /// Computes planned time, downtime and run time (docs/oee.md#oee). A stop that began
    /// before a shift counts only from the shift start, because every stop is
    /// intersected with planned time.
    pub fn build(inputs: &LineInputs<'_>) -> TimeModel {
        let w = inputs.window;
        let elapsed = IntervalSet::from_window(&Window {
            start: w.start,
            end: w.end.min(inputs.now),
        });
        if elapsed.is_empty() {
            return TimeModel::default();
        }
        let shift_time =
            planned_shift_time(inputs.shifts, inputs.breaks, &w, inputs.tz).intersect(&elapsed);
        let planned_stops = IntervalSet::from_spans(
            inputs
                .stops
                .iter()
                .filter(|s| s.is_planned())
                .map(|s| (s.start, s.end)),
        );
        let planned = shift_time.subtract(&planned_stops);

        // Unplanned, non-micro stops grouped by reason. Stops from the downtime
        // engine never overlap; if bad data makes them, the overlap is given to
        // the reason that sorts first so the per-reason sums stay exact.
        let mut raw: BTreeMap<Option<i64>, Vec<(i64, i64)>> = BTreeMap::new();
        for s in inputs
            .stops
            .iter()
            .filter(|s| !s.is_micro && !s.is_planned())
        {
            raw.entry(s.failure_id)
                .or_default()
                .push((s.start.timestamp_millis(), s.end.timestamp_millis()));
        }
        if let Some(since) = inputs.open_stop.and_then(|o| o.since(inputs.now)) {
            raw.entry(None)
                .or_default()
                .push((since.timestamp_millis(), inputs.now.timestamp_millis()));
        }
        let mut downtime = IntervalSet::new();
        let mut downtime_by_reason = BTreeMap::new();
        for (reason, spans) in raw {
            let part = IntervalSet::from_ms(spans)
                .intersect(&planned)
                .subtract(&downtime);
            if !part.is_empty() {
                downtime = downtime.union(&part);
                downtime_by_reason.insert(reason, part);
            }
        }
        let run = planned.subtract(&downtime);
        let micro_stops = IntervalSet::from_spans(
            inputs
                .stops
                .iter()
                .filter(|s| s.is_micro && !s.is_planned())
                .map(|s| (s.start, s.end)),
        )
        .intersect(&run);
        TimeModel {
            elapsed,
            planned,
            downtime,
            run,
            micro_stops,
            downtime_by_reason,
        }
    }

    /// The same model seen through a sub-window (a bucket): identical to
    /// building it for that window, without recomputing shifts and stops.
    pub fn restrict(&self, window: &Window) -> TimeModel {
        let w = IntervalSet::from_window(window);
        TimeModel {
            elapsed: self.elapsed.intersect(&w),
            planned: self.planned.intersect(&w),
            downtime: self.downtime.intersect(&w),
            run: self.run.intersect(&w),
            micro_stops: self.micro_stops.intersect(&w),
            downtime_by_reason: self
                .downtime_by_reason
                .iter()
                .map(|(k, v)| (*k, v.intersect(&w)))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        }
    }

    /// Combines this model's times with detection counts inside
    /// [`TimeModel::planned`] and the ideal cycle times into summable totals.
    pub fn totals(&self, counts: &Counts, cycle_times: &CycleTimes) -> Totals {
        let mut t = Totals {
            planned_ms: self.planned.total_ms(),
            downtime_ms: self.downtime.total_ms(),
            run_ms: self.run.total_ms(),
            micro_stop_ms: self.micro_stops.total_ms(),
            downtime_by_reason_ms: self
                .downtime_by_reason
                .iter()
                .map(|(k, v)| (*k, v.total_ms()))
                .collect(),
            ..Totals::default()
        };
        t.add_counts(counts, cycle_times);
        t
    }
}
