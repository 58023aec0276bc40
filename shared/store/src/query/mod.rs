//! The query builder over a client's detection tables (docs/client-database.md#client-database-contract): one line's
//! `detection_line_<code>` read by time range (so the server prunes the monthly
//! partitions), by areas, products and shift occurrences.
//!
//! Rules every query here follows:
//! - table names come only from validated line codes ([`DetectionTable::open`]
//!   checks the pattern *and* `information_schema`); every value — times, ids,
//!   limits — is bound as a parameter;
//! - queries return ids and counts; names are joined in the application from
//!   the warm cache ([`crate::metadata::TenantMetadata`]);
//! - times are compared on the stored naive `DATETIME(3)` values: an instant is
//!   turned into the naive bound with [`naive_bound`], the exact inverse of the
//!   rule that reads a stored value as an instant
//!   ([`dash_core::timeutil::data_naive_to_utc`]), so a detection lies in `[a, b)`
//!   in SQL exactly when its instant does.
//!
//! Counting ([`count_segments`]) splits a list of instants into consecutive
//! segments and counts detections per segment, area and product in one pass.
//! The OEE engine counts inside planned time with it, the data routes count
//! production per bucket. It reads the exact minute pre-aggregation of
//! [`rollup`] where one exists and the raw rows everywhere else; the two paths
//! give identical numbers (see `rollup` for the argument and the tests).
//!
//! Every data and metrics call is traced in the global `user_query` table with
//! [`log_user_query`].
//!
//! The parts: `table` (the validated [`DetectionTable`]), `counts` (counting
//! per segment and window), [`rollup`] (the minute pre-aggregation), `list`
//! (keyset pages of detections), [`widgets`] (production counts of the
//! dashboard widgets), `user_query` (the call trace); here, the naive bounds
//! and the SQL fragments they share, and the read connection.

mod counts;
mod list;
pub mod rollup;
mod selection;
mod table;
#[cfg(test)]
mod tests;
mod user_query;
pub mod widgets;

pub use counts::{
    count_in_windows, count_plan, count_segments, plan_in_windows, raw_count_sql, CountKey,
    CountPlan, CountRequest, CountSource, CountStatement, KeyCounts, MAX_BOUNDS_PER_STATEMENT,
};
pub use list::{
    list_detections, list_sql, Cursor, DetectionRow, ListRequest, Order, MAX_PAGE_ROWS,
};
pub use selection::Selection;
pub use table::{verify_table, DetectionTable};
pub use user_query::{log_user_query, trace_user_query};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use mysql_async::{Conn, Value};

use crate::error::{AppError, AppResult};
use crate::schema;
use crate::store::Store;
use crate::tenancy::Tenant;
use dash_core::timeutil::{data_naive_to_utc, utc_to_data_naive};

// ---------------------------------------------------------------------------
// Naive bounds
// ---------------------------------------------------------------------------

/// The origin of the integer time axis the counting SQL bins on
/// (`TIMESTAMPDIFF(MICROSECOND, epoch, detected_at)`).
fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MIN)
}

fn micros_since_epoch(n: &NaiveDateTime) -> i64 {
    let d = *n - epoch();
    d.num_microseconds()
        .unwrap_or(if d < chrono::Duration::zero() {
            i64::MIN
        } else {
            i64::MAX
        })
}

fn naive_ms(n: &NaiveDateTime) -> i64 {
    n.and_utc().timestamp_millis()
}

fn naive_from_ms(ms: i64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.naive_utc())
        .unwrap_or(if ms < 0 {
            NaiveDateTime::MIN
        } else {
            NaiveDateTime::MAX
        })
}

/// The naive `data_timezone` value to compare stored `detected_at` values with
/// so that `detected_at >= naive_bound(t)` holds exactly when the detection's
/// instant is `>= t`: the smallest stored value whose instant is not before
/// `t`. Outside DST changes it is simply the wall time at `t`; in a fall-back
/// overlap (stored values are read as the earlier instant) and a spring-forward
/// gap it is found by bisection on the monotone read rule.
pub fn naive_bound(t: DateTime<Utc>, data_tz: Tz) -> NaiveDateTime {
    if data_tz == chrono_tz::UTC {
        return t.naive_utc();
    }
    let target = t.timestamp_millis();
    let f = |ms: i64| data_naive_to_utc(naive_from_ms(ms), data_tz).timestamp_millis();
    let wall = naive_ms(&utc_to_data_naive(t, data_tz));
    if f(wall) >= target && f(wall - 1) < target {
        return naive_from_ms(wall);
    }
    // f is non-decreasing; offsets stay within ±26 h of the wall time.
    let (mut lo, mut hi) = (wall - 26 * 3_600_000, wall + 26 * 3_600_000);
    if f(hi) < target {
        return naive_from_ms(hi);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if f(mid) >= target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    naive_from_ms(hi)
}

// ---------------------------------------------------------------------------
// What the statements share
// ---------------------------------------------------------------------------

/// A [`schema::SchemaError`] as the store's error: a database error stays one,
/// anything else is a client-schema problem.
pub fn schema_err(e: schema::SchemaError) -> AppError {
    match e {
        schema::SchemaError::Db(e) => AppError::from(e),
        other => AppError::ClientSchema {
            detail: other.to_string(),
        },
    }
}

fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 2);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push('?');
    }
    s
}

/// `area_id = ?` or `area_id IN (?, …)`, pushing the ids.
fn id_list(column: &str, ids: &[i64], params: &mut Vec<Value>) -> String {
    params.extend(ids.iter().map(|&id| Value::Int(id)));
    if ids.len() == 1 {
        format!("{column} = ?")
    } else {
        format!("{column} IN ({})", placeholders(ids.len()))
    }
}

fn naive_value(n: NaiveDateTime) -> Value {
    Value::from(n)
}

/// `(detected_at >= ? AND detected_at < ?) OR …` for several ranges.
fn ranges_sql(ranges: &[(NaiveDateTime, NaiveDateTime)], params: &mut Vec<Value>) -> String {
    let mut parts = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        params.push(naive_value(*a));
        params.push(naive_value(*b));
        parts.push("(detected_at >= ? AND detected_at < ?)");
    }
    parts.join(" OR ")
}

// ---------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------

/// A pooled connection to the tenant's client database for the read-only
/// data and metrics queries. It opts out of the pool's reset when it goes
/// back (`COM_RESET_CONNECTION`): these queries change no session state
/// (no variables, locks, temporary tables or open transactions), and the
/// reset would throw away the connection's prepared statements, so every
/// call would prepare each of its statements again — one more round trip per
/// statement. The next user of the connection still gets the pool's default.
pub async fn read_conn(store: &Store, tenant: &Tenant) -> AppResult<Conn> {
    let mut conn = store.db().client(&tenant.db_location()).await?;
    conn.reset_connection(false);
    Ok(conn)
}
