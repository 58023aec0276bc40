//! The OpenAPI 3.1 description of every route (`infra/openapi/openapi.json`,
//! maintained by hand and embedded at build time), served by the dashboard
//! function at `GET /api/v1/openapi.json` and rendered by the `/docs` page.
//!
//! `tests/tests/integration/openapi.rs` compares the document with the routers of the six
//! HTTP functions: a route added, removed or renamed on either side fails it.
//! Each operation names the binary that serves it in `x-function`.

use ::http::header::{HeaderValue, CACHE_CONTROL, ETAG};
use ::http::StatusCode;
use once_cell::sync::OnceCell;
use sha2::{Digest, Sha256};

use dash_store::error::{AppError, AppResult};
use shared::http::{self, Request, Response};
use shared::state::AppState;

/// The document as maintained (pretty-printed JSON).
pub fn document() -> &'static str {
    include_str!("../../../infra/openapi/openapi.json")
}

/// What `serve` answers: the document minified (key order kept, so schemas
/// read in their written order), with `servers` pointing at the configured
/// base path, and its ETag. Computed once per process (the base path does not
/// change while it runs).
struct Served {
    body: Vec<u8>,
    etag: String,
}

static SERVED: OnceCell<Served> = OnceCell::new();

/// Where a scan of JSON text stands with respect to its strings.
#[derive(Default)]
struct Strings {
    inside: bool,
    escaped: bool,
}

impl Strings {
    /// Takes the next character; true when it belongs to a string (its
    /// quotes included), where nothing is a token.
    fn step(&mut self, c: char) -> bool {
        if self.inside {
            if self.escaped {
                self.escaped = false;
            } else if c == '\\' {
                self.escaped = true;
            } else if c == '"' {
                self.inside = false;
            }
            true
        } else if c == '"' {
            self.inside = true;
            true
        } else {
            false
        }
    }
}

/// Drops the whitespace between JSON tokens (never inside strings).
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut strings = Strings::default();
    for c in json.chars() {
        if strings.step(c) || !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Replaces the value of the top-level `"servers":[...]` of a minified document.
fn with_servers(min: &str, servers: &str) -> AppResult<String> {
    const KEY: &str = "\"servers\":[";
    let start = min
        .find(KEY)
        .ok_or_else(|| AppError::internal("openapi.json has no servers"))?
        + KEY.len()
        - 1;
    let (mut depth, mut strings) = (0usize, Strings::default());
    for (i, c) in min[start..].char_indices() {
        if strings.step(c) {
            continue;
        }
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    let end = start + i + 1;
                    return Ok(format!("{}{servers}{}", &min[..start], &min[end..]));
                }
            }
            _ => {}
        }
    }
    Err(AppError::internal("openapi.json: servers is not closed"))
}

fn prepare(base_path: &str) -> AppResult<Served> {
    let mut body = minify(document());
    if !base_path.is_empty() {
        let servers = serde_json::json!([{ "url": base_path, "description": "This deployment." }]);
        body = with_servers(&body, &servers.to_string())?;
    }
    let digest = Sha256::digest(body.as_bytes());
    let etag = format!("\"oa-{}\"", hex::encode(&digest[..10]));
    Ok(Served {
        body: body.into_bytes(),
        etag,
    })
}

/// `GET /api/v1/openapi.json`: no authentication; `ETag` and 304 on a match.
pub async fn serve(req: Request, state: AppState) -> AppResult<Response> {
    let served = SERVED.get_or_try_init(|| prepare(&state.config().base_path))?;
    let fresh = req.header("if-none-match").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim() == served.etag || t.trim() == "*")
    });
    let mut resp = if fresh {
        http::response(StatusCode::NOT_MODIFIED, "application/json", Vec::new())
    } else {
        http::response(StatusCode::OK, "application/json", served.body.clone())
    };
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&served.etag) {
        headers.insert(ETAG, v);
    }
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_document_is_openapi_3_1_of_this_version() {
        let doc: Value = serde_json::from_str(document()).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["info"]["version"],
            shared::health::VERSION,
            "bump info.version with the crate"
        );
        assert!(doc["paths"].as_object().is_some_and(|p| !p.is_empty()));
    }

    #[test]
    fn every_operation_names_its_function_and_a_unique_id() {
        let doc: Value = serde_json::from_str(document()).unwrap();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let f = op["x-function"].as_str().unwrap_or_default();
                assert!(
                    [
                        "auth",
                        "production",
                        "data",
                        "downtime",
                        "metrics",
                        "dashboard"
                    ]
                    .contains(&f),
                    "{method} {path}: x-function {f:?}"
                );
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                assert!(
                    !id.is_empty() && ids.insert(id.clone()),
                    "{method} {path}: operationId {id:?}"
                );
            }
        }
    }

    #[test]
    fn minifying_keeps_the_document_and_its_key_order() {
        let min = minify(document());
        let original: Value = serde_json::from_str(document()).unwrap();
        let back: Value = serde_json::from_str(&min).unwrap();
        assert_eq!(back, original);
        assert!(min.len() < document().len() * 2 / 3);
        // Properties stay in their written order (serde_json would sort them).
        let stop = min.find("\"Stop\":").unwrap();
        let first = min[stop..].find("\"downtime_id\"").unwrap();
        let later = min[stop..].find("\"updated_at\"").unwrap();
        assert!(first < later);
        assert_eq!(
            minify(r#"{ "a b" : [ "x\\\" y" , 1 ] }"#),
            r#"{"a b":["x\\\" y",1]}"#
        );
        assert_eq!(
            min.matches("\"servers\":").count(),
            1,
            "one servers key, the top-level one"
        );
    }

    #[test]
    fn the_base_path_becomes_the_server() {
        let served = prepare("/plant").unwrap();
        let doc: Value = serde_json::from_slice(&served.body).unwrap();
        let mut expected: Value = serde_json::from_str(document()).unwrap();
        expected["servers"] =
            serde_json::json!([{ "url": "/plant", "description": "This deployment." }]);
        assert_eq!(doc, expected, "only the servers differ");
        assert!(served.body.len() < document().len(), "served minified");
        let root = prepare("").unwrap();
        let doc: Value = serde_json::from_slice(&root.body).unwrap();
        assert_eq!(doc["servers"][0]["url"], "/");
        assert_ne!(served.etag, root.etag);
    }
}
