//! Each function group declares its routes here, in one place, as
//! `(method, pattern, handler)` with `{name}` segments for path parameters.
//! Unknown paths are 404, known paths with another method 405, and a query
//! parameter an API route does not take is 422 naming it (docs/api.md, "Bad
//! input"): the route's list of parameters is declared here, beside the route,
//! and tests/tests/integration/openapi.rs holds every list equal to the OpenAPI document's.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ::http::Method;

use crate::http::{Request, Response};
use crate::state::AppState;
use dash_store::error::{AppError, AppResult};

pub type HandlerFuture = Pin<Box<dyn Future<Output = AppResult<Response>> + Send>>;
pub type Handler = Arc<dyn Fn(Request, AppState) -> HandlerFuture + Send + Sync>;
/// Renders routing errors (unknown path, wrong method) as an HTML page for
/// browsers; groups with pages (the dashboard) set one for their themed pages.
pub type HtmlErrorRenderer = fn(&Request, &AppState, &AppError) -> Response;

/// An async function of a request and the runtime: what a route runs.
pub trait IntoHandler {
    fn into_handler(self) -> Handler;
}

impl<F, Fut> IntoHandler for F
where
    F: Fn(Request, AppState) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = AppResult<Response>> + Send + 'static,
{
    fn into_handler(self) -> Handler {
        Arc::new(move |req, state| Box::pin(self(req, state)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Param(&'static str),
}

/// Which query parameters a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryRule {
    /// These names and no other (an API route that declares none takes none).
    Only(&'static [&'static str]),
    /// The handler validates its own query against a schema (widget params),
    /// with the same 422 for a name it does not know.
    Handler,
    /// Pages and static files: browsers and htmx add their own parameters.
    Unchecked,
}

#[derive(Clone)]
pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
    segments: Vec<Segment>,
    pub handler: Handler,
    pub query: QueryRule,
}

impl Route {
    /// The first query parameter this route does not take, as a 422 naming it.
    pub fn check_query(&self, req: &Request) -> AppResult<()> {
        let QueryRule::Only(names) = self.query else {
            return Ok(());
        };
        match req
            .query_pairs()
            .into_iter()
            .find(|(k, _)| !names.contains(&k.as_str()))
        {
            None => Ok(()),
            Some((k, _)) => Err(AppError::validation(
                k.clone(),
                if names.is_empty() {
                    format!("unknown parameter {k}: this route takes no query parameters")
                } else {
                    format!(
                        "unknown parameter {k}; expected one of: {}",
                        names.join(", ")
                    )
                },
            )),
        }
    }
}

#[derive(Clone)]
pub struct Router {
    /// The function group (`auth`, `production`, …): names the binary and its health route.
    pub group: &'static str,
    routes: Vec<Route>,
    html_errors: Option<HtmlErrorRenderer>,
}

fn parse_pattern(pattern: &'static str) -> Vec<Segment> {
    pattern
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name),
                None => Segment::Literal(s),
            },
        )
        .collect()
}

impl Router {
    /// A router that already answers `GET /api/v1/<group>/health`.
    pub fn new(group: &'static str) -> Self {
        let router = Router {
            group,
            routes: Vec::new(),
            html_errors: None,
        };
        let pattern: &'static str = Box::leak(format!("/api/v1/{group}/health").into_boxed_str());
        router.route(Method::GET, pattern, crate::health::health)
    }

    pub fn route(
        mut self,
        method: Method,
        pattern: &'static str,
        handler: impl IntoHandler,
    ) -> Self {
        let handler = handler.into_handler();
        let query = if pattern.starts_with("/api/") {
            QueryRule::Only(&[])
        } else {
            QueryRule::Unchecked
        };
        self.routes.push(Route {
            method,
            pattern,
            segments: parse_pattern(pattern),
            handler,
            query,
        });
        self
    }

    /// The query parameters the route added last takes.
    pub fn query(mut self, names: &'static [&'static str]) -> Self {
        if let Some(route) = self.routes.last_mut() {
            route.query = QueryRule::Only(names);
        }
        self
    }

    /// The route added last validates its query itself.
    pub fn query_checked_by_handler(mut self) -> Self {
        if let Some(route) = self.routes.last_mut() {
            route.query = QueryRule::Handler;
        }
        self
    }

    pub fn get(self, pattern: &'static str, handler: impl IntoHandler) -> Self {
        self.route(Method::GET, pattern, handler)
    }

    pub fn post(self, pattern: &'static str, handler: impl IntoHandler) -> Self {
        self.route(Method::POST, pattern, handler)
    }

    pub fn put(self, pattern: &'static str, handler: impl IntoHandler) -> Self {
        self.route(Method::PUT, pattern, handler)
    }

    pub fn delete(self, pattern: &'static str, handler: impl IntoHandler) -> Self {
        self.route(Method::DELETE, pattern, handler)
    }

    /// Sets the renderer of routing errors for browsers.
    pub fn html_errors(mut self, renderer: HtmlErrorRenderer) -> Self {
        self.html_errors = Some(renderer);
        self
    }

    pub fn html_error_renderer(&self) -> Option<HtmlErrorRenderer> {
        self.html_errors
    }

    /// Every route this router serves, for the OpenAPI comparison.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }

    /// Finds the route for a request and the decoded path parameters.
    /// HEAD is served by the GET route (hosts drop the body).
    pub fn find(
        &self,
        method: &Method,
        path: &str,
    ) -> AppResult<(&Route, Vec<(&'static str, String)>)> {
        let parts: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let mut allowed = Vec::new();
        for route in &self.routes {
            let Some(params) = match_segments(&route.segments, &parts) else {
                continue;
            };
            if route.method == method || (method == Method::HEAD && route.method == Method::GET) {
                return Ok((route, params));
            }
            allowed.push(route.method.clone());
        }
        if allowed.is_empty() {
            Err(AppError::NotFound)
        } else {
            Err(AppError::MethodNotAllowed { allowed })
        }
    }
}

fn match_segments(segments: &[Segment], parts: &[&str]) -> Option<Vec<(&'static str, String)>> {
    if segments.len() != parts.len() {
        return None;
    }
    let mut params = Vec::new();
    for (segment, part) in segments.iter().zip(parts) {
        match segment {
            Segment::Literal(lit) if lit == part => {}
            Segment::Literal(_) => return None,
            Segment::Param(name) => {
                let decoded = percent_decode(part)?;
                params.push((*name, decoded));
            }
        }
    }
    Some(params)
}

/// Percent-decodes one path segment; invalid UTF-8 cannot match anything.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http;

    async fn ok(_: Request, _: AppState) -> AppResult<Response> {
        Ok(http::json(::http::StatusCode::OK, &"ok"))
    }

    fn router() -> Router {
        Router::new("production")
            .get("/api/v1/production/lines", ok)
            .get("/api/v1/production/lines/{id}", ok)
            .put("/api/v1/production/lines/{id}", ok)
    }

    #[test]
    fn matches_literals_and_params() {
        let r = router();
        let (route, params) = r.find(&Method::GET, "/api/v1/production/lines/42").unwrap();
        assert_eq!(route.pattern, "/api/v1/production/lines/{id}");
        assert_eq!(params, vec![("id", "42".to_string())]);
        assert!(r.find(&Method::GET, "/api/v1/production/health").is_ok());
        assert!(r.find(&Method::HEAD, "/api/v1/production/lines").is_ok());
    }

    #[test]
    fn unknown_is_404_and_wrong_method_405() {
        let r = router();
        assert!(matches!(
            r.find(&Method::GET, "/api/v1/nope"),
            Err(AppError::NotFound)
        ));
        match r.find(&Method::DELETE, "/api/v1/production/lines/1") {
            Err(AppError::MethodNotAllowed { allowed }) => {
                assert_eq!(allowed, vec![Method::GET, Method::PUT])
            }
            _ => panic!("expected 405"),
        }
    }

    #[test]
    fn params_are_percent_decoded() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(percent_decode("%"), Some("%".into()));
        assert_eq!(percent_decode("%4"), Some("%4".into()));
    }
}
