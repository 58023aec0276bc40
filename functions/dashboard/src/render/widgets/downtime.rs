//! The downtime views: the Pareto of reasons and the table of stops.

use serde_json::{json, Value};

use super::{arr, cell, col, int, num, num_cell, text, Ctx};
use crate::render::format;

pub(super) fn downtime_pareto(c: &Ctx, r: &Value) -> Value {
    let rows_in = arr(r, "by_reason");
    let top = int(c.params, "top_n").unwrap_or(10).max(1) as usize;
    let shown: Vec<&Value> = rows_in.iter().take(top).collect();
    let label = |p: &Value| -> String {
        text(p, "label")
            .map(str::to_string)
            .unwrap_or_else(|| c.reason_label(int(p, "id").or_else(|| int(p, "failure_id"))))
    };
    let mut labels: Vec<String> = shown.iter().map(|p| label(p)).collect();
    let mut secs: Vec<Value> = shown
        .iter()
        .map(|p| json!(num(p, "total_seconds")))
        .collect();
    let mut cum: Vec<Value> = shown
        .iter()
        .map(|p| json!(num(p, "cumulative_share")))
        .collect();
    let mut colors: Vec<&str> = shown
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
    let mut rows: Vec<Value> = shown
        .iter()
        .map(|p| {
            json!({"cells": [cell(label(p)), num_cell(c.n(num(p, "count"))), num_cell(c.dur(num(p, "total_seconds"))), num_cell(c.pct(num(p, "share"))), num_cell(c.pct(num(p, "cumulative_share")))]})
        })
        .collect();
    // Stop time outside planned time is a bar of its own after the Pareto,
    // outside its shares and its cumulative line: it is not downtime.
    let outside = num(r, "outside_planned_seconds").filter(|s| *s > 0.0);
    if let Some(seconds) = outside {
        labels.push(c.t("downtime.outside_planned"));
        secs.push(json!(seconds));
        cum.push(Value::Null);
        colors.push("neutral");
        rows.push(json!({"cells": [json!({"text": c.t("downtime.outside_planned"), "class": "muted"}), cell("—"), num_cell(c.dur(Some(seconds))), cell("—"), cell("—")]}));
    }
    json!({
        "empty": shown.is_empty() && outside.is_none(),
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
            "foot": [cell(c.t("chart.downtime")), num_cell(c.n(num(r, "count"))), num_cell(c.dur(num(r, "downtime_seconds"))), num_cell("100 %"), cell("")],
        },
    })
}

pub(super) fn downtime_table(c: &Ctx, r: &Value) -> Value {
    // The figures are the window's (the downtime summary: stops starting in
    // it, downtime in planned time, the rest apart), whatever the rows
    // shown: the newest stops overlapping the window, full durations.
    let items = arr(r, "items");
    let count = num(r, "count");
    let pending = num(r, "unjustified_count").unwrap_or(0.0);
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
    let shown = (items.len() as f64) < count.unwrap_or(0.0);
    json!({
        "summary": [
            {"label": c.t("downtime.count"), "value": c.n(count), "tone": "neutral"},
            {"label": c.t("chart.downtime"), "value": c.dur(num(r, "downtime_seconds")), "tone": "info"},
            {"label": c.t("downtime.outside_planned"), "value": c.dur(num(r, "outside_planned_seconds")), "tone": "neutral"},
            {"label": c.t("downtime.pending"), "value": c.n(Some(pending)), "tone": if pending > 0.0 { "warning" } else { "success" }},
        ],
        "has_pending": pending > 0.0,
        "shown_text": shown.then(|| c.t("downtime.newest_shown").replace("{n}", &c.n(Some(items.len() as f64)))),
        "table": {
            "caption": c.t("downtime.list"),
            "columns": [col(c.t("downtime.start"), false), col(c.t("downtime.line"), false), col(c.t("downtime.duration"), true), col(c.t("downtime.reason"), false), col(c.t("downtime.justification"), false)],
            "rows": rows,
        },
    })
}
