//! Server-side rendering: the handlebars registry, the front-end assets and the
//! widget view models.
//!
//! Templates (`templates/**/*.hbs`) and the built front end (`static/dist/`,
//! see `scripts/build-frontend.mjs`) are embedded in the binary with
//! `rust-embed`, so a Lambda zip or a cPanel upload is one file. With
//! `TEMPLATES_DIR` set ([`shared::config::Config::templates_dir`]) templates are
//! read from that folder on every render instead (live editing).
//!
//! A handler renders a page with [`render`]`(&state, "pages/dashboard", &data)`
//! where `data` is the JSON a template sees (see [`page::PageContext`] for the
//! fields every page has), or answers with [`page_response`] / [`partial_response`].
//! Template names are paths without `.hbs`: `pages/login`, `widgets/kpi_oee`.
//!
//! `{{ }}` escapes HTML; templates never use `{{{ }}}` for data. Helpers:
//!
//! | helper | use |
//! |---|---|
//! | `{{t "key" [more…]}}` | translation in the page's `lang` (the args are joined: `{{t "role." user.role}}`) |
//! | `{{asset "app.css"}}` | URL of a built asset with its content hash |
//! | `{{url "/path"}}` | a site path with the configured base path |
//! | `{{icon "name" ["classes"]}}` | a Material Symbols icon (`aria-hidden`) |
//! | `{{json value}}` | JSON for a `<script type="application/json">` data island (`<`, `>`, `&` escaped) |
//! | `eq ne gt lt and or not len` | handlebars' built-ins |

pub mod assets;
pub mod data;
pub mod fixtures;
pub mod format;
pub mod page;
pub mod production;
pub mod widgets;

use std::sync::{Arc, OnceLock};

use ::http::StatusCode;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason,
};
use rust_embed::RustEmbed;
use serde::Serialize;
use serde_json::Value;

use crate::i18n::{self, Lang};
use dash_store::error::{AppError, AppResult};
use shared::http::{self, Response};
use shared::state::AppState;

pub use page::PageContext;

/// The templates, embedded at build time (read from disk in debug builds).
#[derive(RustEmbed)]
#[folder = "../../templates"]
#[allow_missing = true]
pub struct TemplateFiles;

fn lang_of(ctx: &Context) -> Lang {
    ctx.data()
        .get("lang")
        .and_then(Value::as_str)
        .and_then(Lang::parse)
        .unwrap_or(Lang::Es)
}

fn base_of(ctx: &Context) -> String {
    ctx.data()
        .get("base")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn param_str(h: &Helper, i: usize) -> String {
    match h.param(i).map(|p| p.value()) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// A helper that writes the text its function makes of the call (the params)
/// and the page's data: every helper here is one of these.
struct TextHelper(fn(&Helper, &Context) -> String);

impl HelperDef for TextHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        out.write(&(self.0)(h, ctx))?;
        Ok(())
    }
}

/// `{{t "key" [more…]}}`: the args joined, translated, escaped.
fn t_text(h: &Helper, ctx: &Context) -> String {
    let key: String = (0..h.params().len()).map(|i| param_str(h, i)).collect();
    handlebars::html_escape(&i18n::t(lang_of(ctx), &key))
}

/// `{{asset "app.css"}}`: the hashed URL, escaped.
fn asset_text(h: &Helper, ctx: &Context) -> String {
    handlebars::html_escape(&assets::url(&base_of(ctx), &param_str(h, 0)))
}

/// `{{url "/path"}}`: the path under the base path, escaped.
fn url_text(h: &Helper, ctx: &Context) -> String {
    handlebars::html_escape(&format!("{}{}", base_of(ctx), param_str(h, 0)))
}

/// `{{icon "name" ["classes"]}}`: a Material Symbols ligature, hidden from
/// assistive technology.
fn icon_text(h: &Helper, _: &Context) -> String {
    let name = param_str(h, 0);
    let class = param_str(h, 1);
    let mut out = String::from("<span class=\"icon");
    if !class.is_empty() {
        out.push(' ');
        out.push_str(&handlebars::html_escape(&class));
    }
    out.push_str("\" aria-hidden=\"true\">");
    out.push_str(&handlebars::html_escape(&name));
    out.push_str("</span>");
    out
}

/// JSON safe inside `<script type="application/json">`: no `</script>`, no
/// `<!--`, no HTML entities to worry about.
pub fn json_for_script(value: &Value) -> String {
    let s = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `{{json value}}`: a data island.
fn json_text(h: &Helper, _: &Context) -> String {
    let value = h.param(0).map(|p| p.value().clone()).unwrap_or(Value::Null);
    json_for_script(&value)
}

fn new_registry() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(false);
    hb.set_prevent_indent(true);
    hb.register_helper("t", Box::new(TextHelper(t_text)));
    hb.register_helper("asset", Box::new(TextHelper(asset_text)));
    hb.register_helper("url", Box::new(TextHelper(url_text)));
    hb.register_helper("icon", Box::new(TextHelper(icon_text)));
    hb.register_helper("json", Box::new(TextHelper(json_text)));
    hb
}

fn template_name(path: &str) -> Option<String> {
    path.strip_suffix(".hbs").map(|p| p.replace('\\', "/"))
}

/// Every embedded template, registered.
fn embedded_registry() -> Result<Handlebars<'static>, String> {
    let mut hb = new_registry();
    for path in TemplateFiles::iter() {
        let Some(name) = template_name(&path) else {
            continue;
        };
        let file = TemplateFiles::get(&path).ok_or_else(|| format!("template {path} vanished"))?;
        let text =
            std::str::from_utf8(&file.data).map_err(|_| format!("template {path} is not UTF-8"))?;
        hb.register_template_string(&name, text)
            .map_err(|e| format!("template {path}: {e}"))?;
    }
    Ok(hb)
}

/// Every template under `dir`, read now (the dev setting `TEMPLATES_DIR`).
fn directory_registry(dir: &str) -> Result<Handlebars<'static>, String> {
    fn walk(
        hb: &mut Handlebars<'static>,
        root: &std::path::Path,
        dir: &std::path::Path,
    ) -> Result<(), String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(hb, root, &path)?;
            } else if let Some(rel) = path
                .strip_prefix(root)
                .ok()
                .and_then(|r| r.to_str())
                .and_then(template_name)
            {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                hb.register_template_string(&rel, text)
                    .map_err(|e| format!("template {rel}: {e}"))?;
            }
        }
        Ok(())
    }
    let mut hb = new_registry();
    let root = std::path::Path::new(dir);
    walk(&mut hb, root, root)?;
    Ok(hb)
}

/// The registry to render with: the embedded one (built once per process) or,
/// with `TEMPLATES_DIR`, a fresh one from disk.
pub fn registry(state: &AppState) -> AppResult<Arc<Handlebars<'static>>> {
    if let Some(dir) = &state.config().templates_dir {
        return directory_registry(dir)
            .map(Arc::new)
            .map_err(AppError::internal);
    }
    embedded()
}

/// The embedded registry (no state needed: error pages, tests).
pub fn embedded() -> AppResult<Arc<Handlebars<'static>>> {
    static REGISTRY: OnceLock<Result<Arc<Handlebars<'static>>, String>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| embedded_registry().map(Arc::new))
        .clone()
        .map_err(AppError::internal)
}

fn render_error(name: &str, e: RenderError) -> AppError {
    if matches!(e.reason(), RenderErrorReason::TemplateNotFound(_)) {
        AppError::internal(format!("template {name} not found"))
    } else {
        AppError::internal(format!("rendering {name}: {e}"))
    }
}

/// Renders template `name` with `data`.
pub fn render<T: Serialize>(state: &AppState, name: &str, data: &T) -> AppResult<String> {
    let hb = registry(state)?;
    hb.render(name, data).map_err(|e| render_error(name, e))
}

/// A full page: `text/html`, never cached (pages carry the user's data).
pub fn page_response(
    state: &AppState,
    status: StatusCode,
    name: &str,
    data: &Value,
) -> AppResult<Response> {
    let body = render(state, name, data)?;
    let mut resp = http::html(status, body);
    resp.headers_mut().insert(
        "cache-control",
        ::http::HeaderValue::from_static("no-store"),
    );
    resp.headers_mut().insert(
        "vary",
        ::http::HeaderValue::from_static("Cookie, HX-Request"),
    );
    Ok(resp)
}

/// An HTML fragment for htmx.
pub fn partial_response(
    state: &AppState,
    status: StatusCode,
    name: &str,
    data: &Value,
) -> AppResult<Response> {
    page_response(state, status, name, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_template_compiles() {
        let hb = embedded_registry().expect("templates compile");
        for name in [
            "layouts/app",
            "pages/login",
            "pages/dashboard",
            "widgets/kpi_oee",
            "partials/sidebar",
        ] {
            assert!(hb.get_template(name).is_some(), "{name} missing");
        }
        for wt in dash_core::catalog::widget_types() {
            let name = format!("widgets/{}", wt.widget_type);
            assert!(hb.get_template(&name).is_some(), "no partial for {name}");
        }
    }

    #[test]
    fn every_translation_key_in_the_templates_exists() {
        for path in TemplateFiles::iter() {
            let file = TemplateFiles::get(&path).unwrap();
            let text = std::str::from_utf8(&file.data).unwrap();
            for part in text.split("{{t \"").skip(1) {
                let key = part.split('"').next().unwrap_or("");
                let rest = &part[key.len() + 1..];
                let dynamic = !rest.trim_start().starts_with("}}");
                if dynamic {
                    // `{{t "role." user.role}}`: check the prefix has entries.
                    assert!(
                        i18n::STRINGS.iter().any(|(k, _, _)| k.starts_with(key)),
                        "{path}: no key starts with {key}"
                    );
                } else {
                    assert!(i18n::has(key), "{path}: unknown translation key {key}");
                }
            }
        }
    }

    #[test]
    fn every_widget_partial_renders_hostile_names_as_text() {
        let hb = embedded_registry().expect("templates compile");
        let names = fixtures::names();
        for wt in dash_core::catalog::widget_types() {
            let data = fixtures::sample(wt.widget_type);
            for lang in [Lang::Es, Lang::En] {
                let mut v = widgets::view(lang, &names, wt.widget_type, &data);
                v["lang"] = json!(lang.as_str());
                v["base"] = json!("");
                let html = hb
                    .render(&format!("widgets/{}", wt.widget_type), &v)
                    .unwrap_or_else(|e| panic!("{}: {e}", wt.widget_type));
                assert!(
                    !html.contains("<img src"),
                    "{}: raw <img> in {html}",
                    wt.widget_type
                );
                assert!(
                    !html.contains("<script>alert"),
                    "{}: raw <script>",
                    wt.widget_type
                );
                assert!(!html.contains("style="), "{}: inline style", wt.widget_type);
                assert!(
                    !html.contains("{{"),
                    "{}: unrendered mustache",
                    wt.widget_type
                );
            }
        }
    }

    #[test]
    fn json_islands_cannot_close_the_script() {
        let v =
            json!({"name": "</script><script>alert(1)</script>", "amp": "a&b", "ls": "\u{2028}"});
        let s = json_for_script(&v);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn helpers_escape_and_translate() {
        let hb = new_registry();
        let out = hb
            .render_template(
                r#"{{t "login.submit"}}|{{t "role." role}}|{{icon "home" "x\"y"}}|{{url "/a?b=<c>"}}|{{name}}"#,
                &json!({"lang": "en", "role": "viewer", "base": "/plant", "name": "<img src=x onerror=alert(1)>"}),
            )
            .unwrap();
        assert_eq!(
            out,
            "Sign in|Viewer|<span class=\"icon x&quot;y\" aria-hidden=\"true\">home</span>|/plant/a?b&#x3D;&lt;c&gt;|&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;"
        );
    }
}
