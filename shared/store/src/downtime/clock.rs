//! Stored client times and instants: `DATETIME(3)` values of a client
//! database are naive wall times in the tenant's `data_timezone`; the engine
//! and the readers convert them with a [`DataClock`].

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// Milliseconds since the epoch as an instant, saturating instead of panicking.
pub fn ms_to_utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// Converts naive `data_timezone` wall times to UTC milliseconds, fast: UTC is
/// a plain reinterpretation, other zones cache the offset of the current
/// wall-clock hour (detections come in time order, so nearly every lookup
/// hits). Hours holding a DST transition use the full rules of
/// [`dash_core::timeutil::data_naive_to_utc`] (gap → after it, overlap → earlier).
#[derive(Debug, Clone)]
pub struct DataClock {
    tz: Tz,
    is_utc: bool,
    hour: i64,
    offset_ms: Option<i64>,
}

impl DataClock {
    pub fn new(tz: Tz) -> Self {
        DataClock {
            tz,
            is_utc: tz == chrono_tz::UTC,
            hour: i64::MIN,
            offset_ms: None,
        }
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The instant of a stored wall time, in ms since the epoch.
    pub fn to_ms(&mut self, n: &NaiveDateTime) -> i64 {
        let wall_ms = n.and_utc().timestamp_millis();
        if self.is_utc {
            return wall_ms;
        }
        let hour = wall_ms.div_euclid(3_600_000);
        if hour != self.hour {
            self.hour = hour;
            self.offset_ms = self.steady_offset(hour);
        }
        match self.offset_ms {
            Some(off) => wall_ms - off,
            None => dash_core::timeutil::data_naive_to_utc(*n, self.tz).timestamp_millis(),
        }
    }

    /// The offset of a wall-clock hour when it has one offset throughout.
    fn steady_offset(&self, hour: i64) -> Option<i64> {
        let at = |ms: i64| {
            let naive = DateTime::from_timestamp_millis(ms)?.naive_utc();
            self.tz
                .from_local_datetime(&naive)
                .single()
                .map(|t| i64::from(t.offset().fix().local_minus_utc()) * 1000)
        };
        let first = at(hour.checked_mul(3_600_000)?)?;
        let last = at(hour.checked_mul(3_600_000)?.checked_add(3_599_999)?)?;
        (first == last).then_some(first)
    }

    /// The instant of a stored wall time.
    pub fn to_utc(&mut self, n: &NaiveDateTime) -> DateTime<Utc> {
        ms_to_utc(self.to_ms(n))
    }

    /// The wall time to store or bind for an instant.
    pub fn to_naive(&self, t: DateTime<Utc>) -> NaiveDateTime {
        dash_core::timeutil::utc_to_data_naive(t, self.tz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    use crate::downtime::store::parse_naive;

    fn naive(s: &str) -> NaiveDateTime {
        parse_naive(s).unwrap()
    }

    #[test]
    fn clock_matches_the_reference_rules_around_dst() {
        let tz: Tz = "Europe/Madrid".parse().unwrap();
        let mut clock = DataClock::new(tz);
        let mut start = naive("2026-03-28 22:00:00");
        // Every 7 minutes across spring-forward and fall-back.
        for _ in 0..2 {
            for _ in 0..(60 * 24 / 7) {
                let expected = dash_core::timeutil::data_naive_to_utc(start, tz).timestamp_millis();
                assert_eq!(clock.to_ms(&start), expected, "{start}");
                start += Duration::minutes(7) + Duration::milliseconds(3);
            }
            start = naive("2026-10-24 22:00:00");
        }
        let mut utc = DataClock::new(chrono_tz::UTC);
        assert_eq!(utc.to_ms(&naive("1970-01-01 00:00:01.5")), 1500);
    }
}
