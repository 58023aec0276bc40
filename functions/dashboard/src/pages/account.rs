//! The caller's own pages: the profile (its scope, its password form, its
//! sessions on other devices, each revocable) and the API reference.

use ::http::header::HeaderValue;
use ::http::StatusCode;
use serde_json::{json, Value};

use super::optional_meta;
use crate::i18n::{self, Lang};
use crate::render::{self, format, PageContext};
use dash_store::error::{AppError, AppResult};
use shared::auth::{self, TenantContext};
use shared::http::{Request, Response};
use shared::state::AppState;

/// A session's device from its `User-Agent`: a label (browser · OS) and an icon.
fn device_of(ua: Option<&str>) -> (String, &'static str) {
    let Some(ua) = ua.filter(|u| !u.is_empty()) else {
        return (String::new(), "devices");
    };
    let browser = ["Edg/", "OPR/", "Firefox/", "Chrome/", "Safari/"]
        .iter()
        .find(|b| ua.contains(**b))
        .map(|b| match *b {
            "Edg/" => "Edge",
            "OPR/" => "Opera",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            _ => "Safari",
        })
        .unwrap_or("");
    let os = if ua.contains("Android") {
        "Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS") {
        "macOS"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        ""
    };
    let icon = if ua.contains("Mobile") || ua.contains("Android") || ua.contains("iPhone") {
        "smartphone"
    } else {
        "computer"
    };
    let label = match (browser, os) {
        ("", "") => ua.chars().take(60).collect(),
        (b, "") => b.to_string(),
        ("", o) => o.to_string(),
        (b, o) => format!("{b} · {o}"),
    };
    (label, icon)
}

/// An RFC 3339 instant as `dd/mm HH:MM` in the plant's zone.
fn local_time(iso: &str, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::parse_from_rfc3339(iso)
        .map(|t| t.with_timezone(&tz).format("%d/%m %H:%M").to_string())
        .unwrap_or_else(|_| format::short_datetime(iso))
}

/// The caller's active sessions for the profile's list, times in the plant's zone.
async fn sessions_view(
    state: &AppState,
    ctx: &TenantContext,
    lang: Lang,
    base: &str,
) -> AppResult<Vec<Value>> {
    let tz = ctx
        .tenant_opt()
        .map(|t| t.timezone())
        .unwrap_or(chrono_tz::Europe::Madrid);
    let list = auth::sessions::active_sessions(state, ctx.user_id, &ctx.session_id).await?;
    Ok(list
        .into_iter()
        .map(|s| {
            let (device, icon) = device_of(s.user_agent.as_deref());
            json!({
                "device": if device.is_empty() { i18n::t(lang, "profile.unknown_device") } else { device },
                "device_icon": icon,
                "user_agent": s.user_agent,
                "ip": s.ip,
                "current": s.current,
                "login_text": local_time(&s.login_at, tz),
                "last_text": s.last_activity_at.as_deref().map(|t| local_time(t, tz)).unwrap_or_else(|| "—".into()),
                "revoke_href": format!("{base}/profile/sessions/{}/revoke", s.session_id),
            })
        })
        .collect())
}

/// `/docs`: the API reference, rendered in the page from `/api/v1/openapi.json`.
pub async fn api_docs(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    let meta = optional_meta(&state, &ctx).await?;
    let mut page = PageContext::new(&req, &state, Some(&ctx), meta.as_deref(), "docs");
    page.title("API").crumb("API", None);
    page.respond(&state, "pages/api_docs")
}

/// `/profile`: who the caller is, what it may see, its sessions.
pub async fn profile(req: Request, state: AppState, ctx: TenantContext) -> AppResult<Response> {
    let meta = optional_meta(&state, &ctx).await?;
    let mut page = PageContext::new(&req, &state, Some(&ctx), meta.as_deref(), "profile");
    let lang = page.lang();
    let title = page.titled("profile.title");
    let me = auth::login::me_for(&state, &ctx).await?;
    let lines_scope = match (&ctx.lines, &meta) {
        (None, _) => i18n::t(lang, "profile.all_lines"),
        (Some(ids), Some(meta)) => ids
            .iter()
            .map(|id| {
                meta.line(*id)
                    .map(|l| l.line_name.clone())
                    .unwrap_or_else(|| format!("#{id}"))
            })
            .collect::<Vec<_>>()
            .join(", "),
        (Some(ids), None) => ids
            .iter()
            .map(|i| format!("#{i}"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let sessions = sessions_view(&state, &ctx, lang, page.base()).await?;
    page.set("heading", title)
        .set("subheading", i18n::t(lang, "profile.subtitle"))
        .set("me", &me)
        .set("lines_scope", lines_scope)
        .set("password_min", state.config().password_min_length)
        .set("sessions", sessions);
    page.respond(&state, "pages/profile")
}

/// `POST /profile/sessions/{id}/revoke` (htmx, CSRF-checked): ends one of the
/// user's other sessions and answers the refreshed list.
pub async fn revoke_session(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = auth::authenticate(&req, &state).await?;
    let family = req.path_param("id").unwrap_or_default().to_string();
    if family == ctx.session_id {
        return Err(AppError::conflict(
            "use Sign out to end the session you are using",
        ));
    }
    auth::sessions::revoke_own_session(&state, ctx.user_id, &family).await?;
    auth::audit::record_for(
        &state,
        &ctx,
        &req,
        "auth.session_revoke",
        "session",
        &family,
        Value::Null,
    )
    .await?;
    let lang = Lang::from_request(&req, ctx.tenant_opt().map(|t| t.language()));
    let base = state.config().base_path.clone();
    let sessions = sessions_view(&state, &ctx, lang, &base).await?;
    let data = json!({"lang": lang.as_str(), "base": base, "sessions": sessions});
    let mut resp = render::partial_response(&state, StatusCode::OK, "partials/sessions", &data)?;
    let trigger =
        json!({"dash:toast": {"message": i18n::t(lang, "profile.revoked"), "kind": "success"}});
    if let Ok(v) = HeaderValue::from_str(&trigger.to_string()) {
        resp.headers_mut().insert("hx-trigger", v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named() {
        let (l, i) = device_of(Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"));
        assert_eq!((l.as_str(), i), ("Chrome · Linux", "computer"));
        assert_eq!(device_of(None).0, "");
    }
}
