//! Widget view models: the data a widget endpoint computed (JSON) turned into
//! what its partial (`templates/widgets/<type>.hbs`) shows — formatted numbers,
//! KPI state colours, a chart spec for `static/src/js/20-charts.js` and the
//! table alternative of every chart. Nothing here queries anything; missing
//! fields show as "—" so a partial renders whatever the engine sends.
//!
//! # The data contract (`GET /api/v1/dashboard/widgets/{widget_type}`)
//!
//! JSON answers `{"data": W}`; an `HX-Request` gets the partial rendered from W:
//!
//! ```text
//! W = { "widget_type", "params" (effective), "window": {"start", "end", "label"?},
//!       "generated_at", "result": R, "warnings": [{"code", "message"}] }
//! ```
//!
//! | type | R |
//! |---|---|
//! | `kpi_oee`, `kpi_availability`, `kpi_performance`, `kpi_quality` | an OEE result (docs/api.md#shapes) + `"previous"`: the OEE result of the window before (optional) |
//! | `kpi_production` | `{"units", "good", "rejects", "previous_units"?, "rate_per_hour"?}`: every detection of the window, planned or not (`units = good + rejects`) |
//! | `kpi_downtime` | a downtime summary (`count`, `total_seconds`, `micro_stops: {count, total_seconds}`) + `"previous_total_seconds"?`, `"longest_seconds"?` |
//! | `production_over_time` | `{"interval", "buckets": [{"label", "start", "end", "good", "rejects", "units"}], "good", "rejects", "units"}` |
//! | `product_distribution` | `{"items": [{"product_id" (null: no product), "product_name"?, "product_code"?, "units", "good", "rejects"}], "other_units"?, "other_count"?, "units"}` |
//! | `production_by_area` | `{"items": [{"area_id", "area_name"?, "area_type"?, "line_id"?, "line_name"?, "units"}]}` (all detections of the area) |
//! | `line_comparison` | `{"metric", "items": [{"line_id", "line_name"?, "value"}]}` (ratio, units or seconds) |
//! | `oee_trend`, `quality_trend`, `shift_summary` | an OEE result with `"buckets"` (each with `label`) |
//! | `oee_losses` | an OEE result (`planned_seconds`, `losses`) |
//! | `downtime_table` | `{"items": [stops of docs/api.md#shapes], "total"?}` |
//! | `downtime_pareto` | a downtime summary (`by_reason`: Pareto rows) |
//! | `hourly_heatmap` | `{"days": [{"date", "label"?, "hours": [24 numbers or null], "total"?}], "max"?, "units"?}` (plant-local date × hour of day) |
//! | `line_status` | `{"line_id", "state": "running"|"stopped"|"no_data", "since"?, "last_detection_at"?, "rate_per_hour"?, "ideal_rate_per_hour"?, "product_name"?, "shift_name"?}` |
//!
//! Names missing from R (`line_name`, `product_name`, `area_name`, reason
//! names) are looked up in [`Names`] (the tenant's metadata).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::format;
use crate::i18n::{self, Lang};
use dash_store::metadata::TenantMetadata;

/// Names by id, from the tenant's metadata.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub lines: HashMap<i64, String>,
    pub products: HashMap<i64, String>,
    pub areas: HashMap<i64, String>,
    /// failure_id → (code, name, category)
    pub failures: HashMap<i64, (String, String, String)>,
    pub shifts: HashMap<i64, String>,
}

impl Names {
    pub fn from_metadata(meta: &TenantMetadata) -> Names {
        Names {
            lines: meta
                .lines
                .iter()
                .map(|l| (l.line_id, l.line_name.clone()))
                .collect(),
            products: meta
                .products
                .iter()
                .map(|p| (p.product_id, p.product_name.clone()))
                .collect(),
            areas: meta
                .areas
                .iter()
                .map(|a| (a.area_id, a.area_name.clone()))
                .collect(),
            failures: meta
                .failures
                .iter()
                .map(|f| {
                    (
                        f.failure_id,
                        (
                            f.failure_code.clone(),
                            f.failure_name.clone(),
                            f.failure_category.clone(),
                        ),
                    )
                })
                .collect(),
            shifts: meta
                .shifts
                .iter()
                .map(|s| (s.shift_id, s.shift_name.clone()))
                .collect(),
        }
    }
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64).filter(|x| x.is_finite())
}
fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}
fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}
fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

struct Ctx<'a> {
    lang: Lang,
    names: &'a Names,
    params: &'a Value,
}

impl Ctx<'_> {
    fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }
    fn pct(&self, v: Option<f64>) -> String {
        v.map(|v| format::percent(self.lang, v))
            .unwrap_or_else(|| "—".into())
    }
    fn n(&self, v: Option<f64>) -> String {
        v.map(|v| format::number(self.lang, v, 0))
            .unwrap_or_else(|| "—".into())
    }
    fn dur(&self, v: Option<f64>) -> String {
        v.map(format::duration).unwrap_or_else(|| "—".into())
    }
    fn line_name(&self, item: &Value) -> String {
        text(item, "line_name")
            .map(str::to_string)
            .or_else(|| int(item, "line_id").and_then(|id| self.names.lines.get(&id).cloned()))
            .or_else(|| int(item, "line_id").map(|id| format!("#{id}")))
            .unwrap_or_else(|| "—".into())
    }
    fn reason_label(&self, failure_id: Option<i64>) -> String {
        match failure_id {
            None => self.t("losses.unjustified"),
            Some(id) => self
                .names
                .failures
                .get(&id)
                .map(|(_, name, _)| name.clone())
                .unwrap_or_else(|| format!("#{id}")),
        }
    }
}

fn cell(text: impl Into<String>) -> Value {
    json!({"text": text.into()})
}
fn num_cell(text: impl Into<String>) -> Value {
    json!({"text": text.into(), "class": "num"})
}
fn col(label: impl Into<String>, numeric: bool) -> Value {
    json!({"label": label.into(), "num": numeric})
}

/// KPI colouring: `good` at or past target, `bad` past the warning level, `warning` between.
pub fn kpi_state(
    value: Option<f64>,
    target: Option<f64>,
    warning: Option<f64>,
    higher_is_better: bool,
) -> &'static str {
    let Some(v) = value else { return "none" };
    let Some(t) = target else { return "plain" };
    if higher_is_better {
        if v >= t {
            "good"
        } else if warning.map(|w| v < w).unwrap_or(false) {
            "bad"
        } else {
            "warning"
        }
    } else if v <= t {
        "good"
    } else if warning.map(|w| v > w).unwrap_or(false) {
        "bad"
    } else {
        "warning"
    }
}

fn clamp_pct(x: f64) -> i64 {
    if x.is_finite() {
        (x.round() as i64).clamp(0, 100)
    } else {
        0
    }
}

/// The label of the window: the engine's, else the relative range, else the dates.
fn window_label(c: &Ctx, data: &Value) -> Option<String> {
    if let Some(l) = data
        .get("window")
        .and_then(|w| text(w, "label"))
        .filter(|l| !l.is_empty())
    {
        return Some(l.to_string());
    }
    if let Some(r) = text(c.params, "range") {
        return Some(c.t(&format!("range.{r}")));
    }
    match (text(c.params, "start_date"), text(c.params, "end_date")) {
        (Some(a), Some(b)) => Some(format!(
            "{} – {}",
            format::short_datetime_or_date(a),
            format::short_datetime_or_date(b)
        )),
        _ => None,
    }
}

fn scope_label(c: &Ctx) -> String {
    if let Some(id) = int(c.params, "line_id") {
        return c
            .names
            .lines
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"));
    }
    let ids: Vec<i64> = arr(c.params, "line_ids")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    if ids.is_empty() {
        return c.t("widget.all_lines");
    }
    if ids.len() > 3 {
        return format!("{} {}", ids.len(), c.t("widget.lines"));
    }
    ids.iter()
        .map(|id| {
            c.names
                .lines
                .get(id)
                .cloned()
                .unwrap_or_else(|| format!("#{id}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The view of one widget (what `templates/widgets/<type>.hbs` gets under the page's root fields).
pub fn view(lang: Lang, names: &Names, widget_type: &str, data: &Value) -> Value {
    let empty = json!({});
    let params = data.get("params").unwrap_or(&empty);
    let result = data.get("result").unwrap_or(&empty);
    let c = Ctx {
        lang,
        names,
        params,
    };
    let mut v = match widget_type {
        "kpi_oee" | "kpi_availability" | "kpi_performance" | "kpi_quality" => {
            kpi_ratio(&c, widget_type, result)
        }
        "kpi_production" => kpi_production(&c, result),
        "kpi_downtime" => kpi_downtime(&c, result),
        "production_over_time" => production_over_time(&c, result),
        "product_distribution" => product_distribution(&c, result),
        "production_by_area" => production_by_area(&c, result),
        "line_comparison" => line_comparison(&c, result),
        "oee_trend" => oee_trend(&c, result),
        "quality_trend" => quality_trend(&c, result),
        "oee_losses" => oee_losses(&c, result),
        "downtime_pareto" => downtime_pareto(&c, result),
        "downtime_table" => downtime_table(&c, result),
        "shift_summary" => shift_summary(&c, result),
        "hourly_heatmap" => hourly_heatmap(&c, result),
        "line_status" => line_status(&c, result),
        _ => json!({}),
    };
    let mut warnings: Vec<Value> = arr(data, "warnings").to_vec();
    warnings.extend(arr(result, "warnings").iter().cloned());
    v["type"] = json!(widget_type);
    v["warnings"] = Value::Array(warnings);
    v["window_label"] = json!(window_label(&c, data));
    if widget_type != "line_status" && widget_type != "line_comparison" {
        v["scope_label"] = json!(scope_label(&c));
    }
    v["show_table"] = json!(params
        .get("show_table")
        .and_then(Value::as_bool)
        .unwrap_or(false));
    v
}

fn delta_parts(
    c: &Ctx,
    value: Option<f64>,
    previous: Option<f64>,
    ratio: bool,
    higher_is_better: bool,
) -> (Option<String>, &'static str, &'static str) {
    let (Some(v), Some(p)) = (value, previous) else {
        return (None, "none", "");
    };
    let d = v - p;
    let icon = if d > 0.0 {
        "trending_up"
    } else if d < 0.0 {
        "trending_down"
    } else {
        "trending_flat"
    };
    let better = if higher_is_better { d >= 0.0 } else { d <= 0.0 };
    let text = if ratio {
        format::points(c.lang, d)
    } else if p.abs() > f64::EPSILON {
        let rel = d / p.abs();
        let n = format::number(c.lang, rel.abs() * 100.0, 1);
        format!("{}{n} %", if rel >= 0.0 { "+" } else { "−" })
    } else {
        return (None, "none", "");
    };
    (Some(text), if better { "good" } else { "bad" }, icon)
}

fn kpi_ratio(c: &Ctx, widget_type: &str, r: &Value) -> Value {
    let metric = widget_type.trim_start_matches("kpi_");
    let value = num(r, metric);
    let previous = r.get("previous").and_then(|p| num(p, metric));
    let target = num(c.params, "target");
    let warning = num(c.params, "warning");
    let state = kpi_state(value, target, warning, true);
    let (delta_text, delta_state, delta_icon) = delta_parts(c, value, previous, true, true);
    let stats = match metric {
        "oee" => vec![
            json!({"label": c.t("kpi.availability"), "value": c.pct(num(r, "availability"))}),
            json!({"label": c.t("kpi.performance"), "value": c.pct(num(r, "performance"))}),
            json!({"label": c.t("kpi.quality"), "value": c.pct(num(r, "quality"))}),
        ],
        "availability" => vec![
            json!({"label": c.t("reports.planned"), "value": c.dur(num(r, "planned_seconds"))}),
            json!({"label": c.t("reports.downtime"), "value": c.dur(num(r, "downtime_seconds"))}),
            json!({"label": c.t("kpi.stops"), "value": c.dur(num(r, "run_seconds"))}),
        ],
        "quality" => vec![
            json!({"label": c.t("kpi.good"), "value": c.n(num(r, "good"))}),
            json!({"label": c.t("kpi.rejects"), "value": c.n(num(r, "rejects"))}),
        ],
        _ => vec![
            json!({"label": c.t("kpi.good"), "value": c.n(num(r, "good"))}),
            json!({"label": c.t("reports.planned"), "value": c.dur(num(r, "run_seconds"))}),
        ],
    };
    // The availability card's third stat is run time: label it so.
    let stats: Vec<Value> = if metric == "availability" {
        let mut s = stats;
        s[2]["label"] = json!(c.t("losses.valuable"));
        s
    } else {
        stats
    };
    json!({
        "value_text": c.pct(value),
        "state": state,
        "delta_text": delta_text,
        "delta_state": delta_state,
        "delta_icon": delta_icon,
        "has_progress": value.is_some(),
        "progress": clamp_pct(value.unwrap_or(0.0) * 100.0),
        "target_text": target.map(|t| format::percent(c.lang, t)),
        "stats": stats,
    })
}

fn kpi_production(c: &Ctx, r: &Value) -> Value {
    let value = num(r, "units").or_else(|| match (num(r, "good"), num(r, "rejects")) {
        (Some(g), Some(x)) => Some(g + x),
        (Some(g), None) => Some(g),
        _ => None,
    });
    let target = num(c.params, "target");
    let state = kpi_state(value, target, num(c.params, "warning"), true);
    let (delta_text, delta_state, delta_icon) =
        delta_parts(c, value, num(r, "previous_units"), false, true);
    json!({
        "value_text": c.n(value),
        "unit": c.t("kpi.units"),
        "state": state,
        "delta_text": delta_text, "delta_state": delta_state, "delta_icon": delta_icon,
        "has_progress": target.is_some() && value.is_some(),
        "progress": clamp_pct(match (value, target) { (Some(v), Some(t)) if t > 0.0 => v / t * 100.0, _ => 0.0 }),
        "target_text": target.map(|t| format::number(c.lang, t, 0)),
        "stats": [
            {"label": c.t("kpi.good"), "value": c.n(num(r, "good"))},
            {"label": c.t("kpi.rejects"), "value": c.n(num(r, "rejects")), "state": if num(r, "rejects").unwrap_or(0.0) > 0.0 { "warning" } else { "" }},
            {"label": c.t("kpi.rate"), "value": c.n(num(r, "rate_per_hour"))},
        ],
    })
}

fn kpi_downtime(c: &Ctx, r: &Value) -> Value {
    let seconds = num(r, "total_seconds").or_else(|| num(r, "downtime_seconds"));
    let minutes = seconds.map(|s| s / 60.0);
    let target = num(c.params, "target");
    let state = kpi_state(minutes, target, num(c.params, "warning"), false);
    let previous = num(r, "previous_total_seconds").map(|s| s / 60.0);
    let (delta_text, delta_state, delta_icon) = delta_parts(c, minutes, previous, false, false);
    let micro = r.get("micro_stops");
    json!({
        "value_text": seconds.map(format::duration).unwrap_or_else(|| "—".into()),
        "state": if target.is_some() { state } else if seconds.is_some() { "plain" } else { "none" },
        "delta_text": delta_text, "delta_state": delta_state, "delta_icon": delta_icon,
        "has_progress": false,
        "target_text": target.map(|t| format::duration(t * 60.0)),
        "stats": [
            {"label": c.t("kpi.stops"), "value": c.n(num(r, "count").or_else(|| num(r, "stops")))},
            {"label": c.t("kpi.micro_stops"), "value": c.n(micro.and_then(|m| num(m, "count")).or_else(|| num(r, "micro_stops")))},
            {"label": c.t("kpi.longest"), "value": c.dur(num(r, "longest_seconds"))},
        ],
    })
}

fn bucket_label(b: &Value) -> String {
    text(b, "label")
        .map(str::to_string)
        .or_else(|| text(b, "start").map(format::short_datetime))
        .unwrap_or_default()
}

fn production_over_time(c: &Ctx, r: &Value) -> Value {
    let buckets = arr(r, "buckets");
    let labels: Vec<String> = buckets.iter().map(bucket_label).collect();
    let good: Vec<Value> = buckets.iter().map(|b| json!(num(b, "good"))).collect();
    let rejects: Vec<Value> = buckets.iter().map(|b| json!(num(b, "rejects"))).collect();
    let units = |b: &Value| {
        num(b, "units").or_else(|| match (num(b, "good"), num(b, "rejects")) {
            (Some(g), Some(x)) => Some(g + x),
            (g, x) => g.or(x),
        })
    };
    let rows: Vec<Value> = buckets
        .iter()
        .map(|b| {
            json!({"cells": [cell(bucket_label(b)), num_cell(c.n(num(b, "good"))), num_cell(c.n(num(b, "rejects"))), num_cell(c.n(units(b)))]})
        })
        .collect();
    // The window's totals when the engine gives them (shift buckets may overlap).
    let total_good =
        num(r, "good").unwrap_or_else(|| buckets.iter().filter_map(|b| num(b, "good")).sum());
    let total_rej =
        num(r, "rejects").unwrap_or_else(|| buckets.iter().filter_map(|b| num(b, "rejects")).sum());
    let any = buckets.iter().any(|b| units(b).unwrap_or(0.0) > 0.0);
    json!({
        "empty": !any,
        "chart_label": c.t("chart.units"),
        "chart": {
            "kind": "bar", "labels": labels,
            "series": [
                {"label": c.t("chart.good"), "data": good, "color": "primary"},
                {"label": c.t("chart.rejects"), "data": rejects, "color": "error"},
            ],
            "y": {"format": "int", "stacked": true},
        },
        "table": {
            "caption": c.t("chart.units"),
            "columns": [col(c.t("chart.period"), false), col(c.t("chart.good"), true), col(c.t("chart.rejects"), true), col(c.t("chart.units"), true)],
            "rows": rows,
            "foot": [cell(c.t("heatmap.total")), num_cell(c.n(Some(total_good))), num_cell(c.n(Some(total_rej))), num_cell(c.n(Some(total_good + total_rej)))],
        },
    })
}

fn product_distribution(c: &Ctx, r: &Value) -> Value {
    let items = arr(r, "items");
    let mut labels: Vec<String> = items
        .iter()
        .map(|i| match int(i, "product_id") {
            None => c.t("widget.no_product"),
            Some(id) => text(i, "product_name")
                .map(str::to_string)
                .or_else(|| c.names.products.get(&id).cloned())
                .unwrap_or_else(|| format!("#{id}")),
        })
        .collect();
    let mut values: Vec<f64> = items
        .iter()
        .map(|i| num(i, "units").unwrap_or(0.0))
        .collect();
    if let Some(o) = num(r, "other_units").filter(|o| *o > 0.0) {
        labels.push(match int(r, "other_count").filter(|n| *n > 0) {
            Some(n) => format!("{} ({n})", c.t("widget.other")),
            None => c.t("widget.other"),
        });
        values.push(o);
    }
    let total: f64 = values.iter().sum();
    let colors: Vec<String> = (0..values.len()).map(|i| format!("c{}", i % 9)).collect();
    let rows: Vec<Value> = labels
        .iter()
        .zip(&values)
        .map(|(l, v)| {
            let share = if total > 0.0 { Some(v / total) } else { None };
            json!({"cells": [cell(l.clone()), num_cell(c.n(Some(*v))), num_cell(c.pct(share))]})
        })
        .collect();
    json!({
        "empty": values.is_empty() || total <= 0.0,
        "chart_label": c.t("chart.product"),
        "chart": {"kind": "doughnut", "labels": labels, "series": [{"label": c.t("chart.units"), "data": values, "colors": colors}], "y": {"format": "int"}},
        "table": {
            "caption": c.t("chart.product"),
            "columns": [col(c.t("chart.product"), false), col(c.t("chart.units"), true), col(c.t("chart.share"), true)],
            "rows": rows,
            "foot": [cell(c.t("heatmap.total")), num_cell(c.n(Some(total))), num_cell("100 %")],
        },
    })
}

fn production_by_area(c: &Ctx, r: &Value) -> Value {
    let items = arr(r, "items");
    // The line goes in front of the area when the items span several lines.
    let mut line_ids: Vec<i64> = items.iter().filter_map(|i| int(i, "line_id")).collect();
    line_ids.sort_unstable();
    line_ids.dedup();
    let several_lines = line_ids.len() > 1;
    let label = |i: &Value| -> String {
        let area = text(i, "area_name")
            .map(str::to_string)
            .or_else(|| int(i, "area_id").and_then(|id| c.names.areas.get(&id).cloned()))
            .unwrap_or_else(|| "—".into());
        if several_lines {
            format!("{} · {area}", c.line_name(i))
        } else {
            area
        }
    };
    let labels: Vec<String> = items.iter().map(label).collect();
    let values: Vec<Value> = items.iter().map(|i| json!(num(i, "units"))).collect();
    let colors: Vec<&str> = items
        .iter()
        .map(
            |i| match text(i, "area_type").map(str::to_ascii_lowercase).as_deref() {
                Some("output") => "success",
                Some("reject") => "error",
                Some("process") => "c3",
                _ => "c0",
            },
        )
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|i| json!({"cells": [cell(label(i)), num_cell(c.n(num(i, "units")))]}))
        .collect();
    let total: f64 = items.iter().filter_map(|i| num(i, "units")).sum();
    json!({
        "empty": items.is_empty() || total <= 0.0,
        "chart_label": c.t("chart.area"),
        "chart": {"kind": "bar", "horizontal": items.len() > 6, "labels": labels, "series": [{"label": c.t("chart.units"), "data": values, "colors": colors}], "y": {"format": "int"}},
        "table": {"caption": c.t("chart.area"), "columns": [col(c.t("chart.area"), false), col(c.t("chart.units"), true)], "rows": rows},
    })
}

fn line_comparison(c: &Ctx, r: &Value) -> Value {
    let metric = text(r, "metric")
        .or_else(|| text(c.params, "metric"))
        .unwrap_or("oee");
    let items = arr(r, "items");
    let ratio = matches!(metric, "oee" | "availability" | "performance" | "quality");
    let fmt = match metric {
        "production" => "int",
        "downtime" => "min",
        _ => "pct",
    };
    let show = |v: Option<f64>| -> String {
        match metric {
            "production" => c.n(v),
            "downtime" => c.dur(v),
            _ => c.pct(v),
        }
    };
    let labels: Vec<String> = items.iter().map(|i| c.line_name(i)).collect();
    let values: Vec<Value> = items.iter().map(|i| json!(num(i, "value"))).collect();
    let colors: Vec<String> = items
        .iter()
        .map(|i| {
            if !ratio {
                return "c0".to_string();
            }
            match kpi_state(
                num(i, "value"),
                num(c.params, "target").or(Some(0.85)),
                Some(0.6),
                true,
            ) {
                "good" => "success".into(),
                "bad" => "error".into(),
                _ => "warning".into(),
            }
        })
        .collect();
    let metric_label = match metric {
        "production" => c.t("chart.units"),
        "downtime" => c.t("chart.downtime"),
        m => c.t(&format!("kpi.{m}")),
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|i| json!({"cells": [cell(c.line_name(i)), num_cell(show(num(i, "value")))]}))
        .collect();
    json!({
        "empty": items.is_empty(),
        "chart_label": metric_label,
        "chart": {
            "kind": "bar", "labels": labels,
            "series": [{"label": metric_label, "data": values, "colors": colors}],
            "y": if ratio { json!({"format": fmt, "min": 0, "max": 1}) } else { json!({"format": fmt}) },
        },
        "table": {"caption": metric_label, "columns": [col(c.t("chart.line"), false), col(metric_label.clone(), true)], "rows": rows},
    })
}

fn oee_trend(c: &Ctx, r: &Value) -> Value {
    let buckets = arr(r, "buckets");
    let labels: Vec<String> = buckets.iter().map(bucket_label).collect();
    let series_of =
        |key: &str| -> Vec<Value> { buckets.iter().map(|b| json!(num(b, key))).collect() };
    let rows: Vec<Value> = buckets
        .iter()
        .map(|b| {
            json!({"cells": [
                cell(bucket_label(b)),
                num_cell(c.pct(num(b, "oee"))), num_cell(c.pct(num(b, "availability"))),
                num_cell(c.pct(num(b, "performance"))), num_cell(c.pct(num(b, "quality"))),
            ]})
        })
        .collect();
    let target = num(c.params, "target");
    json!({
        "empty": buckets.is_empty(),
        "chart_label": c.t("kpi.oee"),
        "chart": {
            "kind": "line", "labels": labels,
            "series": [
                {"label": "OEE", "data": series_of("oee"), "color": "primary", "fill": true},
                {"label": c.t("kpi.availability"), "data": series_of("availability"), "color": "c1", "dashed": true},
                {"label": c.t("kpi.performance"), "data": series_of("performance"), "color": "c2", "dashed": true},
                {"label": c.t("kpi.quality"), "data": series_of("quality"), "color": "c3", "dashed": true},
            ],
            "y": {"format": "pct", "min": 0, "max": 1},
            "target": target.map(|t| json!({"value": t, "label": c.t("chart.target")})),
        },
        "table": {
            "caption": "OEE",
            "columns": [col(c.t("chart.period"), false), col("OEE", true), col(c.t("kpi.availability"), true), col(c.t("kpi.performance"), true), col(c.t("kpi.quality"), true)],
            "rows": rows,
            "foot": [cell(c.t("heatmap.total")), num_cell(c.pct(num(r, "oee"))), num_cell(c.pct(num(r, "availability"))), num_cell(c.pct(num(r, "performance"))), num_cell(c.pct(num(r, "quality")))],
        },
    })
}

fn quality_trend(c: &Ctx, r: &Value) -> Value {
    let buckets = arr(r, "buckets");
    let labels: Vec<String> = buckets.iter().map(bucket_label).collect();
    let quality: Vec<Value> = buckets.iter().map(|b| json!(num(b, "quality"))).collect();
    let rejects: Vec<Value> = buckets.iter().map(|b| json!(num(b, "rejects"))).collect();
    let rows: Vec<Value> = buckets
        .iter()
        .map(|b| json!({"cells": [cell(bucket_label(b)), num_cell(c.n(num(b, "good"))), num_cell(c.n(num(b, "rejects"))), num_cell(c.pct(num(b, "quality")))]}))
        .collect();
    json!({
        "empty": buckets.is_empty(),
        "chart_label": c.t("kpi.quality"),
        "chart": {
            "kind": "bar", "labels": labels,
            "series": [
                {"label": c.t("chart.quality"), "data": quality, "type": "line", "color": "success", "axis": "y"},
                {"label": c.t("chart.rejects"), "data": rejects, "type": "bar", "color": "error", "axis": "y2"},
            ],
            "y": {"format": "pct1", "max": 1},
            "y2": {"format": "int"},
            "target": num(c.params, "target").map(|t| json!({"value": t, "label": c.t("chart.target")})),
        },
        "table": {
            "caption": c.t("kpi.quality"),
            "columns": [col(c.t("chart.period"), false), col(c.t("chart.good"), true), col(c.t("chart.rejects"), true), col(c.t("chart.quality"), true)],
            "rows": rows,
            "foot": [cell(c.t("heatmap.total")), num_cell(c.n(num(r, "good"))), num_cell(c.n(num(r, "rejects"))), num_cell(c.pct(num(r, "quality")))],
        },
    })
}

/// Waterfall: planned time, minus each loss, down to valuable time.
fn oee_losses(c: &Ctx, r: &Value) -> Value {
    let planned = num(r, "planned_seconds");
    let losses = r.get("losses").cloned().unwrap_or(json!({}));
    let mut steps: Vec<(String, f64, &'static str)> = Vec::new();
    for l in arr(&losses, "downtime_by_reason") {
        if let Some(s) = num(l, "seconds").filter(|s| *s > 0.0) {
            steps.push((c.reason_label(int(l, "failure_id")), s, "error"));
        }
    }
    steps.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    if let Some(s) = num(&losses, "micro_stop_seconds").filter(|s| *s > 0.0) {
        steps.push((c.t("losses.micro"), s, "warning"));
    }
    if let Some(s) = num(&losses, "speed_loss_seconds").filter(|s| *s > 0.0) {
        steps.push((c.t("losses.speed"), s, "warning"));
    }
    if let Some(s) = num(&losses, "quality_loss_seconds").filter(|s| *s > 0.0) {
        steps.push((c.t("losses.quality"), s, "c3"));
    }
    let Some(planned) = planned.filter(|p| *p > 0.0) else {
        return json!({"empty": true});
    };
    let mut labels = vec![c.t("losses.planned")];
    let mut data = vec![json!([0.0, planned])];
    let mut colors = vec!["primary".to_string()];
    let mut rows = vec![
        json!({"cells": [cell(c.t("losses.planned")), num_cell(c.dur(Some(planned))), num_cell("100 %")]}),
    ];
    let mut level = planned;
    for (label, s, color) in &steps {
        let next = (level - s).max(0.0);
        labels.push(label.clone());
        data.push(json!([next, level]));
        colors.push((*color).to_string());
        rows.push(json!({"cells": [cell(label.clone()), num_cell(format!("−{}", c.dur(Some(*s)))), num_cell(c.pct(Some(s / planned)))]}));
        level = next;
    }
    labels.push(c.t("losses.valuable"));
    data.push(json!([0.0, level]));
    colors.push("success".into());
    rows.push(json!({"cells": [cell(c.t("losses.valuable")), num_cell(c.dur(Some(level))), num_cell(c.pct(Some(level / planned)))]}));
    json!({
        "empty": false,
        "chart_label": c.t("chart.seconds"),
        "chart": {"kind": "waterfall", "labels": labels, "series": [{"label": c.t("chart.seconds"), "data": data, "colors": colors}], "y": {"format": "hours"}},
        "table": {"caption": c.t("chart.seconds"), "columns": [col(c.t("chart.reason"), false), col(c.t("chart.seconds"), true), col(c.t("chart.share"), true)], "rows": rows},
    })
}

fn downtime_pareto(c: &Ctx, r: &Value) -> Value {
    let rows_in = arr(r, "by_reason");
    let top = int(c.params, "top_n").unwrap_or(10).max(1) as usize;
    let shown: Vec<&Value> = rows_in.iter().take(top).collect();
    let label = |p: &Value| -> String {
        text(p, "label")
            .map(str::to_string)
            .unwrap_or_else(|| c.reason_label(int(p, "id").or_else(|| int(p, "failure_id"))))
    };
    let labels: Vec<String> = shown.iter().map(|p| label(p)).collect();
    let secs: Vec<Value> = shown
        .iter()
        .map(|p| json!(num(p, "total_seconds")))
        .collect();
    let cum: Vec<Value> = shown
        .iter()
        .map(|p| json!(num(p, "cumulative_share")))
        .collect();
    let colors: Vec<&str> = shown
        .iter()
        .map(|p| {
            if text(p, "category") == Some("planned") {
                "info"
            } else if p.get("id").map(Value::is_null).unwrap_or(false) {
                "muted"
            } else {
                "error"
            }
        })
        .collect();
    let rows: Vec<Value> = shown
        .iter()
        .map(|p| {
            json!({"cells": [cell(label(p)), num_cell(c.n(num(p, "count"))), num_cell(c.dur(num(p, "total_seconds"))), num_cell(c.pct(num(p, "share"))), num_cell(c.pct(num(p, "cumulative_share")))]})
        })
        .collect();
    json!({
        "empty": shown.is_empty(),
        "chart_label": c.t("chart.downtime"),
        "chart": {
            "kind": "bar", "labels": labels,
            "series": [
                {"label": c.t("chart.downtime"), "data": secs, "colors": colors, "axis": "y"},
                {"label": c.t("chart.cumulative"), "data": cum, "type": "line", "color": "warning", "axis": "y2"},
            ],
            "y": {"format": "min"},
            "y2": {"format": "pct", "min": 0, "max": 1},
        },
        "table": {
            "caption": c.t("chart.downtime"),
            "columns": [col(c.t("chart.reason"), false), col(c.t("kpi.stops"), true), col(c.t("chart.downtime"), true), col(c.t("chart.share"), true), col(c.t("chart.cumulative"), true)],
            "rows": rows,
            "foot": [cell(c.t("heatmap.total")), num_cell(c.n(num(r, "count"))), num_cell(c.dur(num(r, "total_seconds"))), num_cell("100 %"), cell("")],
        },
    })
}

fn downtime_table(c: &Ctx, r: &Value) -> Value {
    let items = arr(r, "items");
    let pending = items
        .iter()
        .filter(|s| s.get("failure_id").map(Value::is_null).unwrap_or(true))
        .count();
    let total: f64 = items
        .iter()
        .filter_map(|s| num(s, "duration_seconds"))
        .sum();
    let rows: Vec<Value> = items
        .iter()
        .map(|s| {
            let fid = int(s, "failure_id");
            let reason = s
                .get("reason")
                .and_then(|r| text(r, "failure_name").or_else(|| text(r, "name")))
                .map(str::to_string)
                .unwrap_or_else(|| if fid.is_some() { c.reason_label(fid) } else { c.t("js.unjustified") });
            let state = if fid.is_some() { "state-good" } else { "state-warning" };
            json!({"cells": [
                cell(text(s, "start_time").map(format::short_datetime).unwrap_or_default()),
                cell(c.line_name(s)),
                num_cell(c.dur(num(s, "duration_seconds"))),
                json!({"text": reason, "class": state}),
                json!({"text": text(s, "justification").unwrap_or("—"), "class": "max-w-xs truncate muted"}),
            ]})
        })
        .collect();
    json!({
        "summary": [
            {"label": c.t("downtime.count"), "value": c.n(Some(items.len() as f64)), "tone": "neutral"},
            {"label": c.t("downtime.total"), "value": c.dur(Some(total)), "tone": "info"},
            {"label": c.t("downtime.pending"), "value": c.n(Some(pending as f64)), "tone": if pending > 0 { "warning" } else { "success" }},
        ],
        "has_pending": pending > 0,
        "table": {
            "caption": c.t("downtime.list"),
            "columns": [col(c.t("downtime.start"), false), col(c.t("downtime.line"), false), col(c.t("downtime.duration"), true), col(c.t("downtime.reason"), false), col(c.t("downtime.justification"), false)],
            "rows": rows,
        },
    })
}

fn shift_summary(c: &Ctx, r: &Value) -> Value {
    let items: &[Value] = if !arr(r, "buckets").is_empty() {
        arr(r, "buckets")
    } else {
        arr(r, "items")
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|b| {
            let oee = num(b, "oee");
            let state = kpi_state(oee, Some(0.85), Some(0.6), true);
            json!({"cells": [
                cell(bucket_label(b)),
                num_cell(c.n(num(b, "good"))), num_cell(c.n(num(b, "rejects"))),
                num_cell(c.dur(num(b, "downtime_seconds"))),
                num_cell(c.pct(num(b, "availability"))), num_cell(c.pct(num(b, "performance"))), num_cell(c.pct(num(b, "quality"))),
                json!({"text": c.pct(oee), "class": format!("num font-semibold state-{state}")}),
            ]})
        })
        .collect();
    json!({
        "table": {
            "caption": c.t("shift.shift"),
            "columns": [col(c.t("shift.shift"), false), col(c.t("chart.good"), true), col(c.t("chart.rejects"), true), col(c.t("reports.downtime"), true), col(c.t("kpi.availability"), true), col(c.t("kpi.performance"), true), col(c.t("kpi.quality"), true), col("OEE", true)],
            "rows": rows,
            "foot": if items.is_empty() { Value::Null } else { json!([
                cell(c.t("heatmap.total")), num_cell(c.n(num(r, "good"))), num_cell(c.n(num(r, "rejects"))), num_cell(c.dur(num(r, "downtime_seconds"))),
                num_cell(c.pct(num(r, "availability"))), num_cell(c.pct(num(r, "performance"))), num_cell(c.pct(num(r, "quality"))), num_cell(c.pct(num(r, "oee"))),
            ]) },
        },
    })
}

fn hourly_heatmap(c: &Ctx, r: &Value) -> Value {
    let days = arr(r, "days");
    let max = days
        .iter()
        .flat_map(|d| arr(d, "hours").iter().filter_map(Value::as_f64))
        .fold(0.0_f64, f64::max);
    let rows: Vec<Value> = days
        .iter()
        .map(|d| {
            let hours = arr(d, "hours");
            let total: f64 = hours.iter().filter_map(Value::as_f64).sum();
            let label = text(d, "label")
                .map(str::to_string)
                .or_else(|| {
                    text(d, "date").map(|s| {
                        let d = format::short_date(s);
                        d.get(..5).map(str::to_string).unwrap_or(d)
                    })
                })
                .unwrap_or_default();
            let cells: Vec<Value> = (0..24)
                .map(|h| {
                    let v = hours.get(h).and_then(Value::as_f64);
                    let level = match v {
                        Some(x) if max > 0.0 => ((x / max) * 10.0).round().clamp(0.0, 10.0) as i64,
                        _ => 0,
                    };
                    json!({"level": level, "text": v.map(|x| compact(c.lang, x)).unwrap_or_default(), "title": format!("{label} {h:02}:00 — {}", c.n(v))})
                })
                .collect();
            json!({"label": label, "cells": cells, "total": c.n(Some(total))})
        })
        .collect();
    json!({
        "empty": days.is_empty() || max <= 0.0,
        "chart_label": c.t("chart.units"),
        "hours": (0..24).map(|h| format!("{h:02}")).collect::<Vec<_>>(),
        "days": rows,
        "legend": [0, 2, 4, 6, 8, 10],
        "max_text": c.n(Some(max)),
    })
}

/// `1234` → `1,2k` for crowded cells.
fn compact(lang: Lang, v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{}k", format::number(lang, v / 1000.0, 1))
    } else {
        format::number(lang, v, 0)
    }
}

fn line_status(c: &Ctx, r: &Value) -> Value {
    let state = text(r, "state").unwrap_or("no_data");
    let line_id = int(r, "line_id").or_else(|| int(c.params, "line_id"));
    let line_name = text(r, "line_name")
        .map(str::to_string)
        .or_else(|| line_id.and_then(|id| c.names.lines.get(&id).cloned()))
        .unwrap_or_else(|| "—".into());
    let (status_text, icon, bg, fg, pulsing) = match state {
        "running" => (
            c.t("status.running"),
            "play_circle",
            "bg-success/15",
            "state-good",
            true,
        ),
        "stopped" => (
            c.t("status.stopped"),
            "pause_circle",
            "bg-error/15",
            "state-bad",
            false,
        ),
        _ => (
            c.t("status.no_data"),
            "help",
            "bg-slate-500/15",
            "state-none",
            false,
        ),
    };
    let since_text =
        text(r, "since").map(|s| format!("{} {}", c.t("status.since"), format::short_datetime(s)));
    let rate = num(r, "rate_per_hour");
    let ideal = num(r, "ideal_rate_per_hour");
    let ratio = match (rate, ideal) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let mut stats = vec![
        json!({"label": c.t("status.last_detection"), "value": text(r, "last_detection_at").map(format::short_datetime).unwrap_or_else(|| "—".into())}),
    ];
    if state == "stopped" {
        stats.push(
            json!({"label": c.t("status.stopped_for"), "value": c.dur(num(r, "stopped_seconds"))}),
        );
    }
    stats.push(
        json!({"label": c.t("status.product"), "value": text(r, "product_name").unwrap_or("—")}),
    );
    stats
        .push(json!({"label": c.t("status.shift"), "value": text(r, "shift_name").unwrap_or("—")}));
    json!({
        "line_name": line_name,
        "status_text": status_text, "status_icon": icon, "status_bg": bg, "status_fg": fg, "pulsing": pulsing,
        "since_text": since_text,
        "has_rate": rate.is_some(),
        "rate_text": c.n(rate), "ideal_text": c.n(ideal),
        "rate_pct": clamp_pct(ratio.unwrap_or(0.0) * 100.0),
        "rate_state": kpi_state(ratio, Some(0.9), Some(0.7), true),
        "stats": stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kpi_states() {
        assert_eq!(kpi_state(Some(0.9), Some(0.85), Some(0.6), true), "good");
        assert_eq!(kpi_state(Some(0.7), Some(0.85), Some(0.6), true), "warning");
        assert_eq!(kpi_state(Some(0.5), Some(0.85), Some(0.6), true), "bad");
        assert_eq!(kpi_state(None, Some(0.85), None, true), "none");
        assert_eq!(kpi_state(Some(0.5), None, None, true), "plain");
        assert_eq!(kpi_state(Some(10.0), Some(30.0), Some(60.0), false), "good");
        assert_eq!(kpi_state(Some(90.0), Some(30.0), Some(60.0), false), "bad");
    }

    #[test]
    fn every_type_has_a_view_even_with_nothing() {
        for wt in dash_core::catalog::widget_types() {
            let v = view(Lang::Es, &Names::default(), wt.widget_type, &json!({}));
            assert_eq!(v["type"], wt.widget_type);
        }
    }

    #[test]
    fn waterfall_steps_down_to_valuable_time() {
        let r = json!({"planned_seconds": 1000.0, "losses": {"downtime_by_reason": [{"failure_id": null, "seconds": 100.0}], "micro_stop_seconds": 50.0, "speed_loss_seconds": 50.0, "quality_loss_seconds": 0.0}});
        let v = view(
            Lang::En,
            &Names::default(),
            "oee_losses",
            &json!({"result": r}),
        );
        let data = v["chart"]["series"][0]["data"].as_array().unwrap().clone();
        assert_eq!(data.first().unwrap(), &json!([0.0, 1000.0]));
        assert_eq!(data.last().unwrap(), &json!([0.0, 800.0]));
    }
}
