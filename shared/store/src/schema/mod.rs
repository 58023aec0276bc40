//! The databases the project owns or checks: the global database's migrations,
//! the reference client schema, client-database verification and provisioning,
//! monthly partitions of the detection tables, and the operator actions behind
//! `dashctl` (tenants, users, the widget catalog).
//!
//! SQL lives in `infra/sql/` and is embedded here with `include_str!`, so a
//! binary carries everything it needs.
//!
//! Identifiers (database and table names) are never bound as values: every one
//! that reaches SQL text is checked with [`crate::db::is_valid_identifier`] or
//! [`is_valid_line_code`] first, and quoted with backticks.

mod admin;
mod client;
mod migrate;
mod partitions;

pub use admin::{
    audit, client_server_opts, create_client_database, create_user, find_tenant, list_tenants,
    register_tenant, seed_widget_catalog, tenant_location, CreatedUser, NewTenant, NewUser,
    RegisteredTenant, TenantRow, ROLES,
};
pub use client::{
    client_lines, is_product_owned, provision_client, required_columns, verify_client, CheckStatus,
    ClientLine, ProvisionReport, Report, ReportItem, LINE_TABLES_SQL, PRODUCT_SQL, REFERENCE_SQL,
};
pub use dash_core::line_code::{fold_to_ascii, is_valid_line_code, line_code};
pub use migrate::{migrate, migrations, split_statements, AppliedMigration, Migration};
pub use partitions::{
    create_detection_table, ensure_partitions, ensure_partitions_through, list_partitions,
    month_partition_name, partition_clause, table_exists, PartitionInfo,
};

use thiserror::Error;

/// What can go wrong in schema and operator work. Messages say what to fix.
#[derive(Debug, Error)]
pub enum SchemaError {
    #[error("database error: {0}")]
    Db(#[from] mysql_async::Error),
    /// Bad input from the operator (a name, a zone, a role): the message names it.
    #[error("{0}")]
    Invalid(String),
    /// Something that must be unique exists already.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    /// The database is not in the shape this operation needs.
    #[error("{0}")]
    Schema(String),
}

pub type Result<T> = std::result::Result<T, SchemaError>;

impl From<crate::error::AppError> for SchemaError {
    fn from(e: crate::error::AppError) -> Self {
        SchemaError::Schema(e.to_string())
    }
}

/// `name` quoted with backticks after checking it is a safe identifier.
pub fn quote_ident(name: &str) -> Result<String> {
    if crate::db::is_valid_identifier(name) {
        Ok(format!("`{name}`"))
    } else {
        Err(SchemaError::Invalid(format!(
            "{name:?} is not a valid database or table name: use lower-case letters, digits and _ (at most 64)"
        )))
    }
}

/// `detection_line_<code>` for a validated line code.
pub fn detection_table(code: &str) -> Result<String> {
    line_table("detection_line_", code)
}

/// `downtime_events_<code>` for a validated line code.
pub fn downtime_table(code: &str) -> Result<String> {
    line_table("downtime_events_", code)
}

fn line_table(prefix: &str, code: &str) -> Result<String> {
    if is_valid_line_code(code) {
        Ok(format!("{prefix}{code}"))
    } else {
        Err(SchemaError::Invalid(format!(
            "line code {code:?} is invalid: it must match [a-z0-9_]{{1,40}}"
        )))
    }
}

/// Whether a MySQL error is a server error with this code.
pub(crate) fn is_server_error(e: &mysql_async::Error, code: u16) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == code)
}
