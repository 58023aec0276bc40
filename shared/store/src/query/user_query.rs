//! The trace of every data and metrics call: one row of the global
//! `user_query` table (docs/client-database.md#global-database) per call.

use std::time::Duration;

use mysql_async::prelude::Queryable;

use crate::error::AppResult;
use crate::store::{HostKind, Store};

/// Writes the `user_query` row of a call ([`log_user_query`]). In a FastCGI
/// process, which keeps running between requests, the row is written by a
/// background task, so the answer does not wait for the insert (a durable
/// commit); a CGI process ends with its request and a Lambda instance may be
/// frozen right after it, so there the row is written before returning.
pub async fn trace_user_query(
    store: &Store,
    user_id: i64,
    tenant_id: Option<i64>,
    endpoint: &'static str,
    parameters: serde_json::Value,
    duration: Duration,
    rows: u64,
) {
    let background =
        store.host() == HostKind::FastCgi && tokio::runtime::Handle::try_current().is_ok();
    let store = store.clone();
    let write = async move {
        log_user_query(
            &store,
            user_id,
            tenant_id,
            endpoint,
            &parameters,
            duration,
            rows,
        )
        .await;
    };
    if background {
        tokio::spawn(write);
    } else {
        write.await;
    }
}

/// Writes one `user_query` row in the global database (docs/client-database.md#global-database): who asked
/// what, how long it took and how many rows it answered. Best effort: a
/// failure is logged, never turned into an error for the caller.
pub async fn log_user_query(
    store: &Store,
    user_id: i64,
    tenant_id: Option<i64>,
    endpoint: &str,
    parameters: &serde_json::Value,
    duration: Duration,
    rows: u64,
) {
    let mut params_text = parameters.to_string();
    if params_text.len() > 16_384 {
        params_text =
            serde_json::json!({ "truncated": true, "bytes": params_text.len() }).to_string();
    }
    let endpoint: String = endpoint.chars().take(191).collect();
    let duration_ms = u32::try_from(duration.as_millis()).unwrap_or(u32::MAX);
    let rows = u32::try_from(rows).unwrap_or(u32::MAX);
    let result = async {
        let mut conn = store.db().global().await?;
        // One INSERT, no session state: keep its prepared statement.
        conn.reset_connection(false);
        conn.exec_drop(
            "INSERT INTO user_query (user_id, tenant_id, endpoint, parameters, duration_ms, row_count) \
             VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, tenant_id, endpoint, params_text, duration_ms, rows),
        )
        .await?;
        AppResult::Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not write user_query");
    }
}
