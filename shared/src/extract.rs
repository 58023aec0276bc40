//! The one request extractor. Every route that reads a plant's data starts
//! with [`Call::extract`]: it authenticates the caller for one permission,
//! takes its tenant, reads the parameters — the query string (the router has
//! already refused names the route does not take) or a JSON object body with
//! a fixed set of fields — and loads the plant's metadata from the warm cache.
//! A handler gets all four checked or never runs, so no handler rewrites this
//! preamble (the idea of launchbadge/realworld-axum-sqlx's `AuthUser`).
//!
//! [`traced`] wraps a handler of the data and metrics routes, whose every
//! request — refused ones too, with 0 rows — is written to `user_query`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::auth::{self, Permission, TenantContext};
use crate::http::{Request, Response};
use crate::params::Params;
use crate::state::AppState;
use dash_store::error::AppResult;
use dash_store::metadata::{self, TenantMetadata};
use dash_store::tenancy::Tenant;

/// Everything a plant route works with: the request, the runtime, the caller
/// (role, permissions, line scope), its tenant, the plant's metadata and the
/// parameters.
pub struct Call {
    pub req: Request,
    pub state: AppState,
    pub ctx: TenantContext,
    pub tenant: Arc<Tenant>,
    pub meta: Arc<TenantMetadata>,
    pub params: Params,
}

/// Where a route reads its parameters.
#[derive(Debug, Clone, Copy)]
pub enum Input {
    Query,
    /// A JSON object body with these fields (another field is a 422).
    Body(&'static [&'static str]),
}

impl Input {
    fn read(self, req: &Request) -> AppResult<Params> {
        match self {
            Input::Query => Ok(Params::from_query(req)),
            Input::Body(allowed) => Params::from_body(req, allowed),
        }
    }
}

impl Call {
    /// The caller must hold `permission` and belong to a plant (a superadmin
    /// names none: 403).
    pub async fn extract(
        req: Request,
        state: AppState,
        permission: Permission,
        input: Input,
    ) -> AppResult<Call> {
        let ctx = auth::require(&req, &state, permission).await?;
        let params = input.read(&req)?;
        Call::for_caller(req, state, ctx, params).await
    }

    /// For a caller already authenticated (a page signs in once — every
    /// sign-in counts against the caller's request rate — and checks its own
    /// permission): its tenant and the plant's metadata.
    pub async fn for_caller(
        req: Request,
        state: AppState,
        ctx: TenantContext,
        params: Params,
    ) -> AppResult<Call> {
        let tenant = ctx.tenant()?;
        let meta = metadata::for_tenant(&state, &tenant).await?;
        Ok(Call {
            req,
            state,
            ctx,
            tenant,
            meta,
            params,
        })
    }
}

type HandlerFuture = Pin<Box<dyn Future<Output = AppResult<Response>> + Send>>;

/// A data or metrics route (`data.read`): `handler` answers the response and
/// how many rows it holds; the request is traced to `user_query` as
/// `endpoint` with its parameters, duration and rows — also when refused
/// after authentication (0 rows).
pub fn traced<F, Fut>(
    endpoint: &'static str,
    input: Input,
    handler: F,
) -> impl Fn(Request, AppState) -> HandlerFuture + Send + Sync + 'static
where
    F: Fn(Call) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = AppResult<(Response, u64)>> + Send + 'static,
{
    move |req, state| {
        let handler = handler.clone();
        Box::pin(async move {
            let ctx = auth::require(&req, &state, Permission::DataRead).await?;
            let started = Instant::now();
            let (user_id, tenant_id) = (ctx.user_id, ctx.tenant_id);
            let params = input.read(&req);
            let logged = params.as_ref().map_or(Value::Null, Params::to_json);
            let outcome = match params {
                Err(e) => Err(e),
                Ok(params) => match Call::for_caller(req, state.clone(), ctx, params).await {
                    Err(e) => Err(e),
                    Ok(call) => handler(call).await,
                },
            };
            let rows = outcome.as_ref().map_or(0, |(_, rows)| *rows);
            dash_store::query::trace_user_query(
                &state,
                user_id,
                tenant_id,
                endpoint,
                logged,
                started.elapsed(),
                rows,
            )
            .await;
            outcome.map(|(response, _)| response)
        })
    }
}
