//! The KPI cards (a value against its target, the change since the window
//! before, three stats) and the status card of a line.

use serde_json::{json, Value};

use super::{clamp_pct, int, kpi_state, num, text, Ctx};
use crate::render::format;

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

pub(super) fn kpi_ratio(c: &Ctx, widget_type: &str, r: &Value) -> Value {
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
            json!({"label": c.t("losses.planned"), "value": c.dur(num(r, "planned_seconds"))}),
            json!({"label": c.t("chart.downtime"), "value": c.dur(num(r, "downtime_seconds"))}),
            json!({"label": c.t("losses.run"), "value": c.dur(num(r, "run_seconds"))}),
        ],
        "quality" => vec![
            json!({"label": c.t("kpi.good"), "value": c.n(num(r, "good"))}),
            json!({"label": c.t("kpi.rejects"), "value": c.n(num(r, "rejects"))}),
        ],
        _ => vec![
            json!({"label": c.t("kpi.good"), "value": c.n(num(r, "good"))}),
            json!({"label": c.t("losses.run"), "value": c.dur(num(r, "run_seconds"))}),
        ],
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

pub(super) fn kpi_production(c: &Ctx, r: &Value) -> Value {
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

/// Downtime is the OEE's (in planned time); stop time outside planned time
/// is a stat of its own, never added to it (docs/oee.md#downtime-outside-planned-time).
pub(super) fn kpi_downtime(c: &Ctx, r: &Value) -> Value {
    let seconds = num(r, "downtime_seconds");
    let minutes = seconds.map(|s| s / 60.0);
    let target = num(c.params, "target");
    let state = kpi_state(minutes, target, num(c.params, "warning"), false);
    let previous = num(r, "previous_downtime_seconds").map(|s| s / 60.0);
    let (delta_text, delta_state, delta_icon) = delta_parts(c, minutes, previous, false, false);
    let micro = r.get("micro_stops");
    json!({
        "value_text": seconds.map(format::duration).unwrap_or_else(|| "—".into()),
        "state": if target.is_some() { state } else if seconds.is_some() { "plain" } else { "none" },
        "delta_text": delta_text, "delta_state": delta_state, "delta_icon": delta_icon,
        "has_progress": false,
        "target_text": target.map(|t| format::duration(t * 60.0)),
        "stats": [
            {"label": c.t("kpi.stops"), "value": c.n(num(r, "count"))},
            {"label": c.t("kpi.micro_stops"), "value": c.n(micro.and_then(|m| num(m, "count")))},
            {"label": c.t("kpi.longest"), "value": c.dur(num(r, "longest_seconds"))},
            {"label": c.t("downtime.outside_planned"), "value": c.dur(num(r, "outside_planned_seconds"))},
        ],
    })
}

pub(super) fn line_status(c: &Ctx, r: &Value) -> Value {
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
