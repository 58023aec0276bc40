//! The themed error pages (403, 404, 500, 503 and the rest): inside the shell
//! when the user is known, bare otherwise (the router's own 404, a failed
//! sign-in step). The API routes' errors are JSON, rendered by `shared::app`.

use ::http::header::HeaderValue;

use crate::render::{self, PageContext};
use dash_store::error::AppError;
use shared::auth::TenantContext;
use shared::http::{self, Request, Response};
use shared::state::AppState;

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
    let title = page.titled(&format!("error.{key}.title"));
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
