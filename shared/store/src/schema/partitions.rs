//! Monthly partitions of the detection tables (docs/client-database.md#client-database-contract): one partition per
//! month (`pYYYYMM`, holding that month) plus `pmax VALUES LESS THAN (MAXVALUE)`.
//! New months are added by splitting `pmax` with `REORGANIZE PARTITION`, which
//! moves rows and never drops any; running it again changes nothing.

use chrono::{Datelike, Months, NaiveDate, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::{quote_ident, Result, SchemaError};

/// One partition as `information_schema.PARTITIONS` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub name: String,
    /// `RANGE COLUMNS` or `RANGE`.
    pub method: String,
    pub expression: String,
    /// The `VALUES LESS THAN` bound as the server prints it.
    pub description: String,
    /// The bound as a date; `None` for `MAXVALUE` (or a bound we cannot read).
    pub less_than: Option<NaiveDate>,
    pub is_maxvalue: bool,
    /// Estimated rows (`TABLE_ROWS`).
    pub rows: u64,
    pub ordinal: u32,
}

/// `pYYYYMM` for the month starting at `month_start`.
pub fn month_partition_name(month_start: NaiveDate) -> String {
    format!("p{:04}{:02}", month_start.year(), month_start.month())
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn next_month(d: NaiveDate) -> NaiveDate {
    first_of_month(d)
        .checked_add_months(Months::new(1))
        .unwrap_or(NaiveDate::MAX)
}

/// The partition list for `CREATE TABLE … PARTITION BY RANGE COLUMNS (detected_at)`:
/// one partition per month from the month of `from` through the month of
/// `through`, then `pmax`.
pub fn partition_clause(from: NaiveDate, through: NaiveDate) -> String {
    let mut parts = Vec::new();
    let mut month = first_of_month(from);
    let last = first_of_month(through);
    while month <= last {
        let bound = next_month(month);
        parts.push(format!(
            "    PARTITION {} VALUES LESS THAN ('{}')",
            month_partition_name(month),
            bound.format("%Y-%m-%d")
        ));
        month = bound;
    }
    parts.push("    PARTITION pmax VALUES LESS THAN (MAXVALUE)".to_string());
    parts.join(",\n")
}

/// Creates `detection_line_<code>` (if it does not exist) with monthly
/// partitions from the month of `from` to `months_ahead` months after the
/// current one. Returns true when the table was created now.
pub async fn create_detection_table(
    conn: &mut Conn,
    db_name: &str,
    code: &str,
    from: NaiveDate,
    months_ahead: u32,
) -> Result<bool> {
    let table = super::detection_table(code)?;
    let db = quote_ident(db_name)?;
    if table_exists(conn, db_name, &table).await? {
        return Ok(false);
    }
    let through = Utc::now()
        .date_naive()
        .checked_add_months(Months::new(months_ahead))
        .unwrap_or(NaiveDate::MAX);
    let stmt = super::client::line_table_statement("detection_line_", code)?
        .replace(
            "{{partitions}}",
            &partition_clause(from.min(through), through),
        )
        .replacen(
            &format!("CREATE TABLE IF NOT EXISTS {table}"),
            &format!("CREATE TABLE IF NOT EXISTS {db}.`{table}`"),
            1,
        );
    conn.query_drop(stmt).await?;
    Ok(true)
}

pub async fn table_exists(conn: &mut Conn, db_name: &str, table: &str) -> Result<bool> {
    let n: Option<i64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (db_name, table),
        )
        .await?;
    Ok(n.unwrap_or(0) > 0)
}

/// The partitions of a table in order; empty when the table is not partitioned.
pub async fn list_partitions(
    conn: &mut Conn,
    db_name: &str,
    table: &str,
) -> Result<Vec<PartitionInfo>> {
    quote_ident(db_name)?;
    quote_ident(table)?;
    if !table_exists(conn, db_name, table).await? {
        return Err(SchemaError::NotFound(format!(
            "table {db_name}.{table} does not exist"
        )));
    }
    type Row = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<u64>,
        Option<u32>,
    );
    let rows: Vec<Row> = conn
        .exec(
            "SELECT PARTITION_NAME, PARTITION_METHOD, PARTITION_EXPRESSION, PARTITION_DESCRIPTION, \
                    TABLE_ROWS, PARTITION_ORDINAL_POSITION \
             FROM information_schema.PARTITIONS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND PARTITION_NAME IS NOT NULL \
             ORDER BY PARTITION_ORDINAL_POSITION",
            (db_name, table),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(name, method, expression, description, rows, ordinal)| {
            let method = method.unwrap_or_default();
            let expression = expression.unwrap_or_default();
            let description = description.unwrap_or_default();
            let is_maxvalue = description.eq_ignore_ascii_case("MAXVALUE");
            let less_than = if is_maxvalue {
                None
            } else {
                parse_bound(&method, &description)
            };
            PartitionInfo {
                name: name.unwrap_or_default(),
                method,
                expression,
                description,
                less_than,
                is_maxvalue,
                rows: rows.unwrap_or(0),
                ordinal: ordinal.unwrap_or(0),
            }
        })
        .collect())
}

/// Reads a bound: `'2026-05-01'` / `'2026-05-01 00:00:00'` for RANGE COLUMNS, a
/// day number for `RANGE (TO_DAYS(detected_at))`.
fn parse_bound(method: &str, description: &str) -> Option<NaiveDate> {
    let d = description.trim().trim_matches('\'');
    if method.eq_ignore_ascii_case("RANGE") {
        let days: i32 = d.parse().ok()?;
        // TO_DAYS('0001-01-01') = 366.
        return NaiveDate::from_num_days_from_ce_opt(days - 365);
    }
    NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok()
}

/// Makes sure `table` has monthly partitions through `months_ahead` months after
/// the current (UTC) month, splitting the MAXVALUE partition (or adding
/// partitions when there is none). Returns the names of the partitions added —
/// empty when nothing was needed. Refuses tables that are not partitioned by
/// range on a date.
pub async fn ensure_partitions(
    conn: &mut Conn,
    db_name: &str,
    table: &str,
    months_ahead: u32,
) -> Result<Vec<String>> {
    let through = Utc::now()
        .date_naive()
        .checked_add_months(Months::new(months_ahead))
        .unwrap_or(NaiveDate::MAX);
    ensure_partitions_through(conn, db_name, table, through).await
}

/// Like [`ensure_partitions`] with the last month to cover given explicitly.
pub async fn ensure_partitions_through(
    conn: &mut Conn,
    db_name: &str,
    table: &str,
    through: NaiveDate,
) -> Result<Vec<String>> {
    let db = quote_ident(db_name)?;
    let tbl = quote_ident(table)?;
    let parts = list_partitions(conn, db_name, table).await?;
    if parts.is_empty() {
        return Err(SchemaError::Schema(format!(
            "{db_name}.{table} is not partitioned: partition it BY RANGE COLUMNS (detected_at) by month \
             with a MAXVALUE partition (see infra/sql/client/line_tables.sql)"
        )));
    }
    let method = parts[0].method.clone();
    let by_days = method.eq_ignore_ascii_case("RANGE");
    if !(method.eq_ignore_ascii_case("RANGE COLUMNS")
        || (by_days && parts[0].expression.to_ascii_lowercase().contains("to_days")))
    {
        return Err(SchemaError::Schema(format!(
            "{db_name}.{table} is partitioned by {method} ({}), not by month on detected_at: \
             partitions must be maintained by hand",
            parts[0].expression
        )));
    }
    let max_part = parts.iter().find(|p| p.is_maxvalue).map(|p| p.name.clone());
    let highest = parts.iter().filter_map(|p| p.less_than).max();
    let target = next_month(through);
    if highest.is_some_and(|b| b >= target) {
        return Ok(Vec::new());
    }
    // From the month holding the highest bound (a bound not on the first of a
    // month gets a partition for the rest of that month).
    let mut month = match highest {
        Some(bound) => first_of_month(bound),
        None => first_of_month(Utc::now().date_naive()),
    };
    let existing: std::collections::HashSet<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    let mut defs = Vec::new();
    let mut names = Vec::new();
    while month < target {
        let bound = next_month(month);
        if highest.is_none_or(|h| bound > h) {
            let mut name = month_partition_name(month);
            if existing.contains(name.as_str()) {
                name.push_str("_b");
            }
            let value = if by_days {
                format!("TO_DAYS('{}')", bound.format("%Y-%m-%d"))
            } else {
                format!("'{}'", bound.format("%Y-%m-%d"))
            };
            defs.push(format!("PARTITION {name} VALUES LESS THAN ({value})"));
            names.push(name);
        }
        month = bound;
    }
    if defs.is_empty() {
        return Ok(Vec::new());
    }
    let sql = match &max_part {
        Some(pmax) => {
            quote_ident(&pmax.to_ascii_lowercase())?;
            format!(
                "ALTER TABLE {db}.{tbl} REORGANIZE PARTITION `{pmax}` INTO ({}, PARTITION `{pmax}` VALUES LESS THAN (MAXVALUE))",
                defs.join(", ")
            )
        }
        None => format!("ALTER TABLE {db}.{tbl} ADD PARTITION ({})", defs.join(", ")),
    };
    conn.query_drop(sql).await?;
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn clause_covers_months_and_ends_with_pmax() {
        let c = partition_clause(d(2025, 11, 17), d(2026, 2, 3));
        let lines: Vec<&str> = c.lines().map(str::trim).collect();
        assert_eq!(
            lines,
            vec![
                "PARTITION p202511 VALUES LESS THAN ('2025-12-01'),",
                "PARTITION p202512 VALUES LESS THAN ('2026-01-01'),",
                "PARTITION p202601 VALUES LESS THAN ('2026-02-01'),",
                "PARTITION p202602 VALUES LESS THAN ('2026-03-01'),",
                "PARTITION pmax VALUES LESS THAN (MAXVALUE)",
            ]
        );
    }

    #[test]
    fn bounds_parse() {
        assert_eq!(
            parse_bound("RANGE COLUMNS", "'2026-05-01'"),
            Some(d(2026, 5, 1))
        );
        assert_eq!(
            parse_bound("RANGE COLUMNS", "'2026-05-01 00:00:00'"),
            Some(d(2026, 5, 1))
        );
        // SELECT TO_DAYS('2026-05-01') = 740102
        assert_eq!(parse_bound("RANGE", "740102"), Some(d(2026, 5, 1)));
        assert_eq!(parse_bound("RANGE COLUMNS", "MAXVALUE"), None);
    }
}
