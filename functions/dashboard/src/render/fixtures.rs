//! Sample widget data in the contract of [`super::widgets`], one per widget
//! type, with hostile names on purpose (`<img src=x onerror=…>` as a product,
//! `"><script>` as a line). Used by the tests that render every partial and by
//! the development gallery (`/dev/widgets`, only with `TEMPLATES_DIR` set).
//! Never shown as real data.

use serde_json::{json, Value};

use super::widgets::Names;

/// Hostile strings the UI must show as text.
pub const XSS_PRODUCT: &str = "<img src=x onerror=alert(1)>";
pub const XSS_LINE: &str = "\"><script>alert(1)</script>";

/// Names for the fixtures (line 2 and product 3 are the hostile ones).
pub fn names() -> Names {
    let mut n = Names::default();
    n.lines.insert(1, "Línea 1 – Envasado".into());
    n.lines.insert(2, XSS_LINE.into());
    n.lines.insert(3, "Línea 3 – Paletizado".into());
    n.products.insert(1, "Agua 1,5 L".into());
    n.products.insert(2, "Refresco cola 33 cl".into());
    n.products.insert(3, XSS_PRODUCT.into());
    n.areas.insert(1, "Llenadora".into());
    n.areas.insert(2, "Etiquetadora".into());
    n.areas.insert(3, "Salida".into());
    n.failures
        .insert(4, ("ATASCO".into(), "Atasco".into(), "unplanned".into()));
    n.failures.insert(
        5,
        (
            "FALTA-MAT".into(),
            "Falta de material".into(),
            "unplanned".into(),
        ),
    );
    n.failures.insert(
        1,
        (
            "CAMBIO".into(),
            "Cambio de formato".into(),
            "planned".into(),
        ),
    );
    n
}

fn oee(a: f64, p: f64, q: f64, label: Option<&str>) -> Value {
    let planned = 28_800.0;
    let run = planned * a;
    json!({
        "line_ids": [1], "label": label, "start": "2026-04-01T06:00:00.000+02:00", "end": "2026-04-01T14:00:00.000+02:00",
        "planned_seconds": planned, "downtime_seconds": planned - run, "run_seconds": run,
        "good": (9000.0 * p * q).round(), "rejects": (9000.0 * p * (1.0 - q)).round(),
        "availability": a, "performance": p, "quality": q, "oee": a * p * q,
        "losses": {"downtime_by_reason": [{"failure_id": 4, "seconds": 1500.0}, {"failure_id": null, "seconds": 900.0}, {"failure_id": 5, "seconds": 600.0}],
                   "micro_stop_seconds": 420.0, "speed_loss_seconds": 1300.0, "quality_loss_seconds": 240.0},
        "warnings": [],
    })
}

/// `{"widget_type", "params", "window", "result", ...}` for `widget_type`.
pub fn sample(widget_type: &str) -> Value {
    let day_buckets = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| {
                let f = i as f64;
                let mut b = oee(
                    0.8 + (f * 0.7).sin() * 0.08,
                    0.88 + (f * 1.3).cos() * 0.05,
                    0.975 + (f * 0.5).sin() * 0.015,
                    None,
                );
                b["label"] = json!(format!("{:02}/04", i + 1));
                b
            })
            .collect()
    };
    let result = match widget_type {
        "kpi_oee" | "kpi_availability" | "kpi_performance" | "kpi_quality" => {
            let mut r = oee(0.83, 0.91, 0.982, None);
            r["previous"] = oee(0.8, 0.93, 0.97, None);
            r
        }
        "kpi_production" => {
            json!({"units": 18432, "good": 18110, "rejects": 322, "previous_units": 17250, "rate_per_hour": 2304})
        }
        "kpi_downtime" => {
            json!({"count": 7, "downtime_seconds": 3840.0, "outside_planned_seconds": 1260.0, "micro_stops": {"count": 23, "total_seconds": 610.0}, "previous_downtime_seconds": 4500.0, "longest_seconds": 1500.0})
        }
        "production_over_time" => json!({"interval": "hour", "buckets": (0..12).map(|h| json!({
            "label": format!("{:02}:00", 6 + h), "good": 2000 + (h * 137) % 500, "rejects": 20 + (h * 7) % 30 })).collect::<Vec<_>>()}),
        "product_distribution" => json!({"items": [
            {"product_id": 1, "units": 8200}, {"product_id": 2, "units": 6100}, {"product_id": 3, "units": 3100}], "other_units": 400}),
        "production_by_area" => json!({"items": [
            {"area_id": 1, "line_id": 1, "units": 18900}, {"area_id": 2, "line_id": 1, "units": 18600}, {"area_id": 3, "line_id": 1, "units": 18432}]}),
        "line_comparison" => json!({"metric": "oee", "items": [
            {"line_id": 1, "value": 0.78}, {"line_id": 2, "value": 0.64}, {"line_id": 3, "value": 0.52}]}),
        "oee_trend" | "quality_trend" => {
            let mut r = oee(0.82, 0.9, 0.98, None);
            r["buckets"] = json!(day_buckets(7));
            r
        }
        "shift_summary" => {
            let mut r = oee(0.82, 0.9, 0.98, None);
            r["buckets"] = json!([
                oee(0.86, 0.92, 0.985, Some("Mañana 01/04")),
                oee(0.79, 0.88, 0.978, Some("Tarde 01/04")),
                oee(0.58, 0.81, 0.95, Some("Noche 01/04")),
            ]);
            r
        }
        "oee_losses" => oee(0.83, 0.91, 0.982, None),
        "downtime_pareto" => {
            json!({"count": 9, "downtime_seconds": 5400.0, "outside_planned_seconds": 1800.0, "by_reason": [
            {"id": 4, "label": "Atasco", "code": "ATASCO", "category": "unplanned", "count": 4, "total_seconds": 2400.0, "share": 0.444, "cumulative_share": 0.444},
            {"id": null, "label": "Sin justificar", "count": 2, "total_seconds": 1500.0, "share": 0.278, "cumulative_share": 0.722},
            {"id": 1, "label": "Cambio de formato", "code": "CAMBIO", "category": "planned", "count": 1, "total_seconds": 900.0, "share": 0.167, "cumulative_share": 0.889},
            {"id": 5, "label": XSS_PRODUCT, "category": "unplanned", "count": 2, "total_seconds": 600.0, "share": 0.111, "cumulative_share": 1.0}]})
        }
        "downtime_table" => json!({"items": [
            {"downtime_id": 31, "line_id": 2, "start_time": "2026-04-01T10:42:10.000+02:00", "end_time": "2026-04-01T11:07:10.000+02:00", "duration_seconds": 1500.0, "is_micro": false, "failure_id": 4, "reason": null, "justification": XSS_PRODUCT, "justified_by": 3, "justified_at": "2026-04-01T11:20:00.000+02:00"},
            {"downtime_id": 30, "line_id": 1, "start_time": "2026-04-01T08:15:00.000+02:00", "end_time": "2026-04-01T08:30:00.000+02:00", "duration_seconds": 900.0, "is_micro": false, "failure_id": null, "reason": null, "justification": null, "justified_by": null, "justified_at": null}],
            "count": 3, "downtime_seconds": 2100.0, "outside_planned_seconds": 300.0, "unjustified_count": 1}),
        "hourly_heatmap" => json!({"days": (0..5).map(|d| json!({
            "date": format!("2026-04-{:02}", d + 1),
            "hours": (0..24).map(|h| if (6..22).contains(&h) { 1500 + ((h * 97 + d * 31) % 900) } else { (h * 13 + d) % 200 }).collect::<Vec<_>>()})).collect::<Vec<_>>()}),
        "line_status" => {
            json!({"line_id": 2, "state": "stopped", "since": "2026-04-01T13:41:05.000+02:00", "stopped_seconds": 754.0,
            "last_detection_at": "2026-04-01T13:41:05.000+02:00", "rate_per_hour": 1880, "ideal_rate_per_hour": 2400, "product_name": XSS_PRODUCT, "shift_name": "Mañana"})
        }
        _ => json!({}),
    };
    let params = match widget_type {
        "kpi_oee" => json!({"range": "today", "target": 0.85, "warning": 0.6}),
        "kpi_availability" => json!({"range": "today", "target": 0.9, "warning": 0.75}),
        "kpi_performance" => json!({"range": "today", "target": 0.95, "warning": 0.8}),
        "kpi_quality" => json!({"range": "today", "target": 0.99, "warning": 0.95}),
        "kpi_production" => json!({"range": "today", "target": 20000}),
        "kpi_downtime" => json!({"range": "today", "target": 45, "warning": 90}),
        "oee_trend" => json!({"range": "last_7_days", "interval": "day", "target": 0.85}),
        "quality_trend" => json!({"range": "last_7_days", "interval": "day", "target": 0.99}),
        "line_status" => json!({"line_id": 2}),
        "production_by_area" => json!({"range": "today", "line_id": 1, "show_table": true}),
        _ => json!({"range": "today"}),
    };
    json!({
        "widget_type": widget_type,
        "params": params,
        "window": {"start": "2026-04-01T00:00:00.000+02:00", "end": "2026-04-02T00:00:00.000+02:00"},
        "generated_at": "2026-04-01T13:53:59.000+02:00",
        "result": result,
        "warnings": if widget_type == "kpi_performance" { json!([{"code": "missing_cycle_time", "message": format!("Producto sin tiempo de ciclo ideal: {XSS_PRODUCT}")}]) } else { json!([]) },
    })
}
