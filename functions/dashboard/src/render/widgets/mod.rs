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
//! | `kpi_downtime` | a downtime summary (`count`, `downtime_seconds`, `outside_planned_seconds`, `longest_seconds`, `micro_stops: {count, total_seconds}`) + `"previous_downtime_seconds"?` |
//! | `production_over_time` | `{"interval", "buckets": [{"label", "start", "end", "good", "rejects", "units"}], "good", "rejects", "units"}` |
//! | `product_distribution` | `{"items": [{"product_id" (null: no product), "product_name"?, "product_code"?, "units", "good", "rejects"}], "other_units"?, "other_count"?, "units"}` |
//! | `production_by_area` | `{"items": [{"area_id", "area_name"?, "area_type"?, "line_id"?, "line_name"?, "units"}]}` (all detections of the area) |
//! | `line_comparison` | `{"metric", "items": [{"line_id", "line_name"?, "value"}]}` (ratio, units or seconds) |
//! | `oee_trend`, `quality_trend`, `shift_summary` | an OEE result with `"buckets"` (each with `label`) |
//! | `oee_losses` | an OEE result (`planned_seconds`, `losses`) |
//! | `downtime_table` | a downtime summary of the window (`count`, `downtime_seconds`, `outside_planned_seconds`, `unjustified_count`) + `"items"`: its newest stops (docs/api.md#shapes) |
//! | `downtime_pareto` | a downtime summary (`by_reason`: Pareto rows of downtime; `outside_planned_seconds` a bar of its own) |
//! | `hourly_heatmap` | `{"days": [{"date", "label"?, "hours": [24 numbers or null], "total"?}], "max"?, "units"?}` (plant-local date × hour of day) |
//! | `line_status` | `{"line_id", "state": "running"|"stopped"|"no_data", "since"?, "last_detection_at"?, "rate_per_hour"?, "ideal_rate_per_hour"?, "product_name"?, "shift_name"?}` |
//!
//! Names missing from R (`line_name`, `product_name`, `area_name`, reason
//! names) are looked up in [`Names`] (the tenant's metadata).

//!
//! The view of each type is in the submodule of its kind: [`kpi`] (the KPI
//! cards and `line_status`), [`production`] (counts, products, areas, line
//! comparison, the heatmap), [`oee`] (trends, losses, shifts) and
//! [`downtime`] (Pareto, the stop table).

mod downtime;
mod kpi;
mod oee;
mod production;

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
            kpi::kpi_ratio(&c, widget_type, result)
        }
        "kpi_production" => kpi::kpi_production(&c, result),
        "kpi_downtime" => kpi::kpi_downtime(&c, result),
        "production_over_time" => production::production_over_time(&c, result),
        "product_distribution" => production::product_distribution(&c, result),
        "production_by_area" => production::production_by_area(&c, result),
        "line_comparison" => production::line_comparison(&c, result),
        "oee_trend" => oee::oee_trend(&c, result),
        "quality_trend" => oee::quality_trend(&c, result),
        "oee_losses" => oee::oee_losses(&c, result),
        "downtime_pareto" => downtime::downtime_pareto(&c, result),
        "downtime_table" => downtime::downtime_table(&c, result),
        "shift_summary" => oee::shift_summary(&c, result),
        "hourly_heatmap" => production::hourly_heatmap(&c, result),
        "line_status" => kpi::line_status(&c, result),
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

fn bucket_label(b: &Value) -> String {
    text(b, "label")
        .map(str::to_string)
        .or_else(|| text(b, "start").map(format::short_datetime))
        .unwrap_or_default()
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
