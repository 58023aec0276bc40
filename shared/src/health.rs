//! `GET /api/v1/<group>/health`: liveness plus whether the global database
//! answers (one round trip, [`dash_store::db::Db::ping_global`]). No auth; 503
//! with `Retry-After` when the database does not answer.

use ::http::StatusCode;
use serde_json::json;

use crate::http::{self, Request, Response};
use crate::state::AppState;
use dash_store::error::AppResult;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn health(_req: Request, state: AppState) -> AppResult<Response> {
    match state.db().ping_global().await {
        Ok(()) => Ok(http::json(
            StatusCode::OK,
            &json!({
                "status": "ok",
                "group": state.group(),
                "version": VERSION,
                "database": "ok",
            }),
        )),
        Err(err) => {
            tracing::warn!(error = %err, "health: global database unreachable");
            let mut body = err.to_json();
            body["status"] = json!("degraded");
            body["group"] = json!(state.group());
            body["version"] = json!(VERSION);
            body["database"] = json!("unreachable");
            let mut resp = http::json(StatusCode::SERVICE_UNAVAILABLE, &body);
            for (name, value) in err.headers() {
                resp = http::with_header(resp, name, &value);
            }
            Ok(resp)
        }
    }
}
