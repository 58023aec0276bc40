//! The `auth` function's routes (docs/api.md#routes): sign-in and sessions, users, tenants.
//!
//! * `POST /auth/login` `{"username", "password"}` → `{"access_token",
//!   "refresh_token", "token_type": "Bearer", "expires_in", "csrf_token",
//!   "user"}` and the session cookies. 401 for any failed sign-in (unknown
//!   name, wrong password, locked account: one answer, see `auth::login`), 403
//!   deactivated user or tenant, 429 over the per-IP limit.
//! * `POST /auth/refresh` takes `{"refresh_token"}` (API clients) or the
//!   `dash_refresh` cookie plus `X-CSRF-Token` (browsers); answers like login.
//!   Limited per session, not per IP.
//! * `POST /auth/logout` ends the session of the access token (or of the refresh
//!   token given in the body or cookie) and clears the cookies. Never limited.
//! * `POST /auth/change-password` = `POST /users/me/change-password`
//!   `{"current_password", "new_password"}`: revokes the user's other sessions.
//!   Limited per user.
//! * Users: admins manage their own tenant's users, a superadmin any tenant's
//!   (`tenant_id` in a body or filter is honoured for a superadmin only; anyone
//!   else naming another tenant gets 403). Within a tenant a caller manages
//!   only users within its line scope and not above its role
//!   ([`shared::auth::TenantContext::may_manage`], 403). Lists are keyset-paginated
//!   (`limit`, `cursor` → `next_cursor`) and filter by `role`, `active`, `q`.
//!   `DELETE` is a soft delete. User names are unique across the service
//!   (sign-in is by name alone), so a taken name is 409 whatever plant holds it.
//! * Tenants: superadmin only, except `GET /tenants/current` and
//!   `GET /tenants/{own id}`. Creating a tenant registers its row and
//!   `config_tenant`; its client database is created and checked by the
//!   operator with `dashctl provision-client` / `verify-client` (the response
//!   says so in `client_database`).
//!
//! The handlers live in `session_routes`, `users` and `tenants`; this file
//! holds the router and what the two lists share.

mod session_routes;
mod tenants;
mod users;

use serde::Serialize;

use dash_store::error::{AppError, AppResult};
use shared::http::{self, Request, Response};
use shared::params::{query_flag, query_id, query_limit};
use shared::router::Router;

use session_routes::{change_password, login, logout, me, refresh};
use tenants::{
    activate_tenant, create_tenant, current_tenant, deactivate_tenant, get_tenant, list_tenants,
    update_tenant,
};
use users::{create_user, delete_user, get_user, list_users, update_user};

pub fn router() -> Router {
    Router::new("auth")
        .post("/api/v1/auth/login", login)
        .post("/api/v1/auth/logout", logout)
        .post("/api/v1/auth/refresh", refresh)
        .get("/api/v1/auth/me", me)
        .post("/api/v1/auth/change-password", change_password)
        .get("/api/v1/users", list_users)
        .query(&["tenant_id", "role", "active", "q", "limit", "cursor"])
        .get("/api/v1/users/me", me)
        .get("/api/v1/users/{id}", get_user)
        .post("/api/v1/users", create_user)
        .put("/api/v1/users/{id}", update_user)
        .delete("/api/v1/users/{id}", delete_user)
        .post("/api/v1/users/me/change-password", change_password)
        .get("/api/v1/tenants", list_tenants)
        .query(&["active", "q", "limit", "cursor"])
        .get("/api/v1/tenants/current", current_tenant)
        .get("/api/v1/tenants/{id}", get_tenant)
        .post("/api/v1/tenants", create_tenant)
        .put("/api/v1/tenants/{id}", update_tenant)
        .post("/api/v1/tenants/{id}/deactivate", deactivate_tenant)
        .post("/api/v1/tenants/{id}/activate", activate_tenant)
}

/// The filters and paging every list takes, read in this order (the first
/// bad one answers): `active`, `q` (at most 100 characters), `limit` (50 by
/// default, at most 200), `cursor`.
struct ListQuery {
    active: Option<bool>,
    q: Option<String>,
    limit: usize,
    after: Option<i64>,
}

impl ListQuery {
    fn parse(req: &Request) -> AppResult<Self> {
        let active = query_flag(req, "active")?;
        let q = match req.query_param("q") {
            Some(v) if v.chars().count() > 100 => {
                return Err(AppError::validation("q", "q is longer than 100 characters"))
            }
            q => q,
        };
        Ok(ListQuery {
            active,
            q,
            limit: query_limit(req, "limit", 50, 200)?,
            after: query_id(req, "cursor")?,
        })
    }
}

/// One page of a keyset-paginated list, from the `limit + 1` rows the store
/// returns: a row beyond `limit` means another page follows, from the id of
/// the last row shown (`next_cursor`).
fn keyset_page<T: Serialize>(mut items: Vec<T>, limit: usize, id: impl Fn(&T) -> i64) -> Response {
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|item| id(item).to_string())
    } else {
        None
    };
    http::list(&items, next)
}
