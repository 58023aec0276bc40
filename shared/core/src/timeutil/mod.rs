//! Plant-calendar arithmetic: every window, bucket and "today" is decided in the
//! plant's IANA timezone (docs/operations.md#configuration, §7), while every computation runs on UTC
//! instants so DST days really last 23 or 25 hours.
//!
//! Rules shared by everything here:
//! - windows are half-open `[start, end)`;
//! - a local time that does not exist (DST gap) means the first instant after
//!   the gap; an ambiguous one (DST overlap) means the earlier instant.

mod buckets;
mod parse;
mod range;

pub use buckets::{buckets, Bucket, Interval};
pub use parse::{parse_instant, parse_time_of_day, parse_timezone, resolve_window, WindowQuery};
pub use range::RelativeRange;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// A refused window or time parameter. The field is the request parameter to
/// blame so the HTTP layer can answer `{"error": {"field": ...}}` (docs/api.md#errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WindowError {
    field: &'static str,
    code: &'static str,
    message: String,
}

impl WindowError {
    /// `field` names the request parameter; `code` is a stable machine tag.
    pub fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            code,
            message: message.into(),
        }
    }

    /// The request parameter at fault (`start_date`, `end_date`, `range`, `interval`, ...).
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// Stable tag (`invalid_date`, `empty_window`, `window_too_long`, `unknown_range`,
    /// `no_shift`, `missing_window`, `invalid_interval`, `invalid_timezone`, `invalid_time`).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Human explanation of what to fix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A half-open `[start, end)` span of real time. Fields are public because the
/// engines tolerate empty windows; use [`Window::new`] for request input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// Refuses reversed and empty windows, blaming `end_date`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, WindowError> {
        if end <= start {
            return Err(WindowError::new(
                "end_date",
                "empty_window",
                "end_date must be later than start_date (end_date is exclusive)",
            ));
        }
        Ok(Self { start, end })
    }

    /// Length in milliseconds (0 for an empty or reversed window).
    pub fn duration_ms(&self) -> i64 {
        (self.end.timestamp_millis() - self.start.timestamp_millis()).max(0)
    }

    /// Length in real elapsed seconds.
    pub fn seconds(&self) -> f64 {
        self.duration_ms() as f64 / 1000.0
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// `start <= t < end`, the membership rule of docs/oee.md#oee.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// The overlap of two windows, if any.
    pub fn intersect(&self, other: &Window) -> Option<Window> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (end > start).then_some(Window { start, end })
    }
}

/// The plant's calendar: its timezone and the local time a production day starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlantCalendar {
    pub tz: Tz,
    pub production_day_start: NaiveTime,
}

impl PlantCalendar {
    pub fn new(tz: Tz, production_day_start: NaiveTime) -> Self {
        Self {
            tz,
            production_day_start,
        }
    }

    /// A calendar whose production day starts at local midnight (the default).
    pub fn midnight(tz: Tz) -> Self {
        Self::new(tz, NaiveTime::MIN)
    }

    /// Plant-local wall-clock time of an instant.
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.tz).naive_local()
    }

    /// The instant of a plant-local wall-clock time (gap → after, overlap → earlier).
    pub fn resolve(&self, local: NaiveDateTime) -> DateTime<Utc> {
        resolve_local(self.tz, local)
    }

    /// When the production day `date` begins.
    pub fn day_start(&self, date: NaiveDate) -> DateTime<Utc> {
        self.resolve(date.and_time(self.production_day_start))
    }

    /// The production day an instant belongs to. Compared as instants, not wall
    /// times, so it agrees with [`PlantCalendar::day_start`] even on DST days.
    pub fn production_date(&self, t: DateTime<Utc>) -> NaiveDate {
        let date = self.local(t).date();
        if t >= self.day_start(date) {
            if let Some(next) = date.succ_opt() {
                if t >= self.day_start(next) {
                    return next;
                }
            }
            date
        } else {
            date.pred_opt().unwrap_or(date)
        }
    }

    /// ISO 8601 with the plant's offset and milliseconds.
    pub fn format(&self, t: DateTime<Utc>) -> String {
        format_instant(t, self.tz)
    }
}

/// Turns a wall-clock time in `tz` into an instant. A time inside a DST gap
/// becomes the first instant after the gap (the transition itself), so a shift
/// or day that "starts" in the gap starts when the clocks resume; an ambiguous
/// time becomes the earlier of its two instants.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.with_timezone(&Utc).min(b.with_timezone(&Utc)),
        LocalResult::None => first_instant_at_or_after(tz, local),
    }
}

/// Smallest whole-second instant whose wall time in `tz` is `>= local`. Wall time
/// is monotonic over the 28 h searched (no zone has a fall-back that close to a
/// spring-forward), so a binary search finds the end of a gap.
fn first_instant_at_or_after(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let base = local.and_utc().timestamp();
    let mut lo = base - 15 * 3600; // wall time here is < local (offsets <= +14h)
    let mut hi = base + 13 * 3600; // wall time here is > local (offsets >= -12h)
    let wall = |s: i64| DateTime::from_timestamp(s, 0).map(|t| t.with_timezone(&tz).naive_local());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match wall(mid) {
            Some(w) if w >= local => hi = mid,
            Some(_) => lo = mid,
            None => break,
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or_else(|| local.and_utc())
}

/// Offset from UTC in seconds in effect at an instant.
pub(crate) fn offset_seconds(tz: Tz, t: DateTime<Utc>) -> i64 {
    i64::from(
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// ISO 8601 with the zone's offset and milliseconds, e.g.
/// `2026-04-01T06:00:00.000+02:00` — the shape every API time uses (docs/api.md#shapes).
///
/// Written field by field: this runs twice per row of every bucketed answer
/// (720 rows for a month by hour), and `chrono`'s `format` parses its pattern
/// on every call — several times slower. Same text as the pattern
/// `%Y-%m-%dT%H:%M:%S%.3f%:z` for every year 0–9999 (tested).
pub fn format_instant(t: DateTime<Utc>, tz: Tz) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let local = t.with_timezone(&tz);
    let offset = local.offset().fix().local_minus_utc();
    let n = local.naive_local();
    let (sign, off) = if offset < 0 {
        ('-', -offset)
    } else {
        ('+', offset)
    };
    // Whole minutes, rounded like `%:z` (historic offsets have seconds).
    let off_minutes = (off + 30) / 60;
    let mut s = String::with_capacity(29);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{sign}{:02}:{:02}",
        n.year(),
        n.month(),
        n.day(),
        n.hour(),
        n.minute(),
        n.second(),
        n.nanosecond() / 1_000_000 % 1000,
        off_minutes / 60,
        off_minutes % 60
    );
    s
}

/// A client-database DATETIME (naive, in the tenant's `data_timezone`) as an
/// instant, with the same gap/overlap rules as plant times.
pub fn data_naive_to_utc(value: NaiveDateTime, data_tz: Tz) -> DateTime<Utc> {
    resolve_local(data_tz, value)
}

/// The naive DATETIME value in `data_timezone` to bind when querying the client
/// database for an instant (e.g. a planned-time span bound).
pub fn utc_to_data_naive(t: DateTime<Utc>, data_tz: Tz) -> NaiveDateTime {
    t.with_timezone(&data_tz).naive_local()
}

/// Milliseconds since the epoch back to an instant, saturating instead of panicking.
pub fn ms_to_utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono_tz::Europe::Madrid;

    pub(crate) fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn naive(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    /// Each `(Madrid wall time, the instant it resolves to)`.
    fn assert_resolves_in_madrid(cases: &[(&str, &str)]) {
        for &(local, instant) in cases {
            assert_eq!(resolve_local(Madrid, naive(local)), utc(instant), "{local}");
        }
    }

    #[test]
    fn resolve_plain_local_time() {
        assert_resolves_in_madrid(&[
            ("2026-04-01T06:00:00", "2026-04-01T04:00:00Z"),
            ("2026-01-15T06:00:00", "2026-01-15T05:00:00Z"),
        ]);
    }

    #[test]
    fn resolve_gap_goes_to_instant_after_gap() {
        // 2026-03-29 02:00 CET → 03:00 CEST at 01:00Z; 02:30 does not exist.
        assert_resolves_in_madrid(&[
            ("2026-03-29T02:30:00", "2026-03-29T01:00:00Z"),
            ("2026-03-29T02:00:00", "2026-03-29T01:00:00Z"),
            ("2026-03-29T03:00:00", "2026-03-29T01:00:00Z"),
        ]);
    }

    #[test]
    fn resolve_overlap_takes_earlier() {
        // 2026-10-25 03:00 CEST → 02:00 CET at 01:00Z; 02:30 happens twice.
        assert_resolves_in_madrid(&[("2026-10-25T02:30:00", "2026-10-25T00:30:00Z")]);
    }

    #[test]
    fn resolve_gap_at_midnight() {
        // America/Santiago springs forward at 24:00 → 01:00 on 2026-09-06.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let t = resolve_local(tz, naive("2026-09-06T00:00:00"));
        assert_eq!(format_instant(t, tz), "2026-09-06T01:00:00.000-03:00");
    }

    #[test]
    fn format_is_chronos_pattern() {
        let zones: [Tz; 5] = [
            Madrid,
            chrono_tz::UTC,
            "America/St_Johns".parse().unwrap(),
            "Asia/Kathmandu".parse().unwrap(),
            "Europe/Dublin".parse().unwrap(),
        ];
        // Every ~37 h 11 min 13.7 s across historic offsets (LMT seconds
        // included) and DST changes, from 1800 to 2100.
        let mut ms = utc("1800-01-01T00:00:00Z").timestamp_millis();
        let end = utc("2100-01-01T00:00:00Z").timestamp_millis();
        while ms < end {
            let t = crate::timeutil::ms_to_utc(ms);
            for tz in zones {
                let chrono = t
                    .with_timezone(&tz)
                    .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
                    .to_string();
                assert_eq!(format_instant(t, tz), chrono, "{t} {tz}");
            }
            ms += 133_873_700;
        }
    }

    #[test]
    fn format_with_offset_and_millis() {
        #[rustfmt::skip]
        let cases = [
            ("2026-04-01T04:00:00Z", Madrid, "2026-04-01T06:00:00.000+02:00"),
            ("2026-01-01T04:00:00.0429Z", Madrid, "2026-01-01T05:00:00.042+01:00"),
            ("2026-01-01T04:00:00Z", chrono_tz::UTC, "2026-01-01T04:00:00.000+00:00"),
        ];
        for (instant, tz, formatted) in cases {
            assert_eq!(format_instant(utc(instant), tz), formatted);
        }
    }

    #[test]
    fn data_timezone_round_trip() {
        let n = naive("2026-07-01T12:00:00");
        assert_eq!(
            data_naive_to_utc(n, chrono_tz::UTC),
            utc("2026-07-01T12:00:00Z")
        );
        assert_eq!(data_naive_to_utc(n, Madrid), utc("2026-07-01T10:00:00Z"));
        assert_eq!(utc_to_data_naive(utc("2026-07-01T10:00:00Z"), Madrid), n);
        assert_eq!(
            utc_to_data_naive(utc("2026-07-01T10:00:00Z"), chrono_tz::UTC),
            naive("2026-07-01T10:00:00")
        );
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Each `(instant, its production date)` in `cal`.
    fn assert_production_dates(cal: &PlantCalendar, cases: &[(&str, &str)]) {
        for &(instant, date) in cases {
            assert_eq!(cal.production_date(utc(instant)), d(date), "{instant}");
        }
    }

    #[test]
    fn production_date_with_day_start() {
        let cal = PlantCalendar::new(Madrid, NaiveTime::from_hms_opt(6, 0, 0).unwrap());
        // 05:59 local on 04-02 still belongs to production day 04-01.
        assert_production_dates(
            &cal,
            &[
                ("2026-04-02T03:59:00Z", "2026-04-01"),
                ("2026-04-02T04:00:00Z", "2026-04-02"),
            ],
        );
        assert_eq!(cal.day_start(d("2026-04-02")), utc("2026-04-02T04:00:00Z"));
    }

    #[test]
    fn production_date_consistent_on_fall_back_when_day_starts_in_repeated_hour() {
        let cal = PlantCalendar::new(Madrid, NaiveTime::from_hms_opt(2, 30, 0).unwrap());
        // Day 10-25 starts at the first 02:30 (00:30Z). 02:10 CET (01:10Z) is after it.
        assert_eq!(cal.day_start(d("2026-10-25")), utc("2026-10-25T00:30:00Z"));
        assert_production_dates(
            &cal,
            &[
                ("2026-10-25T01:10:00Z", "2026-10-25"),
                ("2026-10-25T00:29:59Z", "2026-10-24"),
            ],
        );
    }

    #[test]
    fn window_rules() {
        let a = utc("2026-04-01T00:00:00Z");
        let b = utc("2026-04-01T01:00:00Z");
        let e = Window::new(b, a).unwrap_err();
        assert_eq!(e.field(), "end_date");
        assert_eq!(e.code(), "empty_window");
        assert!(Window::new(a, a).is_err());
        let w = Window::new(a, b).unwrap();
        assert!(w.contains(a));
        assert!(!w.contains(b));
        assert_eq!(w.seconds(), 3600.0);
        assert_eq!(w.duration_ms(), 3_600_000);
    }

    #[test]
    fn ms_to_utc_saturates() {
        assert_eq!(ms_to_utc(i64::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(ms_to_utc(i64::MIN), DateTime::<Utc>::MIN_UTC);
        assert_eq!(ms_to_utc(1_000), utc("1970-01-01T00:00:01Z"));
    }
}
