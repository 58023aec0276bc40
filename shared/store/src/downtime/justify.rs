//! One stored stop by id, and its justification (docs/downtime.md): the
//! reason checked against the plant's `failure` table, the row updated only
//! if nobody changed it since it was read. Each function takes a connection
//! or a transaction (a bulk justification is one transaction).

use chrono::NaiveDateTime;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::events::{EventsTable, StopRow, STOP_COLUMNS};
use crate::error::AppResult;

/// A stop by its id (ids are per line).
pub async fn stop_by_id<Q: Queryable>(
    conn: &mut Q,
    table: &EventsTable,
    downtime_id: i64,
) -> AppResult<Option<StopRow>> {
    let row: Option<mysql_async::Row> = conn
        .exec_first(
            format!(
                "SELECT {STOP_COLUMNS} FROM {} WHERE downtime_id = ?",
                table.sql_name()
            ),
            (downtime_id,),
        )
        .await?;
    row.map(StopRow::from_row).transpose()
}

/// A reason as a justification names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonRef<'a> {
    Id(i64),
    Code(&'a str),
}

/// The reason's id and whether it is active, read from the table rather than
/// the metadata cache so a reason added a minute ago is accepted.
pub async fn reason_state(
    conn: &mut Conn,
    reason: ReasonRef<'_>,
) -> AppResult<Option<(i64, bool)>> {
    let found = match reason {
        ReasonRef::Id(id) => {
            conn.exec_first(
                "SELECT failure_id, is_active FROM failure WHERE failure_id = ?",
                (id,),
            )
            .await?
        }
        ReasonRef::Code(code) => {
            conn.exec_first(
                "SELECT failure_id, is_active FROM failure WHERE failure_code = ?",
                (code,),
            )
            .await?
        }
    };
    Ok(found)
}

/// What a person enters on a stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJustification<'a> {
    pub failure_id: i64,
    pub comment: Option<&'a str>,
    pub justified_by: i64,
    /// The stored wall time of now.
    pub justified_at: NaiveDateTime,
}

/// Writes the justification if the row still has `expected_updated_at`;
/// `false` when it does not (changed by someone else, or gone). The new
/// `updated_at` always moves forward, even within the same millisecond, so a
/// version read before this write never matches after it.
pub async fn justify<Q: Queryable>(
    conn: &mut Q,
    table: &EventsTable,
    downtime_id: i64,
    expected_updated_at: NaiveDateTime,
    j: &NewJustification<'_>,
) -> AppResult<bool> {
    let result = conn
        .exec_iter(
            format!(
            "UPDATE {} SET failure_id = ?, justification = ?, justified_by = ?, justified_at = ?, \
             updated_at = GREATEST(CURRENT_TIMESTAMP(3), updated_at + INTERVAL 1000 MICROSECOND) \
             WHERE downtime_id = ? AND updated_at = ?",
            table.sql_name()
        ),
            (
                j.failure_id,
                j.comment,
                j.justified_by,
                j.justified_at,
                downtime_id,
                expected_updated_at,
            ),
        )
        .await?;
    let changed = result.affected_rows() > 0;
    result.drop_result().await?;
    Ok(changed)
}
