//! The stored form of one day of one area ([`AreaDoc`]), written by
//! [`encode_day`] and read back whole by [`decode_day`] (the refresh merges
//! new counts into it), and the `dash_rollup.entry` naming each day row.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::DAY_PREFIX;
use crate::error::{AppError, AppResult};

/// One day's counts of one area: product → minute of day → detections.
pub(super) type AreaDay = BTreeMap<Option<i64>, BTreeMap<u32, u64>>;

/// The stored form of one day of one area: `c` maps the product id (`""`
/// for none) to runs `[first_minute, n, n, …]` of consecutive minutes; `t`
/// and `h` (written before `c`) hold each product's total of the day and of
/// each of its 24 stored hours, so a count over a window holding the whole
/// day reads `t`, and one whose bounds in the day all fall on whole hours
/// (hourly, shift and day buckets of a plant a whole number of hours from the
/// stored zone) reads `h`; neither reads the minutes. Documents written
/// before `t` or `h` existed are read minute by minute.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct AreaDoc {
    v: u32,
    rows: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    t: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    h: BTreeMap<String, Vec<u64>>,
    c: BTreeMap<String, Vec<Vec<u64>>>,
}

fn product_key(product: Option<i64>) -> String {
    product.map(|p| p.to_string()).unwrap_or_default()
}

fn parse_product_key(key: &str) -> AppResult<Option<i64>> {
    if key.is_empty() {
        return Ok(None);
    }
    key.parse()
        .map(Some)
        .map_err(|_| AppError::internal("unreadable rollup product key"))
}

pub(super) fn encode_day(day: &AreaDay) -> String {
    let mut doc = AreaDoc {
        v: 1,
        ..AreaDoc::default()
    };
    for (product, minutes) in day {
        let mut runs: Vec<Vec<u64>> = Vec::new();
        let mut next: Option<u32> = None;
        for (&m, &n) in minutes {
            if n == 0 {
                continue;
            }
            doc.rows += n;
            match (next, runs.last_mut()) {
                (Some(expected), Some(run)) if expected == m => run.push(n),
                _ => runs.push(vec![u64::from(m), n]),
            }
            next = Some(m + 1);
        }
        if !runs.is_empty() {
            let total = runs.iter().map(|r| r[1..].iter().sum::<u64>()).sum();
            let mut hours = vec![0u64; 24];
            for (&m, &n) in minutes {
                if let Some(h) = hours.get_mut(m as usize / 60) {
                    *h += n;
                }
            }
            doc.t.insert(product_key(*product), total);
            doc.h.insert(product_key(*product), hours);
            doc.c.insert(product_key(*product), runs);
        }
    }
    // Totals only stand for the minutes a reader adds (those of the day).
    if day.values().any(|m| m.keys().any(|&m| m >= 1440)) {
        doc.t.clear();
        doc.h.clear();
    }
    serde_json::to_string(&doc).unwrap_or_else(|_| "{}".into())
}

fn parse_doc(text: &str) -> AppResult<AreaDoc> {
    serde_json::from_str(text)
        .map_err(|e| AppError::internal(format!("unreadable rollup row: {e}")))
}

pub(super) fn decode_day(text: &str) -> AppResult<AreaDay> {
    let mut day = AreaDay::new();
    for (key, runs) in parse_doc(text)?.c {
        let minutes = day.entry(parse_product_key(&key)?).or_default();
        for run in runs {
            let Some((&first, counts)) = run.split_first() else {
                continue;
            };
            for (k, &n) in counts.iter().enumerate() {
                let m = u32::try_from(first)
                    .unwrap_or(u32::MAX)
                    .saturating_add(k as u32);
                *minutes.entry(m).or_insert(0) += n;
            }
        }
    }
    Ok(day)
}

/// The `dash_rollup.entry` of a day and area (`rollup_min:2026-04-01:12`).
pub(super) fn day_entry(date: NaiveDate, area: i64) -> String {
    format!("{DAY_PREFIX}{}:{area}", date.format("%Y-%m-%d"))
}

/// `(date, area)` of a day row's entry.
pub(super) fn parse_day_entry(entry: &str) -> Option<(NaiveDate, i64)> {
    let rest = entry.strip_prefix(DAY_PREFIX)?;
    let (date, area) = rest.split_once(':')?;
    Some((
        NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?,
        area.parse().ok()?,
    ))
}
