//! R of the production widgets (see the table in [`super::widgets`]):
//! `kpi_production`, `production_over_time`, `product_distribution`,
//! `production_by_area` and `hourly_heatmap`, from the `data` routes'
//! counting ([`dash_store::query::widgets`]): every detection of the window,
//! planned or not (docs/oee.md#oee), so a card shows what
//! `GET /api/v1/data/production/summary` answers for the same window.
//!
//! `units` is finished units (`good` at output areas + `rejects` at reject
//! areas, the data routes' `total`) everywhere but `production_by_area`,
//! where an area's `units` are all its detections (the by-area route's
//! `detections`): input and process sensors count there too.

use std::collections::BTreeMap;

use mysql_async::Conn;
use serde_json::{json, Value};

use dash_core::oee::IntervalSet;
use dash_core::timeutil::{format_instant, Bucket, Interval, Window};
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::TenantMetadata;
use dash_store::metrics::{self, Plant, NO_PRODUCT};
use dash_store::query::widgets::{count_selection, hour_grid, shift_within, Units};
use dash_store::query::Selection;
use shared::auth::TenantContext;

/// The production widget types.
pub const TYPES: &[&str] = &[
    "kpi_production",
    "production_over_time",
    "product_distribution",
    "production_by_area",
    "hourly_heatmap",
];

fn ids(params: &Value, key: &str) -> Option<Vec<i64>> {
    params
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
}

/// The widget's selection: `line_ids` (already in the user's scope) and the
/// areas, products and shift of its params, each id checked (an area of a
/// line the user may not see, or an unknown id, is a 404 like in the data
/// routes). An area of another line than the widget's only empties that line.
pub fn selection(
    ctx: &TenantContext,
    meta: &TenantMetadata,
    line_ids: Vec<i64>,
    params: &Value,
) -> AppResult<Selection> {
    let areas = ids(params, "area_ids");
    for id in areas.iter().flatten() {
        meta.area(*id)
            .filter(|a| ctx.can_see_line(a.line_id))
            .ok_or(AppError::NotFound)?;
    }
    let products = ids(params, "product_ids");
    for id in products.iter().flatten() {
        meta.product(*id).ok_or(AppError::NotFound)?;
    }
    let shift_id = params.get("shift_id").and_then(Value::as_i64);
    if let Some(id) = shift_id {
        meta.shift(id).ok_or(AppError::NotFound)?;
    }
    Ok(Selection {
        line_ids,
        line_field: "line_id",
        areas,
        products,
        shift_id,
    })
}

/// Computes R for one of [`TYPES`] over window `w`.
pub async fn compute(
    conn: &mut Conn,
    plant: &Plant<'_>,
    widget_type: &str,
    params: &Value,
    sel: &Selection,
    w: &Window,
) -> AppResult<Value> {
    match widget_type {
        "kpi_production" => kpi_production(conn, plant, sel, w).await,
        "production_over_time" => {
            let interval = match params.get("interval").and_then(Value::as_str) {
                Some(s) => Interval::parse(s).map_err(AppError::from)?,
                None => Interval::Hour,
            };
            over_time(conn, plant, sel, w, interval).await
        }
        "product_distribution" => {
            let top = params
                .get("top_n")
                .and_then(Value::as_u64)
                .unwrap_or(8)
                .clamp(1, 50) as usize;
            by_product(conn, plant, sel, w, top).await
        }
        "production_by_area" => by_area(conn, plant, sel, w).await,
        "hourly_heatmap" => heatmap(conn, plant, sel, w).await,
        _ => Err(AppError::NotFound),
    }
}

/// The part of `w` already lived (up to now), inside the selected shift.
fn elapsed_seconds(plant: &Plant<'_>, sel: &Selection, w: &Window) -> f64 {
    let upto = Window {
        start: w.start,
        end: w.end.min(plant.now),
    };
    if upto.end <= upto.start {
        return 0.0;
    }
    match shift_within(plant, sel.shift_id, w) {
        Some(set) => set.clip(&upto).total_seconds(),
        None => IntervalSet::from_window(&upto).total_seconds(),
    }
}

async fn units_in(
    conn: &mut Conn,
    plant: &Plant<'_>,
    sel: &Selection,
    w: &Window,
) -> AppResult<Units> {
    let counted = count_selection(conn, plant, sel, w, &[*w]).await?;
    Ok(Units::of_window(plant.meta, &counted, 0))
}

/// `{"units", "good", "rejects", "previous_units"?, "rate_per_hour"?}`: the
/// rate is units per hour of the window lived so far.
async fn kpi_production(
    conn: &mut Conn,
    plant: &Plant<'_>,
    sel: &Selection,
    w: &Window,
) -> AppResult<Value> {
    let u = units_in(conn, plant, sel, w).await?;
    let mut r = json!({"units": u.units(), "good": u.good, "rejects": u.rejects});
    if let Some(prev) = metrics::previous_window(plant, w) {
        let p = units_in(conn, plant, sel, &prev).await?;
        r["previous_units"] = json!(p.units());
    }
    let hours = elapsed_seconds(plant, sel, w) / 3600.0;
    if hours > 0.0 {
        r["rate_per_hour"] = json!((u.units() as f64 / hours).round());
    }
    Ok(r)
}

/// `{"interval", "buckets": [{"label", "start", "end", "good", "rejects",
/// "units"}], "good", "rejects", "units"}`; every bucket, zeros included.
/// The totals are the window's (shift buckets may overlap).
async fn over_time(
    conn: &mut Conn,
    plant: &Plant<'_>,
    sel: &Selection,
    w: &Window,
    interval: Interval,
) -> AppResult<Value> {
    let tz = plant.tz();
    let buckets = plant.buckets(w, interval).map_err(AppError::from)?;
    let mut windows = Vec::with_capacity(buckets.len() + 1);
    windows.push(*w);
    windows.extend(buckets.iter().map(Bucket::window));
    let counted = count_selection(conn, plant, sel, w, &windows).await?;
    let total = Units::of_window(plant.meta, &counted, 0);
    let items: Vec<Value> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let u = Units::of_window(plant.meta, &counted, i + 1);
            json!({
                "label": b.label,
                "start": format_instant(b.start, tz),
                "end": format_instant(b.end, tz),
                "good": u.good, "rejects": u.rejects, "units": u.units(),
            })
        })
        .collect();
    Ok(json!({
        "interval": interval.as_str(),
        "buckets": items,
        "good": total.good, "rejects": total.rejects, "units": total.units(),
    }))
}

/// `{"items": [{"product_id" (null: no product), "product_name",
/// "product_code", "units", "good", "rejects"}], "other_units",
/// "other_count", "units"}`: the `top` products with units, most first; the
/// rest summed as "other".
async fn by_product(
    conn: &mut Conn,
    plant: &Plant<'_>,
    sel: &Selection,
    w: &Window,
    top: usize,
) -> AppResult<Value> {
    let counted = count_selection(conn, plant, sel, w, &[*w]).await?;
    let mut per: BTreeMap<i64, Units> = BTreeMap::new();
    for lc in &counted {
        for (k, n) in &lc.per_window[0] {
            per.entry(k.product_id.unwrap_or(NO_PRODUCT))
                .or_default()
                .add(plant.meta, k.area_id, *n);
        }
    }
    let mut items: Vec<(i64, Units)> = per.into_iter().filter(|(_, u)| u.units() > 0).collect();
    items.sort_by(|a, b| b.1.units().cmp(&a.1.units()).then(a.0.cmp(&b.0)));
    let total: u64 = items.iter().map(|(_, u)| u.units()).sum();
    let rest = items.split_off(top.min(items.len()));
    let other: u64 = rest.iter().map(|(_, u)| u.units()).sum();
    let items: Vec<Value> = items
        .into_iter()
        .map(|(id, u)| {
            let p = plant.meta.product(id);
            json!({
                "product_id": if id == NO_PRODUCT { Value::Null } else { json!(id) },
                "product_name": p.map(|p| p.product_name.as_str()),
                "product_code": p.map(|p| p.product_code.as_str()),
                "units": u.units(), "good": u.good, "rejects": u.rejects,
            })
        })
        .collect();
    Ok(json!({"items": items, "other_units": other, "other_count": rest.len(), "units": total}))
}

/// `{"items": [{"area_id", "area_name", "area_type", "line_id", "line_name",
/// "units"}]}`: every selected area of every line, zeros included, in area
/// order; an area's units are all its detections.
async fn by_area(
    conn: &mut Conn,
    plant: &Plant<'_>,
    sel: &Selection,
    w: &Window,
) -> AppResult<Value> {
    let meta = plant.meta;
    let counted = count_selection(conn, plant, sel, w, &[*w]).await?;
    let mut items = Vec::new();
    for lc in &counted {
        let mut per_area: BTreeMap<i64, u64> = BTreeMap::new();
        for (k, n) in &lc.per_window[0] {
            *per_area.entry(k.area_id).or_insert(0) += n;
        }
        for area_id in sel.areas_of(meta, lc.line_id, None) {
            let area = meta.area(area_id);
            items.push(json!({
                "area_id": area_id,
                "area_name": area.map(|a| a.area_name.as_str()),
                "area_type": area.map(|a| a.area_type.as_str()),
                "line_id": lc.line_id,
                "line_name": meta.line(lc.line_id).map(|l| l.line_name.as_str()),
                "units": per_area.get(&area_id).copied().unwrap_or(0),
            }));
        }
    }
    Ok(json!({"items": items}))
}

/// `{"days": [{"date", "hours": [24 × units or null], "total"}], "max",
/// "units"}`: finished units per plant-local date and hour of day.
async fn heatmap(
    conn: &mut Conn,
    plant: &Plant<'_>,
    sel: &Selection,
    w: &Window,
) -> AppResult<Value> {
    let buckets = plant.buckets(w, Interval::Hour).map_err(AppError::from)?;
    let windows: Vec<Window> = buckets.iter().map(Bucket::window).collect();
    let counted = count_selection(conn, plant, sel, w, &windows).await?;
    let values: Vec<u64> = (0..buckets.len())
        .map(|i| Units::of_window(plant.meta, &counted, i).units())
        .collect();
    let grid = hour_grid(&buckets, &values, plant.tz(), plant.now);
    let mut max = 0u64;
    let mut units = 0u64;
    let days: Vec<Value> = grid
        .iter()
        .map(|d| {
            let total: u64 = d.hours.iter().flatten().sum();
            max = max.max(d.hours.iter().flatten().copied().max().unwrap_or(0));
            units += total;
            json!({"date": d.date.format("%Y-%m-%d").to_string(), "hours": d.hours, "total": total})
        })
        .collect();
    Ok(json!({"days": days, "max": max, "units": units}))
}
