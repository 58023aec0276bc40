//! The database side of the downtime engine: one line's tables in a client
//! database, its detections read in keyset pages, its stored stops, the
//! watermark in `system_monitor`, and the per-line advisory lock.
//!
//! Client `DATETIME(3)` values are naive wall times in the tenant's
//! `data_timezone`. Stops are stored with the *original* naive values of the
//! two detections around the gap (never re-converted), and their duration is
//! the real elapsed time between the two instants.

use std::cmp::Ordering;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::detector::{Detection, Event, Justification, StoredEvent};
use crate::error::{AppError, AppResult};
use crate::schema::{self, SchemaError};

/// `system_monitor.metric` of a line's watermark.
pub const WATERMARK_METRIC: &str = "downtime_watermark";
/// `system_monitor.metric` of a line's last engine run.
pub const LAST_RUN_METRIC: &str = "downtime_last_run";

/// Rows per INSERT statement when writing stops.
const INSERT_BATCH: usize = 1000;
/// Largest `duration_seconds` a `DECIMAL(12,3)` holds, in ms.
const MAX_DURATION_MS: i64 = 999_999_999_999;

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

/// Milliseconds since the epoch as an instant, saturating instead of panicking.
pub fn ms_to_utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
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
// Time conversion
// ---------------------------------------------------------------------------

/// Converts naive `data_timezone` wall times to UTC milliseconds, fast: UTC is
/// a plain reinterpretation, other zones cache the offset of the current
/// wall-clock hour (detections come in time order, so nearly every lookup
/// hits). Hours holding a DST transition use the full rules of
/// [`dash_core::timeutil::data_naive_to_utc`] (gap → after it, overlap → earlier).
#[derive(Debug, Clone)]
pub struct DataClock {
    tz: Tz,
    is_utc: bool,
    hour: i64,
    offset_ms: Option<i64>,
}

impl DataClock {
    pub fn new(tz: Tz) -> Self {
        DataClock {
            tz,
            is_utc: tz == chrono_tz::UTC,
            hour: i64::MIN,
            offset_ms: None,
        }
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The instant of a stored wall time, in ms since the epoch.
    pub fn to_ms(&mut self, n: &NaiveDateTime) -> i64 {
        let wall_ms = n.and_utc().timestamp_millis();
        if self.is_utc {
            return wall_ms;
        }
        let hour = wall_ms.div_euclid(3_600_000);
        if hour != self.hour {
            self.hour = hour;
            self.offset_ms = self.steady_offset(hour);
        }
        match self.offset_ms {
            Some(off) => wall_ms - off,
            None => dash_core::timeutil::data_naive_to_utc(*n, self.tz).timestamp_millis(),
        }
    }

    /// The offset of a wall-clock hour when it has one offset throughout.
    fn steady_offset(&self, hour: i64) -> Option<i64> {
        let at = |ms: i64| {
            let naive = DateTime::from_timestamp_millis(ms)?.naive_utc();
            self.tz
                .from_local_datetime(&naive)
                .single()
                .map(|t| i64::from(t.offset().fix().local_minus_utc()) * 1000)
        };
        let first = at(hour.checked_mul(3_600_000)?)?;
        let last = at(hour.checked_mul(3_600_000)?.checked_add(3_599_999)?)?;
        (first == last).then_some(first)
    }

    /// The instant of a stored wall time.
    pub fn to_utc(&mut self, n: &NaiveDateTime) -> DateTime<Utc> {
        ms_to_utc(self.to_ms(n))
    }

    /// The wall time to store or bind for an instant.
    pub fn to_naive(&self, t: DateTime<Utc>) -> NaiveDateTime {
        dash_core::timeutil::utc_to_data_naive(t, self.tz)
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
    /// `` `db`.`downtime_events_<code>` ``
    pub events: String,
    /// `` `db`.`system_monitor` ``
    pub monitor: String,
    /// The output areas.
    areas: Vec<i64>,
    /// The output areas, as an SQL list of integers (`3,7`); empty = none.
    areas_sql: String,
    single_area: bool,
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
        let events = schema::downtime_table(line_code).map_err(schema_err)?;
        let areas_sql = output_areas
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        Ok(LineTables {
            db_name: db_name.to_string(),
            line_id,
            detections: format!("{db}.`{detections}`"),
            events: format!("{db}.`{events}`"),
            monitor: format!("{db}.`system_monitor`"),
            areas: output_areas.to_vec(),
            areas_sql,
            single_area: output_areas.len() == 1,
        })
    }

    fn area_filter(&self) -> String {
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
// Watermark and telemetry in system_monitor
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

mod naive_text {
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
    let raw: Option<Option<String>> = conn
        .exec_first(
            format!(
                "SELECT CAST(value_json AS CHAR) FROM {} WHERE metric = ? AND line_id = ?",
                t.monitor
            ),
            (WATERMARK_METRIC, t.line_id),
        )
        .await?;
    match raw.flatten() {
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
    match wm {
        Some(wm) => {
            let json = serde_json::to_string(wm).map_err(AppError::internal)?;
            upsert_metric(q, t, WATERMARK_METRIC, &json).await
        }
        None => {
            q.exec_drop(
                format!("DELETE FROM {} WHERE metric = ? AND line_id = ?", t.monitor),
                (WATERMARK_METRIC, t.line_id),
            )
            .await?;
            Ok(())
        }
    }
}

/// Writes the latest value of a per-line metric in `system_monitor`.
pub async fn upsert_metric<Q: Queryable>(
    q: &mut Q,
    t: &LineTables,
    metric: &str,
    value_json: &str,
) -> AppResult<()> {
    q.exec_drop(
        format!(
            "INSERT INTO {} (metric, line_id, value_json) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE value_json = VALUES(value_json)",
            t.monitor
        ),
        (metric, t.line_id, value_json),
    )
    .await?;
    Ok(())
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

/// Reads the output detections with `lower < key <= upper` in processing
/// order, a bounded page at a time (keyset pagination), so memory stays flat
/// however many there are.
///
/// The server is asked for `ORDER BY detected_at` only, which the
/// (`area_id`, `detected_at`) index answers without sorting, also across
/// partitions; detections sharing a timestamp are put in `detection_id` order
/// here, and a page never ends inside such a group (the group's rows are
/// left for the next query). With several output areas the server must
/// sort, so each query is also limited to a time slice whose length adapts
/// to the data rate.
pub struct DetectionReader {
    /// `detected_at >= ?` (lower bound inside a timestamp) …
    page_sql: String,
    /// … and `detected_at > ?` (lower bound after every detection of it).
    page_after_sql: String,
    tie_sql: String,
    single_area: bool,
    lower: Key,
    upper: Key,
    page_size: usize,
    span: Duration,
    slice_rows: usize,
    done: bool,
    queries: u64,
    buf: Vec<(NaiveDateTime, i64)>,
}

impl DetectionReader {
    pub fn new(t: &LineTables, lower: Key, upper: Key, page_size: usize) -> Self {
        let page_size = page_size.max(1);
        let page_sql = format!(
            "SELECT detection_id, detected_at FROM {} WHERE {} \
             AND detected_at >= ? AND detected_at <= ? ORDER BY detected_at LIMIT {page_size}",
            t.detections,
            t.area_filter()
        );
        let page_after_sql = format!(
            "SELECT detection_id, detected_at FROM {} WHERE {} \
             AND detected_at > ? AND detected_at <= ? ORDER BY detected_at LIMIT {page_size}",
            t.detections,
            t.area_filter()
        );
        let tie_sql = format!(
            "SELECT detection_id, detected_at FROM {} WHERE {} \
             AND detected_at = ? AND detection_id > ? ORDER BY detection_id LIMIT {page_size}",
            t.detections,
            t.area_filter()
        );
        DetectionReader {
            page_sql,
            page_after_sql,
            tie_sql,
            single_area: t.single_area,
            lower,
            upper,
            page_size,
            span: Duration::hours(6),
            slice_rows: 0,
            done: upper <= lower || t.areas.is_empty(),
            queries: 0,
            buf: Vec::with_capacity(page_size.min(65_536)),
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// SQL queries sent so far.
    pub fn queries(&self) -> u64 {
        self.queries
    }

    async fn fetch<P>(&mut self, conn: &mut Conn, sql: &str, params: P) -> AppResult<()>
    where
        P: Into<mysql_async::Params> + Send,
    {
        self.buf.clear();
        let mut result = conn.exec_iter(sql, params).await?;
        self.queries += 1;
        while let Some(mut row) = result.next().await? {
            let id: Option<i64> = row.take(0);
            let at: Option<NaiveDateTime> = row.take(1);
            let (Some(id), Some(at)) = (id, at) else {
                return Err(AppError::internal("unexpected NULL in a detection row"));
            };
            self.buf.push((at, id));
        }
        Ok(())
    }

    fn advance(&mut self, to: Key) {
        self.lower = to;
        if self.lower >= self.upper {
            self.done = true;
        }
    }

    /// Calls `f(detection_id, detected_at)` for the next page of detections in
    /// order and returns how many there were; 0 means the range is exhausted.
    pub async fn next_page<F>(&mut self, conn: &mut Conn, mut f: F) -> AppResult<usize>
    where
        F: FnMut(i64, NaiveDateTime),
    {
        while !self.done {
            let slice_upper = if self.single_area {
                self.upper
            } else {
                match self.lower.at.checked_add_signed(self.span) {
                    Some(end) => Key::end_of(end).min(self.upper),
                    None => self.upper,
                }
            };
            // After every detection of `lower.at` (an exhausted timestamp or
            // slice): strictly later; else the rest of that timestamp too.
            let after_all = self.lower.id == i64::MAX;
            let sql = if after_all {
                std::mem::take(&mut self.page_after_sql)
            } else {
                std::mem::take(&mut self.page_sql)
            };
            let fetched = self
                .fetch(conn, &sql, (self.lower.at, slice_upper.at))
                .await;
            if after_all {
                self.page_after_sql = sql;
            } else {
                self.page_sql = sql;
            }
            fetched?;
            let full = self.buf.len() >= self.page_size;
            let (first_at, last_at) = match (self.buf.first(), self.buf.last()) {
                (Some(f), Some(l)) => (f.0, l.0),
                _ => (self.lower.at, self.lower.at),
            };
            if full && first_at == last_at {
                // One timestamp fills a whole page: read that instant by id.
                let after = if self.lower.at == first_at {
                    self.lower.id
                } else {
                    i64::MIN
                };
                let sql = std::mem::take(&mut self.tie_sql);
                let fetched = self.fetch(conn, &sql, (first_at, after)).await;
                self.tie_sql = sql;
                fetched?;
                let mut fed = 0;
                for &(at, id) in &self.buf {
                    if (Key { at, id }) <= self.upper {
                        f(id, at);
                        fed += 1;
                    }
                }
                let next = match self.buf.last() {
                    Some(&(at, id)) if self.buf.len() >= self.page_size => Key { at, id },
                    _ => Key::end_of(first_at),
                };
                self.advance(next);
                if fed > 0 {
                    return Ok(fed);
                }
                continue;
            }
            let next = if full {
                // The rows at the last timestamp may go on past the page:
                // leave them all for the next query.
                let cut = self.buf.partition_point(|r| r.0 < last_at);
                self.buf.truncate(cut);
                Key::start_of(last_at)
            } else {
                slice_upper
            };
            if !self.buf.windows(2).all(|w| w[0] <= w[1]) {
                self.buf.sort_unstable();
            }
            let mut fed = 0;
            for &(at, id) in &self.buf {
                let k = Key { at, id };
                if k > self.lower && k <= slice_upper {
                    f(id, at);
                    fed += 1;
                }
            }
            self.slice_rows += fed;
            if !full {
                // The slice is exhausted. Empty or thin slices double (a quiet
                // month costs a few queries, not thousands); slices of many
                // pages halve.
                if self.slice_rows == 0 || self.slice_rows < self.page_size / 2 {
                    self.span = (self.span * 2).min(Duration::days(400));
                } else if self.slice_rows > self.page_size.saturating_mul(4) {
                    self.span = (self.span / 2).max(Duration::seconds(1));
                }
                self.slice_rows = 0;
            }
            self.advance(next);
            if fed > 0 {
                return Ok(fed);
            }
        }
        Ok(0)
    }
}

// ---------------------------------------------------------------------------
// Stops
// ---------------------------------------------------------------------------

/// A stop (or micro-stop) as written: the stored wall times of the two
/// detections around the gap and the real elapsed time between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRow {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub duration_ms: i64,
    pub detection_id: i64,
    pub is_micro: bool,
}

fn duration_text(ms: i64) -> String {
    let ms = ms.clamp(0, MAX_DURATION_MS);
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Inserts stops in multi-row INSERTs (the values are ours: dates, numbers).
pub async fn insert_events<Q: Queryable>(
    q: &mut Q,
    t: &LineTables,
    rows: &[EventRow],
) -> AppResult<()> {
    for chunk in rows.chunks(INSERT_BATCH) {
        let mut sql = String::with_capacity(96 + chunk.len() * 80);
        sql.push_str("INSERT INTO ");
        sql.push_str(&t.events);
        sql.push_str(" (start_time, end_time, duration_seconds, detection_id, is_micro) VALUES ");
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            if r.duration_ms > MAX_DURATION_MS {
                tracing::warn!(line_id = t.line_id, start = %fmt_naive(&r.start), "stop longer than 31 years; duration capped");
            }
            sql.push_str(&format!(
                "('{}','{}',{},{},{})",
                fmt_naive(&r.start),
                fmt_naive(&r.end),
                duration_text(r.duration_ms),
                r.detection_id,
                u8::from(r.is_micro)
            ));
        }
        q.query_drop(sql).await?;
    }
    Ok(())
}

/// Columns of [`StopRow`], in order.
pub const STOP_COLUMNS: &str = "downtime_id, start_time, end_time, \
     CAST(ROUND(duration_seconds * 1000) AS SIGNED), detection_id, is_micro, failure_id, \
     justification, justified_by, justified_at, updated_at";

/// A row of `downtime_events_<code>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopRow {
    pub downtime_id: i64,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub duration_ms: i64,
    pub detection_id: i64,
    pub is_micro: bool,
    pub failure_id: Option<i64>,
    pub justification: Option<String>,
    pub justified_by: Option<i64>,
    pub justified_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

impl StopRow {
    /// Reads a row selected with [`STOP_COLUMNS`].
    pub fn from_row(mut row: mysql_async::Row) -> AppResult<StopRow> {
        fn req<T: mysql_async::prelude::FromValue>(
            row: &mut mysql_async::Row,
            i: usize,
        ) -> AppResult<T> {
            row.take_opt::<T, usize>(i)
                .and_then(Result::ok)
                .ok_or_else(|| {
                    AppError::internal(format!("unexpected value in downtime column {i}"))
                })
        }
        fn opt<T: mysql_async::prelude::FromValue>(
            row: &mut mysql_async::Row,
            i: usize,
        ) -> AppResult<Option<T>> {
            match row.take_opt::<Option<T>, usize>(i) {
                Some(Ok(v)) => Ok(v),
                _ => Err(AppError::internal(format!(
                    "unexpected value in downtime column {i}"
                ))),
            }
        }
        Ok(StopRow {
            downtime_id: req(&mut row, 0)?,
            start: req(&mut row, 1)?,
            end: req(&mut row, 2)?,
            duration_ms: req(&mut row, 3)?,
            detection_id: req(&mut row, 4)?,
            is_micro: req(&mut row, 5)?,
            failure_id: opt(&mut row, 6)?,
            justification: opt(&mut row, 7)?,
            justified_by: opt(&mut row, 8)?,
            justified_at: opt(&mut row, 9)?,
            updated_at: req(&mut row, 10)?,
        })
    }

    /// As the detector's reconciliation sees it.
    pub fn to_stored(&self, clock: &mut DataClock) -> StoredEvent {
        let start_ms = clock.to_ms(&self.start);
        let end_ms = clock.to_ms(&self.end);
        StoredEvent {
            downtime_id: self.downtime_id,
            event: Event {
                start_ms,
                end_ms,
                duration_ms: self.duration_ms,
                detection_id: self.detection_id,
                is_micro: self.is_micro,
            },
            justification: Justification {
                failure_id: self.failure_id,
                justification: self.justification.clone(),
                justified_by: self.justified_by,
                justified_at: self.justified_at.map(|j| clock.to_ms(&j)),
            },
        }
    }
}

/// Stops whose start lies in `[from, to)` (stored wall times), in start order.
pub async fn stops_starting_in(
    conn: &mut Conn,
    t: &LineTables,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> AppResult<Vec<StopRow>> {
    let rows: Vec<mysql_async::Row> = conn
        .exec(
            format!(
                "SELECT {STOP_COLUMNS} FROM {} WHERE start_time >= ? AND start_time < ? ORDER BY start_time",
                t.events
            ),
            (from, to),
        )
        .await?;
    rows.into_iter().map(StopRow::from_row).collect()
}

/// The stored stop that spans the instant `at` (`start < at < end`), if any.
pub async fn stop_spanning(
    conn: &mut Conn,
    t: &LineTables,
    at: NaiveDateTime,
) -> AppResult<Option<(NaiveDateTime, NaiveDateTime)>> {
    let row: Option<(NaiveDateTime, NaiveDateTime)> = conn
        .exec_first(
            format!(
                "SELECT start_time, end_time FROM {} WHERE start_time < ? AND end_time > ? \
                 ORDER BY start_time DESC LIMIT 1",
                t.events
            ),
            (at, at),
        )
        .await?;
    Ok(row)
}

/// The latest end among stops starting in `[from, to)`.
pub async fn max_end_of_stops_starting_in(
    conn: &mut Conn,
    t: &LineTables,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> AppResult<Option<NaiveDateTime>> {
    let v: Option<Option<NaiveDateTime>> = conn
        .exec_first(
            format!(
                "SELECT MAX(end_time) FROM {} WHERE start_time >= ? AND start_time < ?",
                t.events
            ),
            (from, to),
        )
        .await?;
    Ok(v.flatten())
}

/// Deletes stops by id.
pub async fn delete_stops<Q: Queryable>(q: &mut Q, t: &LineTables, ids: &[i64]) -> AppResult<()> {
    for chunk in ids.chunks(INSERT_BATCH) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        q.query_drop(format!(
            "DELETE FROM {} WHERE downtime_id IN ({list})",
            t.events
        ))
        .await?;
    }
    Ok(())
}

/// Points a kept stop at the detection that now ends it.
pub async fn set_stop_detection<Q: Queryable>(
    q: &mut Q,
    t: &LineTables,
    downtime_id: i64,
    detection_id: i64,
) -> AppResult<()> {
    q.exec_drop(
        format!(
            "UPDATE {} SET detection_id = ? WHERE downtime_id = ?",
            t.events
        ),
        (detection_id, downtime_id),
    )
    .await?;
    Ok(())
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
    fn clock_matches_the_reference_rules_around_dst() {
        let tz: Tz = "Europe/Madrid".parse().unwrap();
        let mut clock = DataClock::new(tz);
        let mut start = naive("2026-03-28 22:00:00");
        // Every 7 minutes across spring-forward and fall-back.
        for _ in 0..2 {
            for _ in 0..(60 * 24 / 7) {
                let expected = dash_core::timeutil::data_naive_to_utc(start, tz).timestamp_millis();
                assert_eq!(clock.to_ms(&start), expected, "{start}");
                start += Duration::minutes(7) + Duration::milliseconds(3);
            }
            start = naive("2026-10-24 22:00:00");
        }
        let mut utc = DataClock::new(chrono_tz::UTC);
        assert_eq!(utc.to_ms(&naive("1970-01-01 00:00:01.5")), 1500);
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

    #[test]
    fn durations_are_decimal_text() {
        assert_eq!(duration_text(120_001), "120.001");
        assert_eq!(duration_text(5), "0.005");
        assert_eq!(duration_text(-1), "0.000");
        assert_eq!(duration_text(i64::MAX), "999999999.999");
    }
}
