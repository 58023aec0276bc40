//! The administration pages: users (`users.read`/`users.manage`), tenants
//! (the service operator) and the plant's configuration with the layout
//! editor (`config.manage`, or a role that may edit its layout). The pages
//! are Alpine components over the API; here they get their choices.

use serde_json::{json, Value};

use super::{optional_meta, plant_page};
use crate::cards::refresh_seconds;
use crate::i18n::{self, Lang};
use crate::layout::effective_layout;
use crate::render::{format, PageContext};
use dash_core::catalog;
use dash_store::error::{AppError, AppResult};
use shared::auth::{Permission, Role, TenantContext};
use shared::http::{Request, Response};
use shared::state::AppState;

/// The roles as choices, translated.
fn role_choices<'a>(lang: Lang, roles: impl IntoIterator<Item = &'a Role>) -> Vec<Value> {
    roles
        .into_iter()
        .map(|r| json!({"value": r.as_str(), "label": i18n::t(lang, &format!("role.{}", r.as_str()))}))
        .collect()
}

/// `/admin/users`.
pub async fn users(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    if !ctx.has(Permission::UsersRead) && !ctx.has(Permission::UsersManage) {
        return Err(AppError::forbidden("your role cannot see the users"));
    }
    let meta = optional_meta(&state, &ctx).await?;
    let mut page = PageContext::new(&req, &state, Some(&ctx), meta.as_deref(), "users");
    let lang = page.lang();
    let title = page.titled("users.title");
    let roles = role_choices(
        lang,
        Role::ALL
            .iter()
            .filter(|r| **r != Role::Superadmin || ctx.is_superadmin()),
    );
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
    page.respond(&state, "pages/admin/users")
}

/// `/admin/tenants` (the service operator only).
pub async fn tenants(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    if !ctx.is_superadmin() {
        return Err(AppError::forbidden(
            "only the service operator manages tenants",
        ));
    }
    let mut page = PageContext::new(&req, &state, Some(&ctx), None, "tenants");
    let lang = page.lang();
    let title = page.titled("tenants.title");
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
    page.respond(&state, "pages/admin/tenants")
}

/// The widget types as the layout editor offers them: name, size, params.
fn editor_catalog(lang: Lang) -> Vec<Value> {
    catalog::widget_types()
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
        .collect()
}

/// `/admin/config`: thresholds, settings, reasons and the layout editor.
pub async fn config(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    let can_layout = ctx.has(Permission::LayoutEditOwn) || ctx.has(Permission::LayoutManage);
    if !ctx.has(Permission::ConfigManage) && !can_layout {
        return Err(AppError::forbidden(
            "your role cannot change the configuration",
        ));
    }
    let (call, mut page) = plant_page(req, state, ctx, "config").await?;
    let (ctx, meta) = (&call.ctx, &call.meta);
    let (layout, _, _) = effective_layout(&call.state, call.tenant.tenant_id, ctx.role).await?;
    let lang = page.lang();
    let title = page.titled("config.title");
    let cfg = |key: &str| meta.config_number(key);
    let threshold = cfg("downtime_threshold_seconds").unwrap_or(120.0);
    let micro = cfg("micro_stop_seconds").unwrap_or(20.0);
    let n = |v: f64| format::number(lang, v, 0);
    let line_thresholds: Vec<Value> = ctx
        .visible_lines(meta)
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
        json!({"label": i18n::t(lang, "config.refresh"), "value": n(refresh_seconds(meta) as f64)}),
        json!({"label": i18n::t(lang, "config.max_days"), "value": cfg("max_query_days").map(n).unwrap_or_else(|| "366".into())}),
        json!({"label": i18n::t(lang, "config.ideal_cycle"), "value": cfg("default_ideal_cycle_time_seconds").map(|v| format::number(lang, v, 2)).unwrap_or_else(|| "—".into())}),
    ];
    let roles = if ctx.has(Permission::LayoutManage) {
        role_choices(
            lang,
            &[Role::Admin, Role::Manager, Role::Operator, Role::Viewer],
        )
    } else {
        Vec::new()
    };
    let editor = json!({
        "role": ctx.role.as_str(),
        "roles": roles,
        "layout": layout.to_json(),
        "catalog": editor_catalog(lang),
        "lines": ctx.visible_lines(meta).iter().map(|l| json!({"line_id": l.line_id, "line_name": l.line_name})).collect::<Vec<_>>(),
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
    page.respond(&call.state, "pages/admin/config")
}
