//! Numbers, ratios, durations and times as the UI shows them, per language
//! (Spanish groups thousands with `.` from 10 000 on and writes decimals with
//! `,`, as browsers do for `es-ES`; English uses `,` and `.`).

use crate::i18n::Lang;

/// `1234567.8` → `1.234.568` (es) / `1,234,568` (en) with `digits` decimals.
pub fn number(lang: Lang, value: f64, digits: usize) -> String {
    if !value.is_finite() {
        return "—".into();
    }
    let s = format!("{:.*}", digits, value.abs());
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s, None),
    };
    let (group, decimal) = match lang {
        Lang::Es => ('.', ','),
        Lang::En => (',', '.'),
    };
    let group_from = if lang == Lang::Es { 5 } else { 4 };
    let mut grouped = String::new();
    if int.len() >= group_from {
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push(group);
            }
            grouped.push(c);
        }
    } else {
        grouped = int;
    }
    let negative = value < 0.0 && s_is_nonzero(&grouped, frac.as_deref());
    let mut out = String::new();
    if negative {
        out.push('−');
    }
    out.push_str(&grouped);
    if let Some(f) = frac {
        out.push(decimal);
        out.push_str(&f);
    }
    out
}

fn s_is_nonzero(int: &str, frac: Option<&str>) -> bool {
    int.chars()
        .chain(frac.unwrap_or("").chars())
        .any(|c| c.is_ascii_digit() && c != '0')
}

/// A 0–1 ratio as a percentage with one decimal: `78,4 %` (es) / `78.4%` (en).
pub fn percent(lang: Lang, ratio: f64) -> String {
    let n = number(lang, ratio * 100.0, 1);
    match lang {
        Lang::Es => format!("{n} %"),
        Lang::En => format!("{n}%"),
    }
}

/// Percentage points between two ratios, signed: `+2,1 pp`.
pub fn points(lang: Lang, delta: f64) -> String {
    let n = number(lang, (delta * 100.0).abs(), 1);
    let sign = if delta >= 0.0 { "+" } else { "−" };
    format!("{sign}{n} pp")
}

/// Seconds as `2 h 05 min`, `12 min 30 s`, `45 s`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "—".into();
    }
    let total = seconds.max(0.0).round() as i64;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        if m >= 10 {
            format!("{m} min")
        } else {
            format!("{m} min {s:02} s")
        }
    } else {
        format!("{s} s")
    }
}

/// The wall-clock part of an ISO 8601 time written with the plant's offset:
/// `2026-04-01T06:05:00.000+02:00` → `01/04 06:05`. Anything else is returned as is.
pub fn short_datetime(iso: &str) -> String {
    let b = iso.as_bytes();
    if b.len() >= 16 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' {
        format!("{}/{} {}", &iso[8..10], &iso[5..7], &iso[11..16])
    } else {
        iso.to_string()
    }
}

/// `…T06:05…` → `06:05`.
pub fn short_time(iso: &str) -> String {
    let b = iso.as_bytes();
    if b.len() >= 16 && b[10] == b'T' && b[13] == b':' {
        iso[11..16].to_string()
    } else {
        iso.to_string()
    }
}

/// A date (`2026-04-01` → `01/04/2026`) or a date-time (`01/04 06:05`).
pub fn short_datetime_or_date(iso: &str) -> String {
    if iso.len() == 10 {
        short_date(iso)
    } else {
        short_datetime(iso)
    }
}

/// `2026-04-01…` → `01/04/2026`.
pub fn short_date(iso: &str) -> String {
    let b = iso.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        format!("{}/{}/{}", &iso[8..10], &iso[5..7], &iso[0..4])
    } else {
        iso.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_language() {
        assert_eq!(number(Lang::Es, 1234.0, 0), "1234");
        assert_eq!(number(Lang::Es, 12345.0, 0), "12.345");
        assert_eq!(number(Lang::Es, 1234567.891, 1), "1.234.567,9");
        assert_eq!(number(Lang::En, 1234.5, 1), "1,234.5");
        assert_eq!(number(Lang::En, -3.0, 0), "−3");
        assert_eq!(number(Lang::En, -0.01, 0), "0");
        assert_eq!(number(Lang::En, f64::NAN, 0), "—");
        assert_eq!(percent(Lang::Es, 0.7843), "78,4 %");
        assert_eq!(percent(Lang::En, 1.0), "100.0%");
        assert_eq!(points(Lang::Es, -0.021), "−2,1 pp");
    }

    #[test]
    fn durations_and_times() {
        assert_eq!(duration(45.2), "45 s");
        assert_eq!(duration(330.0), "5 min 30 s");
        assert_eq!(duration(1500.0), "25 min");
        assert_eq!(duration(7500.0), "2 h 05 min");
        assert_eq!(
            short_datetime("2026-04-01T06:05:00.000+02:00"),
            "01/04 06:05"
        );
        assert_eq!(short_time("2026-04-01T06:05:00+02:00"), "06:05");
        assert_eq!(short_date("2026-04-01"), "01/04/2026");
        assert_eq!(short_datetime("x"), "x");
    }
}
