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

pub mod rollup;
mod selection;
pub mod widgets;

pub use selection::Selection;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use once_cell::sync::Lazy;
use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::metadata::{Line, TenantMetadata};
use crate::schema;
use crate::store::Store;
use crate::tenancy::Tenant;
use dash_core::timeutil::{data_naive_to_utc, utc_to_data_naive};

/// Most segment bounds one counting statement carries (one placeholder each);
/// longer lists are split into several statements.
pub const MAX_BOUNDS_PER_STATEMENT: usize = 4000;

/// Most rows one keyset page may ask for (JSON).
pub const MAX_PAGE_ROWS: usize = 1000;

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
// Tables
// ---------------------------------------------------------------------------

/// What this process has learnt about a table from `information_schema`:
/// that it exists, and the name of its (`area_id`, `detected_at`) index.
#[derive(Debug, Clone, Default)]
struct TableInfo {
    area_index: Option<String>,
}

static TABLES: Lazy<Mutex<HashMap<(String, String), TableInfo>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

/// Checks that `db`.`table` exists, once per process. A missing table is a
/// client-schema problem (503 telling the operator to run `verify-client`).
pub async fn verify_table(conn: &mut Conn, db_name: &str, table: &str) -> AppResult<()> {
    table_info(conn, db_name, table).await.map(|_| ())
}

/// An index name we may splice into SQL (quoted) after reading it from
/// `information_schema`.
fn is_plain_index_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

async fn table_info(conn: &mut Conn, db_name: &str, table: &str) -> AppResult<TableInfo> {
    let key = (db_name.to_string(), table.to_string());
    if let Some(info) = TABLES.lock().ok().and_then(|t| t.get(&key).cloned()) {
        return Ok(info);
    }
    let n: Option<i64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (db_name, table),
        )
        .await?;
    if n.unwrap_or(0) == 0 {
        return Err(AppError::ClientSchema {
            detail: format!("table {db_name}.{table} does not exist"),
        });
    }
    let columns: Vec<(String, i64, String)> = conn
        .exec(
            "SELECT INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            (db_name, table),
        )
        .await?;
    let starts_with = |name: &str, seq: i64, col: &str| {
        columns
            .iter()
            .any(|(n, s, c)| n == name && *s == seq && c.eq_ignore_ascii_case(col))
    };
    let area_index = columns
        .iter()
        .map(|(n, _, _)| n.as_str())
        .find(|n| starts_with(n, 1, "area_id") && starts_with(n, 2, "detected_at"))
        .filter(|n| is_plain_index_name(n))
        .map(str::to_string);
    let info = TableInfo { area_index };
    if let Ok(mut t) = TABLES.lock() {
        t.insert(key, info.clone());
    }
    Ok(info)
}

/// One line's detection table, its name validated (pattern and
/// `information_schema`) and quoted.
#[derive(Debug, Clone)]
pub struct DetectionTable {
    pub line_id: i64,
    pub line_code: String,
    pub db_name: String,
    /// `` `db`.`detection_line_<code>` ``
    qualified: String,
    /// Zone of the stored `DATETIME` values.
    pub data_tz: Tz,
    /// `` FORCE INDEX (`ix`) `` naming the (`area_id`, `detected_at`) index
    /// when `information_schema` showed one: MariaDB otherwise picks a `ref`
    /// plan on `area_id` alone and reads every earlier row of the area.
    force_area_index: String,
}

impl DetectionTable {
    /// The table of `line` in `db_name`, checked against `information_schema`.
    pub async fn open(
        conn: &mut Conn,
        db_name: &str,
        line: &Line,
        data_tz: Tz,
    ) -> AppResult<DetectionTable> {
        let mut table = Self::unchecked(db_name, line, data_tz)?;
        let name = schema::detection_table(&line.line_code).map_err(schema_err)?;
        let info = table_info(conn, db_name, &name).await?;
        if let Some(ix) = info.area_index {
            table.force_area_index = format!(" FORCE INDEX (`{ix}`)");
        }
        Ok(table)
    }

    /// The table of a line of a tenant (404 for an id the metadata does not know).
    pub async fn for_line(
        conn: &mut Conn,
        tenant: &Tenant,
        meta: &TenantMetadata,
        line_id: i64,
    ) -> AppResult<DetectionTable> {
        let line = meta.line(line_id).ok_or(AppError::NotFound)?;
        Self::open(
            conn,
            &tenant.db_location().db_name,
            line,
            tenant.data_timezone(),
        )
        .await
    }

    /// Builds the names without asking the server (they are still validated).
    pub fn unchecked(db_name: &str, line: &Line, data_tz: Tz) -> AppResult<DetectionTable> {
        let db = schema::quote_ident(db_name).map_err(schema_err)?;
        let name = schema::detection_table(&line.line_code).map_err(schema_err)?;
        Ok(DetectionTable {
            line_id: line.line_id,
            line_code: line.line_code.clone(),
            db_name: db_name.to_string(),
            qualified: format!("{db}.`{name}`"),
            data_tz,
            force_area_index: String::new(),
        })
    }

    /// The quoted, database-qualified name.
    pub fn sql_name(&self) -> &str {
        &self.qualified
    }

    /// The naive bound of an instant in this table's data zone.
    pub fn bound(&self, t: DateTime<Utc>) -> NaiveDateTime {
        naive_bound(t, self.data_tz)
    }

    /// The instant of a stored value.
    pub fn instant(&self, n: NaiveDateTime) -> DateTime<Utc> {
        data_naive_to_utc(n, self.data_tz)
    }
}

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
// Counting per segment
// ---------------------------------------------------------------------------

/// What a count is split by: the area and the product (`None` = a detection
/// with no product).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CountKey {
    pub area_id: i64,
    pub product_id: Option<i64>,
}

/// Detections per (area, product) of one segment.
pub type KeyCounts = BTreeMap<CountKey, u64>;

/// Where counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CountSource {
    /// The minute pre-aggregation where it exists, raw rows elsewhere.
    #[default]
    Auto,
    /// Raw rows only (the reference path; tests and benchmarks compare).
    Raw,
}

/// What to count: consecutive segments `[bounds[i], bounds[i + 1])` of
/// detections at `areas` (optionally only `products`).
#[derive(Debug, Clone, Copy)]
pub struct CountRequest<'a> {
    /// Strictly increasing instants.
    pub bounds: &'a [DateTime<Utc>],
    /// Which segments to count (`None` = all); the others come back empty and
    /// their rows are never read.
    pub wanted: Option<&'a [bool]>,
    pub areas: &'a [i64],
    pub products: Option<&'a [i64]>,
}

/// Counts detections per segment, area and product: the result has one map
/// per segment (`bounds.len() - 1`, empty for `bounds` shorter than 2).
pub async fn count_segments(
    conn: &mut Conn,
    table: &DetectionTable,
    req: &CountRequest<'_>,
    source: CountSource,
) -> AppResult<Vec<KeyCounts>> {
    let n_segments = req.bounds.len().saturating_sub(1);
    let mut out = vec![KeyCounts::new(); n_segments];
    if n_segments == 0 || req.areas.is_empty() || req.products.is_some_and(|p| p.is_empty()) {
        return Ok(out);
    }
    let DistinctSegments {
        bounds: unique,
        segment: seg_of_unique,
        wanted: wanted_unique,
    } = DistinctSegments::of(table, req);
    if unique.len() < 2 || !wanted_unique.iter().any(|w| *w) {
        return Ok(out);
    }
    let counts = count_naive(
        conn,
        table,
        &unique,
        &wanted_unique,
        req.areas,
        req.products,
        source,
    )
    .await?;
    for (j, c) in counts.into_iter().enumerate() {
        if let Some(&i) = seg_of_unique.get(j) {
            if i != usize::MAX {
                out[i] = c;
            }
        }
    }
    Ok(out)
}

/// The segments of a [`CountRequest`] on the naive axis of the table. Naive
/// bounds are non-decreasing; equal neighbours are empty segments (no stored
/// value has an instant there), so only the distinct ones are kept.
struct DistinctSegments {
    /// Strictly increasing naive bounds.
    bounds: Vec<NaiveDateTime>,
    /// The request's segment each piece between two bounds stands for
    /// (`usize::MAX`: a gap between distinct segments, never wanted).
    segment: Vec<usize>,
    /// Whether each piece is wanted.
    wanted: Vec<bool>,
}

impl DistinctSegments {
    fn of(table: &DetectionTable, req: &CountRequest<'_>) -> DistinctSegments {
        let naive: Vec<NaiveDateTime> = req.bounds.iter().map(|t| table.bound(*t)).collect();
        let n_segments = naive.len().saturating_sub(1);
        let mut d = DistinctSegments {
            bounds: Vec::with_capacity(naive.len()),
            segment: Vec::with_capacity(n_segments),
            wanted: Vec::with_capacity(n_segments),
        };
        for i in 0..n_segments {
            if naive[i + 1] <= naive[i] {
                continue;
            }
            if d.bounds.last() != Some(&naive[i]) {
                if !d.bounds.is_empty() {
                    // A gap between distinct segments (cannot happen with
                    // sorted input, but keep the structure consistent).
                    d.segment.push(usize::MAX);
                    d.wanted.push(false);
                }
                d.bounds.push(naive[i]);
            }
            d.bounds.push(naive[i + 1]);
            d.segment.push(i);
            d.wanted.push(
                req.wanted
                    .is_none_or(|w| w.get(i).copied().unwrap_or(false)),
            );
        }
        d
    }
}

/// Counts detections inside each of `windows` (which may overlap, e.g. shift
/// buckets), only where they also lie in `within` when given (planned time,
/// a shift's occurrences). One pass over the data whatever the number of
/// windows: the windows' and `within`'s edges cut the time axis into segments,
/// each counted once and added to every window holding it. The result has
/// one map per window.
pub async fn count_in_windows(
    conn: &mut Conn,
    table: &DetectionTable,
    windows: &[dash_core::timeutil::Window],
    within: Option<&dash_core::oee::IntervalSet>,
    areas: &[i64],
    products: Option<&[i64]>,
    source: CountSource,
) -> AppResult<Vec<KeyCounts>> {
    let mut out = vec![KeyCounts::new(); windows.len()];
    let Some(cut) = WindowCuts::new(windows, within) else {
        return Ok(out);
    };
    let seg_counts = count_segments(
        conn,
        table,
        &CountRequest {
            bounds: &cut.bounds,
            wanted: Some(&cut.wanted),
            areas,
            products,
        },
        source,
    )
    .await?;
    for (i, w) in windows.iter().enumerate() {
        for k in cut.segments_of(w) {
            if !cut.wanted[k] {
                continue;
            }
            for (key, n) in &seg_counts[k] {
                *out[i].entry(*key).or_insert(0) += n;
            }
        }
    }
    Ok(out)
}

/// The statements [`count_in_windows`] sends (benchmarks time them bare).
pub async fn plan_in_windows(
    conn: &mut Conn,
    table: &DetectionTable,
    windows: &[dash_core::timeutil::Window],
    within: Option<&dash_core::oee::IntervalSet>,
    areas: &[i64],
    products: Option<&[i64]>,
    source: CountSource,
) -> AppResult<Vec<(String, Vec<Value>)>> {
    let Some(cut) = WindowCuts::new(windows, within) else {
        return Ok(Vec::new());
    };
    let req = CountRequest {
        bounds: &cut.bounds,
        wanted: Some(&cut.wanted),
        areas,
        products,
    };
    count_plan(conn, table, &req, source).await
}

/// The time axis cut at every window's and `within`'s edges.
struct WindowCuts {
    cuts: Vec<i64>,
    bounds: Vec<DateTime<Utc>>,
    wanted: Vec<bool>,
}

impl WindowCuts {
    fn new(
        windows: &[dash_core::timeutil::Window],
        within: Option<&dash_core::oee::IntervalSet>,
    ) -> Option<WindowCuts> {
        let live: Vec<(i64, i64)> = windows
            .iter()
            .map(|w| (w.start.timestamp_millis(), w.end.timestamp_millis()))
            .filter(|(s, e)| e > s)
            .collect();
        let lo = live.iter().map(|w| w.0).min()?;
        let hi = live.iter().map(|w| w.1).max()?;
        let mut cuts: Vec<i64> = live.iter().flat_map(|&(s, e)| [s, e]).collect();
        if let Some(within) = within {
            for &(s, e) in within.spans_ms() {
                for x in [s, e] {
                    if x > lo && x < hi {
                        cuts.push(x);
                    }
                }
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        let mut c = WindowCuts {
            bounds: cuts
                .iter()
                .map(|&ms| dash_core::timeutil::ms_to_utc(ms))
                .collect(),
            wanted: vec![false; cuts.len() - 1],
            cuts,
        };
        for &(s, e) in &live {
            for k in c.range(s, e) {
                c.wanted[k] = true;
            }
        }
        for k in 0..c.wanted.len() {
            c.wanted[k] = c.wanted[k] && within.is_none_or(|w| w.contains_ms(c.cuts[k]));
        }
        c.wanted.iter().any(|w| *w).then_some(c)
    }

    fn range(&self, s: i64, e: i64) -> std::ops::Range<usize> {
        let a = self.cuts.partition_point(|c| *c < s);
        let b = self.cuts.partition_point(|c| *c < e);
        a..b
    }

    fn segments_of(&self, w: &dash_core::timeutil::Window) -> std::ops::Range<usize> {
        let (s, e) = (w.start.timestamp_millis(), w.end.timestamp_millis());
        if e <= s {
            return 0..0;
        }
        self.range(s, e)
    }
}

/// Which ids a raw statement reads (the complement of the pre-aggregation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdFilter {
    All,
    AtMost(i64),
    Above(i64),
}

/// Merged naive ranges of the wanted segments.
fn wanted_ranges(bounds: &[NaiveDateTime], wanted: &[bool]) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    let mut out: Vec<(NaiveDateTime, NaiveDateTime)> = Vec::new();
    for (j, w) in wanted.iter().enumerate() {
        if !*w {
            continue;
        }
        let (a, b) = (bounds[j], bounds[j + 1]);
        match out.last_mut() {
            Some(last) if last.1 >= a => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// How a count is served: the pre-aggregation's rows to read (if any) and
/// the raw statements.
pub struct CountPlan {
    pub watermark: Option<i64>,
    /// Reads the rollup rows of the wanted days and areas.
    pub rollup_sql: Option<(String, Vec<Value>)>,
    partial: Vec<(NaiveDateTime, NaiveDateTime)>,
    pub raw: Vec<CountStatement>,
}

impl CountPlan {
    /// Every statement the plan sends, in order (benchmarks time them bare).
    pub fn statements(&self) -> Vec<(String, Vec<Value>)> {
        self.rollup_sql
            .iter()
            .cloned()
            .chain(self.raw.iter().map(|s| (s.sql.clone(), s.params.clone())))
            .collect()
    }
}

/// Plans a count over strictly increasing naive bounds (reads the rollup's
/// watermark to choose the source).
async fn plan_naive(
    conn: &mut Conn,
    table: &DetectionTable,
    bounds: &[NaiveDateTime],
    wanted: &[bool],
    areas: &[i64],
    products: Option<&[i64]>,
    source: CountSource,
) -> AppResult<CountPlan> {
    let ranges = wanted_ranges(bounds, wanted);
    let mut plan = CountPlan {
        watermark: None,
        rollup_sql: None,
        partial: Vec::new(),
        raw: Vec::new(),
    };
    if ranges.is_empty() {
        return Ok(plan);
    }
    plan.watermark = match source {
        CountSource::Raw => None,
        CountSource::Auto => rollup::watermark(conn, table).await?,
    };
    let Some(w) = plan.watermark else {
        plan.raw = count_statements(table, bounds, &ranges, areas, products, IdFilter::All);
        return Ok(plan);
    };
    // Rows the pre-aggregation holds (id <= w), in whole minutes; rows it
    // does not hold: newer ids anywhere, older ids in cut minutes.
    plan.partial = rollup::partial_minute_ranges(bounds, &ranges);
    plan.rollup_sql = rollup::rows_sql(table, &ranges, areas)?;
    plan.raw = count_statements(table, bounds, &ranges, areas, products, IdFilter::Above(w));
    if !plan.partial.is_empty() {
        plan.raw.extend(count_statements(
            table,
            bounds,
            &plan.partial,
            areas,
            products,
            IdFilter::AtMost(w),
        ));
    }
    Ok(plan)
}

/// Counts over strictly increasing naive bounds, choosing the source.
async fn count_naive(
    conn: &mut Conn,
    table: &DetectionTable,
    bounds: &[NaiveDateTime],
    wanted: &[bool],
    areas: &[i64],
    products: Option<&[i64]>,
    source: CountSource,
) -> AppResult<Vec<KeyCounts>> {
    let mut out = vec![KeyCounts::new(); bounds.len() - 1];
    let plan = plan_naive(conn, table, bounds, wanted, areas, products, source).await?;
    if let Some((sql, params)) = &plan.rollup_sql {
        rollup::add_minute_counts(
            conn,
            sql,
            params,
            bounds,
            wanted,
            &plan.partial,
            areas,
            products,
            &mut out,
        )
        .await?;
    }
    run_counts(conn, &plan.raw, &mut out).await?;
    Ok(out)
}

/// The statements [`count_segments`] would send for `req` (after reading the
/// rollup's watermark): for `EXPLAIN` and for benchmarks that time them bare.
pub async fn count_plan(
    conn: &mut Conn,
    table: &DetectionTable,
    req: &CountRequest<'_>,
    source: CountSource,
) -> AppResult<Vec<(String, Vec<Value>)>> {
    let DistinctSegments {
        bounds: unique,
        wanted: wanted_unique,
        ..
    } = DistinctSegments::of(table, req);
    if unique.len() < 2 || req.areas.is_empty() {
        return Ok(Vec::new());
    }
    let plan = plan_naive(
        conn,
        table,
        &unique,
        &wanted_unique,
        req.areas,
        req.products,
        source,
    )
    .await?;
    Ok(plan.statements())
}

/// One counting statement: its SQL and parameters, and the segment its
/// `seg = 0` stands for.
pub struct CountStatement {
    pub sql: String,
    pub params: Vec<Value>,
    pub first_segment: usize,
}

/// Builds the raw counting statements for `ranges` (sorted, disjoint, inside
/// `[bounds[0], bounds[last])`), one per block of at most
/// [`MAX_BOUNDS_PER_STATEMENT`] segment bounds.
fn count_statements(
    table: &DetectionTable,
    bounds: &[NaiveDateTime],
    ranges: &[(NaiveDateTime, NaiveDateTime)],
    areas: &[i64],
    products: Option<&[i64]>,
    ids: IdFilter,
) -> Vec<CountStatement> {
    let seg_of = |x: NaiveDateTime| bounds.partition_point(|b| *b <= x).saturating_sub(1);
    // Split ranges at every MAX-th bound so no statement needs more.
    let mut pieces: Vec<(usize, NaiveDateTime, NaiveDateTime)> = Vec::new();
    for &(a, b) in ranges {
        let mut start = a;
        loop {
            let block = seg_of(start) / MAX_BOUNDS_PER_STATEMENT;
            let cut = bounds.get((block + 1) * MAX_BOUNDS_PER_STATEMENT).copied();
            match cut {
                Some(c) if c < b => {
                    pieces.push((block, start, c));
                    start = c;
                }
                _ => {
                    pieces.push((block, start, b));
                    break;
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        let block = pieces[i].0;
        let mut j = i;
        while j < pieces.len() && pieces[j].0 == block {
            j += 1;
        }
        let group: Vec<(NaiveDateTime, NaiveDateTime)> =
            pieces[i..j].iter().map(|p| (p.1, p.2)).collect();
        out.push(count_statement(
            table, bounds, &group, areas, products, ids, &seg_of,
        ));
        i = j;
    }
    out
}

fn count_statement(
    table: &DetectionTable,
    bounds: &[NaiveDateTime],
    ranges: &[(NaiveDateTime, NaiveDateTime)],
    areas: &[i64],
    products: Option<&[i64]>,
    ids: IdFilter,
    seg_of: &dyn Fn(NaiveDateTime) -> usize,
) -> CountStatement {
    let lo = ranges[0].0;
    let hi = ranges[ranges.len() - 1].1;
    let first_segment = seg_of(lo);
    let inner: Vec<NaiveDateTime> = bounds
        .iter()
        .copied()
        .skip(first_segment + 1)
        .take_while(|b| *b < hi)
        .collect();
    let mut params: Vec<Value> = Vec::new();
    let seg = if inner.is_empty() {
        "0".to_string()
    } else {
        params.push(naive_value(epoch()));
        params.extend(inner.iter().map(|b| Value::Int(micros_since_epoch(b))));
        format!(
            "INTERVAL(TIMESTAMPDIFF(MICROSECOND, ?, detected_at), {})",
            placeholders(inner.len())
        )
    };
    // The PK serves `detection_id > W` (few new rows); every other count
    // reads the (area_id, detected_at) index.
    let force = if matches!(ids, IdFilter::Above(_)) {
        ""
    } else {
        table.force_area_index.as_str()
    };
    let mut sql = format!(
        "SELECT {seg} AS seg, area_id, product_id, COUNT(*) FROM {}{force} WHERE ",
        table.sql_name()
    );
    sql.push_str(&id_list("area_id", areas, &mut params));
    sql.push_str(" AND detected_at >= ? AND detected_at < ?");
    params.push(naive_value(lo));
    params.push(naive_value(hi));
    if ranges.len() > 1 {
        sql.push_str(" AND (");
        sql.push_str(&ranges_sql(ranges, &mut params));
        sql.push(')');
    }
    if let Some(products) = products {
        sql.push_str(" AND ");
        sql.push_str(&id_list("product_id", products, &mut params));
    }
    match ids {
        IdFilter::All => {}
        IdFilter::AtMost(w) => {
            sql.push_str(" AND detection_id <= ?");
            params.push(Value::Int(w));
        }
        IdFilter::Above(w) => {
            sql.push_str(" AND detection_id > ?");
            params.push(Value::Int(w));
        }
    }
    sql.push_str(" GROUP BY seg, area_id, product_id");
    CountStatement {
        sql,
        params,
        first_segment,
    }
}

async fn run_counts(
    conn: &mut Conn,
    statements: &[CountStatement],
    out: &mut [KeyCounts],
) -> AppResult<()> {
    for st in statements {
        let rows: Vec<(i64, i64, Option<i64>, i64)> =
            conn.exec(st.sql.clone(), st.params.clone()).await?;
        for (seg, area_id, product_id, n) in rows {
            let Some(slot) = usize::try_from(seg)
                .ok()
                .and_then(|s| out.get_mut(st.first_segment + s))
            else {
                continue;
            };
            *slot
                .entry(CountKey {
                    area_id,
                    product_id,
                })
                .or_insert(0) += u64::try_from(n).unwrap_or(0);
        }
    }
    Ok(())
}

/// The raw counting SQL [`count_segments`] would run over `[start, end)` split
/// at `cuts` (for `EXPLAIN` and benchmarks): the statement text and its
/// parameters.
pub fn raw_count_sql(
    table: &DetectionTable,
    bounds: &[DateTime<Utc>],
    areas: &[i64],
    products: Option<&[i64]>,
) -> Vec<(String, Vec<Value>)> {
    let naive: Vec<NaiveDateTime> = bounds.iter().map(|t| table.bound(*t)).collect();
    let mut unique = naive.clone();
    unique.dedup();
    if unique.len() < 2 {
        return Vec::new();
    }
    let ranges = [(unique[0], unique[unique.len() - 1])];
    count_statements(table, &unique, &ranges, areas, products, IdFilter::All)
        .into_iter()
        .map(|s| (s.sql, s.params))
        .collect()
}

// ---------------------------------------------------------------------------
// Listing detections (keyset pagination)
// ---------------------------------------------------------------------------

/// A detection as stored, ids only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionRow {
    pub detection_id: i64,
    pub detected_at: NaiveDateTime,
    pub area_id: i64,
    pub product_id: Option<i64>,
}

/// A position in (`detected_at`, `detection_id`) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: NaiveDateTime,
    pub id: i64,
}

impl Cursor {
    /// Opaque text for `next_cursor` (base64url of the stored value and id).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}|{}",
            self.at.format("%Y-%m-%d %H:%M:%S%.3f"),
            self.id
        ))
    }

    /// Reads [`Cursor::encode`]'s text; anything else is a 400 naming `cursor`.
    pub fn decode(s: &str) -> AppResult<Cursor> {
        let bad = || {
            AppError::validation(
                "cursor",
                "cursor is not a value this API returned in next_cursor",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(s.trim()).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (at, id) = text.split_once('|').ok_or_else(bad)?;
        let at = NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S%.f").map_err(|_| bad())?;
        let id = id.parse::<i64>().map_err(|_| bad())?;
        Ok(Cursor { at, id })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// A page of detections: inside `ranges` (naive, sorted, disjoint), at
/// `areas`, optionally only `products`, after `after` in `order`.
#[derive(Debug, Clone)]
pub struct ListRequest<'a> {
    pub ranges: Vec<(NaiveDateTime, NaiveDateTime)>,
    pub areas: &'a [i64],
    pub products: Option<&'a [i64]>,
    pub after: Option<Cursor>,
    pub order: Order,
    pub limit: usize,
}

/// The keyset statement of one page: each area read in the order of the
/// (`area_id`, `detected_at`) index — forced where `information_schema`
/// named it — `LIMIT limit + 1`, the per-area parts in one `UNION ALL`. Only
/// `detected_at` is in the `ORDER BY` (adding `detection_id` makes MariaDB
/// sort the whole range of a partitioned table); [`list_detections`] puts
/// ties in `detection_id` order and completes them exactly.
pub fn list_sql(table: &DetectionTable, req: &ListRequest<'_>) -> Option<(String, Vec<Value>)> {
    let (lo, hi, upper_inclusive) = list_bounds(req)?;
    let dir = match req.order {
        Order::Asc => "",
        Order::Desc => " DESC",
    };
    let mut params = Vec::new();
    let mut parts = Vec::with_capacity(req.areas.len());
    for &area in req.areas {
        let mut sql = format!(
            "(SELECT detection_id, detected_at, area_id, product_id FROM {}{} WHERE area_id = ? \
             AND detected_at >= ? AND detected_at {} ?",
            table.sql_name(),
            table.force_area_index,
            if upper_inclusive { "<=" } else { "<" }
        );
        params.push(Value::Int(area));
        params.push(naive_value(lo));
        params.push(naive_value(hi));
        list_filters(req, &mut sql, &mut params, upper_inclusive);
        sql.push_str(&format!(
            " ORDER BY detected_at{dir} LIMIT {})",
            req.limit.saturating_add(1)
        ));
        parts.push(sql);
    }
    let sql = if parts.len() == 1 {
        let only = parts.remove(0);
        only[1..only.len() - 1].to_string()
    } else {
        parts.join(" UNION ALL ")
    };
    Some((sql, params))
}

/// The page's time bounds after the cursor: `(lo, hi, hi inclusive)`.
fn list_bounds(req: &ListRequest<'_>) -> Option<(NaiveDateTime, NaiveDateTime, bool)> {
    if req.ranges.is_empty() || req.areas.is_empty() || req.limit == 0 {
        return None;
    }
    let mut lo = req.ranges[0].0;
    let mut hi = req.ranges[req.ranges.len() - 1].1;
    let mut upper_inclusive = false;
    if let Some(c) = req.after {
        match req.order {
            Order::Asc => lo = lo.max(c.at),
            Order::Desc => {
                if c.at < hi {
                    hi = c.at;
                    upper_inclusive = true;
                }
            }
        }
    }
    if lo > hi || (lo == hi && !upper_inclusive) {
        return None;
    }
    Some((lo, hi, upper_inclusive))
}

/// Range, product and keyset conditions shared by a page and its tie query.
fn list_filters(
    req: &ListRequest<'_>,
    sql: &mut String,
    params: &mut Vec<Value>,
    upper_inclusive: bool,
) {
    if req.ranges.len() > 1 {
        sql.push_str(" AND (");
        sql.push_str(&ranges_sql(&req.ranges, params));
        sql.push(')');
    } else if upper_inclusive {
        // The cursor made the upper bound inclusive: keep the window's.
        sql.push_str(" AND detected_at < ?");
        params.push(naive_value(req.ranges[0].1));
    }
    if let Some(products) = req.products {
        sql.push_str(" AND ");
        sql.push_str(&id_list("product_id", products, params));
    }
    if let Some(c) = req.after {
        match req.order {
            Order::Asc => sql.push_str(" AND (detected_at > ? OR detection_id > ?)"),
            Order::Desc => sql.push_str(" AND (detected_at < ? OR detection_id < ?)"),
        }
        params.push(naive_value(c.at));
        params.push(Value::Int(c.id));
    }
}

type RawRow = (i64, NaiveDateTime, i64, Option<i64>);

fn row_of((detection_id, detected_at, area_id, product_id): RawRow) -> DetectionRow {
    DetectionRow {
        detection_id,
        detected_at,
        area_id,
        product_id,
    }
}

/// One page of detections in (`detected_at`, `detection_id`) order (reversed
/// for [`Order::Desc`]), at most `limit` (clamped to 1..=100 000) rows.
///
/// Exact whatever order the server returns equal `detected_at` values in: an
/// area whose `limit + 1` rows end on a tie has all its rows at that instant
/// read again, so the `limit` first rows of the merge are the true ones.
pub async fn list_detections(
    conn: &mut Conn,
    table: &DetectionTable,
    req: &ListRequest<'_>,
) -> AppResult<Vec<DetectionRow>> {
    let mut req = req.clone();
    req.limit = req.limit.clamp(1, 100_000);
    let Some((sql, params)) = list_sql(table, &req) else {
        return Ok(Vec::new());
    };
    let upper_inclusive = list_bounds(&req).is_some_and(|b| b.2);
    let rows: Vec<RawRow> = conn.exec(sql, params).await?;
    let key = |r: &DetectionRow| (r.detected_at, r.detection_id);
    let mut by_area: BTreeMap<i64, Vec<DetectionRow>> = BTreeMap::new();
    for r in rows {
        by_area.entry(r.2).or_default().push(row_of(r));
    }
    let mut merged = Vec::new();
    for (area, mut rows) in by_area {
        match req.order {
            Order::Asc => rows.sort_by_key(key),
            Order::Desc => rows.sort_by_key(|r| std::cmp::Reverse(key(r))),
        }
        if rows.len() > req.limit {
            // Every row of this area up to the limit-th row's instant is here
            // when the next row is later; on a tie, read that instant again.
            let edge = rows[req.limit - 1].detected_at;
            let tie = rows[req.limit].detected_at == edge;
            rows.retain(|r| match req.order {
                Order::Asc => r.detected_at < edge || (!tie && r.detected_at == edge),
                Order::Desc => r.detected_at > edge || (!tie && r.detected_at == edge),
            });
            if !tie {
                merged.extend(rows);
                continue;
            }
            let mut sql = format!(
                "SELECT detection_id, detected_at, area_id, product_id FROM {} WHERE area_id = ? AND detected_at = ?",
                table.sql_name()
            );
            let mut params = vec![Value::Int(area), naive_value(edge)];
            list_filters(&req, &mut sql, &mut params, upper_inclusive);
            let ties: Vec<RawRow> = conn.exec(sql, params).await?;
            rows.extend(ties.into_iter().map(row_of));
        }
        merged.extend(rows);
    }
    match req.order {
        Order::Asc => merged.sort_by_key(key),
        Order::Desc => merged.sort_by_key(|r| std::cmp::Reverse(key(r))),
    }
    merged.truncate(req.limit);
    Ok(merged)
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

// ---------------------------------------------------------------------------
// Query trace
// ---------------------------------------------------------------------------

/// Writes the `user_query` row of a call ([`log_user_query`]). In a FastCGI
/// process, which keeps running between requests, the row is written by a
/// background task, so the answer does not wait for the insert (a durable
/// commit); a CGI process ends with its request and a Lambda instance may be
/// frozen right after it, so there the row is written before returning.
pub async fn trace_user_query(
    store: &Store,
    user_id: i64,
    tenant_id: Option<i64>,
    endpoint: &'static str,
    parameters: serde_json::Value,
    duration: Duration,
    rows: u64,
) {
    let background = store.host() == crate::store::HostKind::FastCgi
        && tokio::runtime::Handle::try_current().is_ok();
    if !background {
        log_user_query(
            store,
            user_id,
            tenant_id,
            endpoint,
            &parameters,
            duration,
            rows,
        )
        .await;
        return;
    }
    let store = store.clone();
    tokio::spawn(async move {
        log_user_query(
            &store,
            user_id,
            tenant_id,
            endpoint,
            &parameters,
            duration,
            rows,
        )
        .await;
    });
}

/// Writes one `user_query` row in the global database (docs/client-database.md#global-database): who asked
/// what, how long it took and how many rows it answered. Best effort: a
/// failure is logged, never turned into an error for the caller.
pub async fn log_user_query(
    store: &Store,
    user_id: i64,
    tenant_id: Option<i64>,
    endpoint: &str,
    parameters: &serde_json::Value,
    duration: Duration,
    rows: u64,
) {
    let mut params_text = parameters.to_string();
    if params_text.len() > 16_384 {
        params_text =
            serde_json::json!({ "truncated": true, "bytes": params_text.len() }).to_string();
    }
    let endpoint: String = endpoint.chars().take(191).collect();
    let duration_ms = u32::try_from(duration.as_millis()).unwrap_or(u32::MAX);
    let rows = u32::try_from(rows).unwrap_or(u32::MAX);
    let result = async {
        let mut conn = store.db().global().await?;
        // One INSERT, no session state: keep its prepared statement.
        conn.reset_connection(false);
        conn.exec_drop(
            "INSERT INTO user_query (user_id, tenant_id, endpoint, parameters, duration_ms, row_count) \
             VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, tenant_id, endpoint, params_text, duration_ms, rows),
        )
        .await?;
        AppResult::Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not write user_query");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Madrid;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn naive(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    fn line(code: &str) -> Line {
        Line {
            line_id: 1,
            line_name: "L".into(),
            line_code: code.into(),
            is_active: true,
            downtime_threshold_seconds: None,
            micro_stop_seconds: None,
        }
    }

    #[test]
    fn naive_bound_is_the_inverse_of_the_read_rule() {
        // UTC: identity.
        assert_eq!(
            naive_bound(utc("2026-04-01T06:00:00.123Z"), chrono_tz::UTC),
            naive("2026-04-01 06:00:00.123")
        );
        // Plain Madrid time.
        assert_eq!(
            naive_bound(utc("2026-04-01T04:00:00Z"), Madrid),
            naive("2026-04-01 06:00:00")
        );
        // Exhaustive around both DST changes, every 10 minutes (+7 ms): for
        // every stored value n near the bound, n >= bound <=> instant(n) >= t.
        for start in ["2026-03-28T22:00:00Z", "2026-10-24T22:00:00Z"] {
            let mut t = utc(start);
            for _ in 0..(6 * 30) {
                let b = naive_bound(t, Madrid);
                for delta_min in -130i64..=130 {
                    let n = b
                        + chrono::Duration::minutes(delta_min)
                        + chrono::Duration::milliseconds(delta_min % 3);
                    let inside = data_naive_to_utc(n, Madrid) >= t;
                    assert_eq!(n >= b, inside, "t={t} bound={b} n={n}");
                }
                t += chrono::Duration::minutes(10) + chrono::Duration::milliseconds(7);
            }
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = Cursor {
            at: naive("2026-04-01 06:00:00.042"),
            id: 99,
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "xyz", "MjAyNg", &URL_SAFE_NO_PAD.encode("2026-04-01|x")] {
            let e = Cursor::decode(bad).unwrap_err();
            assert_eq!(e.field(), Some("cursor"));
        }
    }

    #[test]
    fn statements_bind_every_value_and_split_long_bound_lists() {
        let t =
            DetectionTable::unchecked("dashboard_client_1", &line("l1"), chrono_tz::UTC).unwrap();
        assert_eq!(t.sql_name(), "`dashboard_client_1`.`detection_line_l1`");
        let start = naive("2026-01-01 00:00:00");
        let bounds: Vec<NaiveDateTime> = (0..=9000)
            .map(|i| start + chrono::Duration::minutes(i))
            .collect();
        let ranges = [(bounds[0], bounds[9000])];
        let sts = count_statements(
            &t,
            &bounds,
            &ranges,
            &[3, 4],
            Some(&[7]),
            IdFilter::Above(5),
        );
        assert_eq!(sts.len(), 3);
        assert_eq!(sts[0].first_segment, 0);
        assert_eq!(sts[1].first_segment, 4000);
        assert_eq!(sts[2].first_segment, 8000);
        for s in &sts {
            assert!(!s.sql.contains("2026"), "values must be bound: {}", s.sql);
            assert_eq!(s.sql.matches('?').count(), s.params.len());
            assert!(s.sql.contains("area_id IN (?,?)") && s.sql.contains("product_id = ?"));
            assert!(s.sql.contains("detection_id > ?"));
        }
        // One segment needs no INTERVAL.
        let one = count_statements(
            &t,
            &bounds[..2],
            &[(bounds[0], bounds[1])],
            &[3],
            None,
            IdFilter::All,
        );
        assert!(one[0].sql.starts_with("SELECT 0 AS seg"));
    }

    #[test]
    fn list_sql_merges_per_area_pages() {
        let t = DetectionTable::unchecked("db", &line("l1"), chrono_tz::UTC).unwrap();
        let req = ListRequest {
            ranges: vec![(naive("2026-01-01 00:00:00"), naive("2026-02-01 00:00:00"))],
            areas: &[1, 2],
            products: None,
            after: Some(Cursor {
                at: naive("2026-01-05 00:00:00"),
                id: 10,
            }),
            order: Order::Asc,
            limit: 50,
        };
        let (sql, params) = list_sql(&t, &req).unwrap();
        assert_eq!(sql.matches("UNION ALL").count(), 1);
        assert_eq!(sql.matches('?').count(), params.len());
        assert!(sql.ends_with("ORDER BY detected_at LIMIT 51)"), "{sql}");
        let single = ListRequest {
            areas: &[1],
            order: Order::Desc,
            ..req.clone()
        };
        let (sql, params) = list_sql(&t, &single).unwrap();
        assert!(!sql.contains("UNION") && sql.starts_with("SELECT"));
        assert!(sql.ends_with("ORDER BY detected_at DESC LIMIT 51"), "{sql}");
        assert!(sql.contains("detected_at <= ?") && sql.contains("detected_at < ?"));
        assert_eq!(sql.matches('?').count(), params.len());
    }
}
