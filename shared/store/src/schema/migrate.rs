//! Versioned migrations of the global database (`infra/sql/global/NNNN_name.sql`),
//! embedded in the binary. [`migrate`] applies the ones not yet recorded in
//! `schema_migrations`, in order, under an advisory lock; an applied file whose
//! checksum changed is an error (write a new migration instead of editing one).

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use sha2::{Digest, Sha256};

use super::{Result, SchemaError};

/// One embedded migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// SHA-256 of the file, hex.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../../../infra/sql/global/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "user_request_rate",
        sql: include_str!("../../../../infra/sql/global/0002_user_request_rate.sql"),
    },
];

/// Every embedded migration, in version order.
pub fn migrations() -> &'static [Migration] {
    MIGRATIONS
}

/// A row of `schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: u32,
    pub name: String,
    pub checksum: String,
}

const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INT UNSIGNED NOT NULL,
    name        VARCHAR(200) NOT NULL,
    checksum    CHAR(64)     NOT NULL,
    applied_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";

const LOCK_NAME: &str = "dashboard_schema_migrate";
const LOCK_WAIT_SECONDS: u32 = 60;

/// Applies the pending migrations to the database `conn` is using (the global
/// database: connect with it as the default database) and returns the versions
/// applied now — empty when everything was already there.
pub async fn migrate(conn: &mut Conn) -> Result<Vec<u32>> {
    let db: Option<String> = conn.query_first("SELECT DATABASE()").await?.flatten();
    if db.is_none() {
        return Err(SchemaError::Invalid(
            "migrate needs a connection with the global database selected (DB_GLOBAL_NAME)".into(),
        ));
    }
    let got: Option<Option<i64>> = conn
        .exec_first("SELECT GET_LOCK(?, ?)", (LOCK_NAME, LOCK_WAIT_SECONDS))
        .await?;
    if got.flatten() != Some(1) {
        return Err(SchemaError::Conflict(format!(
            "another migration is running (lock {LOCK_NAME} held for more than {LOCK_WAIT_SECONDS} s); try again"
        )));
    }
    let result = migrate_locked(conn).await;
    let _ = conn.exec_drop("SELECT RELEASE_LOCK(?)", (LOCK_NAME,)).await;
    result
}

async fn migrate_locked(conn: &mut Conn) -> Result<Vec<u32>> {
    conn.query_drop(CREATE_SCHEMA_MIGRATIONS).await?;
    let applied: Vec<(u32, String, String)> = conn
        .query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        .await?;
    let known: std::collections::HashMap<u32, (String, String)> =
        applied.into_iter().map(|(v, n, c)| (v, (n, c))).collect();

    // Refuse before changing anything when an applied file was edited.
    for m in MIGRATIONS {
        if let Some((name, checksum)) = known.get(&m.version) {
            if *checksum != m.checksum() {
                return Err(SchemaError::Schema(format!(
                    "migration {:04}_{} was applied as {:04}_{name} with checksum {checksum}, but the \
                     embedded file now has checksum {}: applied migrations must not change — restore the \
                     file and add a new migration instead",
                    m.version,
                    m.name,
                    m.version,
                    m.checksum()
                )));
            }
        }
    }
    if let Some(max_known) = known.keys().max() {
        let max_embedded = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
        if *max_known > max_embedded {
            return Err(SchemaError::Schema(format!(
                "the database is at migration {max_known}, newer than this binary knows ({max_embedded}): \
                 use a newer dashctl"
            )));
        }
    }

    let mut done = Vec::new();
    for m in MIGRATIONS {
        if known.contains_key(&m.version) {
            continue;
        }
        for (i, stmt) in split_statements(m.sql).iter().enumerate() {
            conn.query_drop(stmt.as_str()).await.map_err(|e| {
                SchemaError::Schema(format!(
                    "migration {:04}_{} failed at statement {}: {e}\n{}",
                    m.version,
                    m.name,
                    i + 1,
                    first_line(stmt)
                ))
            })?;
        }
        conn.exec_drop(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
            (m.version, m.name, m.checksum()),
        )
        .await?;
        done.push(m.version);
    }
    Ok(done)
}

fn first_line(stmt: &str) -> &str {
    stmt.lines().next().unwrap_or("")
}

/// Splits a SQL file into statements the way the `mysql` client would for these
/// files: `--` comment lines are dropped, a statement ends with the delimiter
/// (`;`, or what a `DELIMITER xx` line sets) at the end of a line.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut delimiter = ";".to_string();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--")
            || trimmed.starts_with('#')
            || (trimmed.is_empty() && current.is_empty())
        {
            continue;
        }
        if let Some(rest) = trimmed
            .strip_prefix("DELIMITER ")
            .or_else(|| trimmed.strip_prefix("delimiter "))
        {
            delimiter = rest.trim().to_string();
            continue;
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line.trim_end());
        if let Some(stmt) = current.trim_end().strip_suffix(delimiter.as_str()) {
            let stmt = stmt.trim();
            if !stmt.is_empty() {
                out.push(stmt.to_string());
            }
            current.clear();
        }
    }
    let rest = current.trim();
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_increasing_and_files_split() {
        let mut last = 0;
        for m in migrations() {
            assert!(m.version > last);
            last = m.version;
            let stmts = split_statements(m.sql);
            assert!(!stmts.is_empty());
            for s in &stmts {
                assert!(!s.ends_with(';'), "{s}");
                assert!(!s.starts_with("--"), "{s}");
            }
        }
    }

    #[test]
    fn splitter_handles_delimiters_and_comments() {
        let sql = "-- a comment;\nCREATE TABLE a (x INT);\n\nDELIMITER $$\nCREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW BEGIN\n  SIGNAL SQLSTATE '45000';\nEND$$\nDELIMITER ;\nSELECT 1;\nSELECT 2";
        let s = split_statements(sql);
        assert_eq!(s.len(), 4, "{s:?}");
        assert_eq!(s[0], "CREATE TABLE a (x INT)");
        assert!(s[1].starts_with("CREATE TRIGGER") && s[1].ends_with("END"));
        assert_eq!(s[2], "SELECT 1");
        assert_eq!(s[3], "SELECT 2");
    }

    #[test]
    fn checksum_is_sha256_hex() {
        let m = Migration {
            version: 1,
            name: "x",
            sql: "",
        };
        assert_eq!(
            m.checksum(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
