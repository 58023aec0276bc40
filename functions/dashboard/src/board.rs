//! The dashboard's widgets in one answer (issue 14): `GET
//! /api/v1/dashboard/widgets?f_<filter>=…` renders every widget of the
//! caller's layout for the page's filter values, so a refresh or a filter
//! change is one request, not one per widget (the per-user limit is 100 a
//! minute; fourteen widgets refreshing every 30 s and on each filter change
//! met it in normal browsing).
//!
//! Each widget's fragment is what the widget route answers under htmx for
//! that card ([`crate::widget::card_fragment`], the one renderer), so the
//! batch shows exactly what a card loaded on its own would. The dashboard
//! page renders the same batch into its HTML ([`Board::render`] from
//! `pages::plant::dashboard`), so loading the page costs one request, and
//! carries the batch's ETag: the first refresh of an unchanged dashboard is
//! a 304.
//!
//! The ETag is a digest of the whole answer (`widget::etag_of`): whatever
//! changes what any widget shows — the data, the layout, the filters, the
//! language, the caller's role or line scope — changes the bytes and so the
//! tag; two answers with equal tags are equal.

use serde_json::{json, Value};

use crate::cards::layout_pairs;
use crate::i18n::{self, Lang};
use crate::layout::effective_layout;
use crate::widget::{card_fragment, etag_of, fragment_status, with_etag};
use dash_core::catalog::{self, Layout};
use dash_store::error::AppResult;
use dash_store::metadata::TenantMetadata;
use shared::auth::{Permission, TenantContext};
use shared::extract::{Call, Input};
use shared::http::{self, Request, Response};
use shared::params::{parse_choice, parse_flag, parse_id};
use shared::state::AppState;

/// The path of the batch route (below the base path).
pub const BOARD_PATH: &str = "/api/v1/dashboard/widgets";

/// The query parameters the batch route takes: the filter panel's fields
/// (docs/widgets.md#filters). `f_line_ids` is accepted and, like on the
/// widget route, not applied (a known gap).
pub const FILTER_PARAMS: &[&str] = &[
    "f_range",
    "f_start_date",
    "f_end_date",
    "f_line_id",
    "f_line_ids",
    "f_shift_id",
    "f_product_ids",
    "f_area_ids",
    "f_include_micro",
];

/// Every widget of a layout rendered for one set of filter values:
/// `{"widgets": [{"slot", "widget_type", "status", "html"}]}`, in layout order
/// (`slot` is the widget's index in the layout, the card `w<slot>`).
pub struct Board {
    widgets: Value,
}

impl Board {
    /// Renders each widget of `layout` as its card would load it on its own:
    /// its layout params and `slot`, then the `filters` (`f_*` pairs).
    pub async fn render(
        state: &AppState,
        ctx: &TenantContext,
        meta: &TenantMetadata,
        lang: Lang,
        layout: &Layout,
        filters: &[(String, String)],
    ) -> AppResult<Board> {
        let mut widgets = Vec::with_capacity(layout.widgets.len());
        for (slot, w) in layout.widgets.iter().enumerate() {
            let mut pairs = layout_pairs(&w.params, slot);
            pairs.extend(filters.iter().cloned());
            let resp = card_fragment(state, ctx, meta, lang, &w.widget_type, &pairs, false).await?;
            widgets.push(json!({
                "slot": slot,
                "widget_type": w.widget_type,
                "status": fragment_status(&resp),
                "html": String::from_utf8_lossy(resp.body()),
            }));
        }
        Ok(Board {
            widgets: json!({ "widgets": widgets }),
        })
    }

    /// The route's answer: `{"data": {"widgets": […]}}`.
    pub fn response(&self) -> Response {
        http::data(&self.widgets)
    }

    /// The ETag of [`Board::response`].
    pub fn etag(&self) -> String {
        etag_of(self.response().body())
    }

    /// The fragment of the widget in `slot`.
    pub fn html(&self, slot: u64) -> Option<&str> {
        self.widgets["widgets"]
            .as_array()?
            .iter()
            .find(|w| w["slot"].as_u64() == Some(slot))?
            .get("html")?
            .as_str()
    }

    /// Puts each card's fragment in the card (`html`) in place of the URL it
    /// would load on its own: the page shows the widgets without a request.
    pub fn fill(&self, cards: &mut [Value]) {
        for card in cards {
            let Some(slot) = card["slot"].as_u64() else {
                continue;
            };
            if let (Some(html), Some(obj)) = (self.html(slot), card.as_object_mut()) {
                obj.insert("html".into(), json!(html));
                obj.remove("src");
                obj.remove("trigger");
                obj.remove("include");
            }
        }
    }
}

/// What the dashboard's script needs to refresh the board: the batch URL,
/// the ETag of what the page shows, the refresh period and the sentence for
/// a refused request (`widget.rate_limited`, `{seconds}` to fill).
pub fn board_settings(lang: Lang, base: &str, board: &Board, refresh_seconds: u64) -> Value {
    json!({
        "src": format!("{base}{BOARD_PATH}"),
        "etag": board.etag(),
        "refresh": refresh_seconds,
        "rate_limited": i18n::t(lang, "widget.rate_limited"),
    })
}

/// The filled `f_*` pairs of a request, each value checked as its param
/// takes it (docs/api.md#bad-input: 422 naming the `f_*` field): ids
/// positive whole numbers (lists comma-separated), `f_include_micro` a flag,
/// `f_range` a relative range or `custom`. The dates are the widgets' to
/// check (a card names a bad one), as a custom range without both dates
/// leaves each widget its own window.
pub fn filter_pairs(pairs: &[(String, String)]) -> AppResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, v) in pairs
        .iter()
        .filter(|(k, v)| k.starts_with("f_") && !v.is_empty())
    {
        let value = match k.as_str() {
            "f_line_id" | "f_shift_id" => parse_id(k, v)?.to_string(),
            "f_line_ids" | "f_product_ids" | "f_area_ids" => {
                for id in v.split(',') {
                    parse_id(k, id)?;
                }
                v.clone()
            }
            "f_include_micro" => parse_flag(k, v)?.to_string(),
            "f_range" => {
                let mut ranges = catalog::RANGES.to_vec();
                ranges.push("custom");
                parse_choice(k, v, &ranges)?.to_string()
            }
            _ => v.clone(),
        };
        out.push((k.clone(), value));
    }
    Ok(out)
}

/// The pairs the filter panel's form sends as the page shows it
/// (`filters::filter_controls`, rendered by `partials/filters.hbs`): the
/// selected option of each select (the first when none is), every checked
/// box, the custom dates. Empty values are left out: no widget reads them.
pub fn form_pairs(controls: &[Value]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut push = |name: String, value: &Value| {
        if let Some(v) = value.as_str().filter(|v| !v.is_empty()) {
            out.push((name, v.to_string()));
        }
    };
    for c in controls {
        let param = c["param"].as_str().unwrap_or_default();
        let options = c["options"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let selected = || {
            options
                .iter()
                .find(|o| o["selected"] == json!(true))
                .or_else(|| options.first())
                .map(|o| o["value"].clone())
                .unwrap_or(Value::Null)
        };
        match c["kind"].as_str().unwrap_or_default() {
            "daterange" => {
                push("f_range".into(), &selected());
                push("f_start_date".into(), &c["start"]);
                push("f_end_date".into(), &c["end"]);
            }
            "select" => push(format!("f_{param}"), &selected()),
            "multiselect" => {
                for o in options.iter().filter(|o| o["selected"] == json!(true)) {
                    push(format!("f_{param}"), &o["value"]);
                }
            }
            "toggle" if c["checked"] == json!(true) => push(format!("f_{param}"), &json!("true")),
            _ => {}
        }
    }
    out
}

/// `GET /api/v1/dashboard/widgets`: every widget of the caller's dashboard
/// for the `f_*` filters, with an ETag (304 when unchanged). Over the
/// request limit: the 429 with `Retry-After`, which the page shows on each
/// card as how long to wait.
pub async fn dashboard_widgets(req: Request, state: AppState) -> AppResult<Response> {
    let call = Call::extract(req, state.clone(), Permission::DataRead, Input::Query).await?;
    let lang = Lang::from_request(&call.req, Some(call.tenant.language()));
    let (layout, _source, _refused) =
        effective_layout(&state, call.tenant.tenant_id, call.ctx.role).await?;
    let filters = filter_pairs(&call.req.query_pairs())?;
    let board = Board::render(&state, &call.ctx, &call.meta, lang, &layout, &filters).await?;
    Ok(with_etag(&call.req, board.response()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_sends_the_selected_values() {
        let controls = vec![
            json!({"kind": "daterange", "param": "range", "options": [
                {"value": "", "selected": false}, {"value": "today", "selected": false},
                {"value": "last_7_days", "selected": true}], "start": null, "end": null}),
            json!({"kind": "select", "param": "line_id", "options": [
                {"value": "", "selected": false}, {"value": "2", "selected": true}]}),
            json!({"kind": "select", "param": "shift_id", "options": [
                {"value": "", "selected": false}, {"value": "4", "selected": false}]}),
            json!({"kind": "multiselect", "param": "product_ids", "options": [
                {"value": "5", "selected": true}, {"value": "6", "selected": false},
                {"value": "7", "selected": true}]}),
            json!({"kind": "toggle", "param": "include_micro", "checked": true}),
        ];
        let pairs: Vec<(&str, &str)> = vec![
            ("f_range", "last_7_days"),
            ("f_line_id", "2"),
            ("f_product_ids", "5"),
            ("f_product_ids", "7"),
            ("f_include_micro", "true"),
        ];
        let got = form_pairs(&controls);
        let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, pairs);
        // A custom range sends its dates; a select with nothing marked sends
        // its first option, as a browser does.
        let custom = vec![
            json!({"kind": "daterange", "param": "range", "options": [
                {"value": "custom", "selected": true}], "start": "2026-04-01", "end": "2026-04-03"}),
            json!({"kind": "select", "param": "line_id", "options": [{"value": "9", "selected": false}]}),
            json!({"kind": "toggle", "param": "include_micro", "checked": false}),
        ];
        assert_eq!(
            form_pairs(&custom),
            vec![
                ("f_range".to_string(), "custom".to_string()),
                ("f_start_date".to_string(), "2026-04-01".to_string()),
                ("f_end_date".to_string(), "2026-04-03".to_string()),
                ("f_line_id".to_string(), "9".to_string()),
            ]
        );
    }

    #[test]
    fn filters_are_checked_and_only_filled_ones_passed_on() {
        let pairs = |q: &str| -> Vec<(String, String)> {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        };
        assert_eq!(
            filter_pairs(&pairs(
                "f_range=Today&f_line_id=&slot=3&f_include_micro=1&f_product_ids=4,5"
            ))
            .unwrap(),
            pairs("f_range=today&f_include_micro=true&f_product_ids=4,5")
        );
        for (bad, field) in [
            ("f_line_id=abc", "f_line_id"),
            ("f_shift_id=0", "f_shift_id"),
            ("f_area_ids=1,x", "f_area_ids"),
            ("f_include_micro=maybe", "f_include_micro"),
            ("f_range=someday", "f_range"),
        ] {
            let e = filter_pairs(&pairs(bad)).unwrap_err();
            assert_eq!(
                e.status(),
                ::http::StatusCode::UNPROCESSABLE_ENTITY,
                "{bad}"
            );
            assert_eq!(e.field(), Some(field), "{bad}");
        }
    }

    #[test]
    fn fill_puts_each_fragment_in_its_card() {
        let board = Board {
            widgets: json!({"widgets": [
                {"slot": 0, "widget_type": "kpi_oee", "status": 200, "html": "<p>a</p>"},
                {"slot": 1, "widget_type": "kpi_quality", "status": 200, "html": "<p>b</p>"}]}),
        };
        let mut cards = vec![
            json!({"id": "w1", "slot": 1, "src": "/x", "trigger": "load", "include": "#f"}),
            json!({"id": "w0", "slot": 0, "src": "/y", "trigger": "load", "include": null}),
        ];
        board.fill(&mut cards);
        assert_eq!(cards[0], json!({"id": "w1", "slot": 1, "html": "<p>b</p>"}));
        assert_eq!(cards[1], json!({"id": "w0", "slot": 0, "html": "<p>a</p>"}));
        assert_eq!(board.etag(), etag_of(board.response().body()));
    }
}
