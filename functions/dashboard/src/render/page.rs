//! What every page template sees: language, theme, base path, the user, the
//! plant, the sidebar (filtered by permission) and the breadcrumbs.
//!
//! ```ignore
//! let mut page = PageContext::new(&req, &state, Some(&ctx), Some(&meta), "downtime");
//! page.title(t(page.lang(), "downtime.title")).crumb("nav.downtime", None);
//! page.set("heading", ...);
//! page.respond(&state, "pages/downtime")
//! ```

use ::http::StatusCode;
use serde_json::{json, Map, Value};

use crate::i18n::{self, Lang};
use dash_store::error::AppResult;
use dash_store::metadata::TenantMetadata;
use shared::auth::{Permission, Role, TenantContext};
use shared::http::{Request, Response};
use shared::state::AppState;

pub struct PageContext {
    lang: Lang,
    base: String,
    data: Map<String, Value>,
    crumbs: Vec<Value>,
}

fn initials(username: &str) -> String {
    let mut out: String = username
        .split(|c: char| !c.is_alphanumeric())
        .filter(|p| !p.is_empty())
        .take(2)
        .filter_map(|p| p.chars().next())
        .flat_map(char::to_uppercase)
        .collect();
    if out.chars().count() < 2 {
        out = username
            .chars()
            .take(2)
            .flat_map(char::to_uppercase)
            .collect();
    }
    out
}

impl PageContext {
    /// `active` names the sidebar entry to highlight (`dashboard`, `line:3`, `downtime`, …).
    pub fn new(
        req: &Request,
        state: &AppState,
        ctx: Option<&TenantContext>,
        meta: Option<&TenantMetadata>,
        active: &str,
    ) -> PageContext {
        let tenant = ctx.and_then(|c| c.tenant_opt());
        let lang = Lang::from_request(req, tenant.map(|t| t.language()));
        let theme = match req.cookie("theme").as_deref() {
            Some("light") => "light",
            Some("dark") => "dark",
            _ => tenant.map(|t| t.theme()).unwrap_or("dark"),
        };
        let base = state.config().base_path.clone();
        let mut data = Map::new();
        data.insert("lang".into(), json!(lang.as_str()));
        data.insert("theme".into(), json!(theme));
        data.insert("base".into(), json!(base));
        data.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
        data.insert(
            "sidebar_collapsed".into(),
            json!(req.cookie("sidebar").as_deref() == Some("collapsed")),
        );
        data.insert("i18n_js".into(), i18n::js_strings(lang));
        if let Some(c) = ctx {
            data.insert(
                "user".into(),
                json!({
                    "username": c.username,
                    "role": c.role.as_str(),
                    "initials": initials(&c.username),
                    "is_superadmin": c.is_superadmin(),
                }),
            );
            data.insert("nav".into(), nav(lang, &base, c, meta, active));
        }
        if let Some(t) = tenant {
            data.insert(
                "tenant".into(),
                json!({"tenant_id": t.tenant_id, "company_name": t.company_name}),
            );
        }
        let home = if ctx.map(|c| c.is_superadmin()).unwrap_or(false) {
            "/admin/tenants"
        } else {
            "/dashboard"
        };
        data.insert("home".into(), json!(home));
        let mut page = PageContext {
            lang,
            base,
            data,
            crumbs: Vec::new(),
        };
        if ctx.is_some() {
            page.crumbs.push(
                json!({"label": i18n::t(lang, "nav.home"), "href": format!("{}{home}", page.base)}),
            );
        }
        page
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A translation in the page's language.
    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }

    /// A site path with the base path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn title(&mut self, title: impl Into<String>) -> &mut Self {
        self.data
            .insert("title".into(), Value::String(title.into()));
        self
    }

    /// The translation of `key` as the page's title and its last breadcrumb;
    /// returned for the heading.
    pub fn titled(&mut self, key: &str) -> String {
        let title = self.t(key);
        self.title(title.clone()).crumb(title.clone(), None);
        title
    }

    /// Adds a breadcrumb (`href` None for the current page). Labels are plain text.
    pub fn crumb(&mut self, label: impl Into<String>, href: Option<&str>) -> &mut Self {
        let href = href.map(|h| self.url(h));
        self.crumbs
            .push(json!({"label": label.into(), "href": href}));
        self
    }

    pub fn set(&mut self, key: &str, value: impl serde::Serialize) -> &mut Self {
        self.data.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// A message shown as a toast when the page opens.
    pub fn flash(&mut self, message: impl Into<String>, kind: &str) -> &mut Self {
        self.data.insert(
            "flash".into(),
            json!({"message": message.into(), "kind": kind}),
        );
        self
    }

    pub fn into_value(mut self) -> Value {
        self.data
            .insert("breadcrumbs".into(), Value::Array(self.crumbs));
        Value::Object(self.data)
    }

    /// The page rendered with `template` (`pages/…`), a 200 (see
    /// [`super::page_response`]).
    pub fn respond(self, state: &AppState, template: &str) -> AppResult<Response> {
        super::page_response(state, StatusCode::OK, template, &self.into_value())
    }
}

fn item(lang: Lang, base: &str, key: &str, href: &str, icon: &str, active: bool) -> Value {
    json!({"label": i18n::t(lang, key), "href": format!("{base}{href}"), "icon": icon, "active": active})
}

/// The sidebar for this user: only what their role and permissions allow.
fn nav(
    lang: Lang,
    base: &str,
    ctx: &TenantContext,
    meta: Option<&TenantMetadata>,
    active: &str,
) -> Value {
    let mut sections = Vec::new();
    if ctx.tenant_id.is_some() && ctx.has(Permission::DataRead) {
        let mut ops = vec![item(
            lang,
            base,
            "nav.dashboard",
            "/dashboard",
            "dashboard",
            active == "dashboard",
        )];
        ops.push(item(
            lang,
            base,
            "nav.downtime",
            "/downtime",
            "timer_off",
            active == "downtime",
        ));
        ops.push(item(
            lang,
            base,
            "nav.reports",
            "/reports",
            "summarize",
            active == "reports",
        ));
        sections.push(json!({"section": i18n::t(lang, "nav.operation"), "items": ops}));
        if let Some(meta) = meta {
            let lines: Vec<Value> = ctx
                .visible_lines(meta)
                .into_iter()
                .filter(|l| l.is_active)
                .map(|l| {
                    json!({
                        "label": l.line_name,
                        "href": format!("{base}/lines/{}", l.line_id),
                        "icon": "conveyor_belt",
                        "active": active == format!("line:{}", l.line_id),
                    })
                })
                .collect();
            if !lines.is_empty() {
                sections
                    .push(json!({"section": i18n::t(lang, "nav.lines_section"), "items": lines}));
            }
        }
    }
    let mut admin = Vec::new();
    if ctx.has(Permission::UsersRead) || ctx.has(Permission::UsersManage) {
        admin.push(item(
            lang,
            base,
            "nav.users",
            "/admin/users",
            "group",
            active == "users",
        ));
    }
    if ctx.tenant_id.is_some()
        && (ctx.has(Permission::ConfigManage) || ctx.has(Permission::LayoutManage))
    {
        admin.push(item(
            lang,
            base,
            "nav.config",
            "/admin/config",
            "tune",
            active == "config",
        ));
    } else if ctx.tenant_id.is_some() && ctx.has(Permission::LayoutEditOwn) {
        admin.push(item(
            lang,
            base,
            "nav.config",
            "/admin/config",
            "dashboard_customize",
            active == "config",
        ));
    }
    if ctx.role == Role::Superadmin && ctx.has(Permission::TenantsManage) {
        admin.push(item(
            lang,
            base,
            "nav.tenants",
            "/admin/tenants",
            "domain",
            active == "tenants",
        ));
    }
    if !admin.is_empty() {
        sections.push(json!({"section": i18n::t(lang, "nav.admin"), "items": admin}));
    }
    Value::Array(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_of_usernames() {
        assert_eq!(initials("manager"), "MA");
        assert_eq!(initials("ana.garcia"), "AG");
        assert_eq!(initials("x"), "X");
    }
}
