//! The pages of a plant (`data.read`): the dashboard (the role's layout under
//! the filter panel), the lines and one line (fixed layouts of widget cards),
//! downtime and reports (Alpine pages over the API), and the dev page of
//! every widget with sample data.

use serde_json::{json, Value};

use super::plant_page;
use crate::board::{board_settings, form_pairs, Board};
use crate::cards::{preview, refresh_seconds, widget_cards};
use crate::filters::{filter_controls, range_options};
use crate::i18n;
use crate::layout::effective_layout;
use crate::render::PageContext;
use dash_core::catalog::{self, Layout};
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::{self, TenantMetadata};
use shared::auth::{Permission, Role, TenantContext};
use shared::extract::Call;
use shared::http::{self, Request, Response};
use shared::state::AppState;

/// The visible lines as choices of a `<select>`, `selected` marked.
fn line_choices(ctx: &TenantContext, meta: &TenantMetadata, selected: Option<i64>) -> Vec<Value> {
    ctx.visible_lines(meta)
        .iter()
        .map(|l| json!({"line_id": l.line_id, "line_name": l.line_name, "selected": Some(l.line_id) == selected}))
        .collect()
}

/// The cards of a plant page's layout (with `?preview`, of sample data).
fn cards(
    page: &PageContext,
    call: &Call,
    layout: &Layout,
    refresh: u64,
    filters: bool,
) -> Vec<Value> {
    let preview = preview(&call.state, &call.params);
    widget_cards(page.lang(), page.base(), layout, refresh, filters, preview)
}

/// A layout this code builds (a line's, the lines'): refused only by a bug.
fn built_layout(value: &Value, what: &str) -> AppResult<Layout> {
    catalog::validate_layout(value).map_err(|e| AppError::internal(format!("{what} layout: {e}")))
}

/// An id parameter of a page; one that does not parse selects nothing.
fn id_param(call: &Call, name: &str) -> Option<i64> {
    call.params.get(name).and_then(|v| v.parse::<i64>().ok())
}

/// `/dashboard`: the role's layout (the superadmin has none: tenants).
pub async fn dashboard(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    if ctx.is_superadmin() {
        return Ok(http::redirect(&format!(
            "{}/admin/tenants",
            state.config().base_path
        )));
    }
    ctx.require(Permission::DataRead)?;
    let (call, mut page) = plant_page(req, state, ctx, "dashboard").await?;
    let (ctx, meta) = (&call.ctx, &call.meta);
    let (layout, _source, refused) =
        effective_layout(&call.state, call.tenant.tenant_id, ctx.role).await?;
    let lang = page.lang();
    let title = page.t("dashboard.title");
    page.title(title.clone())
        .crumb(i18n::t(lang, "nav.dashboard"), None);
    let refresh = refresh_seconds(meta);
    let filters = filter_controls(lang, &call.req, ctx, meta);
    let mut cards = cards(&page, &call, &layout, refresh, !filters.is_empty());
    // The widgets in the page itself, as the batch route renders them for the
    // filters the panel shows; then the page's script refreshes them all in
    // one request (`?preview`: cards of sample data, each loading its own).
    if !preview(&call.state, &call.params) {
        let board =
            Board::render(&call.state, ctx, meta, lang, &layout, &form_pairs(&filters)).await?;
        board.fill(&mut cards);
        let settings = board_settings(lang, page.base(), &board, refresh);
        page.set("board", settings);
    }
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
    page.respond(&call.state, "pages/dashboard")
}

/// The layout of one line's page.
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

/// `/lines/{id}`: one line's status and figures.
pub async fn line(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    ctx.require(Permission::DataRead)?;
    let id = req.path_id("id")?;
    let (call, mut page) = plant_page(req, state, ctx, &format!("line:{id}")).await?;
    let (ctx, meta) = (&call.ctx, &call.meta);
    let line = ctx.line(meta, id)?.clone();
    let lang = page.lang();
    page.title(line.line_name.clone())
        .crumb(i18n::t(lang, "nav.lines"), Some("/lines"))
        .crumb(line.line_name.clone(), None);
    let layout = built_layout(&line_widgets(id), "line")?;
    let refresh = refresh_seconds(meta).min(30);
    let lines: Vec<Value> = ctx
        .visible_lines(meta)
        .iter()
        .map(|l| json!({"line_name": l.line_name, "href": page.url(&format!("/lines/{}", l.line_id)), "current": l.line_id == id}))
        .collect();
    let cards = cards(&page, &call, &layout, refresh, false);
    page.set("line", &line)
        .set("lines", lines)
        .set("refresh_seconds", refresh)
        .set("widgets", cards);
    page.respond(&call.state, "pages/line")
}

/// `/lines`: the status card of every visible line.
pub async fn lines(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    ctx.require(Permission::DataRead)?;
    let (call, mut page) = plant_page(req, state, ctx, "lines").await?;
    let (ctx, meta) = (&call.ctx, &call.meta);
    let lang = page.lang();
    let title = page.t("lines.title");
    page.title(title.clone())
        .crumb(i18n::t(lang, "nav.lines"), None);
    let widgets: Vec<Value> = ctx
        .visible_lines(meta)
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let i = i as u64;
            json!({"widget_type": "line_status", "x": (i % 3) * 4, "y": (i / 3) * 4, "w": 4, "h": 4, "params": {"line_id": l.line_id}, "title": l.line_name})
        })
        .collect();
    let layout = built_layout(&json!({"columns": 12, "widgets": widgets}), "lines")?;
    let cards = cards(&page, &call, &layout, refresh_seconds(meta), false);
    page.set("heading", title)
        .set("subheading", i18n::t(lang, "lines.subtitle"))
        .set("widgets", cards);
    page.respond(&call.state, "pages/lines")
}

/// Whether the downtime page lists only the stops still waiting for a reason:
/// asked for (`unjustified`), or an operator opening the page without a
/// filter — for them it is the prompt for each unjustified stop of their
/// lines (docs/downtime.md#justifying-stored-stops).
fn pending_first(call: &Call) -> bool {
    let p = &call.params;
    let filtered = ["line_id", "f_line_id", "range", "include_micro"]
        .iter()
        .any(|name| p.get(name).is_some());
    p.get("unjustified").is_some() || (call.ctx.role == Role::Operator && !filtered)
}

/// `/downtime`: the stops of a line, to review and justify.
pub async fn downtime(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    ctx.require(Permission::DataRead)?;
    let (call, mut page) = plant_page(req, state, ctx, "downtime").await?;
    let (ctx, meta) = (&call.ctx, &call.meta);
    let lang = page.lang();
    let title = page.titled("downtime.title");
    let selected_line = id_param(&call, "line_id").or_else(|| id_param(&call, "f_line_id"));
    let range = call.params.get("range").unwrap_or("last_7_days");
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
        .set("lines", line_choices(ctx, meta, selected_line))
        .set("ranges", range_options(lang, range, false, false))
        .set("include_micro", call.params.get("include_micro").is_some())
        .set("only_unjustified", pending_first(&call))
        .set("reason_groups", reason_groups)
        .set("can_justify", can_justify)
        .set(
            "config",
            json!({
                "can_justify": can_justify,
                "reasons": meta.failures.iter().map(|f| json!({"failure_id": f.failure_id, "failure_name": f.failure_name, "failure_code": f.failure_code})).collect::<Vec<_>>(),
                "lines": ctx.visible_lines(meta).iter().map(|l| json!({"line_id": l.line_id, "line_name": l.line_name})).collect::<Vec<_>>(),
            }),
        );
    page.respond(&call.state, "pages/downtime")
}

/// `/reports`: the shift and day reports of a date.
pub async fn reports(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    ctx.require(Permission::DataRead)?;
    let (call, mut page) = plant_page(req, state, ctx, "reports").await?;
    let (ctx, meta) = (&call.ctx, &call.meta);
    let lang = page.lang();
    let title = page.titled("reports.title");
    let today = call
        .state
        .now()
        .with_timezone(&call.tenant.timezone())
        .date_naive();
    let date = call
        .params
        .get("date")
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .filter(|d| *d <= today)
        .unwrap_or(today);
    let kind = match call.params.get("kind") {
        Some("day") => "day",
        _ => "shift",
    };
    page.set("heading", title)
        .set("subheading", i18n::t(lang, "reports.subtitle"))
        .set("date", date.format("%Y-%m-%d").to_string())
        .set("today", today.format("%Y-%m-%d").to_string())
        .set("kind", kind)
        .set("lines", line_choices(ctx, meta, id_param(&call, "line_id")))
        .set("can_export", ctx.has(Permission::DataExport));
    page.respond(&call.state, "pages/reports")
}

/// Every widget partial with sample data, for looking at the UI while the
/// engines are being written. Only with the dev setting `TEMPLATES_DIR`.
pub async fn dev_widgets(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
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
    page.respond(&state, "pages/dashboard")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_layout_is_valid() {
        catalog::validate_layout(&line_widgets(7)).unwrap();
    }
}
