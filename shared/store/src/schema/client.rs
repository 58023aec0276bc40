//! The client database contract (docs/client-database.md#client-database-contract): checking a client's database
//! ([`verify_client`]) and creating the product's own tables — and, for the demo
//! and tests only, the whole reference schema ([`provision_client`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Months, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::{is_valid_line_code, line_code, quote_ident, Result, SchemaError};

/// The reference client schema (the client's catalog tables, and an example
/// of a client's own `system_monitor` that the product never reads).
pub const REFERENCE_SQL: &str = include_str!("../../../../infra/sql/client/reference.sql");
/// The product's own tables in a client database (`dash_line_state`, `dash_rollup`).
pub const PRODUCT_SQL: &str = include_str!("../../../../infra/sql/client/product.sql");
/// Templates of `detection_line_{{code}}` and `downtime_events_{{code}}`.
pub const LINE_TABLES_SQL: &str = include_str!("../../../../infra/sql/client/line_tables.sql");

/// Catalog tables of the contract: (table, table required, [(column, column required)]).
/// Columns marked optional may be absent; the application then uses defaults.
type TableSpec = (&'static str, bool, &'static [(&'static str, bool)]);

const TABLES: &[TableSpec] = &[
    (
        "production_line",
        true,
        &[
            ("line_id", true),
            ("line_name", true),
            ("is_active", true),
            ("line_code", false),
            ("downtime_threshold_seconds", false),
            ("micro_stop_seconds", false),
        ],
    ),
    (
        "area",
        true,
        &[
            ("area_id", true),
            ("line_id", true),
            ("area_name", true),
            ("area_type", true),
        ],
    ),
    (
        "product",
        true,
        &[
            ("product_id", true),
            ("product_name", true),
            ("product_code", true),
            ("ideal_cycle_time_seconds", false),
        ],
    ),
    (
        "shift",
        true,
        &[
            ("shift_id", true),
            ("shift_name", true),
            ("start_time", true),
            ("end_time", true),
            ("days_of_week", false),
            ("is_active", false),
        ],
    ),
    (
        "shift_break",
        false,
        &[
            ("break_id", true),
            ("shift_id", true),
            ("break_name", true),
            ("start_time", true),
            ("end_time", true),
        ],
    ),
    (
        "filter",
        true,
        &[
            ("filter_id", true),
            ("filter_name", true),
            ("filter_status", true),
            ("default_value", true),
            ("additional_filter", true),
            ("display_order", false),
        ],
    ),
    (
        "system_config",
        true,
        &[
            ("config_key", true),
            ("config_value", true),
            ("description", true),
        ],
    ),
    (
        "failure",
        true,
        &[
            ("failure_id", true),
            ("failure_code", true),
            ("failure_name", true),
            ("failure_category", true),
            ("is_active", true),
        ],
    ),
    (
        "incident",
        true,
        &[
            ("incident_id", true),
            ("failure_id", true),
            ("line_id", true),
            ("start_time", true),
            ("end_time", true),
            ("description", true),
            ("reported_by", true),
            ("created_at", true),
        ],
    ),
];

const DETECTION_COLUMNS: &[&str] = &["detection_id", "detected_at", "area_id", "product_id"];
const DOWNTIME_COLUMNS: &[&str] = &[
    "downtime_id",
    "start_time",
    "end_time",
    "duration_seconds",
    "detection_id",
    "is_micro",
    "failure_id",
    "justification",
    "justified_by",
    "justified_at",
    "created_at",
    "updated_at",
];

/// The product's own tables (infra/sql/client/product.sql), created by
/// `provision-client` and `register-tenant`; every column is required.
const PRODUCT_TABLES: &[(&str, &[&str])] = &[
    (
        "dash_line_state",
        &["line_id", "entry", "value_json", "updated_at"],
    ),
    (
        "dash_rollup",
        &["line_id", "entry", "value_json", "updated_at"],
    ),
];

/// Whether the product creates `table` (its own tables and the per-line stop
/// tables), as opposed to a table of the client's.
pub fn is_product_owned(table: &str) -> bool {
    PRODUCT_TABLES.iter().any(|(t, _)| *t == table) || table.starts_with("downtime_events_")
}

/// The catalog part of the contract: `(table, column, required)`; a table of
/// which every column is optional has `required = false` for all of them.
pub fn required_columns() -> Vec<(&'static str, &'static str, bool)> {
    TABLES
        .iter()
        .flat_map(|(t, table_req, cols)| {
            cols.iter()
                .map(move |(c, req)| (*t, *c, *table_req && *req))
        })
        .collect()
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    Ok,
    /// Required and not there.
    Missing,
    /// Optional and not there (fine: the default applies).
    Absent,
    /// There but unusable (e.g. a line code that is not `[a-z0-9_]{1,40}`).
    Invalid,
}

impl CheckStatus {
    pub fn label(self) -> &'static str {
        match self {
            CheckStatus::Ok => "OK",
            CheckStatus::Missing => "MISSING",
            CheckStatus::Absent => "ABSENT",
            CheckStatus::Invalid => "INVALID",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportItem {
    pub table: String,
    /// `None` for the table itself.
    pub column: Option<String>,
    pub required: bool,
    pub status: CheckStatus,
    pub note: Option<String>,
}

impl ReportItem {
    /// A `production_line.line_code` that cannot name a line's tables.
    fn bad_line_code(note: String) -> Self {
        Self {
            table: "production_line".into(),
            column: Some("line_code".into()),
            required: true,
            status: CheckStatus::Invalid,
            note: Some(note),
        }
    }

    /// `table` or `table.column`.
    pub fn target(&self) -> String {
        match &self.column {
            Some(c) => format!("{}.{}", self.table, c),
            None => self.table.clone(),
        }
    }
}

/// A production line as the client database describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientLine {
    pub line_id: i64,
    pub line_name: String,
    /// The stored code, or the one derived from the name; `None` when neither is usable.
    pub line_code: Option<String>,
    pub is_active: bool,
}

/// What [`verify_client`] found.
#[derive(Debug, Clone)]
pub struct Report {
    pub db_name: String,
    pub items: Vec<ReportItem>,
    pub lines: Vec<ClientLine>,
    /// Things that work but deserve attention (no partitions, no index …).
    pub warnings: Vec<String>,
}

impl Report {
    /// True when nothing required is missing or invalid.
    pub fn is_ok(&self) -> bool {
        !self
            .items
            .iter()
            .any(|i| matches!(i.status, CheckStatus::Missing | CheckStatus::Invalid))
    }

    /// The required items that are missing or invalid.
    pub fn problems(&self) -> Vec<&ReportItem> {
        self.items
            .iter()
            .filter(|i| matches!(i.status, CheckStatus::Missing | CheckStatus::Invalid))
            .collect()
    }

    /// The problems only the client can fix (its catalog, its detection
    /// tables, its line codes): what `register-tenant` refuses over. The
    /// product's own tables are created by `provision-client`.
    pub fn client_problems(&self) -> Vec<&ReportItem> {
        self.problems()
            .into_iter()
            .filter(|i| !is_product_owned(&i.table))
            .collect()
    }

    /// One line per check (`OK       area.area_type`), then warnings and a summary.
    pub fn to_text(&self) -> String {
        let mut out = format!("client database {}\n", self.db_name);
        for i in &self.items {
            let mut line = format!("{:<8} {}", i.status.label(), i.target());
            if !i.required && i.status == CheckStatus::Absent {
                line.push_str(" (optional)");
            }
            if let Some(note) = &i.note {
                line.push_str(" — ");
                line.push_str(note);
            }
            out.push_str(&line);
            out.push('\n');
        }
        for w in &self.warnings {
            out.push_str("WARNING  ");
            out.push_str(w);
            out.push('\n');
        }
        let problems = self.problems();
        if problems.is_empty() {
            out.push_str(&format!(
                "all {} required checks passed ({} lines)\n",
                self.items.iter().filter(|i| i.required).count(),
                self.lines.len()
            ));
        } else {
            out.push_str(&format!(
                "{} problem(s): {}\n",
                problems.len(),
                problems
                    .iter()
                    .map(|p| p.target())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out
    }
}

async fn columns_of(conn: &mut Conn, db_name: &str) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let rows: Vec<(String, String)> = conn
        .exec(
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?",
            (db_name,),
        )
        .await?;
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (t, c) in rows {
        map.entry(t).or_default().insert(c.to_ascii_lowercase());
    }
    // Tables without columns visible (views in error, …) still count as present.
    let tables: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
            (db_name,),
        )
        .await?;
    for t in tables {
        map.entry(t).or_default();
    }
    Ok(map)
}

async fn database_exists(conn: &mut Conn, db_name: &str) -> Result<bool> {
    let n: Option<i64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (db_name,),
        )
        .await?;
    Ok(n.unwrap_or(0) > 0)
}

/// The lines of a client database with their resolved codes (stored `line_code`
/// when present and non-empty, else derived from `line_name`).
pub async fn client_lines(conn: &mut Conn, db_name: &str) -> Result<Vec<ClientLine>> {
    let db = quote_ident(db_name)?;
    let cols = columns_of(conn, db_name).await?;
    let Some(pl) = cols.get("production_line") else {
        return Err(SchemaError::Schema(format!(
            "{db_name} has no production_line table: run `dashctl verify-client` to see what is missing"
        )));
    };
    let code_col = if pl.contains("line_code") {
        "line_code"
    } else {
        "NULL"
    };
    let active_col = if pl.contains("is_active") {
        "is_active"
    } else {
        "1"
    };
    let rows: Vec<(i64, String, Option<String>, Option<i64>)> = conn
        .query(format!(
            "SELECT line_id, line_name, {code_col}, {active_col} FROM {db}.production_line ORDER BY line_id"
        ))
        .await?;
    Ok(rows
        .into_iter()
        .map(|(line_id, line_name, code, active)| {
            let line_code = match code.filter(|c| !c.trim().is_empty()) {
                Some(c) => Some(c),
                None => line_code(&line_name),
            };
            ClientLine {
                line_id,
                line_name,
                line_code,
                is_active: active.unwrap_or(1) != 0,
            }
        })
        .collect())
}

/// Checks every table and column of docs/client-database.md#client-database-contract in `db_name` (through
/// `information_schema`; `conn` may use any default database), including
/// `detection_line_<code>` and `downtime_events_<code>` of every active line.
pub async fn verify_client(conn: &mut Conn, db_name: &str) -> Result<Report> {
    quote_ident(db_name)?;
    let mut report = Report {
        db_name: db_name.to_string(),
        items: Vec::new(),
        lines: Vec::new(),
        warnings: Vec::new(),
    };
    if !database_exists(conn, db_name).await? {
        report.items.push(ReportItem {
            table: format!("database {db_name}"),
            column: None,
            required: true,
            status: CheckStatus::Missing,
            note: Some(
                "create it with the client's tables (docs/client-database.md), or fix the tenant's db_name"
                    .into(),
            ),
        });
        return Ok(report);
    }
    let cols = columns_of(conn, db_name).await?;
    for (table, table_required, columns) in TABLES {
        check_table(
            &mut report,
            &cols,
            table,
            *table_required,
            columns.iter().copied(),
        );
    }

    if cols.contains_key("production_line")
        && cols["production_line"].contains("line_id")
        && cols["production_line"].contains("line_name")
    {
        report.lines = client_lines(conn, db_name).await?;
        let mut seen_codes = BTreeSet::new();
        for line in report.lines.clone() {
            if !line.is_active {
                continue;
            }
            let Some(code) = line.line_code.clone().filter(|c| is_valid_line_code(c)) else {
                report.items.push(ReportItem::bad_line_code(format!(
                    "line {} ({:?}) has no usable code: set line_code to [a-z0-9_]{{1,40}}",
                    line.line_id, line.line_name
                )));
                continue;
            };
            if !seen_codes.insert(code.clone()) {
                report.items.push(ReportItem::bad_line_code(format!(
                    "line {} has the code {code} of another line: set distinct line_code values",
                    line.line_id
                )));
                continue;
            }
            let detection = format!("detection_line_{code}");
            let downtime = format!("downtime_events_{code}");
            check_table(
                &mut report,
                &cols,
                &detection,
                true,
                DETECTION_COLUMNS.iter().map(|c| (*c, true)),
            );
            check_table(
                &mut report,
                &cols,
                &downtime,
                true,
                DOWNTIME_COLUMNS.iter().map(|c| (*c, true)),
            );
            if cols.contains_key(&detection) {
                detection_warnings(conn, db_name, &detection, &mut report.warnings).await?;
            }
        }
    }
    for (table, columns) in PRODUCT_TABLES {
        check_table(
            &mut report,
            &cols,
            table,
            true,
            columns.iter().map(|c| (*c, true)),
        );
    }
    for item in report.items.iter_mut() {
        if is_product_owned(&item.table) && item.status == CheckStatus::Missing {
            item.note = Some(if item.column.is_none() {
                "the product's own table: `dashctl provision-client --tenant <id>` creates it"
                    .into()
            } else {
                "the product's own table has another shape: rename it out of the way, then \
                 `dashctl provision-client --tenant <id>`"
                    .into()
            });
        }
    }
    Ok(report)
}

fn check_table<'a>(
    report: &mut Report,
    cols: &BTreeMap<String, BTreeSet<String>>,
    table: &str,
    table_required: bool,
    columns: impl Iterator<Item = (&'a str, bool)>,
) {
    match cols.get(table) {
        None => report.items.push(ReportItem {
            table: table.to_string(),
            column: None,
            required: table_required,
            status: if table_required {
                CheckStatus::Missing
            } else {
                CheckStatus::Absent
            },
            note: None,
        }),
        Some(have) => {
            report.items.push(ReportItem {
                table: table.to_string(),
                column: None,
                required: table_required,
                status: CheckStatus::Ok,
                note: None,
            });
            for (c, required) in columns {
                let status = if have.contains(c) {
                    CheckStatus::Ok
                } else if required {
                    CheckStatus::Missing
                } else {
                    CheckStatus::Absent
                };
                report.items.push(ReportItem {
                    table: table.to_string(),
                    column: Some(c.to_string()),
                    required,
                    status,
                    note: None,
                });
            }
        }
    }
}

async fn detection_warnings(
    conn: &mut Conn,
    db_name: &str,
    table: &str,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let parts = super::list_partitions(conn, db_name, table).await?;
    if parts.is_empty() {
        warnings.push(format!(
            "{table} is not partitioned: queries over a time range read the whole table (docs/client-database.md#client-database-contract wants monthly RANGE partitions on detected_at)"
        ));
    } else {
        if !parts.iter().any(|p| p.is_maxvalue) {
            warnings.push(format!(
                "{table} has no MAXVALUE partition: inserts after the last partition fail; run `dashctl partitions`"
            ));
        }
        let next_month = Utc::now()
            .date_naive()
            .checked_add_months(Months::new(1))
            .unwrap_or(chrono::NaiveDate::MAX);
        if parts
            .iter()
            .filter_map(|p| p.less_than)
            .max()
            .is_none_or(|b| b <= next_month)
        {
            warnings.push(format!(
                "{table} has no partition for next month yet: run `dashctl partitions`"
            ));
        }
    }
    let indexed: Option<i64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = 'area_id' AND SEQ_IN_INDEX = 1",
            (db_name, table),
        )
        .await?;
    if indexed.unwrap_or(0) == 0 {
        warnings.push(format!(
            "{table} has no index starting with area_id: add INDEX (area_id, detected_at) or queries will be slow"
        ));
    }
    Ok(())
}

/// The template statement of a per-line table (`detection_line_` or
/// `downtime_events_`) with `{{code}}` substituted; `{{partitions}}` is left.
pub(crate) fn line_table_statement(prefix: &str, code: &str) -> Result<String> {
    if !is_valid_line_code(code) {
        return Err(SchemaError::Invalid(format!(
            "line code {code:?} is invalid: it must match [a-z0-9_]{{1,40}}"
        )));
    }
    let head = format!("CREATE TABLE IF NOT EXISTS {prefix}{{{{code}}}} (");
    super::split_statements(LINE_TABLES_SQL)
        .into_iter()
        .find(|s| s.starts_with(&head))
        .map(|s| s.replace("{{code}}", code))
        .ok_or_else(|| {
            SchemaError::Schema(format!("line_tables.sql has no {prefix}{{{{code}}}} table"))
        })
}

/// What [`provision_client`] did.
#[derive(Debug, Clone, Default)]
pub struct ProvisionReport {
    pub database_created: bool,
    /// Tables created now.
    pub created: Vec<String>,
    /// Tables that were already there.
    pub existing: Vec<String>,
    pub warnings: Vec<String>,
}

/// Creates the product's own tables of a client database — `dash_line_state`,
/// `dash_rollup` and `downtime_events_<code>` for every line — and, only when `create_reference`
/// (demo and tests), the database itself, the whole reference catalog schema
/// and `detection_line_<code>` for the lines it finds (monthly partitions from
/// the current month to three months ahead). Never alters an existing table.
/// Leaves `conn`'s default database untouched.
pub async fn provision_client(
    conn: &mut Conn,
    db_name: &str,
    create_reference: bool,
) -> Result<ProvisionReport> {
    let db = quote_ident(db_name)?;
    let mut report = ProvisionReport::default();
    if !database_exists(conn, db_name).await? {
        if !create_reference {
            return Err(SchemaError::NotFound(format!(
                "client database {db_name} does not exist: create it, or fix the tenant's db_name \
                 (pass --reference to create the reference schema in a new database)"
            )));
        }
        conn.query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .await?;
        report.database_created = true;
    }
    let before = columns_of(conn, db_name).await?;
    let run = |table: String, stmt: String, report: &mut ProvisionReport| {
        let exists = before.contains_key(&table);
        if exists {
            report.existing.push(table);
            None
        } else {
            report.created.push(table);
            Some(stmt)
        }
    };

    let mut statements = Vec::new();
    let files: &[&str] = if create_reference {
        &[REFERENCE_SQL, PRODUCT_SQL]
    } else {
        &[PRODUCT_SQL]
    };
    for stmt in files.iter().flat_map(|f| super::split_statements(f)) {
        let Some(table) = stmt
            .strip_prefix("CREATE TABLE IF NOT EXISTS ")
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_string)
        else {
            continue;
        };
        let qualified = qualify(&stmt, &table, &db);
        if let Some(s) = run(table, qualified, &mut report) {
            statements.push(s);
        }
    }
    for s in statements {
        conn.query_drop(s).await?;
    }

    if !columns_of(conn, db_name)
        .await?
        .contains_key("production_line")
    {
        report.warnings.push(format!(
            "{db_name} has no production_line table yet: the per-line tables (downtime_events_<code>) are \
             created once the plant's catalog exists — run provision-client again then (or load demo-data)"
        ));
        return Ok(report);
    }
    let lines = client_lines(conn, db_name).await?;
    let mut seen = BTreeSet::new();
    for line in lines {
        let Some(code) = line.line_code.clone().filter(|c| is_valid_line_code(c)) else {
            report.warnings.push(format!(
                "line {} ({:?}) has no usable line code: set production_line.line_code; its tables were not created",
                line.line_id, line.line_name
            ));
            continue;
        };
        if !seen.insert(code.clone()) {
            report.warnings.push(format!(
                "line {} repeats the code {code}: set distinct production_line.line_code values",
                line.line_id
            ));
            continue;
        }
        let downtime = super::downtime_table(&code)?;
        let stmt = qualify(
            &line_table_statement("downtime_events_", &code)?,
            &downtime,
            &db,
        );
        if let Some(s) = run(downtime.clone(), stmt, &mut report) {
            conn.query_drop(s).await?;
        }
        if create_reference {
            let detection = super::detection_table(&code)?;
            if before.contains_key(&detection) {
                report.existing.push(detection);
            } else {
                super::create_detection_table(conn, db_name, &code, Utc::now().date_naive(), 3)
                    .await?;
                report.created.push(detection);
            }
        } else if !before.contains_key(&format!("detection_line_{code}")) {
            report.warnings.push(format!(
                "detection_line_{code} does not exist: the plant's systems must create and fill it (see infra/sql/client/line_tables.sql)"
            ));
        }
    }
    Ok(report)
}

fn qualify(stmt: &str, table: &str, quoted_db: &str) -> String {
    stmt.replacen(
        &format!("CREATE TABLE IF NOT EXISTS {table} ("),
        &format!("CREATE TABLE IF NOT EXISTS {quoted_db}.`{table}` ("),
        1,
    )
}

#[cfg(test)]
mod tests;
