//! Widget data (the W of [`super::widgets`]) from the engines: the OEE engine
//! ([`dash_store::metrics`]) for the OEE, trend, shift, loss and comparison
//! widgets, the data routes' production counts ([`super::production`]) for
//! `kpi_production`, production over time, by product, by area and the
//! hourly heatmap, the stored stops and [`dash_store::downtime::summary`] for the
//! downtime widgets, and the open stop for `line_status`.
//!
//! OEE widgets count detections inside planned time (docs/oee.md#oee); production
//! widgets count every detection of the window, as the `data` routes do.
//! Every line list goes through `TenantContext::resolve_lines` (a line outside
//! the user's scope is a 404).

use serde_json::{json, Value};

use dash_core::downtime::summary::{Labels, Summary};
use dash_core::timeutil::{self, Interval, Window, WindowQuery};
use dash_store::downtime;
use dash_store::downtime::clock::DataClock;
use dash_store::downtime::window::{self, EventFilter, IfMissing, LinesQuery};
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::TenantMetadata;
use dash_store::metrics::{self, Plant};
use dash_store::query::CountSource;
use shared::auth::TenantContext;
use shared::state::AppState;

fn ids(params: &Value, key: &str) -> Option<Vec<i64>> {
    params
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
}

/// A boolean param, false when absent.
fn flag(params: &Value, key: &str) -> bool {
    params.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The lines a widget asks for, checked against the user's scope.
fn lines(ctx: &TenantContext, meta: &TenantMetadata, params: &Value) -> AppResult<Vec<i64>> {
    let requested: Option<Vec<i64>> = params
        .get("line_id")
        .and_then(Value::as_i64)
        .map(|id| vec![id])
        .or_else(|| ids(params, "line_ids"));
    let mut out = ctx.resolve_lines(meta, requested.as_deref())?;
    if requested.is_none() {
        out.retain(|id| meta.line(*id).map(|l| l.is_active).unwrap_or(false));
    }
    Ok(out)
}

/// The widget's window. `current_shift` / `last_shift` when no shift runs
/// (a weekend) fall back to today, so a line screen still shows the day.
fn window(plant: &Plant<'_>, params: &Value) -> AppResult<(Window, Option<&'static str>)> {
    let s = |k: &str| params.get(k).and_then(Value::as_str);
    let q = WindowQuery {
        start_date: s("start_date"),
        end_date: s("end_date"),
        range: s("range"),
    };
    match plant.resolve_window(&q, None) {
        Ok(w) => Ok((w, None)),
        Err(e) if e.code() == "no_shift" => {
            let today = WindowQuery {
                range: Some("today"),
                ..Default::default()
            };
            plant
                .resolve_window(&today, None)
                .map(|w| (w, Some("range.today")))
                .map_err(AppError::from)
        }
        Err(e) => Err(AppError::from(e)),
    }
}

fn window_json(w: &(Window, Option<&'static str>), plant: &Plant<'_>) -> Value {
    let lang = crate::i18n::Lang::parse(plant.tenant.language()).unwrap_or(crate::i18n::Lang::Es);
    json!({
        "start": timeutil::format_instant(w.0.start, plant.tz()),
        "end": timeutil::format_instant(w.0.end, plant.tz()),
        "label": w.1.map(|k| crate::i18n::t(lang, k)),
    })
}

/// The stops of `line_ids` overlapping `w` a downtime widget shows: every
/// stop, micro-stops when `include_micro`; a line without its table is a 503.
fn widget_stops(line_ids: &[i64], w: &Window, include_micro: bool) -> LinesQuery {
    LinesQuery {
        line_ids: line_ids.to_vec(),
        window: *w,
        filter: EventFilter::every_stop(include_micro),
        if_missing: IfMissing::Fail,
    }
}

/// The downtime summary of `line_ids` over `w`, built by
/// [`dash_store::downtime::summary`] (its downtime the OEE's), its labels in
/// the plant's language.
async fn downtime_summary(
    conn: &mut mysql_async::Conn,
    plant: &Plant<'_>,
    line_ids: &[i64],
    w: &Window,
    include_micro: bool,
) -> AppResult<Summary> {
    let lang = crate::i18n::Lang::parse(plant.tenant.language()).unwrap_or(crate::i18n::Lang::Es);
    let unjustified = crate::i18n::t(lang, "downtime.not_justified");
    let no_shift = crate::i18n::t(lang, "downtime.outside_shifts");
    let labels = Labels {
        unjustified: &unjustified,
        no_shift: &no_shift,
    };
    downtime::summary::summarize(
        conn,
        plant,
        &widget_stops(line_ids, w, include_micro),
        labels,
    )
    .await
}

/// The newest stops of the lines in the window, for `downtime_table`.
async fn stop_rows(
    conn: &mut mysql_async::Conn,
    plant: &Plant<'_>,
    line_ids: &[i64],
    w: &Window,
    include_micro: bool,
) -> AppResult<Vec<Value>> {
    const LIMIT: usize = 50;
    let query = widget_stops(line_ids, w, include_micro);
    let rows = window::newest_of_lines(conn, plant, &query, LIMIT, None).await?;
    let tz = plant.tz();
    let mut clock = DataClock::new(plant.tenant.data_timezone());
    let mut at = |n| timeutil::format_instant(clock.to_utc(n), tz);
    Ok(rows
        .iter()
        .map(|(line_id, r)| {
            json!({
                "downtime_id": r.downtime_id, "line_id": line_id,
                "start_time": at(&r.start), "end_time": at(&r.end),
                "duration_seconds": r.duration_ms as f64 / 1000.0, "is_micro": r.is_micro,
                "failure_id": r.failure_id, "justification": r.justification,
            })
        })
        .collect())
}

/// Computes W for `widget_type` (a catalog type) with validated, effective `params`.
pub async fn compute(
    state: &AppState,
    ctx: &TenantContext,
    meta: &TenantMetadata,
    widget_type: &str,
    params: &Value,
) -> AppResult<Value> {
    let tenant = ctx.tenant()?;
    let plant = Plant::new(&tenant, meta, state.now());
    let tz = plant.tz();
    let line_ids = lines(ctx, meta, params)?;
    let interval = |default: Interval| -> AppResult<Interval> {
        match params.get("interval").and_then(Value::as_str) {
            Some(s) => Interval::parse(s).map_err(AppError::from),
            None => Ok(default),
        }
    };
    let result = match widget_type {
        t if super::production::TYPES.contains(&t) => {
            let wl = window(&plant, params)?;
            let sel = super::production::selection(ctx, meta, line_ids, params)?;
            let mut conn = state.db().client(&tenant.db_location()).await?;
            let r = super::production::compute(&mut conn, &plant, widget_type, params, &sel, &wl.0)
                .await?;
            (r, window_json(&wl, &plant))
        }
        "kpi_oee" | "kpi_availability" | "kpi_performance" | "kpi_quality" | "oee_losses"
        | "oee_trend" | "quality_trend" | "shift_summary" | "line_comparison" => {
            let wl = window(&plant, params)?;
            let w = wl.0;
            let buckets = match widget_type {
                "oee_trend" | "quality_trend" => plant
                    .buckets(&w, interval(Interval::Day)?)
                    .map_err(AppError::from)?,
                "shift_summary" => plant.buckets(&w, Interval::Shift).map_err(AppError::from)?,
                _ => Vec::new(),
            };
            let mut conn = state.db().client(&tenant.db_location()).await?;
            let c = metrics::compute(
                &mut conn,
                &plant,
                &line_ids,
                &w,
                &buckets,
                CountSource::Auto,
            )
            .await?;
            let mut r = serde_json::to_value(c.to_result(tz, !buckets.is_empty()))
                .map_err(AppError::internal)?;
            match widget_type {
                "kpi_oee" | "kpi_availability" | "kpi_performance" | "kpi_quality" => {
                    if let Some(prev) = metrics::previous_window(&plant, &w) {
                        let p = metrics::compute(
                            &mut conn,
                            &plant,
                            &line_ids,
                            &prev,
                            &[],
                            CountSource::Auto,
                        )
                        .await?;
                        r["previous"] = serde_json::to_value(p.to_result(tz, false))
                            .map_err(AppError::internal)?;
                    }
                }
                "line_comparison" => {
                    let metric = params
                        .get("metric")
                        .and_then(Value::as_str)
                        .unwrap_or("oee");
                    let items: Vec<Value> = line_ids
                        .iter()
                        .filter_map(|id| c.line_result(*id, tz, false).map(|lr| (*id, lr)))
                        .map(|(id, lr)| {
                            let value = match metric {
                                "availability" => json!(lr.availability),
                                "performance" => json!(lr.performance),
                                "quality" => json!(lr.quality),
                                "production" => json!(lr.good + lr.rejects),
                                "downtime" => json!(lr.downtime_seconds),
                                _ => json!(lr.oee),
                            };
                            json!({"line_id": id, "value": value})
                        })
                        .collect();
                    r = json!({"metric": metric, "items": items});
                }
                _ => {}
            }
            (r, window_json(&wl, &plant))
        }
        "kpi_downtime" | "downtime_pareto" => {
            let wl = window(&plant, params)?;
            let w = wl.0;
            let include_micro = flag(params, "include_micro");
            let mut conn = state.db().client(&tenant.db_location()).await?;
            let s = downtime_summary(&mut conn, &plant, &line_ids, &w, include_micro).await?;
            let mut r = serde_json::to_value(&s).map_err(AppError::internal)?;
            if widget_type == "kpi_downtime" {
                if let Some(prev) = metrics::previous_window(&plant, &w) {
                    let p = downtime_summary(&mut conn, &plant, &line_ids, &prev, include_micro)
                        .await?;
                    r["previous_downtime_seconds"] = json!(p.downtime_seconds);
                }
            }
            (r, window_json(&wl, &plant))
        }
        "downtime_table" => {
            let wl = window(&plant, params)?;
            let w = wl.0;
            let include_micro = flag(params, "include_micro");
            let mut conn = state.db().client(&tenant.db_location()).await?;
            let items = stop_rows(&mut conn, &plant, &line_ids, &w, include_micro).await?;
            // The list's figures are the window's, not the page's.
            let s = downtime_summary(&mut conn, &plant, &line_ids, &w, include_micro).await?;
            let mut r = serde_json::to_value(&s).map_err(AppError::internal)?;
            r["items"] = json!(items);
            (r, window_json(&wl, &plant))
        }
        "line_status" => {
            let id = *line_ids.first().ok_or(AppError::NotFound)?;
            let minutes = params
                .get("rate_window_minutes")
                .and_then(Value::as_i64)
                .unwrap_or(15)
                .clamp(1, 240);
            let now = state.now();
            let mut conn = state.db().client(&tenant.db_location()).await?;
            let spec = dash_store::downtime::LineSpec::from_metadata(meta, &tenant, id)?;
            let open =
                dash_store::downtime::open_stop(&mut conn, &plant.db_name(), &spec, now).await?;
            let last = if spec.output_areas.is_empty() {
                None
            } else {
                let t = spec.tables(&plant.db_name())?;
                dash_store::downtime::store::max_detected_at(&mut conn, &t).await?
            };
            let rate_window = Window {
                start: now - chrono::Duration::minutes(minutes),
                end: now,
            };
            let c = metrics::compute(
                &mut conn,
                &plant,
                &[id],
                &rate_window,
                &[],
                CountSource::Auto,
            )
            .await?;
            let lr = c.to_result(tz, false);
            let units = (lr.good + lr.rejects) as f64;
            let rate = units * 60.0 / minutes as f64;
            let ideal = lr
                .performance
                .filter(|p| *p > 0.0)
                .map(|p| (rate / p).round());
            let shift = dash_core::oee::current_shift(&plant.shifts, now, tz).and_then(|o| {
                meta.shifts
                    .iter()
                    .find(|s| s.shift_id == o.shift_id)
                    .map(|s| s.shift_name.clone())
            });
            let state_name = match (&open, last) {
                (Some(_), _) => "stopped",
                (None, Some(_)) => "running",
                (None, None) => "no_data",
            };
            let r = json!({
                "line_id": id,
                "state": state_name,
                "since": open.map(|o| timeutil::format_instant(o.since, tz)),
                "stopped_seconds": open.map(|o| o.duration_ms as f64 / 1000.0),
                "last_detection_at": last.map(|n| timeutil::format_instant(timeutil::data_naive_to_utc(n, tenant.data_timezone()), tz)),
                "rate_per_hour": if last.is_some() { Some(rate.round()) } else { None },
                "ideal_rate_per_hour": ideal,
                "shift_name": shift,
            });
            (
                r,
                json!({"start": timeutil::format_instant(rate_window.start, tz), "end": timeutil::format_instant(now, tz)}),
            )
        }
        _ => return Err(AppError::NotFound),
    };
    let (result, window) = result;
    Ok(json!({
        "widget_type": widget_type,
        "params": params,
        "window": window,
        "generated_at": timeutil::format_instant(state.now(), tz),
        "result": result,
        "warnings": [],
    }))
}
