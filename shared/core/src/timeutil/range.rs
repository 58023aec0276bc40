//! Relative ranges (`range=today`, widget params like `current_shift`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{PlantCalendar, Window, WindowError};
use crate::oee::{current_shift, last_shift, Shift};

/// A window named relative to "now" in the plant's calendar. Day-based ranges
/// cover whole production days (starting at `production_day_start`), including
/// the part of today still to come, so buckets and chart axes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RelativeRange {
    #[serde(rename = "today")]
    Today,
    #[serde(rename = "yesterday")]
    Yesterday,
    #[serde(rename = "current_shift")]
    CurrentShift,
    #[serde(rename = "last_shift")]
    LastShift,
    #[serde(rename = "this_week")]
    ThisWeek,
    #[serde(rename = "last_7_days")]
    Last7Days,
    #[serde(rename = "last_30_days")]
    Last30Days,
    #[serde(rename = "this_month")]
    ThisMonth,
    #[serde(rename = "last_24_hours")]
    Last24Hours,
}

impl RelativeRange {
    /// Every name, for schemas and filter options.
    pub const ALL: [RelativeRange; 9] = [
        RelativeRange::Today,
        RelativeRange::Yesterday,
        RelativeRange::CurrentShift,
        RelativeRange::LastShift,
        RelativeRange::ThisWeek,
        RelativeRange::Last7Days,
        RelativeRange::Last30Days,
        RelativeRange::ThisMonth,
        RelativeRange::Last24Hours,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RelativeRange::Today => "today",
            RelativeRange::Yesterday => "yesterday",
            RelativeRange::CurrentShift => "current_shift",
            RelativeRange::LastShift => "last_shift",
            RelativeRange::ThisWeek => "this_week",
            RelativeRange::Last7Days => "last_7_days",
            RelativeRange::Last30Days => "last_30_days",
            RelativeRange::ThisMonth => "this_month",
            RelativeRange::Last24Hours => "last_24_hours",
        }
    }

    /// Parses a `range` parameter; unknown names blame `range`.
    pub fn parse(s: &str) -> Result<Self, WindowError> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
                WindowError::new(
                    "range",
                    "unknown_range",
                    format!("range must be one of: {}", names.join(", ")),
                )
            })
    }

    /// The window this name denotes at `now`:
    /// `today`/`yesterday` = one production day; `this_week` = the ISO week
    /// (Monday) holding today; `last_7_days`/`last_30_days` = today and the 6/29
    /// production days before; `this_month` = the calendar month holding today;
    /// `last_24_hours` = `[now − 24 h, now)`; `current_shift` = the shift
    /// occurrence running at `now`; `last_shift` = the latest one already ended.
    pub fn resolve(
        self,
        cal: &PlantCalendar,
        shifts: &[Shift],
        now: DateTime<Utc>,
    ) -> Result<Window, WindowError> {
        let today = cal.production_date(now);
        let days = |from: NaiveDate, to_exclusive: NaiveDate| {
            Window::new(cal.day_start(from), cal.day_start(to_exclusive))
                .map_err(|_| out_of_range())
        };
        let add = |d: NaiveDate, n: i64| {
            d.checked_add_signed(Duration::days(n))
                .ok_or_else(out_of_range)
        };
        match self {
            RelativeRange::Today => days(today, add(today, 1)?),
            RelativeRange::Yesterday => days(add(today, -1)?, today),
            RelativeRange::ThisWeek => {
                let monday = add(today, -i64::from(today.weekday().num_days_from_monday()))?;
                days(monday, add(monday, 7)?)
            }
            RelativeRange::Last7Days => days(add(today, -6)?, add(today, 1)?),
            RelativeRange::Last30Days => days(add(today, -29)?, add(today, 1)?),
            RelativeRange::ThisMonth => {
                let first = today.with_day(1).ok_or_else(out_of_range)?;
                let next = if first.month() == 12 {
                    NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
                }
                .ok_or_else(out_of_range)?;
                days(first, next)
            }
            RelativeRange::Last24Hours => Window::new(now - Duration::hours(24), now),
            RelativeRange::CurrentShift => current_shift(shifts, now, cal.tz)
                .map(|o| o.window())
                .ok_or_else(|| {
                    WindowError::new("range", "no_shift", "no shift is running at this time")
                }),
            RelativeRange::LastShift => last_shift(shifts, now, cal.tz)
                .map(|o| o.window())
                .ok_or_else(|| {
                    WindowError::new("range", "no_shift", "no shift has ended in the last week")
                }),
        }
    }
}

fn out_of_range() -> WindowError {
    WindowError::new(
        "range",
        "invalid_range",
        "the range falls outside supported dates",
    )
}

impl FromStr for RelativeRange {
    type Err = WindowError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for RelativeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

    fn shifts() -> Vec<Shift> {
        vec![
            Shift::new(1, "Morning", hm(6, 0), hm(14, 0)),
            Shift::new(2, "Afternoon", hm(14, 0), hm(22, 0)),
            Shift::new(3, "Night", hm(22, 0), hm(6, 0)),
        ]
    }

    fn w(r: RelativeRange, cal: &PlantCalendar, now: &str) -> (String, String) {
        let w = r.resolve(cal, &shifts(), utc(now)).unwrap();
        (cal.format(w.start), cal.format(w.end))
    }

    /// Each `(range, start, end)`, resolved at `now` in `cal`.
    fn assert_windows(cal: &PlantCalendar, now: &str, cases: &[(RelativeRange, &str, &str)]) {
        for &(r, start, end) in cases {
            let expected = (start.to_string(), end.to_string());
            assert_eq!(w(r, cal, now), expected, "{r} at {now}");
        }
    }

    #[test]
    fn names_round_trip() {
        for r in RelativeRange::ALL {
            assert_eq!(RelativeRange::parse(r.as_str()).unwrap(), r);
            assert_eq!(r.to_string().parse::<RelativeRange>().unwrap(), r);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<RelativeRange>(&json).unwrap(), r);
        }
        let err = RelativeRange::parse("tomorrow").unwrap_err();
        assert_eq!((err.field(), err.code()), ("range", "unknown_range"));
    }

    #[test]
    fn day_ranges_at_midnight_start() {
        let cal = PlantCalendar::midnight(Madrid);
        let now = "2026-04-15T10:00:00Z"; // Wednesday 12:00 CEST
        #[rustfmt::skip]
        let windows = [
            (RelativeRange::Today, "2026-04-15T00:00:00.000+02:00", "2026-04-16T00:00:00.000+02:00"),
            (RelativeRange::Yesterday, "2026-04-14T00:00:00.000+02:00", "2026-04-15T00:00:00.000+02:00"),
            (RelativeRange::ThisWeek, "2026-04-13T00:00:00.000+02:00", "2026-04-20T00:00:00.000+02:00"),
            (RelativeRange::Last7Days, "2026-04-09T00:00:00.000+02:00", "2026-04-16T00:00:00.000+02:00"),
            (RelativeRange::Last30Days, "2026-03-17T00:00:00.000+01:00", "2026-04-16T00:00:00.000+02:00"),
            (RelativeRange::ThisMonth, "2026-04-01T00:00:00.000+02:00", "2026-05-01T00:00:00.000+02:00"),
            (RelativeRange::Last24Hours, "2026-04-14T12:00:00.000+02:00", "2026-04-15T12:00:00.000+02:00"),
        ];
        assert_windows(&cal, now, &windows);
    }

    #[test]
    fn day_ranges_follow_production_day_start() {
        let cal = PlantCalendar::new(Madrid, hm(6, 0));
        // Monday 2026-04-13 05:00 CEST still belongs to Sunday's production day.
        let now = "2026-04-13T03:00:00Z";
        #[rustfmt::skip]
        let windows = [
            (RelativeRange::Today, "2026-04-12T06:00:00.000+02:00", "2026-04-13T06:00:00.000+02:00"),
            // ...and so to the ISO week that started Monday 2026-04-06.
            (RelativeRange::ThisWeek, "2026-04-06T06:00:00.000+02:00", "2026-04-13T06:00:00.000+02:00"),
        ];
        assert_windows(&cal, now, &windows);
    }

    #[test]
    fn this_month_in_december_and_dst_today() {
        let cal = PlantCalendar::midnight(Madrid);
        let december = [(
            RelativeRange::ThisMonth,
            "2026-12-01T00:00:00.000+01:00",
            "2027-01-01T00:00:00.000+01:00",
        )];
        assert_windows(&cal, "2026-12-31T22:59:00Z", &december);
        for (now, hours) in [
            ("2026-03-29T12:00:00Z", 23.0),
            ("2026-10-25T12:00:00Z", 25.0),
        ] {
            let today = RelativeRange::Today.resolve(&cal, &[], utc(now)).unwrap();
            assert_eq!(today.seconds(), hours * 3600.0, "{now}");
        }
    }

    #[test]
    fn shift_ranges() {
        let cal = PlantCalendar::midnight(Madrid);
        // 2026-04-15 03:00 CEST: the night shift that began 04-14 22:00 is running.
        let now = "2026-04-15T01:00:00Z";
        #[rustfmt::skip]
        let windows = [
            (RelativeRange::CurrentShift, "2026-04-14T22:00:00.000+02:00", "2026-04-15T06:00:00.000+02:00"),
            (RelativeRange::LastShift, "2026-04-14T14:00:00.000+02:00", "2026-04-14T22:00:00.000+02:00"),
        ];
        assert_windows(&cal, now, &windows);
        // Exactly at a boundary the new shift is current and the old one is last.
        let now = "2026-04-15T04:00:00Z";
        #[rustfmt::skip]
        let windows = [
            (RelativeRange::CurrentShift, "2026-04-15T06:00:00.000+02:00", "2026-04-15T14:00:00.000+02:00"),
            (RelativeRange::LastShift, "2026-04-14T22:00:00.000+02:00", "2026-04-15T06:00:00.000+02:00"),
        ];
        assert_windows(&cal, now, &windows);
    }

    #[test]
    fn no_shift_running_is_an_error_on_range() {
        let cal = PlantCalendar::midnight(Madrid);
        let day_only = [Shift::new(1, "Day", hm(8, 0), hm(16, 0))];
        let none: &[Shift] = &[];
        for (r, shifts) in [
            (RelativeRange::CurrentShift, &day_only[..]),
            (RelativeRange::LastShift, none),
        ] {
            let err = r
                .resolve(&cal, shifts, utc("2026-04-15T20:00:00Z"))
                .unwrap_err();
            assert_eq!((err.field(), err.code()), ("range", "no_shift"), "{r}");
        }
    }
}
