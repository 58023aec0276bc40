//! The widget cards a page lays out: one per widget of a layout, each with
//! the URL of the widget route that fills it (its layout params as query
//! pairs, read back by [`crate::widget::params_from_query`]), its place on
//! the grid and when htmx reloads it.

use serde_json::{json, Value};

use crate::i18n::Lang;
use dash_core::catalog::{self, Layout};
use dash_store::metadata::TenantMetadata;
use shared::params::Params;
use shared::state::AppState;

/// How often a card reloads: the plant's `dashboard_refresh_seconds`
/// (5 s to an hour), 30 s by default.
pub fn refresh_seconds(meta: &TenantMetadata) -> u64 {
    meta.config_number("dashboard_refresh_seconds")
        .map(|v| v.round().clamp(5.0, 3600.0) as u64)
        .unwrap_or(30)
}

/// `?preview`: sample data instead of the engines, only with the dev setting
/// `TEMPLATES_DIR`.
pub fn preview(state: &AppState, params: &Params) -> bool {
    state.config().templates_dir.is_some() && params.get("preview").is_some()
}

/// A widget's layout params as the query pairs of its card (lists
/// comma-separated), then its `slot`: what [`crate::widget::params_from_query`]
/// reads back, on the widget route and in the dashboard's batch alike.
pub fn layout_pairs(params: &Value, slot: usize) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    if let Some(obj) = params.as_object() {
        for (k, v) in obj {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| i.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                Value::Null => continue,
                other => other.to_string(),
            };
            pairs.push((k.clone(), text));
        }
    }
    pairs.push(("slot".to_string(), slot.to_string()));
    pairs
}

/// The URL a widget card loads: its layout params as query pairs.
fn widget_src(base: &str, widget_type: &str, params: &Value, slot: usize) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.extend_pairs(layout_pairs(params, slot));
    format!(
        "{base}/api/v1/dashboard/widgets/{widget_type}?{}",
        q.finish()
    )
}

/// Grid classes for a widget: stacked on phones, half/full width on tablets,
/// the layout's exact place from 1024 px (classes safelisted in app.css).
fn grid_classes(x: u64, y: u64, w: u64, h: u64) -> String {
    let md = if w <= 6 { 6 } else { 12 };
    let mut c = format!(
        "col-span-12 md:col-span-{md} lg:col-span-{w} lg:col-start-{} lg:row-span-{h}",
        x + 1
    );
    if y < 48 {
        c.push_str(&format!(" lg:row-start-{}", y + 1));
    }
    c
}

/// The cards of `layout` in reading order. `with_filters`: they reload when
/// the page's filter panel changes and send its values; `preview`: they ask
/// for sample data.
pub fn widget_cards(
    lang: Lang,
    base: &str,
    layout: &Layout,
    refresh: u64,
    with_filters: bool,
    preview: bool,
) -> Vec<Value> {
    let mut ordered: Vec<(usize, &catalog::LayoutWidget)> =
        layout.widgets.iter().enumerate().collect();
    ordered.sort_by_key(|(_, w)| (w.y, w.x));
    ordered
        .into_iter()
        .map(|(i, w)| {
            let wt = catalog::find(&w.widget_type);
            let title = w.title.clone().unwrap_or_else(|| match (wt, lang) {
                (Some(t), Lang::Es) => t.widget_name_es.to_string(),
                (Some(t), Lang::En) => t.widget_name.to_string(),
                (None, _) => w.widget_type.clone(),
            });
            let mut src = widget_src(base, &w.widget_type, &w.params, i);
            if preview {
                src.push_str("&preview=1");
            }
            let mut trigger = format!("load, every {refresh}s, dash:retry");
            if with_filters {
                trigger.push_str(", change from:#dash-filters delay:200ms");
            }
            json!({
                "id": format!("w{i}"),
                "slot": i,
                "type": w.widget_type,
                "kind": wt.map(|t| t.chart_kind.as_str()),
                "title": title,
                "grid": grid_classes(w.x, w.y, w.w, w.h),
                "src": src,
                "trigger": trigger,
                "include": if with_filters { Some("#dash-filters") } else { None },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::widget::params_from_query;

    #[test]
    fn layout_params_round_trip_through_the_card_url() {
        let params =
            json!({"line_ids": [1, 2], "range": "today", "show_table": true, "target": 0.9});
        let src = widget_src("/base", "oee_trend", &params, 4);
        assert!(src.starts_with("/base/api/v1/dashboard/widgets/oee_trend?"));
        let q = src.split_once('?').unwrap().1;
        let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let back = params_from_query("oee_trend", &pairs).unwrap();
        assert_eq!(back, params);
    }

    #[test]
    fn grid_classes_place_the_widget() {
        assert_eq!(
            grid_classes(3, 2, 6, 4),
            "col-span-12 md:col-span-6 lg:col-span-6 lg:col-start-4 lg:row-span-4 lg:row-start-3"
        );
        assert!(!grid_classes(0, 60, 12, 2).contains("row-start"));
    }
}
