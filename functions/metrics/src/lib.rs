//! The `metrics` function's routes (docs/api.md#routes, §7): OEE and its three factors
//! per line or for several lines, bucketed or not, and comparisons of lines
//! and of periods — all from the one engine in [`dash_store::metrics`], so the
//! KPI, trend and comparison answers agree for the same window.
//!
//! Parameters: `line_id` / `line_ids` (default every line the user may see;
//! figures are summed over the lines, then divided), `start_date`/`end_date`
//! or `range`, `interval` (`hour|shift|day|week|month`, adds `buckets`),
//! `timezone` (offset-less dates and the answer's times; buckets follow the
//! plant's calendar). `comparison` also takes `by=lines|periods` and, for
//! periods, `compare_start_date`/`compare_end_date` or `compare_range`
//! (default: the previous period of the same plant-local length).

use chrono_tz::Tz;
use once_cell::sync::Lazy;
use serde_json::{json, Map, Value};

use dash_core::oee::OeeResult;
use dash_core::timeutil::{Bucket, Interval, Window, WindowQuery};
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::TenantMetadata;
use dash_store::metrics::{compute, previous_window, Computed, Plant};
use dash_store::query::CountSource;
use dash_store::query::Selection;
use shared::extract::{traced, Call, Input};
use shared::http::{self, Response};
use shared::params::select;
use shared::router::Router;

/// The parameters of the four KPI routes.
const KPI_PARAMS: &[&str] = &[
    "line_id",
    "line_ids",
    "start_date",
    "end_date",
    "range",
    "timezone",
    "interval",
];

/// The four KPI routes: path, the name its requests are traced under, and
/// the figure it answers.
const KPI_ROUTES: [(&str, &str, Kind); 4] = [
    ("/api/v1/metrics/oee", "GET /api/v1/metrics/oee", Kind::Oee),
    (
        "/api/v1/metrics/availability",
        "GET /api/v1/metrics/availability",
        Kind::Availability,
    ),
    (
        "/api/v1/metrics/performance",
        "GET /api/v1/metrics/performance",
        Kind::Performance,
    ),
    (
        "/api/v1/metrics/quality",
        "GET /api/v1/metrics/quality",
        Kind::Quality,
    ),
];

/// The comparison's parameters: a KPI route's, and what to compare with.
static COMPARISON_PARAMS: Lazy<Vec<&str>> = Lazy::new(|| {
    [
        KPI_PARAMS,
        &[
            "by",
            "compare_start_date",
            "compare_end_date",
            "compare_range",
        ],
    ]
    .concat()
});

pub fn router() -> Router {
    let mut router = Router::new("metrics");
    for (path, endpoint, kind) in KPI_ROUTES {
        router = router
            .get(path, traced(endpoint, Input::Query, move |c| kpi(c, kind)))
            .query(KPI_PARAMS);
    }
    router
        .get(
            "/api/v1/metrics/comparison",
            traced("GET /api/v1/metrics/comparison", Input::Query, compare),
        )
        .query(&COMPARISON_PARAMS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Oee,
    Availability,
    Performance,
    Quality,
}

/// OEE is a property of whole lines: the filters of the data routes are refused.
fn whole_lines(call: &Call) -> AppResult<Selection> {
    for field in [
        "area_id",
        "area_ids",
        "product_id",
        "product_ids",
        "shift_id",
    ] {
        if call.params.get(field).is_some() {
            return Err(AppError::validation(
                field,
                format!("{field} is not supported here: OEE is computed for whole lines (use interval=shift for shifts)"),
            ));
        }
    }
    select(&call.params, &call.ctx, &call.meta, false)
}

struct Scope<'a> {
    plant: Plant<'a>,
    sel: Selection,
    window: Window,
    tz: Tz,
    interval: Option<Interval>,
    buckets: Vec<Bucket>,
}

fn scope(call: &Call) -> AppResult<Scope<'_>> {
    let sel = whole_lines(call)?;
    let plant = Plant::new(&call.tenant, &call.meta, call.state.now());
    let interval = call.params.interval("interval")?;
    let tz_in = call.params.timezone()?;
    let window = plant.resolve_window(&call.params.window(), tz_in)?;
    let buckets = match interval {
        Some(i) => plant.buckets(&window, i)?,
        None => Vec::new(),
    };
    Ok(Scope {
        tz: tz_in.unwrap_or(plant.tz()),
        plant,
        sel,
        window,
        interval,
        buckets,
    })
}

async fn run(
    call: &Call,
    s: &Scope<'_>,
    window: &Window,
    buckets: &[Bucket],
) -> AppResult<Computed> {
    let mut conn = dash_store::query::read_conn(&call.state, &call.tenant).await?;
    compute(
        &mut conn,
        &s.plant,
        &s.sel.line_ids,
        window,
        buckets,
        CountSource::Auto,
    )
    .await
}

async fn kpi(call: Call, kind: Kind) -> AppResult<(Response, u64)> {
    let s = scope(&call)?;
    let computed = run(&call, &s, &s.window, &s.buckets).await?;
    let result = computed.to_result(s.tz, s.interval.is_some());
    let value = present(&result, &call.meta, kind);
    let rows = s.buckets.len().max(1) as u64;
    Ok((http::data(&value), rows))
}

async fn compare(call: Call) -> AppResult<(Response, u64)> {
    let explicit = ["compare_start_date", "compare_end_date", "compare_range"]
        .iter()
        .any(|f| call.params.get(f).is_some());
    let by = call
        .params
        .choice("by", &["lines", "periods"])?
        .unwrap_or(if explicit { "periods" } else { "lines" });
    let s = scope(&call)?;
    if by == "lines" {
        if explicit {
            return Err(AppError::validation(
                "by",
                "compare_* parameters need by=periods",
            ));
        }
        let computed = run(&call, &s, &s.window, &s.buckets).await?;
        let with_buckets = s.interval.is_some();
        let mut items = Vec::with_capacity(s.sel.line_ids.len());
        for &id in &s.sel.line_ids {
            if let Some(r) = computed.line_result(id, s.tz, with_buckets) {
                let mut v = present(&r, &call.meta, Kind::Oee);
                if let Value::Object(m) = &mut v {
                    m.insert("line_id".into(), json!(id));
                    m.insert(
                        "line_name".into(),
                        json!(call.meta.line(id).map(|l| l.line_name.as_str())),
                    );
                }
                items.push(v);
            }
        }
        let total = present(
            &computed.to_result(s.tz, with_buckets),
            &call.meta,
            Kind::Oee,
        );
        let n = items.len() as u64;
        let data = json!({
            "by": "lines",
            "start": dash_core::timeutil::format_instant(s.window.start, s.tz),
            "end": dash_core::timeutil::format_instant(s.window.end, s.tz),
            "items": items,
            "total": total,
        });
        return Ok((http::data(&data), n));
    }
    // Periods: the window against another of the plant's calendar.
    let other = other_window(&call, &s)?;
    let other_buckets = match s.interval {
        Some(i) => s.plant.buckets(&other, i)?,
        None => Vec::new(),
    };
    let current = run(&call, &s, &s.window, &s.buckets).await?;
    let previous = run(&call, &s, &other, &other_buckets).await?;
    let with_buckets = s.interval.is_some();
    let cur = current.to_result(s.tz, with_buckets);
    let prev = previous.to_result(s.tz, with_buckets);
    let delta = |f: fn(&OeeResult) -> Option<f64>| match (f(&cur), f(&prev)) {
        (Some(a), Some(b)) => json!(a - b),
        _ => Value::Null,
    };
    let mut cur_v = present(&cur, &call.meta, Kind::Oee);
    let mut prev_v = present(&prev, &call.meta, Kind::Oee);
    for (v, name) in [(&mut cur_v, "current"), (&mut prev_v, "previous")] {
        if let Value::Object(m) = v {
            m.insert("period".into(), json!(name));
        }
    }
    let data = json!({
        "by": "periods",
        "line_ids": s.sel.line_ids,
        "items": [cur_v, prev_v],
        "delta": {
            "availability": delta(|r| r.availability),
            "performance": delta(|r| r.performance),
            "quality": delta(|r| r.quality),
            "oee": delta(|r| r.oee),
            "good": cur.good as i64 - prev.good as i64,
            "rejects": cur.rejects as i64 - prev.rejects as i64,
        },
    });
    Ok((http::data(&data), 2))
}

/// The period a comparison sets against the main window.
fn other_window(call: &Call, s: &Scope<'_>) -> AppResult<Window> {
    let p = &call.params;
    let q = WindowQuery {
        start_date: p.get("compare_start_date"),
        end_date: p.get("compare_end_date"),
        range: p.get("compare_range"),
    };
    if q.start_date.is_none() && q.end_date.is_none() && q.range.is_none() {
        return previous_window(&s.plant, &s.window)
            .ok_or_else(|| AppError::validation("range", "this window has no previous period"));
    }
    let tz_in = p.timezone()?;
    s.plant.resolve_window(&q, tz_in).map_err(|e| {
        let field = match e.field() {
            "start_date" => "compare_start_date",
            "end_date" => "compare_end_date",
            _ => "compare_range",
        };
        AppError::validation(field, e.message())
    })
}

/// The answer of a route: the OEE result with reason names joined from the
/// warm cache, reduced to the fields of the factor asked for.
fn present(r: &OeeResult, meta: &TenantMetadata, kind: Kind) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    name_reasons(&mut v, meta);
    project(&v, kind)
}

fn name_reasons(v: &mut Value, meta: &TenantMetadata) {
    if let Some(list) = v
        .get_mut("losses")
        .and_then(|l| l.get_mut("downtime_by_reason"))
        .and_then(Value::as_array_mut)
    {
        for item in list {
            let failure = item
                .get("failure_id")
                .and_then(Value::as_i64)
                .and_then(|id| meta.failure(id));
            if let Value::Object(m) = item {
                m.insert(
                    "reason".into(),
                    json!(failure.map(|f| f.failure_name.as_str())),
                );
                m.insert(
                    "failure_code".into(),
                    json!(failure.map(|f| f.failure_code.as_str())),
                );
            }
        }
    }
    if let Some(buckets) = v.get_mut("buckets").and_then(Value::as_array_mut) {
        for b in buckets {
            name_reasons(b, meta);
        }
    }
}

const PERFORMANCE_WARNINGS: [&str; 2] = ["missing_ideal_cycle_time", "performance_above_100"];

fn project(v: &Value, kind: Kind) -> Value {
    if kind == Kind::Oee {
        return v.clone();
    }
    let Value::Object(src) = v else {
        return v.clone();
    };
    let mut out = Map::new();
    let copy = |out: &mut Map<String, Value>, key: &str| {
        if let Some(x) = src.get(key) {
            out.insert(key.to_string(), x.clone());
        }
    };
    for key in ["line_ids", "label", "start", "end"] {
        copy(&mut out, key);
    }
    let loss = |name: &str| {
        src.get("losses")
            .and_then(|l| l.get(name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    match kind {
        Kind::Availability => {
            for key in [
                "planned_seconds",
                "downtime_seconds",
                "run_seconds",
                "availability",
            ] {
                copy(&mut out, key);
            }
            out.insert("downtime_by_reason".into(), loss("downtime_by_reason"));
        }
        Kind::Performance => {
            for key in ["run_seconds", "good", "rejects", "performance"] {
                copy(&mut out, key);
            }
            out.insert("micro_stop_seconds".into(), loss("micro_stop_seconds"));
            out.insert("speed_loss_seconds".into(), loss("speed_loss_seconds"));
        }
        Kind::Quality => {
            for key in ["good", "rejects", "quality"] {
                copy(&mut out, key);
            }
            let total = src.get("good").and_then(Value::as_u64).unwrap_or(0)
                + src.get("rejects").and_then(Value::as_u64).unwrap_or(0);
            out.insert("total".into(), json!(total));
            out.insert("quality_loss_seconds".into(), loss("quality_loss_seconds"));
        }
        Kind::Oee => {}
    }
    let warnings: Vec<Value> = src
        .get("warnings")
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .filter(|w| {
                    kind == Kind::Performance
                        || !w
                            .get("code")
                            .and_then(Value::as_str)
                            .is_some_and(|c| PERFORMANCE_WARNINGS.contains(&c))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    out.insert("warnings".into(), Value::Array(warnings));
    if let Some(Value::Array(b)) = src.get("buckets") {
        out.insert(
            "buckets".into(),
            Value::Array(b.iter().map(|b| project(b, kind)).collect()),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_routes_keep_their_fields_and_buckets() {
        let v = json!({
            "line_ids": [1], "start": "s", "end": "e",
            "planned_seconds": 10.0, "downtime_seconds": 1.0, "run_seconds": 9.0,
            "good": 8, "rejects": 2, "availability": 0.9, "performance": 1.2, "quality": 0.8, "oee": 0.864,
            "losses": {"downtime_by_reason": [], "micro_stop_seconds": 0.0, "speed_loss_seconds": -1.0, "quality_loss_seconds": 2.0},
            "warnings": [{"code": "performance_above_100", "message": "x"}],
            "buckets": [{"line_ids": [1], "label": "b", "start": "s", "end": "e", "good": 8, "rejects": 2, "quality": 0.8,
                         "losses": {}, "warnings": []}]
        });
        let q = project(&v, Kind::Quality);
        assert_eq!(q["total"], 10);
        assert_eq!(q["warnings"], json!([]));
        assert!(q.get("availability").is_none());
        assert_eq!(q["buckets"][0]["label"], "b");
        let p = project(&v, Kind::Performance);
        assert_eq!(p["warnings"][0]["code"], "performance_above_100");
        assert_eq!(p["speed_loss_seconds"], -1.0);
        let a = project(&v, Kind::Availability);
        assert_eq!(a["availability"], 0.9);
        assert_eq!(project(&v, Kind::Oee), v);
    }
}
