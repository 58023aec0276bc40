//! The built front end (`static/dist/`, written by `scripts/build-frontend.mjs`):
//! its manifest (logical name → file name with a content hash) and serving the
//! files where no web server does (Lambda, the dev harness): hashed names are
//! cached for a year (`immutable`), everything else revalidates.

use std::collections::HashMap;
use std::sync::OnceLock;

use ::http::header::HeaderValue;
use ::http::StatusCode;
use rust_embed::RustEmbed;

use shared::http::{self, Request, Response};

/// `static/dist/`, embedded at build time (read from disk in debug builds).
#[derive(RustEmbed)]
#[folder = "../../static/dist"]
#[allow_missing = true]
pub struct DistFiles;

/// URL prefix of the built files.
pub const PREFIX: &str = "/static/dist/";

#[derive(Debug, Default)]
struct Manifest {
    assets: HashMap<String, String>,
}

fn manifest() -> &'static Manifest {
    static MANIFEST: OnceLock<Manifest> = OnceLock::new();
    MANIFEST.get_or_init(|| {
        let Some(file) = DistFiles::get("manifest.json") else {
            tracing::warn!(
                "static/dist/manifest.json is missing: run `npm run build` before cargo build"
            );
            return Manifest::default();
        };
        let doc: serde_json::Value = serde_json::from_slice(&file.data).unwrap_or_default();
        let assets = doc
            .get("assets")
            .and_then(|a| a.as_object())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Manifest { assets }
    })
}

/// The hashed file name of a logical asset (`app.css` → `app.3f9c0a1b2d.css`);
/// the logical name itself when the manifest does not know it.
pub fn hashed(name: &str) -> String {
    manifest()
        .assets
        .get(name)
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

/// The URL of a logical asset under the site's base path.
pub fn url(base: &str, name: &str) -> String {
    format!("{base}{PREFIX}{}", hashed(name))
}

/// Whether the build produced a manifest (tests and `/system/version` report it).
pub fn is_built() -> bool {
    !manifest().assets.is_empty()
}

/// `name.<10+ hex>.ext`: a content-addressed file that never changes.
pub fn is_hashed_name(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let mut parts = file.rsplit('.');
    let _ext = parts.next();
    match parts.next() {
        Some(h) => h.len() >= 8 && h.bytes().all(|b| b.is_ascii_hexdigit()),
        None => false,
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Serves `/static/dist/<path>` from the embedded files.
pub fn serve(req: &Request) -> Response {
    let rel = req.path.strip_prefix(PREFIX).unwrap_or("");
    let not_found = || {
        let mut r = http::response(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            b"not found".to_vec(),
        );
        r.headers_mut()
            .insert("cache-control", HeaderValue::from_static("no-store"));
        r
    };
    if rel.is_empty()
        || rel
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == ".." || s.starts_with('.'))
    {
        return not_found();
    }
    let Some(file) = DistFiles::get(rel) else {
        return not_found();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    let fresh = req
        .header("if-none-match")
        .map(|v| v.split(',').any(|t| t.trim() == etag))
        .unwrap_or(false);
    let mut resp = if fresh {
        http::response(StatusCode::NOT_MODIFIED, content_type(rel), Vec::new())
    } else {
        http::response(StatusCode::OK, content_type(rel), file.data.into_owned())
    };
    let cache = if is_hashed_name(rel) {
        "public, max-age=31536000, immutable"
    } else {
        "public, no-cache"
    };
    let h = resp.headers_mut();
    h.insert("cache-control", HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert("etag", v);
    }
    if rel.ends_with(".woff2") || rel.ends_with(".woff") {
        h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_recognised() {
        assert!(is_hashed_name("app.3f9c0a1b2d.css"));
        assert!(is_hashed_name(
            "fonts/inter-latin-400-normal.8909904ab6.woff2"
        ));
        assert!(!is_hashed_name("manifest.json"));
        assert!(!is_hashed_name("app.css"));
    }

    #[test]
    fn traversal_and_unknown_files_are_404() {
        for p in [
            "/static/dist/../Cargo.toml",
            "/static/dist/",
            "/static/dist/.x",
            "/static/dist/nope.css",
        ] {
            let req = Request::new(::http::Method::GET, p);
            assert_eq!(serve(&req).status(), StatusCode::NOT_FOUND, "{p}");
        }
    }

    #[test]
    fn built_assets_are_served_with_long_cache() {
        if !is_built() {
            return; // front end not built in this checkout
        }
        let name = hashed("app.css");
        let req = Request::new(::http::Method::GET, format!("{PREFIX}{name}"));
        let resp = serve(&req);
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css"));
        let etag = resp.headers()["etag"].to_str().unwrap().to_string();
        let mut again = Request::new(::http::Method::GET, format!("{PREFIX}{name}"));
        again
            .headers
            .insert("if-none-match", HeaderValue::from_str(&etag).unwrap());
        assert_eq!(serve(&again).status(), StatusCode::NOT_MODIFIED);
    }
}
