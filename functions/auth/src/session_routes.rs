//! Sign-in and sessions: login, refresh, logout, me, change-password.

use ::http::StatusCode;
use serde_json::{json, Value};

use dash_store::error::{AppError, AppResult};
use shared::auth::account::Me;
use shared::auth::audit::{self, action, AuditEntry};
use shared::auth::context::{self, AuthMethod, CSRF_COOKIE};
use shared::auth::input::{self, Fields};
use shared::auth::sessions::{self, IssuedSession};
use shared::auth::{authenticate, login as signin, ratelimit};
use shared::http::{self, Request, Response};
use shared::state::AppState;

/// The body of login and refresh, with the session cookies.
fn session_response(state: &AppState, req: &Request, s: &IssuedSession, user: &Me) -> Response {
    let mut resp = http::json(
        StatusCode::OK,
        &json!({
            "access_token": s.access_token,
            "refresh_token": s.refresh_token,
            "token_type": "Bearer",
            "expires_in": s.expires_in,
            "csrf_token": if s.csrf_token.is_empty() { Value::Null } else { json!(s.csrf_token) },
            "user": user,
        }),
    );
    for cookie in sessions::session_cookies(state, req, s) {
        http::add_cookie(&mut resp, &cookie);
    }
    resp
}

pub(crate) async fn login(req: Request, state: AppState) -> AppResult<Response> {
    ratelimit::check_auth_ip(&state, &req.client_ip()).await?;
    let f = Fields::parse(&req, &["username", "password"])?;
    let username = f.req_str("username")?;
    let password = f.req_str("password")?;
    let outcome = signin::login(&state, &req, username, password).await?;
    Ok(session_response(
        &state,
        &req,
        &outcome.session,
        &outcome.me,
    ))
}

/// The optional `{"refresh_token"}` body of refresh and logout.
fn body_refresh_token(req: &Request) -> AppResult<Option<String>> {
    if req.body.is_empty() {
        return Ok(None);
    }
    let f = Fields::parse(req, &["refresh_token"])?;
    let token = f.opt_str("refresh_token")?.map(str::to_string);
    if let Some(t) = &token {
        input::check_len("refresh_token", t, 1, 512)?;
    }
    Ok(token)
}

pub(crate) async fn refresh(req: Request, state: AppState) -> AppResult<Response> {
    // Limited per session inside `rotate`, once the token names one.
    let body_token = body_refresh_token(&req)?;
    let (token, method) =
        sessions::refresh_token_of(&req, body_token.as_deref()).ok_or_else(|| {
            AppError::unauthorized(
                "send the refresh token as {\"refresh_token\": ...} or its cookie",
            )
        })?;
    let issued = sessions::rotate(&state, &req, &token, method).await?;
    let mut conn = state.db().global().await?;
    let me = signin::me_of(&mut conn, issued.user_id).await?;
    drop(conn);
    Ok(session_response(&state, &req, &issued, &me))
}

/// Never rate-limited, by address or by user: ending a session must always
/// work, whatever else the caller (or its address) did.
pub(crate) async fn logout(req: Request, state: AppState) -> AppResult<Response> {
    let now = state.now();
    let ip = req.client_ip();
    let (family, user_id, tenant_id) = match context::authenticate_uncounted(&req, &state).await {
        Ok(ctx) => {
            let mut conn = state.db().global().await?;
            sessions::end_session(&state, &mut conn, &ctx.session_id, "logout", now).await?;
            (ctx.session_id, ctx.user_id, ctx.tenant_id)
        }
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => {
            // The access token is gone or expired: a refresh token still names the session.
            let body_token = body_refresh_token(&req)?;
            let Some((token, method)) = sessions::refresh_token_of(&req, body_token.as_deref())
            else {
                return Err(e);
            };
            if method == AuthMethod::Cookie {
                let header = req.header(context::CSRF_HEADER).unwrap_or("");
                let cookie = req.cookie(CSRF_COOKIE).unwrap_or_default();
                if header.is_empty()
                    || !shared::auth::tokens::constant_time_eq(header.as_bytes(), cookie.as_bytes())
                {
                    return Err(AppError::forbidden(
                        "missing or invalid CSRF token: send the X-CSRF-Token header",
                    ));
                }
            }
            match sessions::revoke_by_refresh(&state, &token, "logout").await? {
                Some(found) => found,
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let mut conn = state.db().global().await?;
    let entry = AuditEntry::new(action::LOGOUT)
        .by_user(user_id, tenant_id)
        .entity("user", user_id)
        .details(json!({ "session": family.get(..8).unwrap_or("") }))
        .ip(&ip);
    audit::record(&mut conn, now, &entry).await?;
    drop(conn);
    let mut resp = http::data(&json!({ "logged_out": true }));
    for cookie in sessions::clear_cookies(&state, &req) {
        http::add_cookie(&mut resp, &cookie);
    }
    Ok(resp)
}

/// `GET /auth/me` and `GET /users/me`: the caller and its tenant.
pub(crate) async fn me(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = authenticate(&req, &state).await?;
    let me = signin::me_for(&state, &ctx).await?;
    Ok(http::data(&me))
}

pub(crate) async fn change_password(req: Request, state: AppState) -> AppResult<Response> {
    let ctx = authenticate(&req, &state).await?;
    // It checks the current password, so it is limited, per user: a stolen
    // access token cannot guess faster from many addresses.
    ratelimit::check_password_change(&state, ctx.user_id).await?;
    let f = Fields::parse(&req, &["current_password", "new_password"])?;
    let current = f.req_str("current_password")?;
    let new = f.req_str("new_password")?;
    let revoked = signin::change_password(&state, &req, &ctx, current, new).await?;
    Ok(http::data(&json!({
        "password_changed": true,
        "other_sessions_revoked": revoked,
    })))
}
