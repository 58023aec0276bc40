//! Reading a line's output detections in processing order, a bounded page at
//! a time, for the downtime engine.

use chrono::{Duration, NaiveDateTime};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::store::{Key, LineTables};
use crate::error::{AppError, AppResult};

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
