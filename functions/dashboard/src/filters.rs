//! The dashboard's filter panel — built from the client's `filter` table, with
//! the values of the current URL (`f_*`) or each filter's `default_value` —,
//! `GET /api/v1/dashboard/filters` (the same panel as JSON) and
//! `GET /api/v1/dashboard/catalog` (the widget types).

use serde_json::{json, Value};

use crate::i18n::{self, Lang};
use dash_core::catalog;
use dash_store::error::AppResult;
use dash_store::metadata::{self, TenantMetadata};
use shared::auth::{self, Permission, TenantContext};
use shared::extract::{Call, Input};
use shared::http::{self, Request, Response};
use shared::state::AppState;

/// The relative ranges as options, `selected` marked; optionally led by
/// "the widget's own" and closed by "custom".
pub fn range_options(
    lang: Lang,
    selected: &str,
    with_widget_default: bool,
    with_custom: bool,
) -> Vec<Value> {
    let mut out = Vec::new();
    if with_widget_default {
        out.push(json!({"value": "", "label": i18n::t(lang, "filters.widget_default"), "selected": selected.is_empty()}));
    }
    for r in catalog::RANGES {
        out.push(json!({"value": r, "label": i18n::t(lang, &format!("range.{r}")), "selected": *r == selected}));
    }
    if with_custom {
        out.push(json!({"value": "custom", "label": i18n::t(lang, "range.custom"), "selected": selected == "custom"}));
    }
    out
}

fn days_back_range(days: i64) -> &'static str {
    match days {
        0 | 1 => "today",
        2..=7 => "last_7_days",
        _ => "last_30_days",
    }
}

/// The filter panel from the client's `filter` table, with the values of the
/// current URL (`f_*`) or each filter's `default_value`. The `f_*` pairs are
/// read raw, as the widget route reads them: a multi-select sends one pair
/// per choice, which a last-value-wins parameter map would lose.
pub fn filter_controls(
    lang: Lang,
    req: &Request,
    ctx: &TenantContext,
    meta: &TenantMetadata,
) -> Vec<Value> {
    let pairs = req.query_pairs();
    let has_query = pairs.iter().any(|(k, _)| k.starts_with("f_"));
    let given = |name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(k, _)| k == &format!("f_{name}"))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let mut out = Vec::new();
    let mut sources_seen = Vec::new();
    let rows: Vec<&metadata::Filter> = meta.filters.iter().collect();
    let defaults_rows;
    let rows: Vec<&metadata::Filter> = if rows.is_empty() {
        defaults_rows = vec![
            metadata::Filter {
                filter_id: 0,
                filter_name: i18n::t(lang, "filters.range"),
                default_value: json!({"days_back": 0}),
                additional_filter: json!({"type": "daterange"}),
                display_order: 0,
            },
            metadata::Filter {
                filter_id: 0,
                filter_name: i18n::t(lang, "filters.line"),
                default_value: Value::Null,
                additional_filter: json!({"type": "select", "source": "lines", "param": "line_id"}),
                display_order: 1,
            },
        ];
        defaults_rows.iter().collect()
    } else {
        rows
    };
    for f in rows {
        let af = &f.additional_filter;
        let kind = af.get("type").and_then(Value::as_str).unwrap_or("");
        let source = af.get("source").and_then(Value::as_str).unwrap_or("");
        let dv = &f.default_value;
        match kind {
            "daterange" => {
                let default = dv
                    .get("range")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| {
                        dv.get("days_back")
                            .and_then(Value::as_i64)
                            .map(|d| days_back_range(d).to_string())
                    })
                    .unwrap_or_default();
                let selected = if has_query {
                    given("range").last().cloned().unwrap_or_default()
                } else {
                    default
                };
                out.push(json!({
                    "kind": "daterange", "name": f.filter_name, "param": "range",
                    "show_time": af.get("show_time").and_then(Value::as_bool).unwrap_or(false),
                    "options": range_options(lang, &selected, true, true),
                    "start": given("start_date").last(), "end": given("end_date").last(),
                }));
            }
            "select" | "shift" | "multiselect" => {
                let param = af
                    .get("param")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| match source {
                        "lines" => if kind == "multiselect" {
                            "line_ids"
                        } else {
                            "line_id"
                        }
                        .to_string(),
                        "areas" => "area_ids".into(),
                        "products" => "product_ids".into(),
                        _ => "shift_id".into(),
                    });
                let source = if kind == "shift" && source.is_empty() {
                    "shifts"
                } else {
                    source
                };
                if sources_seen.contains(&param) {
                    continue;
                }
                sources_seen.push(param.clone());
                let chosen: Vec<String> = if has_query {
                    given(&param)
                        .iter()
                        .flat_map(|v| v.split(',').map(str::to_string))
                        .collect()
                } else {
                    dv.get("value")
                        .filter(|v| !v.is_null())
                        .map(|v| vec![v.to_string().trim_matches('"').to_string()])
                        .or_else(|| {
                            dv.get("values").and_then(Value::as_array).map(|a| {
                                a.iter()
                                    .map(|v| v.to_string().trim_matches('"').to_string())
                                    .collect()
                            })
                        })
                        .unwrap_or_default()
                };
                let items: Vec<(String, String)> = match source {
                    "lines" => ctx
                        .visible_lines(meta)
                        .iter()
                        .map(|l| (l.line_id.to_string(), l.line_name.clone()))
                        .collect(),
                    "areas" => meta
                        .areas
                        .iter()
                        .filter(|a| ctx.can_see_line(a.line_id))
                        .map(|a| {
                            let line = meta
                                .line(a.line_id)
                                .map(|l| l.line_name.as_str())
                                .unwrap_or("");
                            (a.area_id.to_string(), format!("{line} · {}", a.area_name))
                        })
                        .collect(),
                    "products" => meta
                        .products
                        .iter()
                        .map(|p| (p.product_id.to_string(), p.product_name.clone()))
                        .collect(),
                    "shifts" => meta
                        .shifts
                        .iter()
                        .filter(|s| s.is_active)
                        .map(|s| {
                            (
                                s.shift_id.to_string(),
                                format!(
                                    "{} ({}–{})",
                                    s.shift_name,
                                    s.start_time.format("%H:%M"),
                                    s.end_time.format("%H:%M")
                                ),
                            )
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let field = format!("f_{param}");
                let mut options: Vec<Value> = Vec::new();
                if kind != "multiselect" {
                    let all = if source == "lines" {
                        "filters.all_lines"
                    } else {
                        "filters.all"
                    };
                    options.push(json!({"value": "", "label": i18n::t(lang, all), "selected": chosen.is_empty(), "field": field}));
                }
                options.extend(items.into_iter().map(|(id, label)| {
                    json!({"value": id, "label": label, "selected": chosen.contains(&id), "field": field})
                }));
                let picked: Vec<&str> = options
                    .iter()
                    .filter(|o| o["selected"] == json!(true) && o["value"] != json!(""))
                    .filter_map(|o| o["label"].as_str())
                    .collect();
                let chosen_label = match picked.len() {
                    0 => None,
                    1 => Some(picked[0].to_string()),
                    n => Some(format!("{n} ✓")),
                };
                out.push(json!({
                    "kind": if kind == "multiselect" { "multiselect" } else { "select" },
                    "name": f.filter_name, "param": param, "options": options, "chosen_label": chosen_label,
                }));
            }
            "toggle" => {
                let param = af
                    .get("param")
                    .and_then(Value::as_str)
                    .unwrap_or("include_micro")
                    .to_string();
                let checked = if has_query {
                    given(&param).iter().any(|v| v == "true")
                } else {
                    dv.get("value").and_then(Value::as_bool).unwrap_or(false)
                };
                out.push(json!({"kind": "toggle", "name": f.filter_name, "param": param, "checked": checked}));
            }
            _ => {}
        }
    }
    out
}

/// `GET /api/v1/dashboard/filters`: the filter panel of the dashboard.
pub async fn filters_api(req: Request, state: AppState) -> AppResult<Response> {
    let call = Call::extract(req, state, Permission::DataRead, Input::Query).await?;
    let lang = Lang::from_request(&call.req, Some(call.tenant.language()));
    Ok(http::list(
        &filter_controls(lang, &call.req, &call.ctx, &call.meta),
        None,
    ))
}

/// `GET /api/v1/dashboard/catalog`: the widget types and their params' schemas.
pub async fn catalog_api(req: Request, state: AppState) -> AppResult<Response> {
    auth::require(&req, &state, Permission::DataRead).await?;
    Ok(http::list(catalog::widget_types(), None))
}
