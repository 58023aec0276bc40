//! A line's detection table: its name validated (pattern and
//! `information_schema`) and quoted, and what this process has learnt about
//! it from `information_schema` (that it exists; its (`area_id`,
//! `detected_at`) index).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use once_cell::sync::Lazy;

use super::{naive_bound, schema_err};
use crate::error::{AppError, AppResult};
use crate::metadata::Line;
use crate::schema;
use dash_core::timeutil::data_naive_to_utc;

/// What this process has learnt about a table from `information_schema`:
/// that it exists, and the name of its (`area_id`, `detected_at`) index.
#[derive(Debug, Clone, Default)]
struct TableInfo {
    area_index: Option<String>,
}

static TABLES: Lazy<Mutex<HashMap<(String, String), TableInfo>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

/// Checks that `db`.`table` exists, once per process. A missing table is a
/// client-schema problem (503 telling the operator to run `verify-client`).
pub async fn verify_table(conn: &mut Conn, db_name: &str, table: &str) -> AppResult<()> {
    table_info(conn, db_name, table).await.map(|_| ())
}

/// An index name we may splice into SQL (quoted) after reading it from
/// `information_schema`.
fn is_plain_index_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

async fn table_info(conn: &mut Conn, db_name: &str, table: &str) -> AppResult<TableInfo> {
    let key = (db_name.to_string(), table.to_string());
    if let Some(info) = TABLES.lock().ok().and_then(|t| t.get(&key).cloned()) {
        return Ok(info);
    }
    let n: Option<i64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (db_name, table),
        )
        .await?;
    if n.unwrap_or(0) == 0 {
        return Err(AppError::ClientSchema {
            detail: format!("table {db_name}.{table} does not exist"),
        });
    }
    let columns: Vec<(String, i64, String)> = conn
        .exec(
            "SELECT INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            (db_name, table),
        )
        .await?;
    let starts_with = |name: &str, seq: i64, col: &str| {
        columns
            .iter()
            .any(|(n, s, c)| n == name && *s == seq && c.eq_ignore_ascii_case(col))
    };
    let area_index = columns
        .iter()
        .map(|(n, _, _)| n.as_str())
        .find(|n| starts_with(n, 1, "area_id") && starts_with(n, 2, "detected_at"))
        .filter(|n| is_plain_index_name(n))
        .map(str::to_string);
    let info = TableInfo { area_index };
    if let Ok(mut t) = TABLES.lock() {
        t.insert(key, info.clone());
    }
    Ok(info)
}

/// One line's detection table, its name validated (pattern and
/// `information_schema`) and quoted.
#[derive(Debug, Clone)]
pub struct DetectionTable {
    pub line_id: i64,
    pub line_code: String,
    pub db_name: String,
    /// `` `db`.`detection_line_<code>` ``
    qualified: String,
    /// Zone of the stored `DATETIME` values.
    pub data_tz: Tz,
    /// `` FORCE INDEX (`ix`) `` naming the (`area_id`, `detected_at`) index
    /// when `information_schema` showed one: MariaDB otherwise picks a `ref`
    /// plan on `area_id` alone and reads every earlier row of the area.
    pub(super) force_area_index: String,
}

impl DetectionTable {
    /// The table of `line` in `db_name`, checked against `information_schema`.
    pub async fn open(
        conn: &mut Conn,
        db_name: &str,
        line: &Line,
        data_tz: Tz,
    ) -> AppResult<DetectionTable> {
        let mut table = Self::unchecked(db_name, line, data_tz)?;
        let name = schema::detection_table(&line.line_code).map_err(schema_err)?;
        let info = table_info(conn, db_name, &name).await?;
        if let Some(ix) = info.area_index {
            table.force_area_index = format!(" FORCE INDEX (`{ix}`)");
        }
        Ok(table)
    }

    /// Builds the names without asking the server (they are still validated).
    pub fn unchecked(db_name: &str, line: &Line, data_tz: Tz) -> AppResult<DetectionTable> {
        let db = schema::quote_ident(db_name).map_err(schema_err)?;
        let name = schema::detection_table(&line.line_code).map_err(schema_err)?;
        Ok(DetectionTable {
            line_id: line.line_id,
            line_code: line.line_code.clone(),
            db_name: db_name.to_string(),
            qualified: format!("{db}.`{name}`"),
            data_tz,
            force_area_index: String::new(),
        })
    }

    /// The quoted, database-qualified name.
    pub fn sql_name(&self) -> &str {
        &self.qualified
    }

    /// The naive bound of an instant in this table's data zone.
    pub fn bound(&self, t: DateTime<Utc>) -> NaiveDateTime {
        naive_bound(t, self.data_tz)
    }

    /// The instant of a stored value.
    pub fn instant(&self, n: NaiveDateTime) -> DateTime<Utc> {
        data_naive_to_utc(n, self.data_tz)
    }
}
