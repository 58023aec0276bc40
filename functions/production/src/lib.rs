//! The `production` function's routes (docs/api.md#routes): the plant's lines, areas,
//! products and shifts, served from the warm metadata cache.
//!
//! Every route needs `data.read` and a plant (a superadmin gets 403). A user
//! limited to some lines sees only those lines and their areas; any other id —
//! unknown, out of scope or another tenant's — answers 404.

use serde::Serialize;

use dash_store::error::{AppError, AppResult};
use dash_store::metadata::{Area, Line, Shift, ShiftBreak};
use shared::auth::Permission;
use shared::extract::{Call, Input};
use shared::http::{self, Request, Response};
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

/// Every route reads the caller's plant with `data.read`.
async fn plant(req: Request, state: AppState) -> AppResult<Call> {
    Call::extract(req, state, Permission::DataRead, Input::Query).await
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
    let Call {
        ctx, meta, params, ..
    } = plant(req, state).await?;
    let active = params.flag("active")?;
    let list: Vec<&Line> = ctx
        .visible_lines(&meta)
        .into_iter()
        .filter(|l| active.is_none_or(|a| l.is_active == a))
        .collect();
    Ok(http::list(&list, None))
}

/// `GET /production/lines/{id}`: the line with its areas.
async fn line(req: Request, state: AppState) -> AppResult<Response> {
    let Call { ctx, meta, req, .. } = plant(req, state).await?;
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
    let Call {
        ctx, meta, params, ..
    } = plant(req, state).await?;
    let line_id = params.id("line_id")?;
    let area_type = params.choice("area_type", &AREA_TYPES)?;
    if let Some(id) = line_id {
        ctx.line(&meta, id)?;
    }
    let list: Vec<&Area> = meta
        .areas
        .iter()
        .filter(|a| ctx.can_see_line(a.line_id))
        .filter(|a| line_id.is_none_or(|id| a.line_id == id))
        .filter(|a| area_type.is_none_or(|t| a.area_type == t))
        .collect();
    Ok(http::list(&list, None))
}

/// `GET /production/lines/{id}/areas`
async fn line_areas(req: Request, state: AppState) -> AppResult<Response> {
    let Call { ctx, meta, req, .. } = plant(req, state).await?;
    let id = req.path_id("id")?;
    let line = ctx.line(&meta, id)?;
    let list: Vec<&Area> = meta.areas_of_line(line.line_id).collect();
    Ok(http::list(&list, None))
}

/// `GET /production/products` (products are plant-wide, not per line).
async fn products(req: Request, state: AppState) -> AppResult<Response> {
    let Call { meta, .. } = plant(req, state).await?;
    Ok(http::list(&meta.products, None))
}

/// `GET /production/products/{id}`
async fn product(req: Request, state: AppState) -> AppResult<Response> {
    let Call { meta, req, .. } = plant(req, state).await?;
    let id = req.path_id("id")?;
    let p = meta.product(id).ok_or(AppError::NotFound)?;
    Ok(http::data(p))
}

/// `GET /production/shifts[?active=true|false]`: each with its breaks.
async fn shifts(req: Request, state: AppState) -> AppResult<Response> {
    let Call { meta, params, .. } = plant(req, state).await?;
    let active = params.flag("active")?;
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
