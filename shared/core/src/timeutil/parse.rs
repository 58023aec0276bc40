//! Request parameters → instants and windows (docs/api.md#shapes).

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::{resolve_local, PlantCalendar, RelativeRange, Window, WindowError};
use crate::oee::Shift;

const FORMAT_HINT: &str =
    "use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.fff]] with an optional offset such as +02:00 or Z";

/// The raw window parameters of a request; empty strings count as absent
/// because HTML forms send `start_date=` for an untouched field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowQuery<'a> {
    pub start_date: Option<&'a str>,
    pub end_date: Option<&'a str>,
    pub range: Option<&'a str>,
}

fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// Resolves a request's window: either `range` or `start_date` (+ optional
/// `end_date`, default `now`). Relative ranges cover whole calendar periods
/// (today = the full production day); the OEE engine stops counting at `now`.
/// Windows longer than `max_days` plant-local days are refused.
pub fn resolve_window(
    query: &WindowQuery<'_>,
    cal: &PlantCalendar,
    shifts: &[Shift],
    now: DateTime<Utc>,
    max_days: u32,
) -> Result<Window, WindowError> {
    let start = present(query.start_date);
    let end = present(query.end_date);
    match (present(query.range), start, end) {
        (Some(range), None, None) => {
            let window = RelativeRange::parse(range)?.resolve(cal, shifts, now)?;
            check_max_days(&window, cal, max_days, "range")?;
            Ok(window)
        }
        (Some(_), _, _) => Err(WindowError::new(
            "range",
            "conflicting_window",
            "give either range or start_date/end_date, not both",
        )),
        (None, Some(start), end) => {
            let start = parse_instant(start, cal.tz, "start_date")?;
            let end = match end {
                Some(end) => parse_instant(end, cal.tz, "end_date")?,
                None if start >= now => {
                    return Err(WindowError::new(
                        "start_date",
                        "empty_window",
                        "start_date is not in the past; give end_date as well",
                    ))
                }
                None => now,
            };
            let window = Window::new(start, end)?;
            check_max_days(&window, cal, max_days, "end_date")?;
            Ok(window)
        }
        (None, None, Some(_)) => Err(WindowError::new(
            "start_date",
            "missing_window",
            "start_date is required when end_date is given",
        )),
        (None, None, None) => Err(WindowError::new(
            "range",
            "missing_window",
            "give range (e.g. today) or start_date and end_date",
        )),
    }
}

/// Length limit counted in plant-local calendar time, so a 366-day window
/// across a DST change is not refused for its extra hour.
pub(crate) fn check_max_days(
    window: &Window,
    cal: &PlantCalendar,
    max_days: u32,
    field: &'static str,
) -> Result<(), WindowError> {
    let local_span = cal.local(window.end) - cal.local(window.start);
    let real_span = window.end - window.start;
    if local_span.min(real_span) > Duration::days(i64::from(max_days)) {
        return Err(WindowError::new(
            field,
            "window_too_long",
            format!("the window is longer than the maximum of {max_days} days"),
        ));
    }
    Ok(())
}

/// Parses one window bound. Without an offset the value is plant-local; a date
/// alone is local midnight; `T24:00` is the next midnight. A `+` turned into a
/// space by form decoding (`06:00 02:00`) is read back as `+`.
pub fn parse_instant(
    input: &str,
    tz: Tz,
    field: &'static str,
) -> Result<DateTime<Utc>, WindowError> {
    let s = input.trim();
    parse_instant_inner(s, tz).ok_or_else(|| {
        let shown = if s.chars().count() <= 40 {
            format!(" '{s}'")
        } else {
            String::new()
        };
        WindowError::new(
            field,
            "invalid_date",
            format!("{field}{shown} is not a valid date or time; {FORMAT_HINT}"),
        )
    })
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0u32, |acc, d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

fn parse_instant_inner(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(&b[0..4])?).ok()?,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )?;
    let rest = &b[10..];
    if rest.is_empty() {
        return Some(resolve_local(tz, date.and_time(NaiveTime::MIN)));
    }
    if !matches!(rest[0], b'T' | b't' | b' ') {
        return None;
    }
    let t = &rest[1..];
    if t.len() < 5 || t[2] != b':' {
        return None;
    }
    let hour = digits(&t[0..2])?;
    let minute = digits(&t[3..5])?;
    let mut pos = 5;
    let mut second = 0;
    let mut nanos = 0;
    if t.len() >= pos + 3 && t[pos] == b':' {
        second = digits(&t[pos + 1..pos + 3])?;
        pos += 3;
        if t.len() > pos && matches!(t[pos], b'.' | b',') {
            let frac_len = t[pos + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if frac_len == 0 || frac_len > 9 {
                return None;
            }
            let frac = digits(&t[pos + 1..pos + 1 + frac_len])?;
            nanos = frac * 10u32.pow(9 - frac_len as u32);
            pos += 1 + frac_len;
        }
    }
    let naive = if hour == 24 && minute == 0 && second == 0 && nanos == 0 {
        date.succ_opt()?.and_time(NaiveTime::MIN)
    } else {
        date.and_time(NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?)
    };
    let offset = &t[pos..];
    if offset.is_empty() {
        return Some(resolve_local(tz, naive));
    }
    let fixed = parse_offset(offset)?;
    fixed
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

fn parse_offset(b: &[u8]) -> Option<FixedOffset> {
    if b == b"Z" || b == b"z" {
        return FixedOffset::east_opt(0);
    }
    let sign = match b.first()? {
        b'+' | b' ' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &b[1..];
    let (h, m) = match body.len() {
        2 => (digits(body)?, 0),
        4 => (digits(&body[0..2])?, digits(&body[2..4])?),
        5 if body[2] == b':' => (digits(&body[0..2])?, digits(&body[3..5])?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60) as i32)
}

/// Parses an IANA zone name from tenant configuration.
pub fn parse_timezone(name: &str) -> Result<Tz, WindowError> {
    name.trim().parse::<Tz>().map_err(|_| {
        WindowError::new(
            "timezone",
            "invalid_timezone",
            "not a known IANA timezone (e.g. Europe/Madrid, America/Mexico_City, UTC)",
        )
    })
}

/// Parses `HH:MM` or `HH:MM:SS` (e.g. `production_day_start`, shift times).
pub fn parse_time_of_day(input: &str, field: &'static str) -> Result<NaiveTime, WindowError> {
    let s = input.trim();
    NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .map_err(|_| {
            WindowError::new(
                field,
                "invalid_time",
                format!("{field} must be HH:MM or HH:MM:SS"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeutil::tests::utc;
    use chrono_tz::Europe::Madrid;

    fn p(s: &str) -> Result<DateTime<Utc>, WindowError> {
        parse_instant(s, Madrid, "start_date")
    }

    #[test]
    fn accepted_forms() {
        let six = utc("2026-04-01T04:00:00Z"); // 06:00 CEST
        assert_eq!(p("2026-04-01").unwrap(), utc("2026-03-31T22:00:00Z"));
        assert_eq!(p("2026-04-01T06:00").unwrap(), six);
        assert_eq!(p("2026-04-01t06:00").unwrap(), six);
        assert_eq!(p("2026-04-01 06:00").unwrap(), six);
        assert_eq!(p("2026-04-01T06:00:00").unwrap(), six);
        assert_eq!(p(" 2026-04-01T06:00:00 ").unwrap(), six);
        assert_eq!(
            p("2026-04-01T06:00:00.250").unwrap(),
            utc("2026-04-01T04:00:00.25Z")
        );
        assert_eq!(
            p("2026-04-01T06:00:00,5").unwrap(),
            utc("2026-04-01T04:00:00.5Z")
        );
        assert_eq!(p("2026-04-01T24:00").unwrap(), utc("2026-04-01T22:00:00Z"));
    }

    #[test]
    fn explicit_offsets_ignore_plant_zone() {
        let t = utc("2026-04-01T06:00:00Z");
        assert_eq!(p("2026-04-01T06:00Z").unwrap(), t);
        assert_eq!(p("2026-04-01T06:00:00z").unwrap(), t);
        assert_eq!(p("2026-04-01T08:00+02:00").unwrap(), t);
        assert_eq!(p("2026-04-01T08:00:00.000+0200").unwrap(), t);
        assert_eq!(p("2026-04-01T08:00+02").unwrap(), t);
        assert_eq!(p("2026-04-01T01:00-05:00").unwrap(), t);
        // '+' decoded to ' ' by a query string.
        assert_eq!(p("2026-04-01T08:00 02:00").unwrap(), t);
    }

    #[test]
    fn dst_gap_and_overlap_in_input() {
        assert_eq!(p("2026-03-29T02:30").unwrap(), utc("2026-03-29T01:00:00Z"));
        assert_eq!(p("2026-10-25T02:30").unwrap(), utc("2026-10-25T00:30:00Z"));
        // With an offset the second 02:30 can be named.
        assert_eq!(
            p("2026-10-25T02:30+01:00").unwrap(),
            utc("2026-10-25T01:30:00Z")
        );
    }

    #[test]
    fn refused_forms_name_the_field() {
        for bad in [
            "",
            "2026",
            "2026-4-1",
            "2026-13-01",
            "2026-02-30",
            "2026-04-01T6:00",
            "2026-04-01T25:00",
            "2026-04-01T24:30",
            "2026-04-01T06:60",
            "2026-04-01T06:00:61",
            "2026-04-01T06:00:00.",
            "2026-04-01T06:00:00.1234567890",
            "2026-04-01T06:00+24:00",
            "2026-04-01T06:00+2:00",
            "2026-04-01X06:00",
            "2026-04-01T06:00UTC",
            "01/04/2026",
            "2026-04-01'; DROP TABLE x; --",
            "٢٠٢٦-04-01",
            "+2026-04-01",
        ] {
            let err = parse_instant(bad, Madrid, "end_date").unwrap_err();
            assert_eq!(err.field(), "end_date", "{bad}");
            assert_eq!(err.code(), "invalid_date", "{bad}");
        }
        let long = "9".repeat(500);
        let err = parse_instant(&long, Madrid, "start_date").unwrap_err();
        assert!(err.message().len() < 200);
    }

    fn cal() -> PlantCalendar {
        PlantCalendar::midnight(Madrid)
    }

    fn q<'a>(s: Option<&'a str>, e: Option<&'a str>, r: Option<&'a str>) -> WindowQuery<'a> {
        WindowQuery {
            start_date: s,
            end_date: e,
            range: r,
        }
    }

    /// [`resolve_window`] of `start_date`, `end_date` and `range` in [`cal`],
    /// without shifts.
    fn resolve(
        s: Option<&str>,
        e: Option<&str>,
        r: Option<&str>,
        now: DateTime<Utc>,
        max_days: u32,
    ) -> Result<Window, WindowError> {
        resolve_window(&q(s, e, r), &cal(), &[], now, max_days)
    }

    #[test]
    fn resolve_explicit_window() {
        let now = utc("2026-04-10T12:00:00Z");
        let w = resolve(Some("2026-04-01"), Some("2026-04-02"), None, now, 366).unwrap();
        assert_eq!(w.start, utc("2026-03-31T22:00:00Z"));
        assert_eq!(w.end, utc("2026-04-01T22:00:00Z"));
        // start alone runs until now; empty strings are absent.
        let w = resolve(Some("2026-04-10"), Some(""), Some(" "), now, 366).unwrap();
        assert_eq!(w.end, now);
    }

    #[test]
    fn resolve_window_errors() {
        let now = utc("2026-04-10T12:00:00Z");
        let e = |s, en, r, max| resolve(s, en, r, now, max).unwrap_err();
        let err = e(Some("2026-04-02"), Some("2026-04-01"), None, 366);
        assert_eq!((err.field(), err.code()), ("end_date", "empty_window"));
        let err = e(Some("2026-04-01"), Some("2026-04-01"), None, 366);
        assert_eq!((err.field(), err.code()), ("end_date", "empty_window"));
        let err = e(Some("2025-01-01"), Some("2026-04-01"), None, 366);
        assert_eq!((err.field(), err.code()), ("end_date", "window_too_long"));
        let err = e(Some("bad"), Some("2026-04-01"), None, 366);
        assert_eq!((err.field(), err.code()), ("start_date", "invalid_date"));
        let err = e(Some("2026-04-01"), Some("bad"), None, 366);
        assert_eq!((err.field(), err.code()), ("end_date", "invalid_date"));
        let err = e(None, None, Some("forever"), 366);
        assert_eq!((err.field(), err.code()), ("range", "unknown_range"));
        let err = e(Some("2026-04-01"), None, Some("today"), 366);
        assert_eq!(err.field(), "range");
        let err = e(None, Some("2026-04-01"), None, 366);
        assert_eq!((err.field(), err.code()), ("start_date", "missing_window"));
        let err = e(None, None, None, 366);
        assert_eq!((err.field(), err.code()), ("range", "missing_window"));
        let err = e(None, None, Some("last_30_days"), 7);
        assert_eq!((err.field(), err.code()), ("range", "window_too_long"));
        let err = e(Some("2026-05-01"), None, None, 366);
        assert_eq!((err.field(), err.code()), ("start_date", "empty_window"));
    }

    #[test]
    fn max_days_counts_local_days_across_dst() {
        let now = utc("2027-06-01T00:00:00Z");
        // 2026-03-28 → 2026-04-04 is 7 local days but 6 days 23 h of real time.
        let w = resolve(Some("2026-03-28"), Some("2026-04-04"), None, now, 7);
        assert!(w.is_ok());
        // 2026-10-24 → 2026-10-31 is 7 local days but 7 days 1 h of real time.
        let w = resolve(Some("2026-10-24"), Some("2026-10-31"), None, now, 7);
        assert!(w.is_ok());
        let w = resolve(Some("2026-10-24"), Some("2026-10-31T00:01"), None, now, 7);
        assert_eq!(w.unwrap_err().code(), "window_too_long");
    }

    #[test]
    fn timezone_and_time_of_day() {
        assert_eq!(parse_timezone("Europe/Madrid").unwrap(), Madrid);
        let err = parse_timezone("Mars/Olympus").unwrap_err();
        assert_eq!(err.field(), "timezone");
        assert_eq!(
            parse_time_of_day("06:00", "production_day_start").unwrap(),
            NaiveTime::from_hms_opt(6, 0, 0).unwrap()
        );
        assert_eq!(
            parse_time_of_day("22:30:15", "x").unwrap(),
            NaiveTime::from_hms_opt(22, 30, 15).unwrap()
        );
        assert_eq!(
            parse_time_of_day("6am", "production_day_start")
                .unwrap_err()
                .field(),
            "production_day_start"
        );
    }
}
