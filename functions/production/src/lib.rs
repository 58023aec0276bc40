//! The `production` function's routes (docs/api.md#routes): the plant's lines, areas,
//! products and shifts, served from the warm metadata cache.
//!
//! Every route needs `data.read` and a plant (a superadmin gets 403). A user
//! limited to some lines sees only those lines and their areas; any other id —
//! unknown, out of scope or another tenant's — answers 404.

use std::sync::Arc;

use serde::Serialize;

use dash_store::error::{AppError, AppResult};
use dash_store::metadata::{self, Area, Line, Shift, ShiftBreak, TenantMetadata};
use shared::auth::{self, Permission, TenantContext};
use shared::http::{self, Request, Response};
use shared::params::{query_flag, query_id};
use shared::router::Router;
use shared::state::AppState;

pub fn router() -> Router {
    Router::new("production")
        .get("/api/v1/production/lines", lines)
        .query(&["active"])
        .get("/api/v1/production/lines/{id}", line)
        .get("/api/v1/production/areas", areas)
        .query(&["line_id", "area_type"])
        .get("/api/v1/production/lines/{id}/areas", line_areas)
        .get("/api/v1/production/products", products)
        .get("/api/v1/production/products/{id}", product)
        .get("/api/v1/production/shifts", shifts)
        .query(&["active"])
}

async fn context(
    req: &Request,
    state: &AppState,
) -> AppResult<(TenantContext, Arc<TenantMetadata>)> {
    let ctx = auth::require(req, state, Permission::DataRead).await?;
    let tenant = ctx.tenant()?;
    let meta = metadata::for_tenant(state, &tenant).await?;
    Ok((ctx, meta))
}

/// A line with its areas.
#[derive(Serialize)]
struct LineDetail<'a> {
    #[serde(flatten)]
    line: &'a Line,
    areas: Vec<&'a Area>,
}

/// A shift with its breaks.
#[derive(Serialize)]
struct ShiftDetail<'a> {
    #[serde(flatten)]
    shift: &'a Shift,
    breaks: Vec<&'a ShiftBreak>,
}

/// `GET /production/lines[?active=true|false]`
async fn lines(req: Request, state: AppState) -> AppResult<Response> {
    let (ctx, meta) = context(&req, &state).await?;
    let active = query_flag(&req, "active")?;
    let list: Vec<&Line> = ctx
        .visible_lines(&meta)
        .into_iter()
        .filter(|l| active.is_none_or(|a| l.is_active == a))
        .collect();
    Ok(http::list(&list, None))
}

/// `GET /production/lines/{id}`: the line with its areas.
async fn line(req: Request, state: AppState) -> AppResult<Response> {
    let (ctx, meta) = context(&req, &state).await?;
    let id = req.path_id("id")?;
    let line = ctx.line(&meta, id)?;
    Ok(http::data(&LineDetail {
        line,
        areas: meta.areas_of_line(line.line_id).collect(),
    }))
}

const AREA_TYPES: [&str; 4] = ["input", "process", "output", "reject"];

/// `GET /production/areas[?line_id=N][&area_type=output]`
async fn areas(req: Request, state: AppState) -> AppResult<Response> {
    let (ctx, meta) = context(&req, &state).await?;
    let line_id = query_id(&req, "line_id")?;
    let area_type = req.query_param("area_type");
    if let Some(t) = &area_type {
        if !AREA_TYPES.contains(&t.as_str()) {
            return Err(AppError::validation(
                "area_type",
                "area_type must be one of input, process, output, reject",
            ));
        }
    }
    if let Some(id) = line_id {
        ctx.line(&meta, id)?;
    }
    let list: Vec<&Area> = meta
        .areas
        .iter()
        .filter(|a| ctx.can_see_line(a.line_id))
        .filter(|a| line_id.is_none_or(|id| a.line_id == id))
        .filter(|a| area_type.as_deref().is_none_or(|t| a.area_type == t))
        .collect();
    Ok(http::list(&list, None))
}

/// `GET /production/lines/{id}/areas`
async fn line_areas(req: Request, state: AppState) -> AppResult<Response> {
    let (ctx, meta) = context(&req, &state).await?;
    let id = req.path_id("id")?;
    let line = ctx.line(&meta, id)?;
    let list: Vec<&Area> = meta.areas_of_line(line.line_id).collect();
    Ok(http::list(&list, None))
}

/// `GET /production/products` (products are plant-wide, not per line).
async fn products(req: Request, state: AppState) -> AppResult<Response> {
    let (_ctx, meta) = context(&req, &state).await?;
    Ok(http::list(&meta.products, None))
}

/// `GET /production/products/{id}`
async fn product(req: Request, state: AppState) -> AppResult<Response> {
    let (_ctx, meta) = context(&req, &state).await?;
    let id = req.path_id("id")?;
    let p = meta.product(id).ok_or(AppError::NotFound)?;
    Ok(http::data(p))
}

/// `GET /production/shifts[?active=true|false]`: each with its breaks.
async fn shifts(req: Request, state: AppState) -> AppResult<Response> {
    let (_ctx, meta) = context(&req, &state).await?;
    let active = query_flag(&req, "active")?;
    let list: Vec<ShiftDetail> = meta
        .shifts
        .iter()
        .filter(|s| active.is_none_or(|a| s.is_active == a))
        .map(|shift| ShiftDetail {
            shift,
            breaks: meta
                .breaks
                .iter()
                .filter(|b| b.shift_id == shift.shift_id)
                .collect(),
        })
        .collect();
    Ok(http::list(&list, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_spec_is_served() {
        let r = router();
        let routes: Vec<String> = r
            .routes()
            .map(|r| format!("{} {}", r.method, r.pattern))
            .collect();
        for want in [
            "GET /api/v1/production/lines",
            "GET /api/v1/production/lines/{id}",
            "GET /api/v1/production/areas",
            "GET /api/v1/production/lines/{id}/areas",
            "GET /api/v1/production/products",
            "GET /api/v1/production/products/{id}",
            "GET /api/v1/production/shifts",
            "GET /api/v1/production/health",
        ] {
            assert!(routes.contains(&want.to_string()), "missing {want}");
        }
    }
}
