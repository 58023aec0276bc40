//! `/api/v1/system/*` beyond health: the build (`version`, no sign-in) and the
//! process (`stats`, `system.stats`).

use ::http::StatusCode;
use serde_json::json;

use crate::render::assets;
use dash_store::error::AppResult;
use shared::auth::{self, Permission};
use shared::http::{self, Request, Response};
use shared::state::AppState;

/// `GET /api/v1/system/version`.
pub async fn version(_req: Request, state: AppState) -> AppResult<Response> {
    Ok(http::json(
        StatusCode::OK,
        &json!({
            "version": shared::health::VERSION,
            "group": state.group(),
            "host": state.host().as_str(),
            "frontend_built": assets::is_built(),
        }),
    ))
}

/// The process's resident memory, from `/proc` (none where there is no `/proc`).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// `GET /api/v1/system/stats`: version, host, uptime, memory, cache sizes.
pub async fn stats(req: Request, state: AppState) -> AppResult<Response> {
    auth::require(&req, &state, Permission::SystemStats).await?;
    let cache = state.cache();
    Ok(http::data(&json!({
        "version": shared::health::VERSION,
        "host": state.host().as_str(),
        "uptime_seconds": state.uptime_seconds(),
        "memory": {"rss_kib": rss_kib()},
        "cache": {
            "tenants": cache.tenants.stats(),
            "metadata": cache.metadata.stats(),
            "sessions": state.sessions().stats(),
        },
        "db_pool_max": state.config().db.pool_max,
    })))
}
