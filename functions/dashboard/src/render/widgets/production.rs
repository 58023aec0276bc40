//! The production charts: units over time, by product, by area, lines side
//! by side, and the hour-of-day heatmap.

use serde_json::{json, Value};

use super::{arr, bucket_label, cell, col, int, kpi_state, num, num_cell, text, Ctx};
use crate::i18n::Lang;
use crate::render::format;

pub(super) fn production_over_time(c: &Ctx, r: &Value) -> Value {
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

pub(super) fn product_distribution(c: &Ctx, r: &Value) -> Value {
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

pub(super) fn production_by_area(c: &Ctx, r: &Value) -> Value {
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

pub(super) fn line_comparison(c: &Ctx, r: &Value) -> Value {
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

pub(super) fn hourly_heatmap(c: &Ctx, r: &Value) -> Value {
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
