//! Production counts for the dashboard widgets (`kpi_production`,
//! `production_over_time`, `product_distribution`, `production_by_area`,
//! `hourly_heatmap`), counted the way the `data` routes count them: every
//! detection of the window, planned or not (docs/oee.md#oee), at the selected areas
//! and products of each selected line, inside the selected shift's
//! occurrences — through [`super::count_in_windows`] (one pass per line over
//! the minute rollup or the raw rows), so a widget and
//! `GET /api/v1/data/production/*` or `POST /api/v1/data/detections/aggregate`
//! give the same numbers for the same window. No SQL of its own.
//!
//! The heatmap's grid (local date × hour of day in the plant's zone) is built
//! from the plant calendar's hour buckets by [`hour_grid`]: a fall-back day's
//! repeated hour adds up in its hour, a spring-forward day's missing hour
//! stays empty.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use mysql_async::Conn;

use super::Selection;
use super::{CountSource, DetectionTable, KeyCounts};
use crate::error::{AppError, AppResult};
use crate::metadata::TenantMetadata;
use crate::metrics::Plant;
use dash_core::oee::{shift_occurrences, AreaKind, IntervalSet};
use dash_core::timeutil::{Bucket, Window};

/// The counts of one line, one map per window asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct LineCounts {
    pub line_id: i64,
    pub per_window: Vec<KeyCounts>,
}

/// The occurrences of shift `shift_id` inside `window` (`None`: no shift selected).
pub fn shift_within(
    plant: &Plant<'_>,
    shift_id: Option<i64>,
    window: &Window,
) -> Option<IntervalSet> {
    let id = shift_id?;
    let shifts: Vec<_> = plant
        .shifts
        .iter()
        .filter(|s| s.id == id)
        .cloned()
        .collect();
    let occ = shift_occurrences(&shifts, window, plant.tz());
    Some(IntervalSet::from_spans(occ.iter().map(|o| (o.start, o.end))).clip(window))
}

/// Counts every selected line's detections (all areas of the line unless the
/// selection names some) in each of `windows`, inside the selected shift's
/// occurrences in `window` when a shift is selected.
pub async fn count_selection(
    conn: &mut Conn,
    plant: &Plant<'_>,
    sel: &Selection,
    window: &Window,
    windows: &[Window],
) -> AppResult<Vec<LineCounts>> {
    let within = shift_within(plant, sel.shift_id, window);
    let db_name = plant.db_name();
    let mut out = Vec::with_capacity(sel.line_ids.len());
    for &line_id in &sel.line_ids {
        let areas = sel.areas_of(plant.meta, line_id, None);
        let per_window = if areas.is_empty() {
            vec![KeyCounts::new(); windows.len()]
        } else {
            let line = plant.meta.line(line_id).ok_or(AppError::NotFound)?;
            let table =
                DetectionTable::open(conn, &db_name, line, plant.tenant.data_timezone()).await?;
            super::count_in_windows(
                conn,
                &table,
                windows,
                within.as_ref(),
                &areas,
                sel.products.as_deref(),
                CountSource::Auto,
            )
            .await?
        };
        out.push(LineCounts {
            line_id,
            per_window,
        });
    }
    Ok(out)
}

/// Finished units: detections at output areas (`good`) and at reject areas
/// (`rejects`); `units = good + rejects` (the `total` of the data routes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Units {
    pub good: u64,
    pub rejects: u64,
}

impl Units {
    pub fn units(&self) -> u64 {
        self.good + self.rejects
    }

    /// Adds `n` detections of area `area_id` (other area types add nothing).
    pub fn add(&mut self, meta: &TenantMetadata, area_id: i64, n: u64) {
        match meta
            .area(area_id)
            .and_then(|a| AreaKind::from_area_type(&a.area_type))
        {
            Some(AreaKind::Good) => self.good += n,
            Some(AreaKind::Reject) => self.rejects += n,
            None => {}
        }
    }

    /// The units of window `i` over every line.
    pub fn of_window(meta: &TenantMetadata, counted: &[LineCounts], i: usize) -> Units {
        let mut u = Units::default();
        for lc in counted {
            if let Some(kc) = lc.per_window.get(i) {
                for (k, n) in kc {
                    u.add(meta, k.area_id, *n);
                }
            }
        }
        u
    }
}

/// One row of the heatmap: a plant-local date and its 24 hours (`None`: the
/// hour is outside the window, not yet begun, or skipped by a DST change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeatDay {
    pub date: NaiveDate,
    pub hours: [Option<u64>; 24],
}

/// Files the value of each hour bucket under its local date and hour of day
/// in `tz`; buckets starting at or after `now` are left out, and so are days
/// with no hour left.
pub fn hour_grid(buckets: &[Bucket], values: &[u64], tz: Tz, now: DateTime<Utc>) -> Vec<HeatDay> {
    let mut days: BTreeMap<NaiveDate, [Option<u64>; 24]> = BTreeMap::new();
    for (b, v) in buckets.iter().zip(values) {
        if b.start >= now {
            continue;
        }
        let local = b.start.with_timezone(&tz);
        let hours = days.entry(local.date_naive()).or_insert([None; 24]);
        let cell = &mut hours[local.hour() as usize % 24];
        *cell = Some(cell.unwrap_or(0) + v);
    }
    days.into_iter()
        .map(|(date, hours)| HeatDay { date, hours })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dash_core::timeutil::{buckets, Interval, PlantCalendar};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn grid(from: &str, to: &str, now: &str) -> Vec<HeatDay> {
        let tz = chrono_tz::Europe::Madrid;
        let w = Window::new(utc(from), utc(to)).unwrap();
        let b = buckets(&w, Interval::Hour, &PlantCalendar::midnight(tz), &[]);
        let values: Vec<u64> = (1..=b.len() as u64).collect();
        hour_grid(&b, &values, tz, utc(now))
    }

    /// The grid of a window long past: no hour of it is in the future.
    fn past_grid(from: &str, to: &str) -> Vec<HeatDay> {
        grid(from, to, "2030-01-01T00:00:00Z")
    }

    #[test]
    fn hours_are_local_and_the_future_is_empty() {
        // 2026-11-29 00:00–24:00 CET, now 10:30 CET.
        let g = grid(
            "2026-11-28T23:00:00Z",
            "2026-11-29T23:00:00Z",
            "2026-11-29T09:30:00Z",
        );
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].date, NaiveDate::from_ymd_opt(2026, 11, 29).unwrap());
        assert_eq!(g[0].hours[0], Some(1));
        assert_eq!(g[0].hours[10], Some(11));
        assert_eq!(g[0].hours[11], None);
    }

    #[test]
    fn dst_days_keep_24_columns() {
        // Fall back (2026-10-25): 25 hours, 02:00 twice → buckets 3 and 4 add up.
        let g = past_grid("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z");
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].hours[2], Some(3 + 4));
        assert_eq!(g[0].hours[23], Some(25));
        let total: u64 = g[0].hours.iter().flatten().sum();
        assert_eq!(total, (1..=25).sum::<u64>());
        // Spring forward (2026-03-29): 23 hours, no 02:00.
        let g = past_grid("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z");
        assert_eq!(g[0].hours[2], None);
        assert_eq!(g[0].hours[3], Some(3));
        assert_eq!(g[0].hours.iter().flatten().count(), 23);
    }

    #[test]
    fn a_window_across_midnight_gives_two_rows() {
        let g = past_grid("2026-11-28T20:00:00Z", "2026-11-29T02:00:00Z");
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].hours[21], Some(1));
        assert_eq!(g[0].hours[20], None);
        assert_eq!(g[1].hours[2], Some(6));
    }
}
