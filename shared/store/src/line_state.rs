//! `dash_line_state` (infra/sql/client/product.sql): the product's own state
//! per line in a client database — the downtime engine's watermark and the
//! outcome of each line's last runs. One row per (line, entry), JSON values.
//!
//! The table has the product's name so that no client table is ever read or
//! written for it (docs/client-database.md#the-products-own-state); the
//! client's own `system_monitor`, whatever its shape, is never touched.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::error::AppResult;
use crate::{query, schema};

/// The table's name in a client database.
pub const TABLE: &str = "dash_line_state";

/// Entry of the downtime engine's watermark (written with the stops it covers).
pub const DOWNTIME_WATERMARK: &str = "downtime_watermark";
/// Entry of the outcome of a line's last downtime run.
pub const DOWNTIME_LAST_RUN: &str = "downtime_last_run";
/// Entry of the outcome of a line's last rollup refresh.
pub const ROLLUP_LAST_RUN: &str = "rollup_last_run";

/// `` `db`.`dash_line_state` ``, the database name validated.
pub fn qualified(db_name: &str) -> AppResult<String> {
    let db = schema::quote_ident(db_name).map_err(query::schema_err)?;
    Ok(format!("{db}.`{TABLE}`"))
}

/// The JSON text of a line's entry, if there is one.
pub async fn get(
    conn: &mut Conn,
    db_name: &str,
    line_id: i64,
    entry: &str,
) -> AppResult<Option<String>> {
    let row: Option<Option<String>> = conn
        .exec_first(
            format!(
                "SELECT CAST(value_json AS CHAR) FROM {} WHERE line_id = ? AND entry = ?",
                qualified(db_name)?
            ),
            (line_id, entry),
        )
        .await?;
    Ok(row.flatten())
}

/// Writes a line's entry (inside the caller's transaction when `q` is one).
pub async fn put<Q: Queryable>(
    q: &mut Q,
    db_name: &str,
    line_id: i64,
    entry: &str,
    value_json: &str,
) -> AppResult<()> {
    q.exec_drop(
        format!(
            "INSERT INTO {} (line_id, entry, value_json) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE value_json = VALUES(value_json)",
            qualified(db_name)?
        ),
        (line_id, entry, value_json),
    )
    .await?;
    Ok(())
}

/// Forgets a line's entry.
pub async fn delete<Q: Queryable>(
    q: &mut Q,
    db_name: &str,
    line_id: i64,
    entry: &str,
) -> AppResult<()> {
    q.exec_drop(
        format!(
            "DELETE FROM {} WHERE line_id = ? AND entry = ?",
            qualified(db_name)?
        ),
        (line_id, entry),
    )
    .await?;
    Ok(())
}
