//! The widget data route: `GET /api/v1/dashboard/widgets/{widget_type}?<params>&f_<filter>=…`
//! — params as query pairs (arrays comma-separated), the page's filter values as
//! `f_*` pairs overlaid on them ([`params_from_query`]). `HX-Request` gets the
//! widget's HTML partial, anything else `{"data": W}` (see
//! [`crate::render::widgets`] for W). Both carry an ETag of the content and
//! answer 304 to a matching `If-None-Match`. An htmx request whose widget
//! cannot be shown gets an error card in its place ([`widget_error_card`]).

use ::http::header::HeaderValue;
use ::http::StatusCode;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::cards;
use crate::i18n::{self, Lang};
use crate::render::{self, fixtures, widgets};
use dash_core::catalog;
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::TenantMetadata;
use shared::auth::{Permission, TenantContext};
use shared::extract::{Call, Input};
use shared::http::{self, Request, Response};
use shared::state::AppState;

fn is_htmx(req: &Request) -> bool {
    req.header("hx-request").is_some()
}

/// Query value → JSON of the type the schema property wants.
fn coerce(schema: &Value, raw: &[String]) -> Option<Value> {
    let ty = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string");
    let one = raw.last()?;
    match ty {
        "integer" => one
            .trim()
            .parse::<i64>()
            .ok()
            .map(Value::from)
            .or_else(|| Some(Value::String(one.clone()))),
        "number" => one
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .or_else(|| Some(Value::String(one.clone()))),
        "boolean" => match one.as_str() {
            "true" | "1" | "on" => Some(Value::Bool(true)),
            "false" | "0" | "off" => Some(Value::Bool(false)),
            other => Some(Value::String(other.to_string())),
        },
        "array" => {
            let items: Vec<Value> = raw
                .iter()
                .flat_map(|r| r.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<i64>()
                        .map(Value::from)
                        .unwrap_or_else(|_| Value::String(s.to_string()))
                })
                .collect();
            if items.is_empty() {
                None
            } else {
                Some(Value::Array(items))
            }
        }
        _ => Some(Value::String(one.clone())),
    }
}

/// The widget's params from the query: its own (unprefixed) pairs, then the
/// page's filters (`f_*`) where the widget takes them. The pairs are read
/// raw, every value of a repeated name kept (a multi-select filter sends one
/// pair per choice).
pub fn params_from_query(widget_type: &str, pairs: &[(String, String)]) -> AppResult<Value> {
    let wt = catalog::find(widget_type).ok_or(AppError::NotFound)?;
    let props = wt
        .params_schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let values = |name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    };
    let mut params = Map::new();
    for (name, schema) in &props {
        let raw = values(name);
        if !raw.is_empty() {
            if let Some(v) = coerce(schema, &raw) {
                params.insert(name.clone(), v);
            }
        }
    }
    // Unknown unprefixed keys are refused by the schema, as in a layout.
    for (k, v) in pairs {
        let reserved = k.starts_with("f_") || k == "slot" || k == "preview" || k == "_";
        if !reserved && !props.contains_key(k) && !v.is_empty() && !params.contains_key(k) {
            params.insert(k.clone(), Value::String(v.clone()));
        }
    }
    let filter = |name: &str| values(&format!("f_{name}"));
    // Filters apply to every widget that takes them (docs/widgets.md#widgets).
    if let Some(line) = filter("line_id").last() {
        if props.contains_key("line_id") {
            params.remove("line_ids");
            params.insert(
                "line_id".into(),
                coerce(&props["line_id"], std::slice::from_ref(line)).unwrap_or(Value::Null),
            );
        }
    }
    if let Some(range) = filter("range").last() {
        if props.contains_key("range") {
            if range == "custom" {
                let (s, e) = (filter("start_date"), filter("end_date"));
                if let (Some(s), Some(e)) = (s.last(), e.last()) {
                    params.remove("range");
                    params.insert("start_date".into(), Value::String(s.clone()));
                    params.insert("end_date".into(), Value::String(e.clone()));
                }
            } else {
                params.remove("start_date");
                params.remove("end_date");
                params.insert("range".into(), Value::String(range.clone()));
            }
        }
    }
    for name in ["shift_id", "product_ids", "area_ids", "include_micro"] {
        let raw = filter(name);
        if !raw.is_empty() {
            if let Some(schema) = props.get(name) {
                if let Some(v) = coerce(schema, &raw) {
                    params.insert(name.into(), v);
                }
            }
        }
    }
    Ok(Value::Object(params))
}

/// Why a widget has no data to show.
enum WidgetFailure {
    /// Params refused (422): the layout or the filters are wrong.
    Config(String),
    Error(AppError),
}

/// Computes W for a widget (see [`crate::render::widgets`]) with the engines
/// ([`crate::render::data`]).
async fn widget_data(
    state: &AppState,
    ctx: &TenantContext,
    meta: &TenantMetadata,
    widget_type: &str,
    params: &Value,
) -> Result<Value, WidgetFailure> {
    match render::data::compute(state, ctx, meta, widget_type, params).await {
        Ok(data) => Ok(data),
        Err(e)
            if e.status() == StatusCode::UNPROCESSABLE_ENTITY
                || e.status() == StatusCode::BAD_REQUEST =>
        {
            Err(WidgetFailure::Config(e.public_message()))
        }
        Err(e) => Err(WidgetFailure::Error(e)),
    }
}

pub(crate) fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"w-{}\"", hex::encode(&digest[..10]))
}

/// The ETag of a 200 answer (a digest of its body), and a 304 without a body
/// when the request's `If-None-Match` names it.
pub(crate) fn with_etag(req: &Request, mut resp: Response) -> Response {
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let etag = etag_of(resp.body());
    let fresh = req
        .header("if-none-match")
        .map(|v| v.split(',').any(|t| t.trim() == etag))
        .unwrap_or(false);
    if fresh {
        resp.body_mut().clear();
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert("etag", v);
    }
    h.insert(
        "cache-control",
        HeaderValue::from_static("private, no-cache"),
    );
    h.insert(
        "vary",
        HeaderValue::from_static("HX-Request, Cookie, Authorization"),
    );
    resp
}

/// The error card that takes a widget's place. htmx gets it with 200 (so the
/// swap happens without a console error); the real status is in
/// `X-Widget-Status` and the card's `data-widget-error`.
fn widget_error_card(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    code: &str,
    kind: &str,
    heading: String,
    message: String,
) -> AppResult<Response> {
    let data = json!({
        "lang": lang.as_str(), "base": state.config().base_path,
        "code": code, "kind": kind, "heading": heading, "message": message,
    });
    let mut resp = render::partial_response(state, StatusCode::OK, "widgets/_error", &data)?;
    let h = resp.headers_mut();
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(status.as_str()) {
        h.insert("x-widget-status", v);
    }
    Ok(resp)
}

/// The card of an error that keeps a widget from being shown (htmx), or the
/// error itself (JSON, and a failed sign-in, which htmx renews).
fn failure_response(
    state: &AppState,
    lang: Lang,
    htmx: bool,
    widget_type: &str,
    e: AppError,
) -> AppResult<Response> {
    if !htmx || matches!(e, AppError::Unauthorized { .. }) {
        return Err(e);
    }
    if e.is_server_error() {
        tracing::error!(error = %e, widget = %widget_type, "widget failed");
    }
    let kind =
        if e.status() == StatusCode::NOT_FOUND || e.status() == StatusCode::UNPROCESSABLE_ENTITY {
            "config"
        } else {
            "error"
        };
    // The one message a reader is sure to meet in their own language: how
    // long the request limit asks them to wait.
    let message = match &e {
        AppError::RateLimited { retry_after } => {
            i18n::t(lang, "widget.rate_limited").replace("{seconds}", &retry_after.to_string())
        }
        other => other.public_message(),
    };
    widget_error_card(
        state,
        lang,
        e.status(),
        e.code(),
        kind,
        i18n::t(lang, "widget.error"),
        message,
    )
}

/// The widget's partial (`templates/widgets/<type>.hbs`) for W; a
/// `downtime_table` with stops to justify links to the downtime page for
/// those who may justify them.
fn partial(
    state: &AppState,
    ctx: &TenantContext,
    lang: Lang,
    widget_type: &str,
    names: &widgets::Names,
    data: &Value,
) -> AppResult<Response> {
    let mut view = widgets::view(lang, names, widget_type, data);
    view["lang"] = json!(lang.as_str());
    view["base"] = json!(state.config().base_path);
    if widget_type == "downtime_table"
        && ctx.has(Permission::DowntimeJustify)
        && view["has_pending"] == json!(true)
    {
        view["justify_href"] = json!(format!("{}/downtime", state.config().base_path));
    }
    render::partial_response(
        state,
        StatusCode::OK,
        &format!("widgets/{widget_type}"),
        &view,
    )
}

/// The widget's parameters and data for the query `pairs` (layout params and
/// `f_*` filters), or why it has none. `preview`: sample data.
async fn widget_outcome(
    state: &AppState,
    ctx: &TenantContext,
    meta: &TenantMetadata,
    widget_type: &str,
    pairs: &[(String, String)],
    preview: bool,
) -> Result<(Value, widgets::Names), WidgetFailure> {
    let given = params_from_query(widget_type, pairs).map_err(WidgetFailure::Error)?;
    let params = catalog::effective_params(widget_type, &given).map_err(|e| {
        let at = if e.pointer().is_empty() {
            String::new()
        } else {
            format!("{}: ", e.pointer().trim_start_matches('/'))
        };
        WidgetFailure::Config(format!("{at}{}", e.message()))
    })?;
    if preview {
        let mut data = fixtures::sample(widget_type);
        data["params"] = params;
        return Ok((data, fixtures::names()));
    }
    if let Some(id) = params.get("line_id").and_then(Value::as_i64) {
        ctx.line(meta, id).map_err(WidgetFailure::Error)?;
    }
    let data = widget_data(state, ctx, meta, widget_type, &params).await?;
    Ok((data, widgets::Names::from_metadata(meta)))
}

/// What a widget card shows for the query `pairs`: the widget's partial, or
/// the card of what keeps it from being shown (with `X-Widget-Status`). The
/// one renderer of a card's content, for the widget route under htmx and for
/// the dashboard's batch ([`crate::board`]). Err only for a failed sign-in
/// or a template that cannot render.
pub(crate) async fn card_fragment(
    state: &AppState,
    ctx: &TenantContext,
    meta: &TenantMetadata,
    lang: Lang,
    widget_type: &str,
    pairs: &[(String, String)],
    preview: bool,
) -> AppResult<Response> {
    match widget_outcome(state, ctx, meta, widget_type, pairs, preview).await {
        Ok((data, names)) => partial(state, ctx, lang, widget_type, &names, &data),
        Err(WidgetFailure::Config(message)) => widget_error_card(
            state,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "config",
            i18n::t(lang, "widget.config_error"),
            message,
        ),
        Err(WidgetFailure::Error(e)) => failure_response(state, lang, true, widget_type, e),
    }
}

/// The status a card fragment stands for: its `X-Widget-Status` (an error
/// card), else 200.
pub(crate) fn fragment_status(resp: &Response) -> u16 {
    resp.headers()
        .get("x-widget-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// `GET /api/v1/dashboard/widgets/{widget_type}`.
pub async fn widget(req: Request, state: AppState) -> AppResult<Response> {
    let htmx = is_htmx(&req);
    let widget_type = req.path_param("widget_id").unwrap_or_default().to_string();
    // Before the caller is known, a card speaks the language of the cookie.
    let cookie_lang = Lang::from_request(&req, None);
    let call = match Call::extract(req, state.clone(), Permission::DataRead, Input::Query).await {
        Ok(call) => call,
        // Refusals stay errors; a plant that cannot be loaded, or the request
        // limit (how long to wait), is a card, like every failure after the
        // sign-in.
        Err(e) if e.is_server_error() || matches!(e, AppError::RateLimited { .. }) => {
            return failure_response(&state, cookie_lang, htmx, &widget_type, e)
        }
        Err(e) => return Err(e),
    };
    let (req, ctx, meta) = (&call.req, &call.ctx, &call.meta);
    let lang = Lang::from_request(req, Some(call.tenant.language()));
    if catalog::find(&widget_type).is_none() {
        return Err(AppError::NotFound);
    }
    let pairs = req.query_pairs();
    let preview = cards::preview(&state, &call.params);
    if htmx {
        let resp = card_fragment(&state, ctx, meta, lang, &widget_type, &pairs, preview).await?;
        return Ok(if fragment_status(&resp) == 200 {
            with_etag(req, resp)
        } else {
            resp
        });
    }
    match widget_outcome(&state, ctx, meta, &widget_type, &pairs, preview).await {
        Ok((data, _)) => Ok(with_etag(req, http::data(&data))),
        Err(WidgetFailure::Config(message)) => Err(AppError::validation("params", message)),
        Err(WidgetFailure::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn widget_params_come_from_the_query_with_filters_on_top() {
        let p = params_from_query(
            "kpi_oee",
            &pairs("range=today&target=0.85&line_id=2&slot=0&f_range=last_7_days&f_line_id=3"),
        )
        .unwrap();
        assert_eq!(
            p,
            json!({"range": "last_7_days", "target": 0.85, "line_id": 3})
        );
        let p = params_from_query("production_over_time", &pairs("line_ids=1,2&f_range=custom&f_start_date=2026-04-01&f_end_date=2026-04-02&f_product_ids=4&f_product_ids=5")).unwrap();
        assert_eq!(
            p,
            json!({"line_ids": [1, 2], "start_date": "2026-04-01", "end_date": "2026-04-02", "product_ids": [4, 5]})
        );
        // Empty filters leave the widget's own params alone.
        let p = params_from_query("kpi_oee", &pairs("range=today&f_range=&f_line_id=")).unwrap();
        assert_eq!(p, json!({"range": "today"}));
        // A filter the widget does not take is ignored.
        let p = params_from_query("line_status", &pairs("line_id=1&f_range=today")).unwrap();
        assert_eq!(p, json!({"line_id": 1}));
        // Unknown keys reach the schema, which refuses them.
        let p = params_from_query("kpi_oee", &pairs("bogus=1")).unwrap();
        assert!(catalog::validate_params("kpi_oee", &p).is_err());
        assert!(params_from_query("nope", &[]).is_err());
    }

    #[test]
    fn etag_is_stable_and_304_when_matching() {
        let mut req = Request::new(::http::Method::GET, "/x");
        let resp = with_etag(&req, http::html(StatusCode::OK, "<p>a</p>".into()));
        let etag = resp.headers()["etag"].to_str().unwrap().to_string();
        req.headers
            .insert("if-none-match", HeaderValue::from_str(&etag).unwrap());
        let again = with_etag(&req, http::html(StatusCode::OK, "<p>a</p>".into()));
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(again.body().is_empty());
        let changed = with_etag(&req, http::html(StatusCode::OK, "<p>b</p>".into()));
        assert_eq!(changed.status(), StatusCode::OK);
    }
}
