//! The `dashboard` function's routes (docs/api.md#routes, §11): the HTML pages, the
//! built front end under `/static/dist/` (where no web server serves it), the
//! dashboard API (`/api/v1/dashboard/*`) and `/api/v1/system/*`.
//!
//! Pages authenticate with the session cookies. Without a valid access token a
//! page answers the "resuming session" step when a refresh cookie exists (its
//! script renews the session and reloads) or redirects to `/login?next=…`.
//! Errors on pages render the themed 403/404/500 pages, unknown paths (the
//! router's own 404) included.
//!
//! Widgets: `GET /api/v1/dashboard/widgets/{widget_type}?<params>&f_<filter>=…`
//! — params as query pairs (arrays comma-separated), the page's filter values as
//! `f_*` pairs overlaid on them. `HX-Request` gets the widget's HTML partial,
//! anything else `{"data": W}` (see [`crate::render::widgets`] for W). Both carry
//! an ETag of the content and answer 304 to a matching `If-None-Match`.

pub mod i18n;
pub mod openapi;
pub mod render;

use std::future::Future;

use ::http::header::HeaderValue;
use ::http::StatusCode;
use mysql_async::prelude::Queryable;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::i18n::Lang;
use crate::render::{assets, fixtures, format, widgets, PageContext};
use dash_core::catalog::{self, Layout};
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::{self, TenantMetadata};
use shared::auth::{self, Permission, Role, TenantContext};
use shared::http::{self, Request, Response};
use shared::router::Router;
use shared::state::AppState;

pub fn router() -> Router {
    Router::new("dashboard")
        .html_errors(|req, state, err| error_page(req, state, None, err))
        .get("/", root)
        .get("/login", login_page)
        .get("/dashboard", |r, s| page(r, s, dashboard_page))
        .get("/lines", |r, s| page(r, s, lines_page))
        .get("/lines/{id}", |r, s| page(r, s, line_page))
        .get("/downtime", |r, s| page(r, s, downtime_page))
        .get("/reports", |r, s| page(r, s, reports_page))
        .get("/admin/users", |r, s| page(r, s, users_page))
        .get("/admin/tenants", |r, s| page(r, s, tenants_page))
        .get("/admin/config", |r, s| page(r, s, config_page))
        .get("/profile", |r, s| page(r, s, profile_page))
        .get("/docs", |r, s| page(r, s, api_docs_page))
        .get("/api/v1/openapi.json", crate::openapi::serve)
        .post("/profile/sessions/{id}/revoke", revoke_session)
        .get("/dev/widgets", |r, s| page(r, s, dev_widgets_page))
        .get("/static/dist/{a}", static_file)
        .get("/static/dist/{a}/{b}", static_file)
        .get("/static/dist/{a}/{b}/{c}", static_file)
        .get("/api/v1/dashboard/layout", get_layout)
        .query(&["role"])
        .post("/api/v1/dashboard/layout", save_layout)
        .get("/api/v1/dashboard/widgets/{widget_id}", widget)
        .query_checked_by_handler()
        .get("/api/v1/dashboard/filters", filters_api)
        .get("/api/v1/dashboard/catalog", catalog_api)
        .get("/api/v1/system/health", shared::health::health)
        .get("/api/v1/system/version", system_version)
        .get("/api/v1/system/stats", system_stats)
}

// ---------------------------------------------------------------------------
// Page plumbing

fn is_htmx(req: &Request) -> bool {
    req.header("hx-request").is_some()
}

/// The path and query of the request, for `?next=` (only same-site paths).
fn next_of(req: &Request) -> String {
    if req.query.is_empty() {
        req.path.clone()
    } else {
        format!("{}?{}", req.path, req.query)
    }
}

fn login_redirect(state: &AppState, req: &Request) -> Response {
    let next: String = form_urlencoded::byte_serialize(next_of(req).as_bytes()).collect();
    http::redirect(&format!("{}/login?next={next}", state.config().base_path))
}

/// Runs a page handler for a signed-in user; turns every failure into the
/// themed error page (or the sign-in step).
async fn page<F, Fut>(req: Request, state: AppState, handler: F) -> AppResult<Response>
where
    F: FnOnce(Request, AppState, TenantContext) -> Fut,
    Fut: Future<Output = AppResult<Response>>,
{
    let ctx = match auth::authenticate(&req, &state).await {
        Ok(ctx) => ctx,
        Err(AppError::Unauthorized { .. }) => {
            if req
                .cookie(auth::context::REFRESH_COOKIE)
                .is_some_and(|c| !c.is_empty())
            {
                let page = PageContext::new(&req, &state, None, None, "");
                return render::page_response(
                    &state,
                    StatusCode::OK,
                    "pages/refresh",
                    &page.into_value(),
                );
            }
            return Ok(login_redirect(&state, &req));
        }
        Err(e) => return Ok(error_page(&req, &state, None, &e)),
    };
    let for_errors = req.clone();
    match handler(req, state.clone(), ctx.clone()).await {
        Ok(resp) => Ok(resp),
        Err(AppError::Unauthorized { .. }) => Ok(login_redirect(&state, &for_errors)),
        Err(e) => Ok(error_page(&for_errors, &state, Some(&ctx), &e)),
    }
}

/// The themed error page for `err` (inside the shell when the user is known).
pub fn error_page(
    req: &Request,
    state: &AppState,
    ctx: Option<&TenantContext>,
    err: &AppError,
) -> Response {
    if err.is_server_error() {
        tracing::error!(error = %err, path = %req.path, "page failed");
    }
    let status = err.status();
    let code = status.as_u16();
    let (key, icon) = match code {
        403 => ("403", "lock"),
        404 => ("404", "travel_explore"),
        503 => ("503", "cloud_off"),
        500..=599 => ("500", "report"),
        _ => ("other", "error"),
    };
    let mut page = PageContext::new(req, state, ctx, None, "");
    let title = page.t(&format!("error.{key}.title"));
    page.title(title.clone());
    page.crumb(title.clone(), None);
    page.set("status", code);
    page.set("error_icon", icon);
    page.set("error_title", title);
    page.set("error_text", page.t(&format!("error.{key}.text")));
    if matches!(code, 400 | 403 | 409 | 422) {
        page.set("message", err.public_message());
    }
    let template = if ctx.is_some() {
        "pages/error"
    } else {
        "pages/error-bare"
    };
    let value = page.into_value();
    let mut resp = match render::render(state, template, &value) {
        Ok(body) => http::html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            http::html(
                status,
                format!("<!doctype html><title>{code}</title><h1>{code}</h1>"),
            )
        }
    };
    for (name, value) in err.headers() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}

async fn tenant_meta(
    state: &AppState,
    ctx: &TenantContext,
) -> AppResult<std::sync::Arc<TenantMetadata>> {
    let tenant = ctx.tenant()?;
    metadata::for_tenant(state, &tenant).await
}

fn refresh_seconds(meta: &TenantMetadata) -> u64 {
    meta.config_number("dashboard_refresh_seconds")
        .map(|v| v.round().clamp(5.0, 3600.0) as u64)
        .unwrap_or(30)
}

async fn root(req: Request, state: AppState) -> AppResult<Response> {
    let base = &state.config().base_path;
    match auth::authenticate(&req, &state).await {
        Ok(ctx) if ctx.is_superadmin() => Ok(http::redirect(&format!("{base}/admin/tenants"))),
        _ => Ok(http::redirect(&format!("{base}/dashboard"))),
    }
}

async fn login_page(req: Request, state: AppState) -> AppResult<Response> {
    if let Ok(ctx) = auth::authenticate(&req, &state).await {
        let home = if ctx.is_superadmin() {
            "/admin/tenants"
        } else {
            "/dashboard"
        };
        return Ok(http::redirect(&format!(
            "{}{home}",
            state.config().base_path
        )));
    }
    let mut page = PageContext::new(&req, &state, None, None, "login");
    let title = page.t("login.title");
    page.title(title);
    if req.query_param("signed_out").is_some() {
        page.set("notice", page.t("login.signed_out"));
    }
    render::page_response(&state, StatusCode::OK, "pages/login", &page.into_value())
}

async fn static_file(req: Request, _state: AppState) -> AppResult<Response> {
    Ok(assets::serve(&req))
}

// ---------------------------------------------------------------------------
// Layouts

/// The built-in layout of a role when neither the tenant nor the defaults have one.
pub fn builtin_layout(role: Role) -> Value {
    let w = |t: &str, x: u64, y: u64, w: u64, h: u64, params: Value| json!({"widget_type": t, "x": x, "y": y, "w": w, "h": h, "params": params, "title": null});
    let widgets = match role {
        Role::Operator => vec![
            w("kpi_oee", 0, 0, 3, 2, json!({"range": "current_shift"})),
            w(
                "kpi_production",
                3,
                0,
                3,
                2,
                json!({"range": "current_shift"}),
            ),
            w(
                "kpi_downtime",
                6,
                0,
                3,
                2,
                json!({"range": "current_shift"}),
            ),
            w("kpi_quality", 9, 0, 3, 2, json!({"range": "current_shift"})),
            w(
                "production_over_time",
                0,
                2,
                8,
                4,
                json!({"range": "current_shift", "interval": "hour"}),
            ),
            w(
                "downtime_pareto",
                8,
                2,
                4,
                4,
                json!({"range": "current_shift"}),
            ),
            w("downtime_table", 0, 6, 12, 4, json!({"range": "today"})),
        ],
        _ => vec![
            w("kpi_oee", 0, 0, 3, 2, json!({})),
            w("kpi_availability", 3, 0, 3, 2, json!({})),
            w("kpi_performance", 6, 0, 3, 2, json!({})),
            w("kpi_quality", 9, 0, 3, 2, json!({})),
            w("kpi_production", 0, 2, 6, 2, json!({})),
            w("kpi_downtime", 6, 2, 6, 2, json!({})),
            w("oee_trend", 0, 4, 8, 4, json!({})),
            w("product_distribution", 8, 4, 4, 4, json!({})),
            w("production_over_time", 0, 8, 6, 4, json!({})),
            w("downtime_pareto", 6, 8, 6, 4, json!({})),
            w("oee_losses", 0, 12, 6, 4, json!({})),
            w("line_comparison", 6, 12, 6, 4, json!({})),
            w("shift_summary", 0, 16, 12, 4, json!({})),
            w("hourly_heatmap", 0, 20, 12, 4, json!({})),
        ],
    };
    json!({"columns": 12, "widgets": widgets})
}

/// Where a layout came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutSource {
    Tenant,
    Default,
    Builtin,
}

impl LayoutSource {
    fn as_str(self) -> &'static str {
        match self {
            LayoutSource::Tenant => "tenant",
            LayoutSource::Default => "default",
            LayoutSource::Builtin => "builtin",
        }
    }
}

/// The stored layout of (tenant, role), else (NULL, role), else none.
async fn stored_layout(
    state: &AppState,
    tenant_id: i64,
    role: Role,
) -> AppResult<Option<(LayoutSource, Value)>> {
    let mut conn = state.db().global().await?;
    let row: Option<(Option<i64>, String)> = conn
        .exec_first(
            "SELECT tenant_id, CAST(layout_config AS CHAR) FROM dashboard_template \
             WHERE role = ? AND (tenant_id = ? OR tenant_id IS NULL) \
             ORDER BY tenant_id IS NULL, template_id LIMIT 1",
            (role.as_str(), tenant_id),
        )
        .await?;
    Ok(row.map(|(tid, text)| {
        let source = if tid.is_some() {
            LayoutSource::Tenant
        } else {
            LayoutSource::Default
        };
        (source, serde_json::from_str(&text).unwrap_or(Value::Null))
    }))
}

/// The layout to show: the stored one when valid; else the built-in one, with
/// the reason the stored one was refused (never rendered half).
async fn effective_layout(
    state: &AppState,
    tenant_id: i64,
    role: Role,
) -> AppResult<(Layout, LayoutSource, Option<String>)> {
    let builtin = || {
        catalog::validate_layout(&builtin_layout(role))
            .map_err(|e| AppError::internal(format!("built-in layout: {e}")))
    };
    match stored_layout(state, tenant_id, role).await? {
        Some((source, value)) => match catalog::validate_layout(&value) {
            Ok(layout) => Ok((layout, source, None)),
            Err(e) => {
                tracing::warn!(tenant_id, role = role.as_str(), error = %e, "stored layout refused");
                Ok((builtin()?, LayoutSource::Builtin, Some(e.to_string())))
            }
        },
        None => Ok((builtin()?, LayoutSource::Builtin, None)),
    }
}

/// Which role's layout a request may read or write: its own, or any with `layout.manage`.
fn layout_role(ctx: &TenantContext, requested: Option<&str>, write: bool) -> AppResult<Role> {
    let role = match requested {
        None => ctx.role,
        Some(r) => Role::parse(r)
            .filter(|r| *r != Role::Superadmin)
            .ok_or_else(|| {
                AppError::validation(
                    "role",
                    "role must be one of admin, manager, operator, viewer",
                )
            })?,
    };
    if role != ctx.role && !ctx.has(Permission::LayoutManage) {
        return Err(AppError::forbidden(
            "only an administrator can read or change another role's layout",
        ));
    }
    if write
        && role == ctx.role
        && !ctx.has(Permission::LayoutEditOwn)
        && !ctx.has(Permission::LayoutManage)
    {
        return Err(AppError::forbidden(
            "your role cannot change its dashboard layout",
        ));
    }
    Ok(role)
}

async fn get_layout(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = auth::require(&req, &state, Permission::DataRead).await?;
    let tenant_id = ctx.tenant_id()?;
    let role = layout_role(&ctx, req.query_param("role").as_deref(), false)?;
    let meta = tenant_meta(&state, &ctx).await?;
    let (layout, source, refused) = effective_layout(&state, tenant_id, role).await?;
    Ok(http::data(&json!({
        "role": role.as_str(),
        "source": source.as_str(),
        "layout": layout.to_json(),
        "refused_reason": refused,
        "refresh_seconds": refresh_seconds(&meta),
    })))
}

/// Line ids named in a layout's params must be lines of this tenant the user may see.
fn check_layout_lines(
    ctx: &TenantContext,
    meta: &TenantMetadata,
    layout: &Layout,
) -> AppResult<()> {
    for (i, w) in layout.widgets.iter().enumerate() {
        let mut ids: Vec<(String, i64)> = Vec::new();
        if let Some(id) = w.params.get("line_id").and_then(Value::as_i64) {
            ids.push((format!("/widgets/{i}/params/line_id"), id));
        }
        if let Some(list) = w.params.get("line_ids").and_then(Value::as_array) {
            for (j, v) in list.iter().enumerate() {
                if let Some(id) = v.as_i64() {
                    ids.push((format!("/widgets/{i}/params/line_ids/{j}"), id));
                }
            }
        }
        for (pointer, id) in ids {
            if ctx.line(meta, id).is_err() {
                return Err(AppError::validation(
                    format!("layout{pointer}"),
                    format!("widget {i}: line {id} does not exist or is not yours"),
                ));
            }
        }
    }
    Ok(())
}

async fn save_layout(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = auth::require(&req, &state, Permission::DataRead).await?;
    let tenant_id = ctx.tenant_id()?;
    let body: Value = req.json()?;
    let obj = body.as_object().ok_or_else(|| {
        AppError::bad_request(
            "send {\"role\": ..., \"layout\": {\"columns\": 12, \"widgets\": [...]}}",
        )
    })?;
    if let Some(k) = obj.keys().find(|k| *k != "role" && *k != "layout") {
        return Err(AppError::validation(
            k.clone(),
            format!("unknown field `{}`", k.chars().take(40).collect::<String>()),
        ));
    }
    let role_str = match obj.get("role") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(AppError::validation("role", "role must be a string")),
    };
    let role = layout_role(&ctx, role_str, true)?;
    let layout_value = obj
        .get("layout")
        .ok_or_else(|| AppError::validation("layout", "layout is required"))?;
    let layout = catalog::validate_layout(layout_value)
        .map_err(|e| AppError::validation(format!("layout{}", e.pointer), e.message.clone()))?;
    let meta = tenant_meta(&state, &ctx).await?;
    check_layout_lines(&ctx, &meta, &layout)?;
    let stored = layout.to_json();
    let mut conn = state.db().global().await?;
    conn.exec_drop(
        "INSERT INTO dashboard_template (tenant_id, role, layout_config, updated_by, updated_at) \
         VALUES (?, ?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE layout_config = VALUES(layout_config), updated_by = VALUES(updated_by), \
         updated_at = VALUES(updated_at)",
        (tenant_id, role.as_str(), stored.to_string(), ctx.user_id, state.now().naive_utc()),
    )
    .await?;
    drop(conn);
    auth::audit::record_for(
        &state,
        &ctx,
        &req,
        "layout.update",
        "dashboard_template",
        format!("{tenant_id}:{}", role.as_str()),
        json!({"role": role.as_str(), "widgets": layout.widgets.len()}),
    )
    .await?;
    Ok(http::data(
        &json!({"role": role.as_str(), "source": "tenant", "layout": stored}),
    ))
}

// ---------------------------------------------------------------------------
// Widgets

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
/// page's filters (`f_*`) where the widget takes them.
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

fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"w-{}\"", hex::encode(&digest[..10]))
}

fn with_etag(req: &Request, mut resp: Response) -> Response {
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

async fn widget(req: Request, state: AppState) -> AppResult<Response> {
    let widget_type = req.path_param("widget_id").unwrap_or_default().to_string();
    let ctx = auth::require(&req, &state, Permission::DataRead).await?;
    let tenant = ctx.tenant()?;
    let lang = Lang::from_request(&req, Some(tenant.language()));
    let htmx = is_htmx(&req);
    if catalog::find(&widget_type).is_none() {
        return Err(AppError::NotFound);
    }
    let pairs = req.query_pairs();
    let preview = state.config().templates_dir.is_some() && req.query_param("preview").is_some();
    let outcome: Result<(Value, widgets::Names), WidgetFailure> = async {
        let given = params_from_query(&widget_type, &pairs).map_err(WidgetFailure::Error)?;
        let params = catalog::effective_params(&widget_type, &given).map_err(|e| {
            let at = if e.pointer().is_empty() {
                String::new()
            } else {
                format!("{}: ", e.pointer().trim_start_matches('/'))
            };
            WidgetFailure::Config(format!("{at}{}", e.message()))
        })?;
        if preview {
            let mut data = fixtures::sample(&widget_type);
            data["params"] = params;
            return Ok((data, fixtures::names()));
        }
        let meta = tenant_meta(&state, &ctx)
            .await
            .map_err(WidgetFailure::Error)?;
        if let Some(id) = params.get("line_id").and_then(Value::as_i64) {
            ctx.line(&meta, id).map_err(WidgetFailure::Error)?;
        }
        let data = widget_data(&state, &ctx, &meta, &widget_type, &params).await?;
        Ok((data, widgets::Names::from_metadata(&meta)))
    }
    .await;
    match outcome {
        Ok((data, names)) => {
            let resp = if htmx {
                let mut view = widgets::view(lang, &names, &widget_type, &data);
                view["lang"] = json!(lang.as_str());
                view["base"] = json!(state.config().base_path);
                if widget_type == "downtime_table"
                    && ctx.has(Permission::DowntimeJustify)
                    && view["has_pending"] == json!(true)
                {
                    view["justify_href"] = json!(format!("{}/downtime", state.config().base_path));
                }
                render::partial_response(
                    &state,
                    StatusCode::OK,
                    &format!("widgets/{widget_type}"),
                    &view,
                )?
            } else {
                http::data(&data)
            };
            Ok(with_etag(&req, resp))
        }
        Err(WidgetFailure::Config(message)) => {
            if htmx {
                widget_error_card(
                    &state,
                    lang,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "config",
                    i18n::t(lang, "widget.config_error"),
                    message,
                )
            } else {
                Err(AppError::validation("params", message))
            }
        }
        Err(WidgetFailure::Error(e)) => {
            if htmx && !matches!(e, AppError::Unauthorized { .. }) {
                if e.is_server_error() {
                    tracing::error!(error = %e, widget = %widget_type, "widget failed");
                }
                let kind = if e.status() == StatusCode::NOT_FOUND
                    || e.status() == StatusCode::UNPROCESSABLE_ENTITY
                {
                    "config"
                } else {
                    "error"
                };
                widget_error_card(
                    &state,
                    lang,
                    e.status(),
                    e.code(),
                    kind,
                    i18n::t(lang, "widget.error"),
                    e.public_message(),
                )
            } else {
                Err(e)
            }
        }
    }
}

/// The URL a widget card loads: its layout params as query pairs.
fn widget_src(base: &str, widget_type: &str, params: &Value, slot: usize) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
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
            q.append_pair(k, &text);
        }
    }
    q.append_pair("slot", &slot.to_string());
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

fn widget_cards(
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

// ---------------------------------------------------------------------------
// Filters

fn range_options(
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
/// current URL (`f_*`) or each filter's `default_value`.
fn filter_controls(
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

async fn filters_api(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = auth::require(&req, &state, Permission::DataRead).await?;
    let tenant = ctx.tenant()?;
    let meta = tenant_meta(&state, &ctx).await?;
    let lang = Lang::from_request(&req, Some(tenant.language()));
    Ok(http::list(&filter_controls(lang, &req, &ctx, &meta), None))
}

async fn catalog_api(req: Request, state: AppState) -> AppResult<Response> {
    auth::require(&req, &state, Permission::DataRead).await?;
    Ok(http::list(catalog::widget_types(), None))
}

// ---------------------------------------------------------------------------
// Pages

async fn dashboard_page(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    if ctx.is_superadmin() {
        return Ok(http::redirect(&format!(
            "{}/admin/tenants",
            state.config().base_path
        )));
    }
    ctx.require(Permission::DataRead)?;
    let tenant_id = ctx.tenant_id()?;
    let meta = tenant_meta(&state, &ctx).await?;
    let (layout, _source, refused) = effective_layout(&state, tenant_id, ctx.role).await?;
    let mut page = PageContext::new(&req, &state, Some(&ctx), Some(&meta), "dashboard");
    let lang = page.lang();
    let title = page.t("dashboard.title");
    page.title(title.clone())
        .crumb(i18n::t(lang, "nav.dashboard"), None);
    let refresh = refresh_seconds(&meta);
    let filters = filter_controls(lang, &req, &ctx, &meta);
    let preview = state.config().templates_dir.is_some() && req.query_param("preview").is_some();
    let cards = widget_cards(
        lang,
        page.base(),
        &layout,
        refresh,
        !filters.is_empty(),
        preview,
    );
    page.set("heading", title)
        .set("subheading", i18n::t(lang, "dashboard.subtitle"))
        .set("refresh_seconds", refresh)
        .set("filters", filters)
        .set("widgets", cards)
        .set("layout_error", refused)
        .set(
            "can_edit_layout",
            ctx.has(Permission::LayoutEditOwn) || ctx.has(Permission::LayoutManage),
        );
    render::page_response(
        &state,
        StatusCode::OK,
        "pages/dashboard",
        &page.into_value(),
    )
}

fn line_widgets(line_id: i64) -> Value {
    let w = |t: &str, x: u64, y: u64, w: u64, h: u64, params: Value| json!({"widget_type": t, "x": x, "y": y, "w": w, "h": h, "params": params});
    json!({"columns": 12, "widgets": [
        w("line_status", 0, 0, 4, 4, json!({"line_id": line_id})),
        w("kpi_oee", 4, 0, 4, 2, json!({"line_id": line_id, "range": "current_shift"})),
        w("kpi_production", 8, 0, 4, 2, json!({"line_id": line_id, "range": "current_shift"})),
        w("kpi_availability", 4, 2, 4, 2, json!({"line_id": line_id, "range": "current_shift"})),
        w("kpi_downtime", 8, 2, 4, 2, json!({"line_id": line_id, "range": "current_shift"})),
        w("production_over_time", 0, 4, 8, 4, json!({"line_id": line_id, "range": "last_24_hours", "interval": "hour"})),
        w("oee_losses", 8, 4, 4, 4, json!({"line_id": line_id, "range": "current_shift"})),
        w("downtime_table", 0, 8, 12, 4, json!({"line_id": line_id, "range": "today"})),
    ]})
}

async fn line_page(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    ctx.require(Permission::DataRead)?;
    let id = req.path_id("id")?;
    let meta = tenant_meta(&state, &ctx).await?;
    let line = ctx.line(&meta, id)?.clone();
    let mut page = PageContext::new(&req, &state, Some(&ctx), Some(&meta), &format!("line:{id}"));
    let lang = page.lang();
    page.title(line.line_name.clone())
        .crumb(i18n::t(lang, "nav.lines"), Some("/lines"))
        .crumb(line.line_name.clone(), None);
    let layout = catalog::validate_layout(&line_widgets(id))
        .map_err(|e| AppError::internal(format!("line layout: {e}")))?;
    let refresh = refresh_seconds(&meta).min(30);
    let preview = state.config().templates_dir.is_some() && req.query_param("preview").is_some();
    let lines: Vec<Value> = ctx
        .visible_lines(&meta)
        .iter()
        .map(|l| json!({"line_name": l.line_name, "href": page.url(&format!("/lines/{}", l.line_id)), "current": l.line_id == id}))
        .collect();
    let cards = widget_cards(lang, page.base(), &layout, refresh, false, preview);
    page.set("line", &line)
        .set("lines", lines)
        .set("refresh_seconds", refresh)
        .set("widgets", cards);
    render::page_response(&state, StatusCode::OK, "pages/line", &page.into_value())
}

async fn lines_page(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    ctx.require(Permission::DataRead)?;
    let meta = tenant_meta(&state, &ctx).await?;
    let mut page = PageContext::new(&req, &state, Some(&ctx), Some(&meta), "lines");
    let lang = page.lang();
    let title = page.t("lines.title");
    page.title(title.clone())
        .crumb(i18n::t(lang, "nav.lines"), None);
    let widgets: Vec<Value> = ctx
        .visible_lines(&meta)
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let i = i as u64;
            json!({"widget_type": "line_status", "x": (i % 3) * 4, "y": (i / 3) * 4, "w": 4, "h": 4, "params": {"line_id": l.line_id}, "title": l.line_name})
        })
        .collect();
    let layout = catalog::validate_layout(&json!({"columns": 12, "widgets": widgets}))
        .map_err(|e| AppError::internal(format!("lines layout: {e}")))?;
    let preview = state.config().templates_dir.is_some() && req.query_param("preview").is_some();
    let cards = widget_cards(
        lang,
        page.base(),
        &layout,
        refresh_seconds(&meta),
        false,
        preview,
    );
    page.set("heading", title)
        .set("subheading", i18n::t(lang, "lines.subtitle"))
        .set("widgets", cards);
    render::page_response(&state, StatusCode::OK, "pages/lines", &page.into_value())
}

async fn downtime_page(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    ctx.require(Permission::DataRead)?;
    let meta = tenant_meta(&state, &ctx).await?;
    let mut page = PageContext::new(&req, &state, Some(&ctx), Some(&meta), "downtime");
    let lang = page.lang();
    let title = page.t("downtime.title");
    page.title(title.clone()).crumb(title.clone(), None);
    let selected_line = req
        .query_param("line_id")
        .or_else(|| req.query_param("f_line_id"))
        .and_then(|v| v.parse::<i64>().ok());
    let lines: Vec<Value> = ctx
        .visible_lines(&meta)
        .iter()
        .map(|l| json!({"line_id": l.line_id, "line_name": l.line_name, "selected": Some(l.line_id) == selected_line}))
        .collect();
    let range = req
        .query_param("range")
        .unwrap_or_else(|| "last_7_days".into());
    let active: Vec<&metadata::Failure> = meta.failures.iter().filter(|f| f.is_active).collect();
    let group = |cat: &str| -> Vec<Value> {
        active
            .iter()
            .filter(|f| f.failure_category == cat)
            .map(|f| json!({"failure_id": f.failure_id, "failure_code": f.failure_code, "failure_name": f.failure_name}))
            .collect()
    };
    let reason_groups = vec![
        json!({"label": i18n::t(lang, "category.unplanned"), "reasons": group("unplanned")}),
        json!({"label": i18n::t(lang, "category.planned"), "reasons": group("planned")}),
    ];
    let can_justify = ctx.has(Permission::DowntimeJustify);
    page.set("heading", title)
        .set("subheading", i18n::t(lang, "downtime.subtitle"))
        .set("lines", lines)
        .set("ranges", range_options(lang, &range, false, false))
        .set("include_micro", req.query_param("include_micro").is_some())
        .set("only_unjustified", req.query_param("unjustified").is_some())
        .set("reason_groups", reason_groups)
        .set("can_justify", can_justify)
        .set(
            "config",
            json!({
                "can_justify": can_justify,
                "reasons": meta.failures.iter().map(|f| json!({"failure_id": f.failure_id, "failure_name": f.failure_name, "failure_code": f.failure_code})).collect::<Vec<_>>(),
                "lines": ctx.visible_lines(&meta).iter().map(|l| json!({"line_id": l.line_id, "line_name": l.line_name})).collect::<Vec<_>>(),
            }),
        );
    render::page_response(&state, StatusCode::OK, "pages/downtime", &page.into_value())
}

async fn reports_page(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    ctx.require(Permission::DataRead)?;
    let tenant = ctx.tenant()?;
    let meta = tenant_meta(&state, &ctx).await?;
    let mut page = PageContext::new(&req, &state, Some(&ctx), Some(&meta), "reports");
    let lang = page.lang();
    let title = page.t("reports.title");
    page.title(title.clone()).crumb(title.clone(), None);
    let today = state.now().with_timezone(&tenant.timezone()).date_naive();
    let date = req
        .query_param("date")
        .and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        .filter(|d| *d <= today)
        .unwrap_or(today);
    let selected_line = req
        .query_param("line_id")
        .and_then(|v| v.parse::<i64>().ok());
    let lines: Vec<Value> = ctx
        .visible_lines(&meta)
        .iter()
        .map(|l| json!({"line_id": l.line_id, "line_name": l.line_name, "selected": Some(l.line_id) == selected_line}))
        .collect();
    let kind = match req.query_param("kind").as_deref() {
        Some("day") => "day",
        _ => "shift",
    };
    page.set("heading", title)
        .set("subheading", i18n::t(lang, "reports.subtitle"))
        .set("date", date.format("%Y-%m-%d").to_string())
        .set("today", today.format("%Y-%m-%d").to_string())
        .set("kind", kind)
        .set("lines", lines)
        .set("can_export", ctx.has(Permission::DataExport));
    render::page_response(&state, StatusCode::OK, "pages/reports", &page.into_value())
}

async fn users_page(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    if !ctx.has(Permission::UsersRead) && !ctx.has(Permission::UsersManage) {
        return Err(AppError::forbidden("your role cannot see the users"));
    }
    let meta = match ctx.tenant_id {
        Some(_) => Some(tenant_meta(&state, &ctx).await?),
        None => None,
    };
    let mut page = PageContext::new(&req, &state, Some(&ctx), meta.as_deref(), "users");
    let lang = page.lang();
    let title = page.t("users.title");
    page.title(title.clone()).crumb(title.clone(), None);
    let roles: Vec<Value> = Role::ALL
        .iter()
        .filter(|r| **r != Role::Superadmin || ctx.is_superadmin())
        .map(|r| json!({"value": r.as_str(), "label": i18n::t(lang, &format!("role.{}", r.as_str()))}))
        .collect();
    let subtitle = if ctx.is_superadmin() {
        page.t("users.subtitle_all")
    } else {
        page.t("users.subtitle")
    };
    page.set("heading", title)
        .set("subheading", subtitle)
        .set("roles", &roles)
        .set("can_manage", ctx.has(Permission::UsersManage))
        .set(
            "config",
            json!({"roles": roles, "tenant_id": ctx.tenant_id}),
        );
    render::page_response(
        &state,
        StatusCode::OK,
        "pages/admin/users",
        &page.into_value(),
    )
}

async fn tenants_page(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    if !ctx.is_superadmin() {
        return Err(AppError::forbidden(
            "only the service operator manages tenants",
        ));
    }
    let mut page = PageContext::new(&req, &state, Some(&ctx), None, "tenants");
    let lang = page.lang();
    let title = page.t("tenants.title");
    page.title(title.clone()).crumb(title.clone(), None);
    let zones = [
        "Europe/Madrid",
        "Europe/Lisbon",
        "Europe/London",
        "Europe/Paris",
        "Europe/Berlin",
        "America/Mexico_City",
        "America/Bogota",
        "America/Lima",
        "America/Santiago",
        "America/Argentina/Buenos_Aires",
        "America/New_York",
        "America/Chicago",
        "America/Los_Angeles",
        "America/Sao_Paulo",
        "Atlantic/Canary",
        "UTC",
    ];
    page.set("heading", title)
        .set("subheading", i18n::t(lang, "tenants.subtitle"))
        .set("timezones", zones);
    render::page_response(
        &state,
        StatusCode::OK,
        "pages/admin/tenants",
        &page.into_value(),
    )
}

async fn config_page(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    let can_layout = ctx.has(Permission::LayoutEditOwn) || ctx.has(Permission::LayoutManage);
    if !ctx.has(Permission::ConfigManage) && !can_layout {
        return Err(AppError::forbidden(
            "your role cannot change the configuration",
        ));
    }
    let tenant_id = ctx.tenant_id()?;
    let meta = tenant_meta(&state, &ctx).await?;
    let (layout, _, _) = effective_layout(&state, tenant_id, ctx.role).await?;
    let mut page = PageContext::new(&req, &state, Some(&ctx), Some(&meta), "config");
    let lang = page.lang();
    let title = page.t("config.title");
    page.title(title.clone()).crumb(title.clone(), None);
    let cfg = |key: &str| meta.config_number(key);
    let threshold = cfg("downtime_threshold_seconds").unwrap_or(120.0);
    let micro = cfg("micro_stop_seconds").unwrap_or(20.0);
    let n = |v: f64| format::number(lang, v, 0);
    let line_thresholds: Vec<Value> = ctx
        .visible_lines(&meta)
        .iter()
        .map(|l| {
            json!({
                "line_name": l.line_name,
                "threshold": l.downtime_threshold_seconds.map(|v| n(v as f64)).unwrap_or_else(|| format!("{} ·", n(threshold))),
                "micro": l.micro_stop_seconds.map(|v| n(v as f64)).unwrap_or_else(|| format!("{} ·", n(micro))),
            })
        })
        .collect();
    let settings = vec![
        json!({"label": i18n::t(lang, "config.refresh"), "value": n(refresh_seconds(&meta) as f64)}),
        json!({"label": i18n::t(lang, "config.max_days"), "value": cfg("max_query_days").map(n).unwrap_or_else(|| "366".into())}),
        json!({"label": i18n::t(lang, "config.ideal_cycle"), "value": cfg("default_ideal_cycle_time_seconds").map(|v| format::number(lang, v, 2)).unwrap_or_else(|| "—".into())}),
    ];
    let catalog_view: Vec<Value> = catalog::widget_types()
        .iter()
        .map(|t| {
            let params: Vec<&String> = t
                .params_schema
                .get("properties")
                .and_then(Value::as_object)
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            let requires_line = t
                .params_schema
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|v| v == "line_id"));
            json!({
                "widget_type": t.widget_type,
                "name": if lang == Lang::Es { t.widget_name_es } else { t.widget_name },
                "chart_kind": t.chart_kind.as_str(),
                "default_w": t.default_w, "default_h": t.default_h,
                "params": params, "requires_line": requires_line,
            })
        })
        .collect();
    let roles: Vec<Value> = if ctx.has(Permission::LayoutManage) {
        [Role::Admin, Role::Manager, Role::Operator, Role::Viewer]
            .iter()
            .map(|r| json!({"value": r.as_str(), "label": i18n::t(lang, &format!("role.{}", r.as_str()))}))
            .collect()
    } else {
        Vec::new()
    };
    let editor = json!({
        "role": ctx.role.as_str(),
        "roles": roles,
        "layout": layout.to_json(),
        "catalog": catalog_view,
        "lines": ctx.visible_lines(&meta).iter().map(|l| json!({"line_id": l.line_id, "line_name": l.line_name})).collect::<Vec<_>>(),
        "ranges": catalog::RANGES.iter().map(|r| json!({"value": r, "label": i18n::t(lang, &format!("range.{r}"))})).collect::<Vec<_>>(),
        "intervals": catalog::INTERVALS.iter().map(|r| json!({"value": r, "label": i18n::t(lang, &format!("interval.{r}"))})).collect::<Vec<_>>(),
    });
    page.set("heading", title)
        .set("subheading", i18n::t(lang, "config.subtitle"))
        .set(
            "defaults",
            json!({"threshold": n(threshold), "micro": n(micro)}),
        )
        .set("line_thresholds", line_thresholds)
        .set("settings", settings)
        .set("reasons", &meta.failures)
        .set("editor", editor);
    render::page_response(
        &state,
        StatusCode::OK,
        "pages/admin/config",
        &page.into_value(),
    )
}

fn device_of(ua: Option<&str>) -> (String, &'static str) {
    let Some(ua) = ua.filter(|u| !u.is_empty()) else {
        return (String::new(), "devices");
    };
    let browser = ["Edg/", "OPR/", "Firefox/", "Chrome/", "Safari/"]
        .iter()
        .find(|b| ua.contains(**b))
        .map(|b| match *b {
            "Edg/" => "Edge",
            "OPR/" => "Opera",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            _ => "Safari",
        })
        .unwrap_or("");
    let os = if ua.contains("Android") {
        "Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS") {
        "macOS"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        ""
    };
    let icon = if ua.contains("Mobile") || ua.contains("Android") || ua.contains("iPhone") {
        "smartphone"
    } else {
        "computer"
    };
    let label = match (browser, os) {
        ("", "") => ua.chars().take(60).collect(),
        (b, "") => b.to_string(),
        ("", o) => o.to_string(),
        (b, o) => format!("{b} · {o}"),
    };
    (label, icon)
}

/// An RFC 3339 instant as `dd/mm HH:MM` in the plant's zone.
fn local_time(iso: &str, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::parse_from_rfc3339(iso)
        .map(|t| t.with_timezone(&tz).format("%d/%m %H:%M").to_string())
        .unwrap_or_else(|_| format::short_datetime(iso))
}

async fn sessions_view(
    state: &AppState,
    ctx: &TenantContext,
    lang: Lang,
    base: &str,
) -> AppResult<Vec<Value>> {
    let tz = ctx
        .tenant_opt()
        .map(|t| t.timezone())
        .unwrap_or(chrono_tz::Europe::Madrid);
    let list = auth::sessions::active_sessions(state, ctx.user_id, &ctx.session_id).await?;
    Ok(list
        .into_iter()
        .map(|s| {
            let (device, icon) = device_of(s.user_agent.as_deref());
            json!({
                "device": if device.is_empty() { i18n::t(lang, "profile.unknown_device") } else { device },
                "device_icon": icon,
                "user_agent": s.user_agent,
                "ip": s.ip,
                "current": s.current,
                "login_text": local_time(&s.login_at, tz),
                "last_text": s.last_activity_at.as_deref().map(|t| local_time(t, tz)).unwrap_or_else(|| "—".into()),
                "revoke_href": format!("{base}/profile/sessions/{}/revoke", s.session_id),
            })
        })
        .collect())
}

/// `/docs`: the API reference, rendered in the page from `/api/v1/openapi.json`.
async fn api_docs_page(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    let meta = match ctx.tenant_id {
        Some(_) => Some(tenant_meta(&state, &ctx).await?),
        None => None,
    };
    let mut page = PageContext::new(&req, &state, Some(&ctx), meta.as_deref(), "docs");
    page.title("API").crumb("API", None);
    render::page_response(&state, StatusCode::OK, "pages/api_docs", &page.into_value())
}

async fn profile_page(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    let meta = match ctx.tenant_id {
        Some(_) => Some(tenant_meta(&state, &ctx).await?),
        None => None,
    };
    let mut page = PageContext::new(&req, &state, Some(&ctx), meta.as_deref(), "profile");
    let lang = page.lang();
    let title = page.t("profile.title");
    page.title(title.clone()).crumb(title.clone(), None);
    let me = auth::login::me_for(&state, &ctx).await?;
    let lines_scope = match (&ctx.lines, &meta) {
        (None, _) => i18n::t(lang, "profile.all_lines"),
        (Some(ids), Some(meta)) => ids
            .iter()
            .map(|id| {
                meta.line(*id)
                    .map(|l| l.line_name.clone())
                    .unwrap_or_else(|| format!("#{id}"))
            })
            .collect::<Vec<_>>()
            .join(", "),
        (Some(ids), None) => ids
            .iter()
            .map(|i| format!("#{i}"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let sessions = sessions_view(&state, &ctx, lang, page.base()).await?;
    page.set("heading", title)
        .set("subheading", i18n::t(lang, "profile.subtitle"))
        .set("me", &me)
        .set("lines_scope", lines_scope)
        .set("password_min", state.config().password_min_length)
        .set("sessions", sessions);
    render::page_response(&state, StatusCode::OK, "pages/profile", &page.into_value())
}

/// `POST /profile/sessions/{id}/revoke` (htmx, CSRF-checked): ends one of the
/// user's other sessions and answers the refreshed list.
async fn revoke_session(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = auth::authenticate(&req, &state).await?;
    let family = req.path_param("id").unwrap_or_default().to_string();
    if family == ctx.session_id {
        return Err(AppError::conflict(
            "use Sign out to end the session you are using",
        ));
    }
    auth::sessions::revoke_own_session(&state, ctx.user_id, &family).await?;
    auth::audit::record_for(
        &state,
        &ctx,
        &req,
        "auth.session_revoke",
        "session",
        &family,
        Value::Null,
    )
    .await?;
    let lang = Lang::from_request(&req, ctx.tenant_opt().map(|t| t.language()));
    let base = state.config().base_path.clone();
    let sessions = sessions_view(&state, &ctx, lang, &base).await?;
    let data = json!({"lang": lang.as_str(), "base": base, "sessions": sessions});
    let mut resp = render::partial_response(&state, StatusCode::OK, "partials/sessions", &data)?;
    let trigger =
        json!({"dash:toast": {"message": i18n::t(lang, "profile.revoked"), "kind": "success"}});
    if let Ok(v) = HeaderValue::from_str(&trigger.to_string()) {
        resp.headers_mut().insert("hx-trigger", v);
    }
    Ok(resp)
}

/// Every widget partial with sample data, for looking at the UI while the
/// engines are being written. Only with the dev setting `TEMPLATES_DIR`.
async fn dev_widgets_page(
    req: Request,
    state: AppState,
    ctx: TenantContext,
) -> AppResult<Response> {
    if state.config().templates_dir.is_none() {
        return Err(AppError::NotFound);
    }
    let mut page = PageContext::new(&req, &state, Some(&ctx), None, "");
    let lang = page.lang();
    page.title("Widgets").crumb("Widgets", None);
    let mut widgets = Vec::new();
    let (mut x, mut y, mut row_h) = (0u64, 0u64, 0u64);
    for t in catalog::widget_types() {
        if x + t.default_w > 12 {
            x = 0;
            y += row_h;
            row_h = 0;
        }
        widgets.push(json!({"widget_type": t.widget_type, "x": x, "y": y, "w": t.default_w, "h": t.default_h,
            "params": if t.widget_type == "line_status" { json!({"line_id": 2}) } else { json!({}) }}));
        x += t.default_w;
        row_h = row_h.max(t.default_h);
    }
    let layout = catalog::validate_layout(&json!({"columns": 12, "widgets": widgets}))
        .map_err(|e| AppError::internal(e.to_string()))?;
    let cards = widget_cards(lang, page.base(), &layout, 3600, false, true);
    page.set("heading", "Widgets")
        .set("subheading", "Datos de ejemplo / sample data")
        .set("refresh_seconds", 3600)
        .set("widgets", cards);
    render::page_response(
        &state,
        StatusCode::OK,
        "pages/dashboard",
        &page.into_value(),
    )
}

// ---------------------------------------------------------------------------
// System

async fn system_version(_req: Request, state: AppState) -> AppResult<Response> {
    Ok(http::json(
        StatusCode::OK,
        &json!({
            "version": shared::health::VERSION,
            "group": state.group(),
            "host": state.host().as_str(),
            "frontend_built": assets::is_built(),
        }),
    ))
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

async fn system_stats(req: Request, state: AppState) -> AppResult<Response> {
    auth::require(&req, &state, Permission::SystemStats).await?;
    let cache = state.cache();
    Ok(http::data(&json!({
        "version": shared::health::VERSION,
        "host": state.host().as_str(),
        "uptime_seconds": state.uptime_seconds(),
        "memory": {"rss_kib": rss_kib()},
        "cache": {
            "tenants": cache.tenants.stats(),
            "metadata": cache.metadata.stats(),
            "sessions": state.sessions().stats(),
        },
        "db_pool_max": state.config().db.pool_max,
    })))
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
    fn layout_params_round_trip_through_the_card_url() {
        let params =
            json!({"line_ids": [1, 2], "range": "today", "show_table": true, "target": 0.9});
        let src = widget_src("/base", "oee_trend", &params, 4);
        assert!(src.starts_with("/base/api/v1/dashboard/widgets/oee_trend?"));
        let q = src.split_once('?').unwrap().1;
        let back = params_from_query("oee_trend", &pairs(q)).unwrap();
        assert_eq!(back, params);
    }

    #[test]
    fn builtin_layouts_are_valid_for_every_role() {
        for role in Role::ALL {
            catalog::validate_layout(&builtin_layout(role)).unwrap();
        }
        catalog::validate_layout(&line_widgets(7)).unwrap();
    }

    #[test]
    fn grid_classes_place_the_widget() {
        assert_eq!(
            grid_classes(3, 2, 6, 4),
            "col-span-12 md:col-span-6 lg:col-span-6 lg:col-start-4 lg:row-span-4 lg:row-start-3"
        );
        assert!(!grid_classes(0, 60, 12, 2).contains("row-start"));
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

    #[test]
    fn devices_are_named() {
        let (l, i) = device_of(Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"));
        assert_eq!((l.as_str(), i), ("Chrome · Linux", "computer"));
        assert_eq!(device_of(None).0, "");
    }

    #[test]
    fn every_route_is_a_dashboard_route() {
        let r = router();
        for pattern in r.routes().map(|r| r.pattern) {
            assert!(
                !pattern.starts_with("/api/")
                    || pattern.starts_with("/api/v1/dashboard/")
                    || pattern.starts_with("/api/v1/system/")
                    || pattern == "/api/v1/openapi.json",
                "{pattern}"
            );
        }
    }
}
