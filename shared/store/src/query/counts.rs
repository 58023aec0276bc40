//! Counting detections per segment, area and product ([`count_segments`]),
//! and per window inside planned time ([`count_in_windows`]): the segments'
//! naive bounds, the plan that reads the minute pre-aggregation
//! ([`super::rollup`]) where it exists and raw rows elsewhere, and the raw
//! counting statements.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use serde::Serialize;

use super::DetectionTable;
use super::{epoch, id_list, micros_since_epoch, naive_value, placeholders, ranges_sql, rollup};
use crate::error::AppResult;

/// Most segment bounds one counting statement carries (one placeholder each);
/// longer lists are split into several statements.
pub const MAX_BOUNDS_PER_STATEMENT: usize = 4000;

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
    let distinct = DistinctSegments::of(table, req);
    if distinct.bounds.len() < 2 || !distinct.wanted.iter().any(|w| *w) {
        return Ok(out);
    }
    let counts = count_naive(conn, table, &distinct.request(req), source).await?;
    for (j, c) in counts.into_iter().enumerate() {
        if let Some(&i) = distinct.segment.get(j) {
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

    /// The count of these segments at the request's areas and products.
    fn request<'a>(&'a self, req: &CountRequest<'a>) -> NaiveCount<'a> {
        NaiveCount {
            bounds: &self.bounds,
            wanted: &self.wanted,
            areas: req.areas,
            products: req.products,
        }
    }
}

/// A count on the naive axis of a table: the segments between strictly
/// increasing `bounds` that are `wanted`, at `areas` (optionally only
/// `products`).
pub(super) struct NaiveCount<'a> {
    pub(super) bounds: &'a [NaiveDateTime],
    pub(super) wanted: &'a [bool],
    pub(super) areas: &'a [i64],
    pub(super) products: Option<&'a [i64]>,
}

impl NaiveCount<'_> {
    /// The raw counting statements of `ranges` (inside these bounds) that
    /// read the rows `ids` selects.
    fn statements(
        &self,
        table: &DetectionTable,
        ranges: &[(NaiveDateTime, NaiveDateTime)],
        ids: IdFilter,
    ) -> Vec<CountStatement> {
        count_statements(table, self.bounds, ranges, self.areas, self.products, ids)
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
    let seg_counts = count_segments(conn, table, &cut.request(areas, products), source).await?;
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
    count_plan(conn, table, &cut.request(areas, products), source).await
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

    /// The count of the wanted segments at `areas` (optionally only `products`).
    fn request<'a>(&'a self, areas: &'a [i64], products: Option<&'a [i64]>) -> CountRequest<'a> {
        CountRequest {
            bounds: &self.bounds,
            wanted: Some(&self.wanted),
            areas,
            products,
        }
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
pub(super) enum IdFilter {
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
    req: &NaiveCount<'_>,
    source: CountSource,
) -> AppResult<CountPlan> {
    let ranges = wanted_ranges(req.bounds, req.wanted);
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
        plan.raw = req.statements(table, &ranges, IdFilter::All);
        return Ok(plan);
    };
    // Rows the pre-aggregation holds (id <= w), in whole minutes; rows it
    // does not hold: newer ids anywhere, older ids in cut minutes.
    plan.partial = rollup::partial_minute_ranges(req.bounds, &ranges);
    plan.rollup_sql = rollup::rows_sql(table, &ranges, req.areas)?;
    plan.raw = req.statements(table, &ranges, IdFilter::Above(w));
    if !plan.partial.is_empty() {
        plan.raw
            .extend(req.statements(table, &plan.partial, IdFilter::AtMost(w)));
    }
    Ok(plan)
}

/// Counts over strictly increasing naive bounds, choosing the source. The
/// rollup is only a cache: when it cannot be used (missing, foreign, a
/// document that does not parse) the count is read raw and a warning logged.
async fn count_naive(
    conn: &mut Conn,
    table: &DetectionTable,
    req: &NaiveCount<'_>,
    source: CountSource,
) -> AppResult<Vec<KeyCounts>> {
    let fresh = || vec![KeyCounts::new(); req.bounds.len() - 1];
    if source == CountSource::Auto {
        let mut out = fresh();
        match read_rollup(conn, table, req, &mut out).await {
            Ok(plan) => {
                run_counts(conn, &plan.raw, &mut out).await?;
                return Ok(out);
            }
            Err(e) if rollup::is_unusable(&e) => {
                tracing::warn!(db = %table.db_name, line_id = table.line_id, error = %e,
                    "the rollup cannot be read: counting raw detections");
            }
            Err(e) => return Err(e),
        }
    }
    let mut out = fresh();
    let plan = plan_naive(conn, table, req, CountSource::Raw).await?;
    run_counts(conn, &plan.raw, &mut out).await?;
    Ok(out)
}

/// Plans an automatic count and adds what the rollup holds to `out`; the
/// plan's raw statements are what is left to count.
async fn read_rollup(
    conn: &mut Conn,
    table: &DetectionTable,
    req: &NaiveCount<'_>,
    out: &mut [KeyCounts],
) -> AppResult<CountPlan> {
    let plan = plan_naive(conn, table, req, CountSource::Auto).await?;
    if let Some((sql, params)) = &plan.rollup_sql {
        rollup::add_minute_counts(conn, sql, params, req, &plan.partial, out).await?;
    }
    Ok(plan)
}

/// The statements [`count_segments`] would send for `req` (after reading the
/// rollup's watermark): for `EXPLAIN` and for benchmarks that time them bare.
pub async fn count_plan(
    conn: &mut Conn,
    table: &DetectionTable,
    req: &CountRequest<'_>,
    source: CountSource,
) -> AppResult<Vec<(String, Vec<Value>)>> {
    let distinct = DistinctSegments::of(table, req);
    if distinct.bounds.len() < 2 || req.areas.is_empty() {
        return Ok(Vec::new());
    }
    let plan = plan_naive(conn, table, &distinct.request(req), source).await?;
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
pub(super) fn count_statements(
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
