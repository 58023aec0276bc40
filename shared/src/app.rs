//! Dispatch: a request in, a complete response out, whatever happens. Routing,
//! the body limit, panics, error mapping and the security headers of docs/roles.md#security
//! are all here, once, for every host.

use std::sync::Arc;

use ::http::header::HeaderValue;
use ::http::StatusCode;

use crate::http::{self, Request, Response, MAX_BODY_BYTES};
use crate::router::Router;
use crate::state::AppState;
use dash_store::error::AppError;

pub struct App {
    router: Router,
    /// `Err` when the process is misconfigured: every request then gets a 500
    /// that says so, instead of a crashed CGI script and an empty page.
    state: Result<AppState, String>,
    base_path: String,
}

impl App {
    pub fn new(router: Router, state: Result<AppState, String>) -> Arc<Self> {
        let base_path = state
            .as_ref()
            .map(|s| s.config().base_path.clone())
            .unwrap_or_default();
        Arc::new(App {
            router,
            state,
            base_path,
        })
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn state(&self) -> Option<&AppState> {
        self.state.as_ref().ok()
    }

    /// Handles one request; never fails and never panics.
    pub async fn handle(&self, mut req: Request) -> Response {
        let started = std::time::Instant::now();
        let method = req.method.clone();
        if !self.base_path.is_empty() {
            if let Some(rest) = req.path.strip_prefix(&self.base_path) {
                req.path = if rest.is_empty() {
                    "/".into()
                } else {
                    rest.to_string()
                };
            }
        }
        let path = req.path.clone();
        let is_https = req.is_https;
        let mut resp = self.dispatch(req).await;
        // Set here so every host sends the same header set.
        if let Ok(len) = HeaderValue::from_str(&resp.body().len().to_string()) {
            resp.headers_mut()
                .insert(::http::header::CONTENT_LENGTH, len);
        }
        if method == ::http::Method::HEAD {
            resp.body_mut().clear();
        }
        add_security_headers(&mut resp, is_https);
        tracing::info!(
            method = %method,
            path = %path,
            status = resp.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "request"
        );
        resp
    }

    async fn dispatch(&self, mut req: Request) -> Response {
        let state = match &self.state {
            Ok(state) => state.clone(),
            Err(reason) => {
                tracing::error!(%reason, "misconfigured process");
                return http::error_response(&AppError::internal(reason));
            }
        };
        if req.body.len() > MAX_BODY_BYTES {
            return http::error_response(&AppError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        let (handler, params) = match self.router.find(&req.method, &req.path) {
            Ok((route, params)) => match route.check_query(&req) {
                Ok(()) => (route.handler.clone(), params),
                Err(e) => return render_error(&req, &e),
            },
            Err(e) => match self.router.html_error_renderer() {
                Some(render) if accepts_html(&req) => return render(&req, &state, &e),
                _ => return render_error(&req, &e),
            },
        };
        req.path_params = params;
        let wants_html = accepts_html(&req);
        let path = req.path.clone();
        let deadline = state.config().request_timeout;
        // Spawning gives us the panic as a JoinError instead of a torn-down process.
        let mut task = tokio::spawn(async move { handler(req, state).await });
        let outcome = match tokio::time::timeout(deadline, &mut task).await {
            Ok(outcome) => outcome,
            Err(_) => {
                // A server that hangs (rather than refuses) leaves a pooled
                // connection waiting forever: answer 503, never a host timeout.
                task.abort();
                tracing::error!(%path, ?deadline, "request timed out");
                let err = AppError::Unavailable {
                    retry_after: 5,
                    detail: "the request did not finish in time; try again shortly".into(),
                };
                return render_error_kind(wants_html, &path, &err);
            }
        };
        match outcome {
            Ok(Ok(resp)) => resp,
            Ok(Err(err)) => {
                if err.is_server_error() {
                    tracing::error!(error = %err, %path, "request failed");
                }
                render_error_kind(wants_html, &path, &err)
            }
            Err(join) => {
                tracing::error!(%path, panic = join.is_panic(), "handler panicked");
                render_error_kind(wants_html, &path, &AppError::internal("handler panicked"))
            }
        }
    }
}

/// Pages get the HTML error page; everything else the JSON error of docs/api.md#errors.
fn accepts_html(req: &Request) -> bool {
    !req.path.starts_with("/api/")
        && req
            .header("accept")
            .map(|a| a.contains("text/html"))
            .unwrap_or(false)
}

fn render_error(req: &Request, err: &AppError) -> Response {
    render_error_kind(accepts_html(req), &req.path, err)
}

fn render_error_kind(html: bool, _path: &str, err: &AppError) -> Response {
    if html {
        let mut resp = http::html(err.status(), error_page(err));
        for (name, value) in err.headers() {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    } else {
        http::error_response(err)
    }
}

/// A minimal, self-contained error page (the dashboard function replaces it with
/// its themed templates for its own pages).
fn error_page(err: &AppError) -> String {
    let status = err.status();
    format!(
        "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\"><title>{code}</title></head>\
         <body><main><h1>{code}</h1><p>{message}</p><p><a href=\"/dashboard\">Volver al panel</a></p></main></body></html>",
        code = status.as_u16(),
        message = escape_html(&err.public_message()),
    )
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// docs/roles.md#security: CSP without inline script, no framing, nosniff, referrer policy,
/// HSTS over HTTPS. API responses are never cached by intermediaries.
fn add_security_headers(resp: &mut Response, is_https: bool) {
    let headers = resp.headers_mut();
    let mut set = |name: &'static str, value: &'static str| {
        if !headers.contains_key(name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; \
         form-action 'self'; frame-ancestors 'none'",
    );
    set("x-content-type-options", "nosniff");
    set("x-frame-options", "DENY");
    set("referrer-policy", "strict-origin-when-cross-origin");
    set(
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    );
    set("cross-origin-opener-policy", "same-origin");
    set("cache-control", "no-store");
    if is_https {
        set(
            "strict-transport-security",
            "max-age=63072000; includeSubDomains",
        );
    }
    if resp.status() == StatusCode::NOT_MODIFIED {
        resp.body_mut().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use dash_store::error::AppResult;
    use dash_store::HostKind;

    async fn boom(_: Request, _: AppState) -> AppResult<Response> {
        panic!("handler bug")
    }

    async fn fine(_: Request, _: AppState) -> AppResult<Response> {
        Ok(http::json(StatusCode::OK, &"fine"))
    }

    fn app() -> Arc<App> {
        let config = Config::from_lookup(|k| match k {
            "DATABASE_URL" => Some("mysql://root@127.0.0.1:1".into()),
            "JWT_SECRET" => Some("0123456789abcdef0123456789abcdef".into()),
            _ => None,
        })
        .unwrap();
        let state = AppState::new("test", HostKind::FastCgi, config).map_err(|e| e.to_string());
        let router = Router::new("test")
            .get("/api/v1/test/boom", boom)
            .get("/api/v1/test/fine", fine);
        App::new(router, state)
    }

    #[tokio::test]
    async fn a_panic_is_a_500_and_the_app_keeps_serving() {
        let app = app();
        let resp = app
            .handle(Request::new(::http::Method::GET, "/api/v1/test/boom"))
            .await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(body["error"]["code"], "internal_error");
        assert!(!String::from_utf8_lossy(resp.body()).contains("handler bug"));
        let resp = app
            .handle(Request::new(::http::Method::GET, "/api/v1/test/fine"))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn bodies_over_one_mebibyte_are_413() {
        let app = app();
        let mut req = Request::new(::http::Method::POST, "/api/v1/test/fine");
        req.body = bytes::Bytes::from(vec![b'x'; MAX_BODY_BYTES + 1]);
        assert_eq!(
            app.handle(req).await.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }

    #[tokio::test]
    async fn every_response_carries_the_security_headers() {
        let app = app();
        let mut req = Request::new(::http::Method::GET, "/api/v1/nope");
        req.is_https = true;
        let resp = app.handle(req).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        for h in [
            "content-security-policy",
            "x-content-type-options",
            "x-frame-options",
            "referrer-policy",
            "strict-transport-security",
        ] {
            assert!(resp.headers().contains_key(h), "missing {h}");
        }
        let csp = resp.headers()["content-security-policy"].to_str().unwrap();
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    }
}
