//! What the table modules of the auth area share: text clipped to the width
//! of its `VARCHAR`, search text as a `LIKE` pattern, typed values taken out of
//! a [`Row`] too wide for a tuple (`mysql_async` reads tuples of at most twelve
//! columns), the `SET` list of an update that changes only some columns, and
//! the counts of a write on a connection or in a transaction.

use mysql_async::prelude::{FromValue, Queryable, StatementLike};
use mysql_async::{Params, Row, Value};

use crate::error::{AppError, AppResult};

/// At most `max` characters of `s`: what a `VARCHAR(max)` column holds.
pub(crate) fn clip(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `%text%` for `LIKE`, with the wildcards of the text itself escaped: the
/// rows whose column contains `text` as typed.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Column `i` of `row` as a `T`; an internal error names the `table` when the
/// column is missing or holds another type.
pub(crate) fn take<T: FromValue>(row: &mut Row, i: usize, table: &str) -> AppResult<T> {
    row.take_opt::<T, usize>(i)
        .ok_or_else(|| AppError::internal(format!("{table} row lacks column {i}")))?
        .map_err(|e| AppError::internal(format!("{table} row column {i}: {e}")))
}

/// The `SET` list of an `UPDATE` built from the fields a request changes,
/// with the values to bind in the same order.
#[derive(Debug, Default)]
pub(crate) struct Assignments {
    assignments: Vec<String>,
    values: Vec<Value>,
}

impl Assignments {
    /// `column = ?`, bound to `value`.
    pub fn bind(&mut self, column: &str, value: impl Into<Value>) {
        self.assignments.push(format!("{column} = ?"));
        self.values.push(value.into());
    }

    /// An assignment with nothing to bind, such as `failed_logins = 0`.
    pub fn literal(&mut self, assignment: &str) {
        self.assignments.push(assignment.to_string());
    }

    /// Runs `UPDATE {table} SET ... WHERE {condition}`, binding the assigned
    /// values and then `condition_values`.
    pub async fn update(
        mut self,
        conn: &mut impl Queryable,
        table: &str,
        condition: &str,
        condition_values: impl IntoIterator<Item = Value>,
    ) -> mysql_async::Result<()> {
        let statement = format!(
            "UPDATE {table} SET {} WHERE {condition}",
            self.assignments.join(", ")
        );
        self.values.extend(condition_values);
        conn.exec_drop(statement, self.values).await
    }
}

/// What a statement that returns no rows reports in its OK packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    pub affected_rows: u64,
    pub last_insert_id: Option<u64>,
}

/// Runs a statement that returns no rows and reports its counts. `Conn` and
/// `Transaction` each keep these, but [`Queryable`], which the table modules
/// take so that a caller may pass either, does not.
pub(crate) async fn exec_written(
    conn: &mut impl Queryable,
    statement: impl StatementLike,
    params: impl Into<Params> + Send,
) -> mysql_async::Result<Written> {
    let result = conn.exec_iter(statement, params).await?;
    let written = Written {
        affected_rows: result.affected_rows(),
        last_insert_id: result.last_insert_id(),
    };
    result.drop_result().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_on_char_boundaries() {
        assert_eq!(clip("abc", 2), "ab");
        assert_eq!(clip("ñññ", 2), "ññ");
        assert_eq!(clip("ab", 5), "ab");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("ab"), "%ab%");
        assert_eq!(contains_pattern("50%_\\"), "%50\\%\\_\\\\%");
    }
}
