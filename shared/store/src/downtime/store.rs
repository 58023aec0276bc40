//! The database side of the downtime engine: one line's tables in a client
//! database, where its detections stand (the neighbours of an instant, the
//! newest one), the watermark in `dash_line_state`, and the per-line advisory
//! lock. The detections themselves are read by [`super::detections`], the
//! stops written and read by [`super::events`] and [`super::window`].
//!
//! Client `DATETIME(3)` values are naive wall times in the tenant's
//! `data_timezone`. Stops are stored with the *original* naive values of the
//! two detections around the gap (never re-converted), and their duration is
//! the real elapsed time between the two instants.

use std::cmp::Ordering;

use chrono::{NaiveDate, NaiveDateTime};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::detector::Detection;
use super::events::EventsTable;
use crate::error::{AppError, AppResult};
use crate::line_state;
use crate::schema::{self, SchemaError};

/// `DATETIME(3)` as the client database stores it.
pub fn fmt_naive(n: &NaiveDateTime) -> String {
    n.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// Reads what [`fmt_naive`] writes (also accepts `T` and no fraction).
pub fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// The smallest `DATETIME` MySQL accepts, the lower bound of "everything".
pub fn min_datetime() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MIN)
}

/// A schema-module error as an application error.
pub fn schema_err(e: SchemaError) -> AppError {
    match e {
        SchemaError::Db(e) => AppError::from(e),
        SchemaError::Conflict(m) => AppError::conflict(m),
        SchemaError::Invalid(m) | SchemaError::Schema(m) | SchemaError::NotFound(m) => {
            AppError::ClientSchema { detail: m }
        }
    }
}

// ---------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------

/// One line's tables in one client database, every name validated and quoted.
#[derive(Debug, Clone)]
pub struct LineTables {
    pub db_name: String,
    pub line_id: i64,
    /// `` `db`.`detection_line_<code>` ``
    pub detections: String,
    pub events: EventsTable,
    /// The output areas.
    pub(super) areas: Vec<i64>,
    /// The output areas, as an SQL list of integers (`3,7`); empty = none.
    areas_sql: String,
    pub(super) single_area: bool,
}

impl LineTables {
    pub fn new(
        db_name: &str,
        line_id: i64,
        line_code: &str,
        output_areas: &[i64],
    ) -> AppResult<Self> {
        let db = schema::quote_ident(db_name).map_err(schema_err)?;
        let detections = schema::detection_table(line_code).map_err(schema_err)?;
        let areas_sql = output_areas
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        Ok(LineTables {
            db_name: db_name.to_string(),
            line_id,
            detections: format!("{db}.`{detections}`"),
            events: EventsTable::named(db_name, line_code)?,
            areas: output_areas.to_vec(),
            areas_sql,
            single_area: output_areas.len() == 1,
        })
    }

    pub(super) fn area_filter(&self) -> String {
        if self.areas_sql.is_empty() {
            "1 = 0".to_string()
        } else if self.single_area {
            format!("area_id = {}", self.areas_sql)
        } else {
            format!("area_id IN ({})", self.areas_sql)
        }
    }
}

/// A detection's position in the processing order: (`detected_at`, `detection_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    pub at: NaiveDateTime,
    pub id: i64,
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.id).cmp(&(other.at, other.id))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Key {
    /// Before every detection.
    pub fn min() -> Key {
        Key {
            at: min_datetime(),
            id: i64::MIN,
        }
    }
    /// After every detection at `at`.
    pub fn end_of(at: NaiveDateTime) -> Key {
        Key { at, id: i64::MAX }
    }
    /// Before every detection at `at`.
    pub fn start_of(at: NaiveDateTime) -> Key {
        Key { at, id: i64::MIN }
    }
}

// ---------------------------------------------------------------------------
// Watermark in dash_line_state
// ---------------------------------------------------------------------------

/// The newest detection an engine run processed, stored with its stops in one
/// transaction: the next run starts right after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub detection_id: i64,
    /// The stored wall time (`data_timezone`).
    #[serde(with = "naive_text")]
    pub detected_at: NaiveDateTime,
    /// The instant the detector holds for it (ms, UTC).
    pub at_ms: i64,
}

impl Watermark {
    pub fn key(&self) -> Key {
        Key {
            at: self.detected_at,
            id: self.detection_id,
        }
    }

    pub fn detection(&self) -> Detection {
        Detection::new(self.detection_id, self.at_ms)
    }
}

pub(super) mod naive_text {
    use chrono::NaiveDateTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(n: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::fmt_naive(n))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_naive(&s).ok_or_else(|| serde::de::Error::custom("bad DATETIME"))
    }
}

/// The line's watermark, if it was ever processed.
pub async fn load_watermark(conn: &mut Conn, t: &LineTables) -> AppResult<Option<Watermark>> {
    let raw = line_state::get(conn, &t.db_name, t.line_id, line_state::DOWNTIME_WATERMARK).await?;
    match raw {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            AppError::internal(format!(
                "the downtime watermark of line {} in {} is unreadable ({e}); \
                 run `jobs downtime --line {} --from <date>` to recompute",
                t.line_id, t.db_name, t.line_id
            ))
        }),
    }
}

/// Stores (or, with `None`, forgets) the watermark; call inside the
/// transaction that writes the stops.
pub async fn save_watermark<Q: Queryable>(
    q: &mut Q,
    t: &LineTables,
    wm: Option<&Watermark>,
) -> AppResult<()> {
    let entry = line_state::DOWNTIME_WATERMARK;
    match wm {
        Some(wm) => {
            let json = serde_json::to_string(wm).map_err(AppError::internal)?;
            line_state::put(q, &t.db_name, t.line_id, entry, &json).await
        }
        None => line_state::delete(q, &t.db_name, t.line_id, entry).await,
    }
}

// ---------------------------------------------------------------------------
// Advisory lock
// ---------------------------------------------------------------------------

/// The server-wide lock name of a line of a client database (≤ 64 bytes).
pub fn lock_name(db_name: &str, line_id: i64) -> String {
    let name = format!("dash:downtime:{db_name}:{line_id}");
    if name.len() <= 64 {
        return name;
    }
    let digest = Sha256::digest(format!("{db_name}:{line_id}").as_bytes());
    format!("dash:downtime:{}", &hex::encode(digest)[..40])
}

/// `GET_LOCK(name, 0)`: true when this connection now holds the lock, false
/// when another session does.
pub async fn try_lock(conn: &mut Conn, name: &str) -> AppResult<bool> {
    let got: Option<Option<i64>> = conn.exec_first("SELECT GET_LOCK(?, 0)", (name,)).await?;
    match got.flatten() {
        Some(1) => Ok(true),
        Some(_) => Ok(false),
        None => Err(AppError::internal(format!("GET_LOCK({name}) failed"))),
    }
}

pub async fn release_lock(conn: &mut Conn, name: &str) -> AppResult<()> {
    conn.exec_drop("DO RELEASE_LOCK(?)", (name,)).await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Detections
// ---------------------------------------------------------------------------

/// The newest output detection's time, if any. One query per output area, so
/// each is answered from the index (`MAX` over an `IN` list is a range scan).
pub async fn max_detected_at(conn: &mut Conn, t: &LineTables) -> AppResult<Option<NaiveDateTime>> {
    let mut best = None;
    for area in &t.areas {
        let v: Option<Option<NaiveDateTime>> = conn
            .exec_first(
                format!(
                    "SELECT MAX(detected_at) FROM {} WHERE area_id = ?",
                    t.detections
                ),
                (area,),
            )
            .await?;
        best = best.max(v.flatten());
    }
    Ok(best)
}

/// The closest output detection time strictly before (or after) `at`.
async fn neighbour_time(
    conn: &mut Conn,
    t: &LineTables,
    at: NaiveDateTime,
    before: bool,
) -> AppResult<Option<NaiveDateTime>> {
    let sql = if before {
        format!(
            "SELECT MAX(detected_at) FROM {} WHERE area_id = ? AND detected_at < ?",
            t.detections
        )
    } else {
        format!(
            "SELECT MIN(detected_at) FROM {} WHERE area_id = ? AND detected_at > ?",
            t.detections
        )
    };
    let mut best: Option<NaiveDateTime> = None;
    for area in &t.areas {
        let v: Option<Option<NaiveDateTime>> = conn.exec_first(sql.as_str(), (area, at)).await?;
        if let Some(v) = v.flatten() {
            best = Some(match best {
                Some(b) if before => b.max(v),
                Some(b) => b.min(v),
                None => v,
            });
        }
    }
    Ok(best)
}

/// The largest (or smallest) output detection id at exactly `at` that
/// satisfies `detection_id <cmp> id`.
async fn id_at(
    conn: &mut Conn,
    t: &LineTables,
    at: NaiveDateTime,
    cmp: &str,
    id: i64,
    largest: bool,
) -> AppResult<Option<i64>> {
    let agg = if largest { "MAX" } else { "MIN" };
    let v: Option<Option<i64>> = conn
        .exec_first(
            format!(
                "SELECT {agg}(detection_id) FROM {} WHERE {} AND detected_at = ? AND detection_id {cmp} ?",
                t.detections,
                t.area_filter()
            ),
            (at, id),
        )
        .await?;
    Ok(v.flatten())
}

/// The last output detection whose key is `< key` (`inclusive`: `<= key`).
pub async fn detection_before(
    conn: &mut Conn,
    t: &LineTables,
    key: Key,
    inclusive: bool,
) -> AppResult<Option<Key>> {
    let cmp = if inclusive { "<=" } else { "<" };
    if let Some(id) = id_at(conn, t, key.at, cmp, key.id, true).await? {
        return Ok(Some(Key { at: key.at, id }));
    }
    let Some(at) = neighbour_time(conn, t, key.at, true).await? else {
        return Ok(None);
    };
    Ok(id_at(conn, t, at, "<=", i64::MAX, true)
        .await?
        .map(|id| Key { at, id }))
}

/// The first output detection whose key is `>= key`.
pub async fn detection_at_or_after(
    conn: &mut Conn,
    t: &LineTables,
    key: Key,
) -> AppResult<Option<Key>> {
    if let Some(id) = id_at(conn, t, key.at, ">=", key.id, false).await? {
        return Ok(Some(Key { at: key.at, id }));
    }
    let Some(at) = neighbour_time(conn, t, key.at, false).await? else {
        return Ok(None);
    };
    Ok(id_at(conn, t, at, ">=", i64::MIN, false)
        .await?
        .map(|id| Key { at, id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(s: &str) -> NaiveDateTime {
        parse_naive(s).unwrap()
    }

    #[test]
    fn naive_text_round_trips() {
        let n = naive("2026-04-01 06:00:00.123");
        assert_eq!(fmt_naive(&n), "2026-04-01 06:00:00.123");
        assert_eq!(
            parse_naive("2026-04-01T06:00:00"),
            Some(naive("2026-04-01 06:00:00.000"))
        );
        assert_eq!(parse_naive("nope"), None);
        let wm = Watermark {
            detection_id: 7,
            detected_at: n,
            at_ms: 1,
        };
        let json = serde_json::to_string(&wm).unwrap();
        assert!(json.contains("2026-04-01 06:00:00.123"));
        assert_eq!(serde_json::from_str::<Watermark>(&json).unwrap(), wm);
    }

    #[test]
    fn keys_order_by_time_then_id() {
        let a = Key {
            at: naive("2026-01-01 00:00:00"),
            id: 9,
        };
        let b = Key {
            at: naive("2026-01-01 00:00:00"),
            id: 10,
        };
        assert!(a < b);
        assert!(Key::min() < a);
        assert!(Key::end_of(a.at) > b);
        assert!(Key::start_of(a.at) < a);
    }

    #[test]
    fn lock_names_fit() {
        assert_eq!(
            lock_name("dashboard_client_1", 3),
            "dash:downtime:dashboard_client_1:3"
        );
        let long = lock_name(&"x".repeat(64), 123);
        assert!(long.len() <= 64);
        assert_ne!(long, lock_name(&"x".repeat(64), 124));
    }
}
