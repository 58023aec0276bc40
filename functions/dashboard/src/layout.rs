//! Dashboard layouts: the layout API (`GET`/`POST /api/v1/dashboard/layout`)
//! and the layout a role's dashboard shows — the tenant's stored one, else the
//! role's default, else the built-in one ([`builtin_layout`]). The rows are
//! read and written by [`dash_store::layouts`].

use serde_json::{json, Value};

use crate::cards::refresh_seconds;
use dash_core::catalog::{self, Layout};
use dash_store::error::{AppError, AppResult};
use dash_store::layouts::{self, Owner};
use dash_store::metadata::TenantMetadata;
use shared::auth::{self, Permission, Role, TenantContext};
use shared::extract::{Call, Input};
use shared::http::{self, Request, Response};
use shared::state::AppState;

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

impl From<Owner> for LayoutSource {
    fn from(owner: Owner) -> Self {
        match owner {
            Owner::Tenant => LayoutSource::Tenant,
            Owner::Default => LayoutSource::Default,
        }
    }
}

/// The layout to show: the stored one when valid; else the built-in one, with
/// the reason the stored one was refused (never rendered half).
pub async fn effective_layout(
    state: &AppState,
    tenant_id: i64,
    role: Role,
) -> AppResult<(Layout, LayoutSource, Option<String>)> {
    let builtin = || {
        catalog::validate_layout(&builtin_layout(role))
            .map_err(|e| AppError::internal(format!("built-in layout: {e}")))
    };
    match layouts::find(state, tenant_id, role.as_str()).await? {
        Some((owner, value)) => match catalog::validate_layout(&value) {
            Ok(layout) => Ok((layout, owner.into(), None)),
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

/// `GET /api/v1/dashboard/layout?role=`: the layout a role sees, where it came
/// from, why a stored one was refused, and how often the cards reload.
pub async fn get_layout(req: Request, state: AppState) -> AppResult<Response> {
    let call = Call::extract(req, state, Permission::DataRead, Input::Query).await?;
    let role = layout_role(&call.ctx, call.params.get("role"), false)?;
    let (layout, source, refused) =
        effective_layout(&call.state, call.tenant.tenant_id, role).await?;
    Ok(http::data(&json!({
        "role": role.as_str(),
        "source": source.as_str(),
        "layout": layout.to_json(),
        "refused_reason": refused,
        "refresh_seconds": refresh_seconds(&call.meta),
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

/// `POST /api/v1/dashboard/layout` with `{"role"?, "layout"}`: stores the
/// tenant's layout of a role (its own, or any with `layout.manage`), audited.
pub async fn save_layout(req: Request, state: AppState) -> AppResult<Response> {
    let call = Call::extract(req, state, Permission::DataRead, Input::Query).await?;
    let (ctx, tenant_id) = (&call.ctx, call.tenant.tenant_id);
    let body: Value = call.req.json()?;
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
    let role = layout_role(ctx, role_str, true)?;
    let layout_value = obj
        .get("layout")
        .ok_or_else(|| AppError::validation("layout", "layout is required"))?;
    let layout = catalog::validate_layout(layout_value)
        .map_err(|e| AppError::validation(format!("layout{}", e.pointer), e.message.clone()))?;
    check_layout_lines(ctx, &call.meta, &layout)?;
    let stored = layout.to_json();
    layouts::save(&call.state, tenant_id, role.as_str(), &stored, ctx.user_id).await?;
    auth::audit::record_for(
        &call.state,
        ctx,
        &call.req,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_layouts_are_valid_for_every_role() {
        for role in Role::ALL {
            catalog::validate_layout(&builtin_layout(role)).unwrap();
        }
    }
}
