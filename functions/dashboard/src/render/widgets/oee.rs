//! The OEE views: the OEE and quality trends, the losses waterfall and the
//! shift table.

use serde_json::{json, Value};

use super::{arr, bucket_label, cell, col, int, kpi_state, num, num_cell, Ctx};

pub(super) fn oee_trend(c: &Ctx, r: &Value) -> Value {
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

pub(super) fn quality_trend(c: &Ctx, r: &Value) -> Value {
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
pub(super) fn oee_losses(c: &Ctx, r: &Value) -> Value {
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

pub(super) fn shift_summary(c: &Ctx, r: &Value) -> Value {
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
