//! An exact pre-aggregation of detections: counts per stored minute, area and
//! product, so long windows never count raw rows (docs/operations.md#performance-targets: a year-long OEE
//! under a second, 30 days under 300 ms).
//!
//! # Where it lives
//! The client database may only be written in `downtime_events_<code>` and
//! `system_monitor`, so the counts are app-owned rows of `system_monitor`:
//! one row per line, stored (`data_timezone`) date and area, metric
//! `rollup_min:YYYY-MM-DD:<area_id>`, value `{"v":1,"rows":n,"c":{"<product>":
//! [[first_minute, n, n, …], …]}}` (runs of consecutive minutes of the day;
//! product `""` = none), and one `rollup_min_watermark` row per line holding
//! the highest `detection_id` folded in. A 30-day OEE reads 60 such rows, a
//! year 730. [`refresh_line`] (run by the `jobs`
//! binary after the downtime engine) folds in the detections with a higher id,
//! page by page, each page and its watermark in one transaction.
//!
//! # Why it is exact
//! Let `W` be the watermark. The rollup holds exactly the rows with
//! `detection_id <= W`, binned by the minute of their stored value. When
//! [`super::count_segments`] counts a segment `[a, b)` (naive bounds):
//! - a minute `[m, m + 1)` lying wholly inside one segment takes the rollup's
//!   count (those rows are in that segment and nowhere else);
//! - a minute cut by a bound ("partial") is counted from the raw rows with
//!   `detection_id <= W` (see [`partial_minute_ranges`]);
//! - rows with `detection_id > W` are always counted raw.
//!
//! Every row with `id <= W` lies in exactly one minute, which is either whole
//! (rollup) or partial (raw) — never both — and every row with `id > W` is
//! raw: each detection is counted once, in the segment holding its stored
//! value, which is the raw path's answer. Late detections (an old
//! `detected_at`) arrive with new ids, so they are raw until the next refresh
//! folds them in. The argument assumes detections are only ever inserted,
//! committed in id order (sensors insert with autocommit); a client that
//! rewrites or deletes history runs [`reset_line`] and the next refresh
//! rebuilds from scratch.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Duration, NaiveDate, NaiveDateTime, Timelike};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, TxOpts, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{placeholders, DetectionTable, KeyCounts};
use crate::error::{AppError, AppResult};
use crate::metadata::TenantMetadata;
use crate::schema;
use crate::store::Store;
use crate::tenancy::Tenant;

/// `system_monitor.metric` of a line's rollup watermark.
pub const WATERMARK_METRIC: &str = "rollup_min_watermark";
/// `system_monitor.metric` of the outcome of a line's last refresh (the
/// `jobs downtime` run writes it, like `downtime_last_run`).
pub const LAST_RUN_METRIC: &str = "rollup_last_run";
/// Prefix of the per-day-and-area rollup rows (`rollup_min:2026-04-01:3`).
pub const DAY_PREFIX: &str = "rollup_min:";
/// Beyond this many rows a read asks for a range of metrics instead of a list.
const MAX_LISTED_ROWS: usize = 3000;
/// Ids folded in per transaction by default.
pub const DEFAULT_BATCH_IDS: i64 = 500_000;

const ER_NO_SUCH_TABLE: u16 = 1146;

fn minute() -> Duration {
    Duration::minutes(1)
}

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

fn monitor_table(table: &DetectionTable) -> AppResult<String> {
    let db = schema::quote_ident(&table.db_name).map_err(super::schema_err)?;
    Ok(format!("{db}.`system_monitor`"))
}

/// One day's counts of one area: product → minute of day → detections.
type AreaDay = BTreeMap<Option<i64>, BTreeMap<u32, u64>>;

/// The stored form of one day of one area: `c` maps the product id (`""`
/// for none) to runs `[first_minute, n, n, …]` of consecutive minutes; `t`
/// and `h` (written before `c`) hold each product's total of the day and of
/// each of its 24 stored hours, so a count over a window holding the whole
/// day reads `t`, and one whose bounds in the day all fall on whole hours
/// (hourly, shift and day buckets of a plant a whole number of hours from the
/// stored zone) reads `h`; neither reads the minutes. Documents written
/// before `t` or `h` existed are read minute by minute.
#[derive(Debug, Default, Serialize, Deserialize)]
struct AreaDoc {
    v: u32,
    rows: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    t: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    h: BTreeMap<String, Vec<u64>>,
    c: BTreeMap<String, Vec<Vec<u64>>>,
}

fn product_key(product: Option<i64>) -> String {
    product.map(|p| p.to_string()).unwrap_or_default()
}

fn parse_product_key(key: &str) -> AppResult<Option<i64>> {
    if key.is_empty() {
        return Ok(None);
    }
    key.parse()
        .map(Some)
        .map_err(|_| AppError::internal("unreadable rollup product key"))
}

fn encode_day(day: &AreaDay) -> String {
    let mut doc = AreaDoc {
        v: 1,
        ..AreaDoc::default()
    };
    for (product, minutes) in day {
        let mut runs: Vec<Vec<u64>> = Vec::new();
        let mut next: Option<u32> = None;
        for (&m, &n) in minutes {
            if n == 0 {
                continue;
            }
            doc.rows += n;
            match (next, runs.last_mut()) {
                (Some(expected), Some(run)) if expected == m => run.push(n),
                _ => runs.push(vec![u64::from(m), n]),
            }
            next = Some(m + 1);
        }
        if !runs.is_empty() {
            let total = runs.iter().map(|r| r[1..].iter().sum::<u64>()).sum();
            let mut hours = vec![0u64; 24];
            for (&m, &n) in minutes {
                if let Some(h) = hours.get_mut(m as usize / 60) {
                    *h += n;
                }
            }
            doc.t.insert(product_key(*product), total);
            doc.h.insert(product_key(*product), hours);
            doc.c.insert(product_key(*product), runs);
        }
    }
    // Totals only stand for the minutes a reader adds (those of the day).
    if day.values().any(|m| m.keys().any(|&m| m >= 1440)) {
        doc.t.clear();
        doc.h.clear();
    }
    serde_json::to_string(&doc).unwrap_or_else(|_| "{}".into())
}

fn parse_doc(text: &str) -> AppResult<AreaDoc> {
    serde_json::from_str(text)
        .map_err(|e| AppError::internal(format!("unreadable rollup row: {e}")))
}

fn decode_day(text: &str) -> AppResult<AreaDay> {
    let mut day = AreaDay::new();
    for (key, runs) in parse_doc(text)?.c {
        let minutes = day.entry(parse_product_key(&key)?).or_default();
        for run in runs {
            let Some((&first, counts)) = run.split_first() else {
                continue;
            };
            for (k, &n) in counts.iter().enumerate() {
                let m = u32::try_from(first)
                    .unwrap_or(u32::MAX)
                    .saturating_add(k as u32);
                *minutes.entry(m).or_insert(0) += n;
            }
        }
    }
    Ok(day)
}

fn row_metric(date: NaiveDate, area: i64) -> String {
    format!("{DAY_PREFIX}{}:{area}", date.format("%Y-%m-%d"))
}

/// `(date, area)` of a rollup row's metric.
fn parse_metric(metric: &str) -> Option<(NaiveDate, i64)> {
    let rest = metric.strip_prefix(DAY_PREFIX)?;
    let (date, area) = rest.split_once(':')?;
    Some((
        NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?,
        area.parse().ok()?,
    ))
}

/// Whether a MySQL error says the table is missing.
fn is_missing_table(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == ER_NO_SUCH_TABLE)
}

/// The line's watermark: the highest `detection_id` in the rollup, or `None`
/// when the line has never been rolled up (or the client database has no
/// `system_monitor`, in which case everything is counted raw).
pub async fn watermark(conn: &mut Conn, table: &DetectionTable) -> AppResult<Option<i64>> {
    let monitor = monitor_table(table)?;
    let row: Result<Option<Option<String>>, _> = conn
        .exec_first(
            format!(
                "SELECT CAST(value_json AS CHAR) FROM {monitor} WHERE metric = ? AND line_id = ?"
            ),
            (WATERMARK_METRIC, table.line_id),
        )
        .await;
    match row {
        Ok(v) => Ok(v
            .flatten()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|j| j.get("detection_id").and_then(serde_json::Value::as_i64))),
        Err(e) if is_missing_table(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn floor_minute(n: NaiveDateTime) -> NaiveDateTime {
    n.with_second(0)
        .and_then(|n| n.with_nanosecond(0))
        .unwrap_or(n)
}

/// The parts of `ranges` lying in a minute that some bound cuts (a bound that
/// is not a whole minute): there the rollup's minute count would mix
/// segments, so those rows are counted raw. Sorted and merged.
pub fn partial_minute_ranges(
    bounds: &[NaiveDateTime],
    ranges: &[(NaiveDateTime, NaiveDateTime)],
) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    let mut out: Vec<(NaiveDateTime, NaiveDateTime)> = Vec::new();
    for &b in bounds {
        let m = floor_minute(b);
        if m == b {
            continue;
        }
        let (ms, me) = (m, m + minute());
        // Ranges overlapping [ms, me): the first whose end is after ms.
        let mut i = ranges.partition_point(|r| r.1 <= ms);
        while i < ranges.len() && ranges[i].0 < me {
            let (a, e) = (ranges[i].0.max(ms), ranges[i].1.min(me));
            if e > a {
                match out.last_mut() {
                    Some(last) if last.1 >= a => last.1 = last.1.max(e),
                    _ => out.push((a, e)),
                }
            }
            i += 1;
        }
    }
    out
}

/// The statement reading the rollup rows a count over `ranges` (naive,
/// sorted) needs: every stored date they touch, for `areas`.
pub(super) fn rows_sql(
    table: &DetectionTable,
    ranges: &[(NaiveDateTime, NaiveDateTime)],
    areas: &[i64],
) -> AppResult<Option<(String, Vec<Value>)>> {
    let monitor = monitor_table(table)?;
    let mut days: Vec<NaiveDate> = Vec::new();
    for &(a, b) in ranges {
        let mut d = a.date();
        let last = (b - Duration::milliseconds(1)).date();
        while d <= last {
            if days.last() != Some(&d) {
                days.push(d);
            }
            let Some(next) = d.succ_opt() else { break };
            d = next;
        }
    }
    let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
        return Ok(None);
    };
    if days.len() * areas.len() > MAX_LISTED_ROWS {
        let to = last.succ_opt().unwrap_or(last);
        return Ok(Some((
            format!(
                "SELECT metric, CAST(value_json AS CHAR) FROM {monitor} \
                 WHERE metric >= ? AND metric < ? AND line_id = ?"
            ),
            vec![
                Value::from(format!("{DAY_PREFIX}{}", first.format("%Y-%m-%d"))),
                Value::from(format!("{DAY_PREFIX}{}", to.format("%Y-%m-%d"))),
                Value::Int(table.line_id),
            ],
        )));
    }
    let mut params: Vec<Value> = vec![Value::Int(table.line_id)];
    for d in &days {
        for a in areas {
            params.push(Value::from(row_metric(*d, *a)));
        }
    }
    Ok(Some((
        format!(
            "SELECT metric, CAST(value_json AS CHAR) FROM {monitor} WHERE line_id = ? AND metric IN ({})",
            placeholders(params.len() - 1)
        ),
        params,
    )))
}

/// Adds the rollup's whole-minute counts read by `sql` to `out` (one map per
/// segment of `bounds`), skipping minutes that hold part of `partial`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn add_minute_counts(
    conn: &mut Conn,
    sql: &str,
    params: &[Value],
    bounds: &[NaiveDateTime],
    wanted: &[bool],
    partial: &[(NaiveDateTime, NaiveDateTime)],
    areas: &[i64],
    products: Option<&[i64]>,
    out: &mut [KeyCounts],
) -> AppResult<()> {
    // Integer milliseconds of the naive axis: the sink below runs once per
    // stored minute (43 200 per area for 30 days), so it stays arithmetic.
    let bounds_ms: Vec<i64> = bounds.iter().map(super::naive_ms).collect();
    let (Some(&first), Some(&last)) = (bounds_ms.first(), bounds_ms.last()) else {
        return Ok(());
    };
    let mut partial_minutes: Vec<i64> = partial
        .iter()
        .map(|r| super::naive_ms(&floor_minute(r.0)))
        .collect();
    partial_minutes.dedup();
    let rows: Vec<(String, Option<String>)> = conn.exec(sql, params.to_vec()).await?;
    // Buffers of the fast reader, reused from one document to the next.
    let (mut runs, mut counts) = (Vec::new(), Vec::new());
    let (mut totals, mut hours) = (Vec::new(), Vec::new());
    let mut sink = MinuteSink {
        bounds_ms: &bounds_ms,
        first,
        last,
        wanted,
        partial_minutes: &partial_minutes,
        products,
        out,
        area: 0,
        day_ms: 0,
        key: None,
        run: None,
    };
    for (metric, text) in rows {
        let Some((date, area)) = parse_metric(&metric) else {
            continue;
        };
        let (Some(text), true) = (text, areas.contains(&area)) else {
            continue;
        };
        sink.area = area;
        sink.day_ms = super::naive_ms(&date.and_time(chrono::NaiveTime::MIN));
        use self::stream::RunSink as _;
        // A day inside one wanted segment (no bound cuts it, so no minute
        // of it is partial) only needs each product's total; a day cut only
        // at whole hours, each product's hours.
        let whole_day = sink.day_segment();
        let want = if whole_day.is_some() {
            fast::Want::DayTotals(&mut totals)
        } else if sink.cut_at_whole_hours() {
            fast::Want::HourTotals(&mut hours)
        } else {
            fast::Want::Minutes
        };
        match fast::scan(text.as_bytes(), &mut runs, &mut counts, want) {
            fast::Scan::Totals => {
                if let Some(seg) = whole_day {
                    for &(product, n) in &totals {
                        if sink.product(product) {
                            sink.flush(seg, n);
                        }
                    }
                }
            }
            fast::Scan::Hours => {
                for (product, per_hour) in &hours {
                    if sink.product(*product) {
                        sink.add_hours(per_hour);
                    }
                }
            }
            fast::Scan::Minutes => fast::feed(&runs, &counts, &mut sink),
            fast::Scan::Unknown => stream::read_doc(&text, &mut sink)?,
        }
    }
    Ok(())
}

/// A run being added: the next minute's start, its segment, and the count
/// gathered for `acc_seg` so far.
struct RunState {
    t: i64,
    seg: usize,
    acc_seg: usize,
    acc: u64,
}

/// Adds a day document's minutes to the segments they lie in, as the
/// document is parsed (no map or vector is built per document or run).
struct MinuteSink<'a> {
    bounds_ms: &'a [i64],
    first: i64,
    last: i64,
    wanted: &'a [bool],
    partial_minutes: &'a [i64],
    products: Option<&'a [i64]>,
    out: &'a mut [KeyCounts],
    area: i64,
    day_ms: i64,
    /// The product whose runs are being read (`None`: skipped).
    key: Option<super::CountKey>,
    /// The run being read (`None`: skipped).
    run: Option<RunState>,
}

impl MinuteSink<'_> {
    /// The wanted segment holding the whole current day, if one does.
    fn day_segment(&self) -> Option<usize> {
        let (start, end) = (self.day_ms, self.day_ms + 1440 * MINUTE_MS);
        let seg = self
            .bounds_ms
            .partition_point(|b| *b <= start)
            .checked_sub(1)?;
        let seg_end = *self.bounds_ms.get(seg + 1)?;
        (end <= seg_end && self.wanted.get(seg).copied().unwrap_or(false)).then_some(seg)
    }

    /// Whether every bound inside the current day falls on a whole stored
    /// hour (so each hour of the day lies in one segment) and no minute of
    /// the day is partial.
    fn cut_at_whole_hours(&self) -> bool {
        let (start, end) = (self.day_ms, self.day_ms + 1440 * MINUTE_MS);
        let from = self.bounds_ms.partition_point(|b| *b <= start);
        let to = self.bounds_ms.partition_point(|b| *b < end);
        let partial_from = self.partial_minutes.partition_point(|m| *m < start);
        self.bounds_ms[from..to.max(from)]
            .iter()
            .all(|b| (b - start) % HOUR_MS == 0)
            && self
                .partial_minutes
                .get(partial_from)
                .is_none_or(|m| *m >= end)
    }

    /// Adds the current product's 24 hour totals of the current day to the
    /// wanted segments holding them ([`Self::cut_at_whole_hours`] holds).
    fn add_hours(&mut self, per_hour: &[u64; 24]) {
        for (h, &n) in per_hour.iter().enumerate() {
            let t = self.day_ms + h as i64 * HOUR_MS;
            if n == 0 || t < self.first || t + HOUR_MS > self.last {
                continue;
            }
            let seg = self
                .bounds_ms
                .partition_point(|b| *b <= t)
                .saturating_sub(1);
            if self.wanted.get(seg).copied().unwrap_or(false) {
                self.flush(seg, n);
            }
        }
    }

    fn flush(&mut self, seg: usize, n: u64) {
        if let (true, Some(key)) = (n > 0, self.key) {
            if let Some(slot) = self.out.get_mut(seg) {
                *slot.entry(key).or_insert(0) += n;
            }
        }
    }
}

impl stream::RunSink for MinuteSink<'_> {
    fn product(&mut self, product: Option<i64>) -> bool {
        if let Some(products) = self.products {
            if !product.is_some_and(|p| products.contains(&p)) {
                self.key = None;
                return false;
            }
        }
        self.key = Some(super::CountKey {
            area_id: self.area,
            product_id: product,
        });
        true
    }

    fn start_run(&mut self, m0: u64) {
        if m0 >= 1440 {
            self.run = None; // not a minute of a day: never written by refresh_line
            return;
        }
        let t = self.day_ms + m0 as i64 * MINUTE_MS;
        self.run = Some(RunState {
            t,
            seg: self
                .bounds_ms
                .partition_point(|b| *b <= t)
                .saturating_sub(1),
            acc_seg: usize::MAX,
            acc: 0,
        });
    }

    fn count(&mut self, n: u64) {
        let Some(mut r) = self.run.take() else {
            return;
        };
        let start = r.t;
        r.t += MINUTE_MS;
        if start >= self.first && r.t <= self.last && n != 0 {
            while r.seg + 1 < self.bounds_ms.len() && self.bounds_ms[r.seg + 1] <= start {
                r.seg += 1;
            }
            if self.wanted.get(r.seg).copied().unwrap_or(false)
                && self.partial_minutes.binary_search(&start).is_err()
            {
                if r.seg != r.acc_seg {
                    self.flush(r.acc_seg, r.acc);
                    (r.acc_seg, r.acc) = (r.seg, 0);
                }
                r.acc += n;
            }
        }
        self.run = Some(r);
    }

    fn end_run(&mut self) {
        if let Some(r) = self.run.take() {
            self.flush(r.acc_seg, r.acc);
        }
    }
}

/// The fast reader of a day document: a byte scanner for exactly what
/// [`encode_day`] writes (unsigned integers, a `c` object of product keys
/// holding runs), whitespace and key order free. It reads the whole document
/// into reusable buffers first, so anything else — which it leaves to
/// [`stream`], the complete JSON reader, and its errors — is refused before a
/// single count is handed out.
mod fast {
    use super::stream::RunSink;

    /// A run: its product, first minute and counts (`counts[start..end]`).
    pub(super) struct RunRef {
        product: Option<i64>,
        first: u64,
        start: usize,
        end: usize,
    }

    /// What [`scan`] read.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Scan {
        /// The runs, in the buffers.
        Minutes,
        /// The day's totals per product (asked for, and found).
        Totals,
        /// The day's 24 hour totals per product (asked for, and found).
        Hours,
        /// Not a document this reader knows: the buffers mean nothing.
        Unknown,
    }

    /// What the caller needs of a document: its runs, or — when the
    /// document has them — the totals of its day or of its hours.
    pub(super) enum Want<'a> {
        Minutes,
        DayTotals(&'a mut Vec<(Option<i64>, u64)>),
        HourTotals(&'a mut Vec<(Option<i64>, [u64; 24])>),
    }

    /// Reads `text` into `runs` and `counts`, or the totals `want` asks for
    /// when the document has them (with [`encode_day`]'s order, before the
    /// runs, which are then not read).
    pub(super) fn scan(
        text: &[u8],
        runs: &mut Vec<RunRef>,
        counts: &mut Vec<u64>,
        mut want: Want<'_>,
    ) -> Scan {
        runs.clear();
        counts.clear();
        match &mut want {
            Want::Minutes => {}
            Want::DayTotals(t) => t.clear(),
            Want::HourTotals(h) => h.clear(),
        }
        let mut p = Parser { b: text, i: 0 };
        match p.doc(runs, counts, want) {
            Some(Scan::Minutes) => {
                p.ws();
                if p.i == p.b.len() {
                    Scan::Minutes
                } else {
                    Scan::Unknown
                }
            }
            Some(found @ (Scan::Totals | Scan::Hours)) => found,
            _ => Scan::Unknown,
        }
    }

    /// Hands what [`scan`] read to `sink`, as [`super::stream`] would.
    pub(super) fn feed<S: RunSink>(runs: &[RunRef], counts: &[u64], sink: &mut S) {
        let mut current: Option<Option<i64>> = None;
        let mut wanted = false;
        for r in runs {
            if current != Some(r.product) {
                current = Some(r.product);
                wanted = sink.product(r.product);
            }
            if !wanted {
                continue;
            }
            sink.start_run(r.first);
            for &n in &counts[r.start..r.end] {
                sink.count(n);
            }
            sink.end_run();
        }
    }

    struct Parser<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
                self.i += 1;
            }
        }

        fn peek(&mut self) -> Option<u8> {
            self.ws();
            self.b.get(self.i).copied()
        }

        fn eat(&mut self, c: u8) -> Option<()> {
            (self.peek()? == c).then(|| self.i += 1)
        }

        /// `,` (true) or the closing `end` (false).
        fn next_or_end(&mut self, end: u8) -> Option<bool> {
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    Some(true)
                }
                c if c == end => {
                    self.i += 1;
                    Some(false)
                }
                _ => None,
            }
        }

        /// A JSON unsigned integer (no sign, fraction, exponent or leading zero).
        fn uint(&mut self) -> Option<u64> {
            self.ws();
            let start = self.i;
            let mut v: u64 = 0;
            while let Some(&c) = self.b.get(self.i) {
                if !c.is_ascii_digit() {
                    break;
                }
                v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
                self.i += 1;
            }
            let len = self.i - start;
            if len == 0
                || (len > 1 && self.b[start] == b'0')
                || matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E'))
            {
                return None;
            }
            Some(v)
        }

        /// A string without escapes.
        fn key(&mut self) -> Option<&[u8]> {
            self.eat(b'"')?;
            let start = self.i;
            loop {
                match *self.b.get(self.i)? {
                    b'"' => break,
                    b'\\' => return None,
                    c if c < 0x20 => return None,
                    _ => self.i += 1,
                }
            }
            let key = &self.b[start..self.i];
            self.i += 1;
            Some(key)
        }

        fn doc(
            &mut self,
            runs: &mut Vec<RunRef>,
            counts: &mut Vec<u64>,
            mut want: Want<'_>,
        ) -> Option<Scan> {
            self.eat(b'{')?;
            if self.peek()? == b'}' {
                self.i += 1;
                return Some(Scan::Minutes);
            }
            loop {
                let key = match self.key()? {
                    [k @ (b'c' | b't' | b'h')] => *k,
                    _ => 0,
                };
                self.eat(b':')?;
                // The totals asked for are all we need (written before the runs).
                match (key, &mut want) {
                    (b'c', _) => self.products(runs, counts)?,
                    (b't', Want::DayTotals(t)) => {
                        self.totals(t)?;
                        return Some(Scan::Totals);
                    }
                    (b't', _) => self.totals(&mut Vec::new())?,
                    (b'h', Want::HourTotals(h)) => {
                        self.hours(h)?;
                        return Some(Scan::Hours);
                    }
                    (b'h', _) => self.hours(&mut Vec::new())?,
                    _ => {
                        self.uint()?;
                    }
                }
                if !self.next_or_end(b'}')? {
                    return Some(Scan::Minutes);
                }
            }
        }

        fn product_key(&mut self) -> Option<Option<i64>> {
            let key = self.key()?;
            if key.is_empty() {
                return Some(None);
            }
            Some(Some(std::str::from_utf8(key).ok()?.parse::<i64>().ok()?))
        }

        /// `{"<product>": value, …}`, each value read by `value`.
        fn per_product(
            &mut self,
            mut value: impl FnMut(&mut Self, Option<i64>) -> Option<()>,
        ) -> Option<()> {
            self.eat(b'{')?;
            if self.peek()? == b'}' {
                self.i += 1;
                return Some(());
            }
            loop {
                let product = self.product_key()?;
                self.eat(b':')?;
                value(self, product)?;
                if !self.next_or_end(b'}')? {
                    return Some(());
                }
            }
        }

        /// `{"<product>": total, …}`
        fn totals(&mut self, out: &mut Vec<(Option<i64>, u64)>) -> Option<()> {
            self.per_product(|p, product| {
                out.push((product, p.uint()?));
                Some(())
            })
        }

        /// `{"<product>": [n0, …, n23], …}`
        fn hours(&mut self, out: &mut Vec<(Option<i64>, [u64; 24])>) -> Option<()> {
            self.per_product(|p, product| {
                p.eat(b'[')?;
                let mut per_hour = [0u64; 24];
                for (h, slot) in per_hour.iter_mut().enumerate() {
                    if h > 0 {
                        p.eat(b',')?;
                    }
                    *slot = p.uint()?;
                }
                p.eat(b']')?;
                out.push((product, per_hour));
                Some(())
            })
        }

        /// `{"<product>": [run, …], …}`
        fn products(&mut self, runs: &mut Vec<RunRef>, counts: &mut Vec<u64>) -> Option<()> {
            self.per_product(|p, product| {
                p.eat(b'[')?;
                if p.peek()? == b']' {
                    p.i += 1;
                    return Some(());
                }
                loop {
                    p.run(product, runs, counts)?;
                    if !p.next_or_end(b']')? {
                        return Some(());
                    }
                }
            })
        }

        fn run(
            &mut self,
            product: Option<i64>,
            runs: &mut Vec<RunRef>,
            counts: &mut Vec<u64>,
        ) -> Option<()> {
            self.eat(b'[')?;
            if self.peek()? == b']' {
                self.i += 1;
                return Some(());
            }
            let first = self.uint()?;
            let start = counts.len();
            while self.next_or_end(b']')? {
                counts.push(self.uint()?);
            }
            runs.push(RunRef {
                product,
                first,
                start,
                end: counts.len(),
            });
            Some(())
        }
    }
}

/// Streaming reader of a day document (`{"v":1,"rows":n,"c":{"<product>":
/// [[first_minute, n, n, …], …]}}`, in any key order and spacing, as MySQL 8
/// returns JSON): the runs go to a [`RunSink`] as they are parsed.
mod stream {
    use std::fmt;

    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use crate::error::{AppError, AppResult};

    pub(super) trait RunSink {
        /// The runs of `product` follow; `false` skips them.
        fn product(&mut self, product: Option<i64>) -> bool;
        /// A run starting at minute `first` of the day.
        fn start_run(&mut self, first: u64);
        /// The count of the run's next minute.
        fn count(&mut self, n: u64);
        fn end_run(&mut self);
    }

    pub(super) fn read_doc<S: RunSink>(text: &str, sink: &mut S) -> AppResult<()> {
        let mut de = serde_json::Deserializer::from_str(text);
        Doc(sink)
            .deserialize(&mut de)
            .and_then(|()| de.end())
            .map_err(|e| AppError::internal(format!("unreadable rollup row: {e}")))
    }

    struct Doc<'a, S>(&'a mut S);

    impl<'de, S: RunSink> DeserializeSeed<'de> for Doc<'_, S> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de, S: RunSink> Visitor<'de> for Doc<'_, S> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a rollup day document")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let sink = self.0;
            while let Some(is_counts) = map.next_key_seed(KeyIs("c"))? {
                if is_counts {
                    map.next_value_seed(Products(&mut *sink))?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }

    /// A map key, compared with a name.
    struct KeyIs(&'static str);

    impl<'de> DeserializeSeed<'de> for KeyIs {
        type Value = bool;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl Visitor<'_> for KeyIs {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a key")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            Ok(v == self.0)
        }
    }

    /// A product key: `""` for none, else its id.
    struct ProductKey;

    impl<'de> DeserializeSeed<'de> for ProductKey {
        type Value = Option<i64>;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl Visitor<'_> for ProductKey {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a product id")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<i64>, E> {
            if v.is_empty() {
                return Ok(None);
            }
            v.parse()
                .map(Some)
                .map_err(|_| E::custom("unreadable rollup product key"))
        }
    }

    struct Products<'a, S>(&'a mut S);

    impl<'de, S: RunSink> DeserializeSeed<'de> for Products<'_, S> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de, S: RunSink> Visitor<'de> for Products<'_, S> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("counts by product")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let sink = self.0;
            while let Some(product) = map.next_key_seed(ProductKey)? {
                if sink.product(product) {
                    map.next_value_seed(Runs(&mut *sink))?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }

    struct Runs<'a, S>(&'a mut S);

    impl<'de, S: RunSink> DeserializeSeed<'de> for Runs<'_, S> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de, S: RunSink> Visitor<'de> for Runs<'_, S> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("runs of minutes")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let sink = self.0;
            while seq.next_element_seed(Run(&mut *sink))?.is_some() {}
            Ok(())
        }
    }

    struct Run<'a, S>(&'a mut S);

    impl<'de, S: RunSink> DeserializeSeed<'de> for Run<'_, S> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de, S: RunSink> Visitor<'de> for Run<'_, S> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a run [first_minute, n, …]")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let sink = self.0;
            let Some(first) = seq.next_element::<u64>()? else {
                return Ok(());
            };
            sink.start_run(first);
            while let Some(n) = seq.next_element::<u64>()? {
                sink.count(n);
            }
            sink.end_run();
            Ok(())
        }
    }
}

/// What one [`refresh_line`] did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RefreshReport {
    pub line_id: i64,
    /// Another run holds the line's lock: nothing done.
    pub busy: bool,
    /// Watermark before and after.
    pub from_id: i64,
    pub to_id: i64,
    /// Detections folded in.
    pub rows: u64,
    /// Day rows written.
    pub days: u64,
    pub transactions: u64,
    pub ms: u64,
}

fn lock_name(db_name: &str, line_id: i64) -> String {
    let name = format!("dash:rollup:{db_name}:{line_id}");
    if name.len() <= 64 {
        return name;
    }
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    format!("dash:rollup:{}", &digest[..40])
}

/// Folds the line's detections with an id above the watermark into the
/// rollup, `batch_ids` ids per transaction (day rows and watermark together).
/// Safe to run concurrently (a per-line lock makes the second run a no-op) and
/// to kill half-way (the watermark only moves with the rows it covers).
pub async fn refresh_line(
    conn: &mut Conn,
    table: &DetectionTable,
    batch_ids: i64,
) -> AppResult<RefreshReport> {
    let started = Instant::now();
    let mut report = RefreshReport {
        line_id: table.line_id,
        ..RefreshReport::default()
    };
    let lock = lock_name(&table.db_name, table.line_id);
    let got: Option<Option<i64>> = conn
        .exec_first("SELECT GET_LOCK(?, 0)", (lock.clone(),))
        .await?;
    if got.flatten() != Some(1) {
        report.busy = true;
        return Ok(report);
    }
    let result = refresh_locked(conn, table, batch_ids.max(1), &mut report).await;
    let released: Result<Option<Option<i64>>, _> =
        conn.exec_first("SELECT RELEASE_LOCK(?)", (lock,)).await;
    if let Err(e) = released {
        tracing::warn!(error = %e, "could not release the rollup lock");
    }
    result?;
    report.ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

async fn refresh_locked(
    conn: &mut Conn,
    table: &DetectionTable,
    batch_ids: i64,
    report: &mut RefreshReport,
) -> AppResult<()> {
    let monitor = monitor_table(table)?;
    let mut w = watermark(conn, table).await?.unwrap_or(0);
    report.from_id = w;
    report.to_id = w;
    let max_id: Option<Option<i64>> = conn
        .query_first(format!(
            "SELECT MAX(detection_id) FROM {}",
            table.sql_name()
        ))
        .await?;
    let Some(max_id) = max_id.flatten() else {
        return Ok(());
    };
    while w < max_id {
        let hi = w.saturating_add(batch_ids).min(max_id);
        let rows: Vec<(NaiveDate, i64, i64, Option<i64>, i64)> = conn
            .exec(
                format!(
                    "SELECT DATE(detected_at), HOUR(detected_at) * 60 + MINUTE(detected_at), area_id, product_id, COUNT(*) \
                     FROM {} WHERE detection_id > ? AND detection_id <= ? GROUP BY 1, 2, 3, 4",
                    table.sql_name()
                ),
                (w, hi),
            )
            .await?;
        let mut days: BTreeMap<(NaiveDate, i64), AreaDay> = BTreeMap::new();
        for (date, m, area, product, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            report.rows += n;
            *days
                .entry((date, area))
                .or_default()
                .entry(product)
                .or_default()
                .entry(u32::try_from(m).unwrap_or(0))
                .or_insert(0) += n;
        }
        let mut tx = conn.start_transaction(TxOpts::default()).await?;
        let metrics: Vec<String> = days.keys().map(|(d, a)| row_metric(*d, *a)).collect();
        for chunk in metrics.chunks(500) {
            let mut params: Vec<Value> = vec![Value::Int(table.line_id)];
            params.extend(chunk.iter().map(|m| Value::from(m.clone())));
            let existing: Vec<(String, Option<String>)> = tx
                .exec(
                    format!(
                        "SELECT metric, CAST(value_json AS CHAR) FROM {monitor} WHERE line_id = ? AND metric IN ({}) FOR UPDATE",
                        placeholders(chunk.len())
                    ),
                    params,
                )
                .await?;
            for (metric, text) in existing {
                let (Some(key), Some(text)) = (parse_metric(&metric), text) else {
                    continue;
                };
                let day = days.entry(key).or_default();
                for (product, minutes) in decode_day(&text)? {
                    let slot = day.entry(product).or_default();
                    for (m, n) in minutes {
                        *slot.entry(m).or_insert(0) += n;
                    }
                }
            }
        }
        for ((date, area), counts) in &days {
            tx.exec_drop(
                format!(
                    "INSERT INTO {monitor} (metric, line_id, value_json) VALUES (?, ?, ?) \
                     ON DUPLICATE KEY UPDATE value_json = VALUES(value_json)"
                ),
                (row_metric(*date, *area), table.line_id, encode_day(counts)),
            )
            .await?;
            report.days += 1;
        }
        tx.exec_drop(
            format!(
                "INSERT INTO {monitor} (metric, line_id, value_json) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE value_json = VALUES(value_json)"
            ),
            (
                WATERMARK_METRIC,
                table.line_id,
                serde_json::json!({ "detection_id": hi }).to_string(),
            ),
        )
        .await?;
        tx.commit().await?;
        report.transactions += 1;
        w = hi;
        report.to_id = w;
    }
    Ok(())
}

/// Records the outcome of the line's last refresh in `system_monitor`
/// ([`LAST_RUN_METRIC`]).
pub async fn record_last_run(
    conn: &mut Conn,
    table: &DetectionTable,
    value: &serde_json::Value,
) -> AppResult<()> {
    let monitor = monitor_table(table)?;
    conn.exec_drop(
        format!(
            "INSERT INTO {monitor} (metric, line_id, value_json) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE value_json = VALUES(value_json)"
        ),
        (LAST_RUN_METRIC, table.line_id, value.to_string()),
    )
    .await?;
    Ok(())
}

/// Forgets the line's rollup (day rows and watermark): the next refresh
/// rebuilds it, and until then every count is raw.
pub async fn reset_line(conn: &mut Conn, table: &DetectionTable) -> AppResult<()> {
    let monitor = monitor_table(table)?;
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    tx.exec_drop(
        format!("DELETE FROM {monitor} WHERE line_id = ? AND (metric = ? OR metric LIKE ?)"),
        (
            table.line_id,
            WATERMARK_METRIC,
            format!("{}%", DAY_PREFIX.replace('_', "\\_")),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Refreshes every line of a tenant whose detection table exists (what the
/// `jobs` run calls after the downtime engine).
pub async fn refresh_tenant(
    store: &Store,
    tenant: &Tenant,
    meta: &TenantMetadata,
    batch_ids: i64,
) -> AppResult<Vec<RefreshReport>> {
    let location = tenant.db_location();
    let mut conn = store.db().client(&location).await?;
    let mut out = Vec::new();
    for line in &meta.lines {
        let table = match DetectionTable::open(
            &mut conn,
            &location.db_name,
            line,
            tenant.data_timezone(),
        )
        .await
        {
            Ok(t) => t,
            Err(AppError::ClientSchema { detail }) => {
                tracing::warn!(line_id = line.line_id, %detail, "no detection table: rollup skipped");
                continue;
            }
            Err(e) => return Err(e),
        };
        out.push(refresh_line(&mut conn, &table, batch_ids).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn day_docs_round_trip_in_runs() {
        let mut day = AreaDay::new();
        let m = day.entry(Some(1)).or_default();
        m.insert(0, 5);
        m.insert(1, 6);
        m.insert(7, 1);
        day.entry(None).or_default().insert(1439, 2);
        let text = encode_day(&day);
        assert!(text.contains("\"1\":[[0,5,6],[7,1]]"), "{text}");
        assert!(text.contains("\"\":[[1439,2]]"), "{text}");
        assert!(text.contains("\"rows\":14"), "{text}");
        assert_eq!(decode_day(&text).unwrap(), day);
        assert!(decode_day("{\"v\":1,\"rows\":0,\"c\":{\"x\":[]}}").is_err());
        let metric = row_metric(NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(), 12);
        assert_eq!(metric, "rollup_min:2026-04-01:12");
        assert_eq!(
            parse_metric(&metric),
            Some((NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(), 12))
        );
        assert_eq!(parse_metric("rollup_min_watermark"), None);
    }

    /// Collects what the streaming reader hands out.
    #[derive(Default)]
    struct Collect {
        day: AreaDay,
        product: Option<i64>,
        minute: u32,
        skip: Option<Option<i64>>,
    }

    impl stream::RunSink for Collect {
        fn product(&mut self, product: Option<i64>) -> bool {
            self.product = product;
            Some(product) != self.skip
        }
        fn start_run(&mut self, first: u64) {
            self.minute = first as u32;
        }
        fn count(&mut self, n: u64) {
            *self
                .day
                .entry(self.product)
                .or_default()
                .entry(self.minute)
                .or_insert(0) += n;
            self.minute += 1;
        }
        fn end_run(&mut self) {}
    }

    #[test]
    fn the_streaming_reader_reads_what_encode_writes() {
        let mut day = AreaDay::new();
        for (p, m, n) in [
            (Some(1), 0, 5),
            (Some(1), 1, 6),
            (Some(1), 7, 1),
            (Some(22), 600, 3),
            (None, 1439, 2),
        ] {
            day.entry(p).or_default().insert(m, n);
        }
        let text = encode_day(&day);
        let mut c = Collect::default();
        stream::read_doc(&text, &mut c).unwrap();
        assert_eq!(c.day, day);
        assert_eq!(c.day, decode_day(&text).unwrap());
        // MySQL 8 returns JSON re-ordered and spaced; a product can be skipped.
        let spaced = r#"{"c": {"": [[1439, 2]], "1": [[0, 5, 6], [7, 1]], "22": [[600, 3]]}, "v": 1, "rows": 17}"#;
        let mut c = Collect {
            skip: Some(Some(22)),
            ..Collect::default()
        };
        stream::read_doc(spaced, &mut c).unwrap();
        day.remove(&Some(22));
        assert_eq!(c.day, day);
        // The fast reader reads the same, and leaves what it does not know
        // to the streaming reader.
        for doc in [
            text.as_str(),
            spaced,
            "{}",
            r#"{"c":{}}"#,
            r#"{"v":1,"rows":0,"c":{"7":[]}}"#,
            r#"{"c":{"3":[[5],[],[9,1,0,2]]},"rows":3}"#,
        ] {
            let (mut runs, mut counts) = (Vec::new(), Vec::new());
            assert_eq!(
                fast::scan(doc.as_bytes(), &mut runs, &mut counts, fast::Want::Minutes),
                fast::Scan::Minutes,
                "{doc}"
            );
            let mut a = Collect {
                skip: Some(Some(22)),
                ..Collect::default()
            };
            fast::feed(&runs, &counts, &mut a);
            let mut b = Collect {
                skip: Some(Some(22)),
                ..Collect::default()
            };
            stream::read_doc(doc, &mut b).unwrap();
            assert_eq!(a.day, b.day, "{doc}");
        }
        // Totals, asked for and written before the runs, are read alone.
        let mut day = AreaDay::new();
        for (p, m, n) in [
            (Some(1), 0, 5),
            (Some(1), 1, 6),
            (Some(1), 7, 1),
            (None, 1439, 2),
        ] {
            day.entry(p).or_default().insert(m, n);
        }
        let text = encode_day(&day);
        assert!(text.contains("\"t\":{\"\":2,\"1\":12},\"h\":{"), "{text}");
        assert!(
            text.contains("\"1\":[12,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"),
            "{text}"
        );
        let (mut runs, mut counts, mut totals) = (Vec::new(), Vec::new(), Vec::new());
        assert_eq!(
            fast::scan(
                text.as_bytes(),
                &mut runs,
                &mut counts,
                fast::Want::DayTotals(&mut totals)
            ),
            fast::Scan::Totals
        );
        assert_eq!(totals, vec![(None, 2), (Some(1), 12)]);
        assert_eq!(
            fast::scan(text.as_bytes(), &mut runs, &mut counts, fast::Want::Minutes),
            fast::Scan::Minutes
        );
        // After the runs (MySQL 8 re-orders keys) they are read too.
        let late = r#"{"c": {"1": [[0, 5]]}, "t": {"1": 5}, "v": 1, "rows": 5}"#;
        assert_eq!(
            fast::scan(
                late.as_bytes(),
                &mut runs,
                &mut counts,
                fast::Want::DayTotals(&mut totals)
            ),
            fast::Scan::Totals
        );
        assert_eq!(totals, vec![(Some(1), 5)]);
        // Hour totals, asked for, are read alone too (after the day's).
        let mut hours = Vec::new();
        assert_eq!(
            fast::scan(
                text.as_bytes(),
                &mut runs,
                &mut counts,
                fast::Want::HourTotals(&mut hours)
            ),
            fast::Scan::Hours
        );
        let mut last_hour = [0u64; 24];
        last_hour[23] = 2;
        let mut first_hour = [0u64; 24];
        first_hour[0] = 12;
        assert_eq!(hours, vec![(None, last_hour), (Some(1), first_hour)]);
        // A document without them (written before they existed) is read minute by minute.
        let old = r#"{"v":1,"rows":5,"t":{"1":5},"c":{"1":[[0,5]]}}"#;
        assert_eq!(
            fast::scan(
                old.as_bytes(),
                &mut runs,
                &mut counts,
                fast::Want::HourTotals(&mut hours)
            ),
            fast::Scan::Minutes
        );
        assert_eq!(counts, vec![5]);
        // Not 24 hours: left to the streaming reader, which reads the runs.
        let short = r#"{"h":{"1":[1,2]},"c":{"1":[[0,3]]}}"#;
        assert_eq!(
            fast::scan(
                short.as_bytes(),
                &mut runs,
                &mut counts,
                fast::Want::HourTotals(&mut hours)
            ),
            fast::Scan::Unknown
        );
        // A minute that is not one of the day: no totals are written.
        day.entry(Some(1)).or_default().insert(1500, 1);
        assert!(!encode_day(&day).contains("\"t\""));
        assert!(!encode_day(&day).contains("\"h\""));
        for odd in [
            "",
            "[]",
            r#"{"c": {"x": [[1, 2]]}}"#,
            r#"{"c": {"1": [[1, -2]]}}"#,
            r#"{"c": {"1": [[1, 2.0]]}}"#,
            r#"{"c": {"1": [[01, 2]]}}"#,
            r#"{"c": {"1": [[1, 99999999999999999999999]]}}"#,
            r#"{"c": {"\u0031": [[1, 2]]}}"#,
            r#"{"c": {}} x"#,
            r#"{"c": {}"#,
            r#"{"v": "1", "c": {}}"#,
        ] {
            let (mut runs, mut counts) = (Vec::new(), Vec::new());
            assert_eq!(
                fast::scan(odd.as_bytes(), &mut runs, &mut counts, fast::Want::Minutes),
                fast::Scan::Unknown,
                "{odd}"
            );
        }
        for bad in [
            "",
            "[]",
            r#"{"c": {"x": [[1, 2]]}}"#,
            r#"{"c": {"1": [[1, -2]]}}"#,
            r#"{"c": {}} x"#,
        ] {
            assert!(
                stream::read_doc(bad, &mut Collect::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn partial_minutes_are_the_cut_ones_inside_wanted_ranges() {
        let b = [
            naive("2026-01-01 06:00:00"),
            naive("2026-01-01 06:10:30.5"),
            naive("2026-01-01 07:00:00"),
            naive("2026-01-01 07:00:59"),
        ];
        let ranges = [(b[0], b[3])];
        let p = partial_minute_ranges(&b, &ranges);
        assert_eq!(
            p,
            vec![
                (naive("2026-01-01 06:10:00"), naive("2026-01-01 06:11:00")),
                (naive("2026-01-01 07:00:00"), naive("2026-01-01 07:00:59")),
            ]
        );
        // A cut minute outside every wanted range needs nothing.
        let p = partial_minute_ranges(&b, &[(b[2], b[3])]);
        assert_eq!(
            p,
            vec![(naive("2026-01-01 07:00:00"), naive("2026-01-01 07:00:59"))]
        );
    }

    #[test]
    fn lock_names_fit() {
        assert!(lock_name(&"x".repeat(64), 1).len() <= 64);
        assert_eq!(lock_name("db", 3), "dash:rollup:db:3");
    }
}
