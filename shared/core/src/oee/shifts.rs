//! Shift calendars: when shifts occur and how much of them is planned (docs/client-database.md#client-database-contract `shift`,
//! `shift_break`; §7 planned time).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::IntervalSet;
use crate::timeutil::{resolve_local, Window};

/// A row of the client's `shift` table. Times are plant-local; `end_time <=
/// start_time` means the shift ends the next day (equal = a 24 h shift).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub id: i64,
    pub name: String,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    /// ISO weekdays (1 = Monday … 7 = Sunday) of the shift's *start*; `None` = every day.
    pub days_of_week: Option<Vec<u8>>,
    pub is_active: bool,
}

impl Shift {
    /// An active shift running every day — the common case and handy in tests.
    pub fn new(
        id: i64,
        name: impl Into<String>,
        start_time: NaiveTime,
        end_time: NaiveTime,
    ) -> Self {
        Self {
            id,
            name: name.into(),
            start_time,
            end_time,
            days_of_week: None,
            is_active: true,
        }
    }

    /// Whether an occurrence starts on this plant-local date.
    pub fn starts_on(&self, date: NaiveDate) -> bool {
        self.is_active
            && self.days_of_week.as_ref().is_none_or(|days| {
                let iso = date.weekday().number_from_monday();
                days.iter().any(|&d| u32::from(d) == iso)
            })
    }

    /// The occurrence starting on `date`, if the shift runs that day and has a
    /// non-zero real length (a shift wholly inside a DST gap has none).
    pub fn occurrence_on(&self, date: NaiveDate, tz: Tz) -> Option<ShiftOccurrence> {
        if !self.starts_on(date) {
            return None;
        }
        let end_date = if self.end_time <= self.start_time {
            date.succ_opt()?
        } else {
            date
        };
        let start = resolve_local(tz, date.and_time(self.start_time));
        let end = resolve_local(tz, end_date.and_time(self.end_time));
        (end > start).then(|| ShiftOccurrence {
            shift_id: self.id,
            name: self.name.clone(),
            date,
            start,
            end,
        })
    }
}

/// Parses the `days_of_week` column (`"1,2,3,4,5"`, spaces allowed). NULL is
/// `None` before this is called; an empty string means no day at all.
pub fn parse_days_of_week(s: &str) -> Result<Vec<u8>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.parse::<u8>() {
            Ok(d @ 1..=7) => Ok(d),
            _ => Err(format!(
                "days_of_week must list ISO weekdays 1 (Monday) to 7 (Sunday), got '{p}'"
            )),
        })
        .collect()
}

/// A row of the optional `shift_break` table: plant-local times inside the
/// shift; a break may cross midnight inside a night shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftBreak {
    pub shift_id: i64,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
}

impl ShiftBreak {
    /// The break's instants within one occurrence: it starts at the first time
    /// its `start_time` is seen at or after the shift start, lasts to its
    /// `end_time` (next day if `end <= start`) and is clipped to the shift.
    pub fn interval_in(&self, shift: &Shift, occ: &ShiftOccurrence, tz: Tz) -> IntervalSet {
        let start_date = if self.start_time >= shift.start_time {
            Some(occ.date)
        } else {
            occ.date.succ_opt()
        };
        let Some(start_date) = start_date else {
            return IntervalSet::new();
        };
        let end_date = if self.end_time <= self.start_time {
            start_date.succ_opt()
        } else {
            Some(start_date)
        };
        let Some(end_date) = end_date else {
            return IntervalSet::new();
        };
        let start = resolve_local(tz, start_date.and_time(self.start_time));
        let end = resolve_local(tz, end_date.and_time(self.end_time));
        IntervalSet::from_spans([(start, end)]).intersect(&IntervalSet::from_window(&occ.window()))
    }
}

/// One occurrence of a shift, in real instants. `date` is the plant-local date
/// it starts on (a night shift 22:00–06:00 started on the 28th is "the 28th").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftOccurrence {
    pub shift_id: i64,
    pub name: String,
    pub date: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl ShiftOccurrence {
    pub fn window(&self) -> Window {
        Window {
            start: self.start,
            end: self.end,
        }
    }

    /// Real elapsed seconds (7 or 9 h for a night shift across a DST change).
    pub fn seconds(&self) -> f64 {
        self.window().seconds()
    }

    /// `Morning 2026-03-29`, the shift-bucket label.
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.date.format("%Y-%m-%d"))
    }
}

/// "No shifts configured" (none, or none active) means the whole window is planned.
pub fn has_active_shifts(shifts: &[Shift]) -> bool {
    shifts.iter().any(|s| s.is_active)
}

/// Occurrences of active shifts overlapping `window`, unclipped, ordered by
/// start then shift id.
pub fn shift_occurrences(shifts: &[Shift], window: &Window, tz: Tz) -> Vec<ShiftOccurrence> {
    if window.is_empty() {
        return Vec::new();
    }
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    // A shift lasts at most a day (+1 h of DST), so one that overlaps the window
    // started at the earliest the local day before the window's start.
    let Some(mut date) = local(window.start).pred_opt() else {
        return Vec::new();
    };
    let last = local(window.end);
    let mut out = Vec::new();
    while date <= last {
        for shift in shifts {
            if let Some(o) = shift.occurrence_on(date, tz) {
                if o.end > window.start && o.start < window.end {
                    out.push(o);
                }
            }
        }
        let Some(next) = date.succ_opt() else { break };
        date = next;
    }
    out.sort_by_key(|o| (o.start, o.shift_id));
    out
}

/// Shift time minus breaks inside `window` — the planned time before planned
/// stops are taken out. Each occurrence loses only its own shift's breaks, so
/// an overlapping shift without a break keeps the time planned. With no active
/// shift the whole window is planned.
pub fn planned_shift_time(
    shifts: &[Shift],
    breaks: &[ShiftBreak],
    window: &Window,
    tz: Tz,
) -> IntervalSet {
    let whole = IntervalSet::from_window(window);
    if !has_active_shifts(shifts) {
        return whole;
    }
    let mut spans = Vec::new();
    for occ in shift_occurrences(shifts, window, tz) {
        let Some(shift) = shifts.iter().find(|s| s.id == occ.shift_id && s.is_active) else {
            continue;
        };
        let own_breaks = breaks
            .iter()
            .filter(|b| b.shift_id == shift.id)
            .fold(IntervalSet::new(), |acc, b| {
                acc.union(&b.interval_in(shift, &occ, tz))
            });
        let worked = IntervalSet::from_window(&occ.window()).subtract(&own_breaks);
        spans.extend_from_slice(worked.spans_ms());
    }
    IntervalSet::from_ms(spans).intersect(&whole)
}

/// The occurrence running at `t` (`start <= t < end`); when shifts overlap,
/// the one that started last (the incoming crew).
pub fn shift_at(shifts: &[Shift], t: DateTime<Utc>, tz: Tz) -> Option<ShiftOccurrence> {
    let probe = Window {
        start: t,
        end: t + Duration::milliseconds(1),
    };
    shift_occurrences(shifts, &probe, tz)
        .into_iter()
        .filter(|o| o.start <= t && t < o.end)
        .max_by_key(|o| (o.start, o.shift_id))
}

/// The shift occurrence running now (the `current_shift` range).
pub fn current_shift(shifts: &[Shift], now: DateTime<Utc>, tz: Tz) -> Option<ShiftOccurrence> {
    shift_at(shifts, now, tz)
}

/// The latest occurrence that has ended by `now` (the `last_shift` range),
/// looking back one week so weekly-only shifts are found.
pub fn last_shift(shifts: &[Shift], now: DateTime<Utc>, tz: Tz) -> Option<ShiftOccurrence> {
    let lookback = Window {
        start: now - Duration::days(8),
        end: now,
    };
    shift_occurrences(shifts, &lookback, tz)
        .into_iter()
        .filter(|o| o.end <= now)
        .max_by_key(|o| (o.end, o.start, o.shift_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeutil::{tests::utc, PlantCalendar};
    use chrono_tz::Europe::Madrid;

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn local_day(date: &str) -> Window {
        let cal = PlantCalendar::midnight(Madrid);
        let day = d(date);
        Window::new(cal.day_start(day), cal.day_start(day.succ_opt().unwrap())).unwrap()
    }

    #[test]
    fn night_shift_lengths_across_dst() {
        let night = Shift::new(3, "Night", hm(22, 0), hm(6, 0));
        // 22:00 CET 03-28 → 06:00 CEST 03-29: 7 real hours.
        let o = night.occurrence_on(d("2026-03-28"), Madrid).unwrap();
        assert_eq!(o.start, utc("2026-03-28T21:00:00Z"));
        assert_eq!(o.end, utc("2026-03-29T04:00:00Z"));
        assert_eq!(o.seconds(), 7.0 * 3600.0);
        // 22:00 CEST 10-24 → 06:00 CET 10-25: 9 real hours.
        let o = night.occurrence_on(d("2026-10-24"), Madrid).unwrap();
        assert_eq!(o.seconds(), 9.0 * 3600.0);
        assert_eq!(o.label(), "Night 2026-10-24");
    }

    #[test]
    fn days_of_week_refer_to_the_start_date() {
        let mut night = Shift::new(3, "Night", hm(22, 0), hm(6, 0));
        night.days_of_week = Some(vec![1, 2, 3, 4, 5]);
        // Friday 2026-04-17 starts one (ending Saturday morning); Saturday does not.
        assert!(night.occurrence_on(d("2026-04-17"), Madrid).is_some());
        assert!(night.occurrence_on(d("2026-04-18"), Madrid).is_none());
        let occ = shift_occurrences(&[night.clone()], &local_day("2026-04-18"), Madrid);
        assert_eq!(occ.len(), 1);
        assert_eq!(occ[0].date, d("2026-04-17"));
        night.is_active = false;
        assert!(night.occurrence_on(d("2026-04-17"), Madrid).is_none());
        night.is_active = true;
        night.days_of_week = Some(vec![]);
        assert!(night.occurrence_on(d("2026-04-17"), Madrid).is_none());
    }

    #[test]
    fn parse_days() {
        assert_eq!(
            parse_days_of_week("1,2, 3,4,5").unwrap(),
            vec![1, 2, 3, 4, 5]
        );
        assert_eq!(parse_days_of_week("").unwrap(), Vec::<u8>::new());
        assert!(parse_days_of_week("0,1").is_err());
        assert!(parse_days_of_week("mon").is_err());
    }

    #[test]
    fn twenty_four_hour_shift() {
        let s = Shift::new(1, "All day", hm(6, 0), hm(6, 0));
        let o = s.occurrence_on(d("2026-04-15"), Madrid).unwrap();
        assert_eq!(o.seconds(), 86_400.0);
    }

    #[test]
    fn shift_inside_dst_gap_does_not_occur() {
        let s = Shift::new(1, "Gap", hm(2, 0), hm(2, 45));
        assert!(s.occurrence_on(d("2026-03-29"), Madrid).is_none());
        assert!(s.occurrence_on(d("2026-03-30"), Madrid).is_some());
    }

    #[test]
    fn breaks_crossing_midnight_in_night_shift() {
        // Night 22:00–06:00 with breaks 23:30–00:15 and 03:00–03:30.
        let shifts = vec![Shift::new(3, "Night", hm(22, 0), hm(6, 0))];
        let breaks = vec![
            ShiftBreak {
                shift_id: 3,
                start_time: hm(23, 30),
                end_time: hm(0, 15),
            },
            ShiftBreak {
                shift_id: 3,
                start_time: hm(3, 0),
                end_time: hm(3, 30),
            },
            ShiftBreak {
                shift_id: 99,
                start_time: hm(1, 0),
                end_time: hm(2, 0),
            },
        ];
        // Window = the occurrence starting 2026-04-15 22:00 CEST (20:00Z) → 04-16 06:00 (04:00Z).
        let w = Window::new(utc("2026-04-15T20:00:00Z"), utc("2026-04-16T04:00:00Z")).unwrap();
        let p = planned_shift_time(&shifts, &breaks, &w, Madrid);
        // 8 h − 45 min − 30 min = 6 h 45 min = 24 300 s.
        assert_eq!(p.total_seconds(), 24_300.0);
        let spans: Vec<_> = p.spans().map(|s| (s.start, s.end)).collect();
        assert_eq!(
            spans,
            vec![
                (utc("2026-04-15T20:00:00Z"), utc("2026-04-15T21:30:00Z")),
                (utc("2026-04-15T22:15:00Z"), utc("2026-04-16T01:00:00Z")),
                (utc("2026-04-16T01:30:00Z"), utc("2026-04-16T04:00:00Z")),
            ]
        );
    }

    #[test]
    fn overlapping_shift_keeps_time_planned_during_other_shifts_break() {
        let shifts = vec![
            Shift::new(1, "A", hm(6, 0), hm(14, 0)),
            Shift::new(2, "B", hm(10, 0), hm(18, 0)),
        ];
        let breaks = vec![ShiftBreak {
            shift_id: 1,
            start_time: hm(10, 0),
            end_time: hm(10, 30),
        }];
        let p = planned_shift_time(&shifts, &breaks, &local_day("2026-04-15"), Madrid);
        assert_eq!(p.total_seconds(), 12.0 * 3600.0);
    }

    #[test]
    fn no_active_shift_plans_whole_window() {
        let w = local_day("2026-03-29");
        assert_eq!(
            planned_shift_time(&[], &[], &w, Madrid).total_seconds(),
            82_800.0
        );
        let mut s = Shift::new(1, "Day", hm(6, 0), hm(14, 0));
        s.is_active = false;
        assert_eq!(
            planned_shift_time(&[s], &[], &w, Madrid).total_seconds(),
            82_800.0
        );
    }

    #[test]
    fn shift_at_and_last_shift() {
        let shifts = vec![
            Shift::new(1, "Morning", hm(6, 0), hm(14, 0)),
            Shift::new(3, "Night", hm(22, 0), hm(6, 0)),
        ];
        // 2026-04-15 15:00 CEST: between shifts.
        assert!(shift_at(&shifts, utc("2026-04-15T13:00:00Z"), Madrid).is_none());
        let last = last_shift(&shifts, utc("2026-04-15T13:00:00Z"), Madrid).unwrap();
        assert_eq!(last.label(), "Morning 2026-04-15");
        // 2026-04-16 01:00 CEST: the night of the 15th.
        let cur = current_shift(&shifts, utc("2026-04-15T23:00:00Z"), Madrid).unwrap();
        assert_eq!(cur.label(), "Night 2026-04-15");
        // Weekly shift found a week back.
        let mut weekly = Shift::new(7, "Sunday", hm(8, 0), hm(12, 0));
        weekly.days_of_week = Some(vec![7]);
        let last = last_shift(&[weekly], utc("2026-04-18T10:00:00Z"), Madrid).unwrap();
        assert_eq!(last.label(), "Sunday 2026-04-12");
    }

    #[test]
    fn overlapping_shifts_prefer_latest_start() {
        let shifts = vec![
            Shift::new(1, "A", hm(6, 0), hm(14, 30)),
            Shift::new(2, "B", hm(14, 0), hm(22, 0)),
        ];
        let cur = shift_at(&shifts, utc("2026-04-15T12:15:00Z"), Madrid).unwrap();
        assert_eq!(cur.shift_id, 2);
    }
}
