//! The HTML pages. Every page of a signed-in user runs in [`page`], which
//! authenticates once (the session cookies) and turns every failure into the
//! themed error page or the sign-in step; a page of a plant then takes its
//! [`Call`] — the same caller, tenant, metadata and parameters the API routes
//! get from `Call::extract` — from [`plant_call`].
//!
//! [`plant`]: the dashboard, lines, downtime and reports; [`admin`]: users,
//! tenants and configuration; [`account`]: the profile, its sessions and the
//! API reference. Sign-in itself and the front end's files are here.

pub mod account;
pub mod admin;
pub mod plant;

use std::future::Future;
use std::sync::Arc;

use crate::errors::error_page;
use crate::render::{assets, PageContext};
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::{self, TenantMetadata};
use shared::auth::{self, TenantContext};
use shared::extract::Call;
use shared::http::{self, Request, Response};
use shared::params::Params;
use shared::state::AppState;

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
pub async fn page<F, Fut>(req: Request, state: AppState, handler: F) -> AppResult<Response>
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
                return page.respond(&state, "pages/refresh");
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

/// The [`Call`] of a page of the signed-in caller's plant (403 without one):
/// its tenant, the plant's metadata from the warm cache and the query's
/// parameters. The page has authenticated already (once: every sign-in
/// counts against the caller's request rate) and checked its permission.
async fn plant_call(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Call> {
    let params = Params::from_query(&req);
    Call::for_caller(req, state, ctx, params).await
}

/// [`plant_call`] and the page's context, `active` highlighted in the sidebar.
pub async fn plant_page(
    req: Request,
    state: AppState,
    ctx: TenantContext,
    active: &str,
) -> AppResult<(Call, PageContext)> {
    let call = plant_call(req, state, ctx).await?;
    let page = PageContext::new(
        &call.req,
        &call.state,
        Some(&call.ctx),
        Some(&call.meta),
        active,
    );
    Ok((call, page))
}

/// The plant's metadata for a page every user may open, a superadmin (no
/// plant) included.
pub async fn optional_meta(
    state: &AppState,
    ctx: &TenantContext,
) -> AppResult<Option<Arc<TenantMetadata>>> {
    if ctx.tenant_id.is_none() {
        return Ok(None);
    }
    let tenant = ctx.tenant()?;
    Ok(Some(metadata::for_tenant(state, &tenant).await?))
}

/// `/`: the caller's home (tenants for the superadmin, else the dashboard,
/// which signs in whoever is not).
pub async fn root(req: Request, state: AppState) -> AppResult<Response> {
    let base = &state.config().base_path;
    match auth::authenticate(&req, &state).await {
        Ok(ctx) if ctx.is_superadmin() => Ok(http::redirect(&format!("{base}/admin/tenants"))),
        _ => Ok(http::redirect(&format!("{base}/dashboard"))),
    }
}

/// `/login`: the sign-in form, or the caller's home when signed in already.
pub async fn login(req: Request, state: AppState) -> AppResult<Response> {
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
    if Params::from_query(&req).get("signed_out").is_some() {
        page.set("notice", page.t("login.signed_out"));
    }
    page.respond(&state, "pages/login")
}

/// `/static/dist/…`: the built front end (where no web server serves it).
pub async fn static_file(req: Request, _state: AppState) -> AppResult<Response> {
    Ok(assets::serve(&req))
}
