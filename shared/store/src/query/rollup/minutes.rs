//! Reading the rollup for a count: [`add_minute_counts`] adds each day
//! document's whole minutes (or, where the bounds allow, its day or hour
//! totals) to the wanted segments they lie in.

use chrono::NaiveDateTime;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};

use super::document::parse_day_entry;
use super::{fast, floor_minute, stream, HOUR_MS, MINUTE_MS};
use crate::error::AppResult;
use crate::query::counts::NaiveCount;
use crate::query::{naive_ms, CountKey, KeyCounts};

/// Adds the rollup's whole-minute counts read by `sql` to `out` (one map per
/// segment of `req.bounds`), skipping minutes that hold part of `partial`.
pub(crate) async fn add_minute_counts(
    conn: &mut Conn,
    sql: &str,
    params: &[Value],
    req: &NaiveCount<'_>,
    partial: &[(NaiveDateTime, NaiveDateTime)],
    out: &mut [KeyCounts],
) -> AppResult<()> {
    // Integer milliseconds of the naive axis: the sink below runs once per
    // stored minute (43 200 per area for 30 days), so it stays arithmetic.
    let bounds_ms: Vec<i64> = req.bounds.iter().map(naive_ms).collect();
    let (Some(&first), Some(&last)) = (bounds_ms.first(), bounds_ms.last()) else {
        return Ok(());
    };
    let mut partial_minutes: Vec<i64> = partial
        .iter()
        .map(|r| naive_ms(&floor_minute(r.0)))
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
        wanted: req.wanted,
        partial_minutes: &partial_minutes,
        products: req.products,
        out,
        area: 0,
        day_ms: 0,
        key: None,
        run: None,
    };
    for (entry, text) in rows {
        let Some((date, area)) = parse_day_entry(&entry) else {
            continue;
        };
        let (Some(text), true) = (text, req.areas.contains(&area)) else {
            continue;
        };
        sink.area = area;
        sink.day_ms = naive_ms(&date.and_time(chrono::NaiveTime::MIN));
        use stream::RunSink as _;
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
    key: Option<CountKey>,
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
        self.key = Some(CountKey {
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
