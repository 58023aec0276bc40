//! The reference DDL holds every table and column of the contract.

use super::*;

/// The `CREATE TABLE` statement of one table of `sql` (a file of `infra/sql/client`).
fn create_statement(sql: &str, table: &str) -> Result<String> {
    let head = format!("CREATE TABLE IF NOT EXISTS {table} (");
    crate::schema::split_statements(sql)
        .into_iter()
        .find(|s| s.starts_with(&head))
        .ok_or_else(|| SchemaError::Schema(format!("infra/sql/client has no table {table}")))
}

#[test]
fn reference_has_every_contract_table() {
    for (table, _, _) in TABLES {
        create_statement(REFERENCE_SQL, table).unwrap();
    }
    for (table, _) in PRODUCT_TABLES {
        create_statement(PRODUCT_SQL, table).unwrap();
    }
    let d = line_table_statement("detection_line_", "linea_1").unwrap();
    assert!(d.contains("detection_line_linea_1") && d.contains("{{partitions}}"));
    let e = line_table_statement("downtime_events_", "linea_1").unwrap();
    assert!(
        e.contains("downtime_events_linea_1")
            && e.contains("UNIQUE KEY uq_downtime_start (start_time)")
    );
    assert!(line_table_statement("downtime_events_", "x`; drop").is_err());
}

#[test]
fn contract_columns_are_in_the_reference_ddl() {
    let product = PRODUCT_TABLES
        .iter()
        .flat_map(|(t, cols)| cols.iter().map(move |c| (*t, *c, true)));
    for (table, column, _) in required_columns().into_iter().chain(product) {
        let sql = if is_product_owned(table) {
            PRODUCT_SQL
        } else {
            REFERENCE_SQL
        };
        let stmt = create_statement(sql, table).unwrap();
        assert!(
            stmt.lines()
                .any(|l| l.trim_start().starts_with(&format!("{column} "))),
            "{table}.{column}"
        );
    }
    let d = line_table_statement("detection_line_", "x").unwrap();
    for c in DETECTION_COLUMNS {
        assert!(d.contains(&format!("{c} ")), "{c}");
    }
    let e = line_table_statement("downtime_events_", "x").unwrap();
    for c in DOWNTIME_COLUMNS {
        assert!(e.contains(&format!("{c} ")), "{c}");
    }
}
