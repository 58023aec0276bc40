//! Splitting a window into chart/report buckets in the plant calendar (docs/oee.md#oee).

use std::fmt::{self, Write as _};
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{ms_to_utc, offset_seconds, PlantCalendar, Window, WindowError};
use crate::oee::{has_active_shifts, shift_occurrences, Shift};

/// The `interval` parameter of bucketing routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Hour,
    Shift,
    Day,
    Week,
    Month,
}

impl Interval {
    pub const ALL: [Interval; 5] = [
        Interval::Hour,
        Interval::Shift,
        Interval::Day,
        Interval::Week,
        Interval::Month,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Shift => "shift",
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }

    /// Parses an `interval` parameter; bad values blame `interval`.
    pub fn parse(s: &str) -> Result<Self, WindowError> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| {
                WindowError::new(
                    "interval",
                    "invalid_interval",
                    "interval must be one of: hour, shift, day, week, month",
                )
            })
    }
}

impl FromStr for Interval {
    type Err = WindowError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One bucket, already clipped to the window. `seconds` is the real length, so
/// a DST day says 82 800 or 90 000 and a clipped edge bucket says how much of
/// it was asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `2026-03-29 14:00` (hour; the repeated hour of a fall-back day gets its
    /// offset appended), `Morning 2026-03-29` (shift), `2026-03-29` (day),
    /// `2026-W13` (week), `2026-03` (month).
    pub label: String,
    pub seconds: f64,
    /// The shift of a shift bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift_id: Option<i64>,
}

impl Bucket {
    fn new(start: DateTime<Utc>, end: DateTime<Utc>, label: String, shift_id: Option<i64>) -> Self {
        let window = Window { start, end };
        Bucket {
            start,
            end,
            label,
            seconds: window.seconds(),
            shift_id,
        }
    }

    pub fn window(&self) -> Window {
        Window {
            start: self.start,
            end: self.end,
        }
    }
}

/// Splits `window` into buckets in the plant calendar, in time order, skipping
/// empty ones. Day buckets start at `production_day_start` and are labelled by
/// the date they start on; weeks are ISO weeks starting Monday at the day start;
/// months start on the 1st at the day start. Shift buckets are the shift
/// occurrences overlapping the window (time outside every shift is in no
/// bucket; overlapping shifts give overlapping buckets); with no active shift
/// configured they fall back to day buckets.
pub fn buckets(
    window: &Window,
    interval: Interval,
    cal: &PlantCalendar,
    shifts: &[Shift],
) -> Vec<Bucket> {
    if window.is_empty() {
        return Vec::new();
    }
    match interval {
        Interval::Hour => hour_buckets(window, cal.tz),
        Interval::Day => calendar_buckets(
            window,
            cal,
            cal.production_date(window.start),
            |d| d.succ_opt(),
            |d| d.format("%Y-%m-%d").to_string(),
        ),
        Interval::Week => {
            let first = cal.production_date(window.start);
            let monday = first
                .checked_sub_signed(Duration::days(i64::from(
                    first.weekday().num_days_from_monday(),
                )))
                .unwrap_or(first);
            calendar_buckets(
                window,
                cal,
                monday,
                |d| d.checked_add_signed(Duration::days(7)),
                |d| {
                    let w = d.iso_week();
                    format!("{}-W{:02}", w.year(), w.week())
                },
            )
        }
        Interval::Month => {
            let first = cal.production_date(window.start);
            calendar_buckets(
                window,
                cal,
                first.with_day(1).unwrap_or(first),
                |d| {
                    if d.month() == 12 {
                        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
                    } else {
                        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
                    }
                },
                |d| d.format("%Y-%m").to_string(),
            )
        }
        Interval::Shift => {
            if !has_active_shifts(shifts) {
                return buckets(window, Interval::Day, cal, shifts);
            }
            shift_occurrences(shifts, window, cal.tz)
                .into_iter()
                .filter_map(|o| {
                    let clipped = o.window().intersect(window)?;
                    Some(Bucket::new(
                        clipped.start,
                        clipped.end,
                        o.label(),
                        Some(o.shift_id),
                    ))
                })
                .collect()
        }
    }
}

/// Buckets between consecutive production-day starts of the dates `first`,
/// `step(first)`, ... — each boundary resolved on its own, so DST only changes
/// the real length of the bucket that contains the change.
fn calendar_buckets(
    window: &Window,
    cal: &PlantCalendar,
    first: NaiveDate,
    step: impl Fn(NaiveDate) -> Option<NaiveDate>,
    label: impl Fn(NaiveDate) -> String,
) -> Vec<Bucket> {
    let mut out = Vec::new();
    let mut date = first;
    let mut start = cal.day_start(date);
    while let Some(next) = step(date) {
        let end = cal.day_start(next);
        let (bs, be) = (start.max(window.start), end.min(window.end));
        if be > bs {
            out.push(Bucket::new(bs, be, label(date), None));
        }
        if end >= window.end {
            break;
        }
        date = next;
        start = end;
    }
    out
}

/// Hour buckets walk real time from one local full hour to the next, so the
/// fall-back day yields 25 buckets (the repeated hour twice, told apart by its
/// offset) and the spring-forward day 23.
fn hour_buckets(window: &Window, tz: Tz) -> Vec<Bucket> {
    let mut out = Vec::new();
    let mut start = window.start;
    while start < window.end {
        let next = next_local_hour(tz, start);
        let end = next.min(window.end);
        out.push(Bucket::new(start, end, hour_label(tz, start), None));
        start = next;
    }
    out
}

fn hour_label(tz: Tz, t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&tz);
    let naive = local.naive_local();
    let hour = naive
        .date()
        .and_hms_opt(naive.hour(), 0, 0)
        .unwrap_or(naive);
    // Written field by field: chrono's `format` parses its pattern per call,
    // and a month by hour labels 720 buckets.
    let mut label = String::with_capacity(24);
    let _ = write!(
        label,
        "{:04}-{:02}-{:02} {:02}:00",
        hour.year(),
        hour.month(),
        hour.day(),
        hour.hour()
    );
    if matches!(tz.from_local_datetime(&hour), LocalResult::Ambiguous(..)) {
        label.push(' ');
        label.push_str(&local.format("%:z").to_string());
    }
    label
}

const HOUR_MS: i64 = 3_600_000;

/// The first instant after `t` whose wall time is a full hour.
fn next_local_hour(tz: Tz, t: DateTime<Utc>) -> DateTime<Utc> {
    let t_ms = t.timestamp_millis();
    let off = offset_seconds(tz, t);
    let phase = (t_ms + off * 1000).rem_euclid(HOUR_MS);
    let candidate = t_ms + (HOUR_MS - phase);
    if offset_seconds(tz, ms_to_utc(candidate)) == off {
        return ms_to_utc(candidate);
    }
    // The offset changes before the candidate: find the transition (tz
    // transitions fall on whole seconds) and continue with the new offset.
    let mut lo = t_ms.div_euclid(1000);
    let mut hi = (candidate + 999).div_euclid(1000);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_seconds(tz, ms_to_utc(mid * 1000)) == off {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let transition = hi * 1000;
    let new_off = offset_seconds(tz, ms_to_utc(transition));
    let wall_after = transition + new_off * 1000;
    let wall_before = transition - 1 + off * 1000;
    let phase = wall_after.rem_euclid(HOUR_MS);
    // A new bucket starts at the transition when the wall-clock hour changes
    // there (Lord Howe's 02:00 → 02:30 starts hour 02 half-way through).
    if phase == 0 || wall_after.div_euclid(HOUR_MS) != wall_before.div_euclid(HOUR_MS) {
        ms_to_utc(transition)
    } else {
        ms_to_utc(transition + (HOUR_MS - phase))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeutil::tests::utc;
    use chrono::NaiveTime;
    use chrono_tz::Europe::Madrid;

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn win(a: &str, b: &str) -> Window {
        Window::new(utc(a), utc(b)).unwrap()
    }

    fn labels(b: &[Bucket]) -> Vec<&str> {
        b.iter().map(|b| b.label.as_str()).collect()
    }

    #[test]
    fn interval_names() {
        for i in Interval::ALL {
            assert_eq!(i.as_str().parse::<Interval>().unwrap(), i);
            assert_eq!(serde_json::to_string(&i).unwrap(), format!("\"{i}\""));
        }
        assert_eq!(Interval::parse("minute").unwrap_err().field(), "interval");
    }

    #[test]
    fn day_buckets_on_dst_days() {
        let cal = PlantCalendar::midnight(Madrid);
        // Local 2026-03-28 00:00 (+01) → 2026-03-31 00:00 (+02).
        let window = win("2026-03-27T23:00:00Z", "2026-03-30T22:00:00Z");
        let b = buckets(&window, Interval::Day, &cal, &[]);
        assert_eq!(labels(&b), ["2026-03-28", "2026-03-29", "2026-03-30"]);
        assert_eq!(
            b.iter().map(|b| b.seconds).collect::<Vec<_>>(),
            [86_400.0, 82_800.0, 86_400.0]
        );
        let window = win("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z");
        let b = buckets(&window, Interval::Day, &cal, &[]);
        assert_eq!(labels(&b), ["2026-10-25"]);
        assert_eq!(b[0].seconds, 90_000.0);
    }

    #[test]
    fn day_buckets_start_at_production_day_start_and_clip() {
        let cal = PlantCalendar::new(Madrid, hm(6, 0));
        // Local 2026-04-01 12:00 → 2026-04-03 08:00.
        let window = win("2026-04-01T10:00:00Z", "2026-04-03T06:00:00Z");
        let b = buckets(&window, Interval::Day, &cal, &[]);
        assert_eq!(labels(&b), ["2026-04-01", "2026-04-02", "2026-04-03"]);
        assert_eq!(b[0].start, utc("2026-04-01T10:00:00Z"));
        assert_eq!(b[0].end, utc("2026-04-02T04:00:00Z"));
        assert_eq!(b[0].seconds, 18.0 * 3600.0);
        assert_eq!(b[1].seconds, 86_400.0);
        assert_eq!(b[2].seconds, 2.0 * 3600.0);
        // Local 05:00 belongs to the previous production day.
        let window = win("2026-04-02T03:00:00Z", "2026-04-02T05:00:00Z");
        let b = buckets(&window, Interval::Day, &cal, &[]);
        assert_eq!(labels(&b), ["2026-04-01", "2026-04-02"]);
    }

    #[test]
    fn week_and_month_buckets() {
        let cal = PlantCalendar::midnight(Madrid);
        // Local Sat 2026-03-28 → Wed 2026-04-08.
        let window = win("2026-03-27T23:00:00Z", "2026-04-07T22:00:00Z");
        let b = buckets(&window, Interval::Week, &cal, &[]);
        assert_eq!(labels(&b), ["2026-W13", "2026-W14", "2026-W15"]);
        // W13 part: Sat+Sun (the Sunday has 23 h) = 47 h.
        assert_eq!(b[0].seconds, 47.0 * 3600.0);
        assert_eq!(b[1].seconds, 7.0 * 86_400.0);
        assert_eq!(b[2].seconds, 2.0 * 86_400.0);
        // ISO week-year differs from the calendar year at New Year.
        let window = win("2026-12-30T23:00:00Z", "2027-01-04T23:00:00Z");
        let b = buckets(&window, Interval::Week, &cal, &[]);
        assert_eq!(labels(&b), ["2026-W53", "2027-W01"]);
        let window = win("2026-02-14T23:00:00Z", "2026-04-30T22:00:00Z");
        let b = buckets(&window, Interval::Month, &cal, &[]);
        assert_eq!(labels(&b), ["2026-02", "2026-03", "2026-04"]);
        // March 2026 in Madrid: 31 days minus the lost hour.
        assert_eq!(b[1].seconds, 31.0 * 86_400.0 - 3600.0);
        let window = win("2026-11-30T23:00:00Z", "2027-01-31T23:00:00Z");
        let b = buckets(&window, Interval::Month, &cal, &[]);
        assert_eq!(labels(&b), ["2026-12", "2027-01"]);
    }

    #[test]
    fn hour_buckets_spring_forward() {
        let cal = PlantCalendar::midnight(Madrid);
        let window = win("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z");
        let b = buckets(&window, Interval::Hour, &cal, &[]);
        assert_eq!(b.len(), 23);
        assert_eq!(b[1].label, "2026-03-29 01:00");
        assert_eq!(b[2].label, "2026-03-29 03:00");
        assert_eq!(b[22].label, "2026-03-29 23:00");
        assert!(b.iter().all(|b| b.seconds == 3600.0));
        assert_eq!(b.iter().map(|b| b.seconds).sum::<f64>(), 82_800.0);
    }

    #[test]
    fn hour_buckets_fall_back() {
        let cal = PlantCalendar::midnight(Madrid);
        let window = win("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z");
        let b = buckets(&window, Interval::Hour, &cal, &[]);
        assert_eq!(b.len(), 25);
        assert_eq!(b[1].label, "2026-10-25 01:00");
        assert_eq!(b[2].label, "2026-10-25 02:00 +02:00");
        assert_eq!(b[3].label, "2026-10-25 02:00 +01:00");
        assert_eq!(b[4].label, "2026-10-25 03:00");
        assert!(b.iter().all(|b| b.seconds == 3600.0));
    }

    #[test]
    fn hour_buckets_clip_partial_hours() {
        let cal = PlantCalendar::midnight(Madrid);
        let window = win("2026-04-01T04:30:00Z", "2026-04-01T06:15:00Z");
        let b = buckets(&window, Interval::Hour, &cal, &[]);
        assert_eq!(
            labels(&b),
            ["2026-04-01 06:00", "2026-04-01 07:00", "2026-04-01 08:00"]
        );
        assert_eq!(
            b.iter().map(|b| b.seconds).collect::<Vec<_>>(),
            [1800.0, 3600.0, 900.0]
        );
    }

    #[test]
    fn hour_buckets_half_hour_zone_and_half_hour_dst() {
        // India (+05:30): local full hours fall on :30 UTC.
        let tz: Tz = "Asia/Kolkata".parse().unwrap();
        let window = win("2026-04-01T00:00:00Z", "2026-04-01T02:00:00Z");
        let b = buckets(&window, Interval::Hour, &PlantCalendar::midnight(tz), &[]);
        assert_eq!(
            labels(&b),
            ["2026-04-01 05:00", "2026-04-01 06:00", "2026-04-01 07:00"]
        );
        assert_eq!(b[0].end, utc("2026-04-01T00:30:00Z"));
        // Lord Howe moves its clocks by 30 minutes (02:00 → 02:30 on 2026-10-04).
        let tz: Tz = "Australia/Lord_Howe".parse().unwrap();
        let cal = PlantCalendar::midnight(tz);
        let day = Window::new(
            cal.day_start(NaiveDate::from_ymd_opt(2026, 10, 4).unwrap()),
            cal.day_start(NaiveDate::from_ymd_opt(2026, 10, 5).unwrap()),
        )
        .unwrap();
        let b = buckets(&day, Interval::Hour, &cal, &[]);
        assert_eq!(b.iter().map(|b| b.seconds).sum::<f64>(), 23.5 * 3600.0);
        assert_eq!(b[1].label, "2026-10-04 01:00");
        assert_eq!(b[1].seconds, 3600.0);
        assert_eq!(b[2].label, "2026-10-04 02:00");
        assert_eq!(b[2].seconds, 1800.0);
        assert_eq!(b[3].label, "2026-10-04 03:00");
    }

    #[test]
    fn shift_buckets() {
        let cal = PlantCalendar::midnight(Madrid);
        let shifts = vec![
            Shift::new(1, "Morning", hm(6, 0), hm(14, 0)),
            Shift::new(3, "Night", hm(22, 0), hm(6, 0)),
        ];
        // Local 2026-03-29 00:00 → 2026-03-30 00:00 (23 h day).
        let window = win("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z");
        let b = buckets(&window, Interval::Shift, &cal, &shifts);
        assert_eq!(
            labels(&b),
            ["Night 2026-03-28", "Morning 2026-03-29", "Night 2026-03-29"]
        );
        // Night from 03-28 clipped at local midnight: 00:00 → 06:00 with the gap = 5 h.
        assert_eq!(b[0].seconds, 5.0 * 3600.0);
        assert_eq!(b[0].shift_id, Some(3));
        assert_eq!(b[1].seconds, 8.0 * 3600.0);
        assert_eq!(b[2].seconds, 2.0 * 3600.0);
        // No active shift: day buckets.
        let window = win("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z");
        let b = buckets(&window, Interval::Shift, &cal, &[]);
        assert_eq!(labels(&b), ["2026-03-29"]);
    }

    #[test]
    fn empty_window_has_no_buckets() {
        let cal = PlantCalendar::midnight(Madrid);
        let t = utc("2026-04-01T00:00:00Z");
        for i in Interval::ALL {
            assert!(buckets(&Window { start: t, end: t }, i, &cal, &[]).is_empty());
        }
    }

    #[test]
    fn buckets_tile_the_window_exactly() {
        let cal = PlantCalendar::new(Madrid, hm(6, 0));
        let w = win("2026-03-01T00:00:00.123Z", "2026-11-03T12:34:56.789Z");
        for i in [
            Interval::Hour,
            Interval::Day,
            Interval::Week,
            Interval::Month,
        ] {
            let b = buckets(&w, i, &cal, &[]);
            assert_eq!(b.first().unwrap().start, w.start, "{i}");
            assert_eq!(b.last().unwrap().end, w.end, "{i}");
            for pair in b.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "{i}");
            }
            let total: i64 = b.iter().map(|b| b.window().duration_ms()).sum();
            assert_eq!(total, w.duration_ms(), "{i}");
        }
    }
}
