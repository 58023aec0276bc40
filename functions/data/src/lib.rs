//! The `data` function's routes (docs/api.md#routes): raw detections with filters and
//! keyset pagination (CSV with `Accept: text/csv`), aggregates by interval,
//! product, area or line, and production totals.
//!
//! Every route needs `data.read` (CSV also `data.export`), works on the lines
//! the user may see, and writes a `user_query` trace. Parameters (query
//! string, or the JSON body of `aggregate`):
//! - `line_id` / `line_ids` — default every visible line (`detections`: exactly one);
//! - `start_date`, `end_date` (ISO 8601, plant-local without an offset,
//!   `end_date` exclusive) or `range` (`today`, `last_7_days`, …);
//! - `timezone` — IANA zone for offset-less dates and the answer's times
//!   (default the plant's; buckets always follow the plant's calendar);
//! - `area_id`/`area_ids`, `product_id`/`product_ids`, `shift_id` — filters;
//!   a shift keeps the detections inside its occurrences.
//!
//! Production totals count every detection in the window, planned or not
//! (docs/oee.md#oee); the OEE counts of the `metrics` routes count planned time only.

use std::collections::BTreeMap;

use ::http::StatusCode;
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{json, Map, Value};

use dash_core::timeutil::{format_instant, Bucket, Interval, Window};
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::TenantMetadata;
use dash_store::metrics::{Plant, NO_PRODUCT};
use dash_store::query::Selection;
use dash_store::query::{self, Cursor, DetectionRow, DetectionTable, ListRequest, Order};
use shared::auth::Permission;
use shared::extract::{traced, Call, Input};
use shared::http::{self, Response};
use shared::params::select;
use shared::router::Router;

/// The parameters of the three production routes.
const PRODUCTION_PARAMS: &[&str] = &[
    "line_id",
    "line_ids",
    "area_id",
    "area_ids",
    "product_id",
    "product_ids",
    "shift_id",
    "start_date",
    "end_date",
    "range",
    "timezone",
];

pub fn router() -> Router {
    Router::new("data")
        .get(
            "/api/v1/data/detections",
            traced("GET /api/v1/data/detections", Input::Query, list),
        )
        .query(&[
            "line_id",
            "start_date",
            "end_date",
            "range",
            "timezone",
            "area_id",
            "area_ids",
            "product_id",
            "product_ids",
            "shift_id",
            "order",
            "format",
            "limit",
            "cursor",
        ])
        .post(
            "/api/v1/data/detections/aggregate",
            traced(
                "POST /api/v1/data/detections/aggregate",
                Input::Body(AGGREGATE_FIELDS),
                aggregate,
            ),
        )
        .get(
            "/api/v1/data/production/summary",
            traced("GET /api/v1/data/production/summary", Input::Query, summary),
        )
        .query(PRODUCTION_PARAMS)
        .get(
            "/api/v1/data/production/by-product",
            traced(
                "GET /api/v1/data/production/by-product",
                Input::Query,
                by_product,
            ),
        )
        .query(PRODUCTION_PARAMS)
        .get(
            "/api/v1/data/production/by-area",
            traced("GET /api/v1/data/production/by-area", Input::Query, by_area),
        )
        .query(PRODUCTION_PARAMS)
}

/// Default and largest JSON page.
const PAGE_DEFAULT: usize = 100;
/// Default and largest CSV answer (rows); more is paged with `X-Next-Cursor`.
const CSV_MAX_ROWS: usize = 100_000;
/// Rows read from the database per keyset page while writing CSV.
const CSV_PAGE: usize = 5_000;

/// The window and display zone of a request.
fn window_of(call: &Call, plant: &Plant<'_>) -> AppResult<(Window, Tz)> {
    let tz_in = call.params.timezone()?;
    let window = plant.resolve_window(&call.params.window(), tz_in)?;
    Ok((window, tz_in.unwrap_or(plant.tz())))
}

// ---------------------------------------------------------------------------
// GET /data/detections
// ---------------------------------------------------------------------------

async fn list(call: Call) -> AppResult<(Response, u64)> {
    let p = &call.params;
    let csv = call.req.wants_csv() || p.choice("format", &["json", "csv"])? == Some("csv");
    if csv {
        call.ctx.require(Permission::DataExport)?;
    }
    let sel = select(p, &call.ctx, &call.meta, true)?;
    let plant = Plant::new(&call.tenant, &call.meta, call.state.now());
    let (window, tz) = window_of(&call, &plant)?;
    let order = match p.choice("order", &["asc", "desc"])? {
        Some("desc") => Order::Desc,
        _ => Order::Asc,
    };
    let limit = if csv {
        p.limit("limit", CSV_MAX_ROWS, CSV_MAX_ROWS)?
    } else {
        p.limit("limit", PAGE_DEFAULT, query::MAX_PAGE_ROWS)?
    };
    let cursor = p.get("cursor").map(Cursor::decode).transpose()?;
    let line_id = sel.line_ids[0];
    let line = call.meta.line(line_id).ok_or(AppError::NotFound)?;
    let areas = sel.areas_of(&call.meta, line_id, None);
    let location = call.tenant.db_location();
    let mut conn = query::read_conn(&call.state, &call.tenant).await?;
    let table = DetectionTable::open(
        &mut conn,
        &location.db_name,
        line,
        call.tenant.data_timezone(),
    )
    .await?;
    let spans = match query::widgets::shift_within(&plant, sel.shift_id, &window) {
        Some(set) => set.spans().map(|s| (s.start, s.end)).collect::<Vec<_>>(),
        None => vec![(window.start, window.end)],
    };
    let ranges: Vec<_> = spans
        .iter()
        .map(|(a, b)| (table.bound(*a), table.bound(*b)))
        .filter(|(a, b)| b > a)
        .collect();
    let mut req = ListRequest {
        ranges,
        areas: &areas,
        products: sel.products.as_deref(),
        after: cursor,
        order,
        limit: 0,
    };
    let names = Names::new(&call.meta, line_id, tz);
    if !csv {
        req.limit = limit + 1;
        let mut rows = query::list_detections(&mut conn, &table, &req).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(cursor_of)
        } else {
            None
        };
        let items: Vec<DetectionItem> = rows.iter().map(|r| names.item(&table, r)).collect();
        let n = items.len() as u64;
        return Ok((http::list(&items, next), n));
    }
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("detection_id,line_id,line_name,detected_at,area_id,area_name,area_type,product_id,product_code,product_name\r\n");
    let mut written = 0usize;
    let mut next_cursor = None;
    loop {
        let want = (limit - written).min(CSV_PAGE);
        req.limit = want + 1;
        let mut rows = query::list_detections(&mut conn, &table, &req).await?;
        let more = rows.len() > want;
        rows.truncate(want);
        for r in &rows {
            names.csv(&table, r, &mut out);
        }
        written += rows.len();
        let last = rows.last().map(|r| Cursor {
            at: r.detected_at,
            id: r.detection_id,
        });
        if !more {
            break;
        }
        if written >= limit {
            next_cursor = last.map(|c| c.encode());
            break;
        }
        req.after = last;
    }
    let mut resp = http::response(StatusCode::OK, "text/csv; charset=utf-8", out.into_bytes());
    resp = http::with_header(
        resp,
        "content-disposition",
        &format!("attachment; filename=\"detections_{}.csv\"", line.line_code),
    );
    if let Some(c) = next_cursor {
        resp = http::with_header(resp, "x-next-cursor", &c);
    }
    Ok((resp, written as u64))
}

fn cursor_of(r: &DetectionRow) -> String {
    Cursor {
        at: r.detected_at,
        id: r.detection_id,
    }
    .encode()
}

/// A detection as the API shows it (ids joined with names in the application).
#[derive(Serialize)]
struct DetectionItem<'a> {
    area_id: i64,
    area_name: Option<&'a str>,
    area_type: Option<&'a str>,
    detected_at: String,
    detection_id: i64,
    line_id: i64,
    product_code: Option<&'a str>,
    product_id: Option<i64>,
    product_name: Option<&'a str>,
}

/// The application-side join: names from the warm cache.
struct Names<'a> {
    meta: &'a TenantMetadata,
    line_id: i64,
    line_name: String,
    tz: Tz,
}

impl<'a> Names<'a> {
    fn new(meta: &'a TenantMetadata, line_id: i64, tz: Tz) -> Self {
        let line_name = meta
            .line(line_id)
            .map(|l| l.line_name.clone())
            .unwrap_or_default();
        Names {
            meta,
            line_id,
            line_name,
            tz,
        }
    }

    fn item(&self, table: &DetectionTable, r: &DetectionRow) -> DetectionItem<'a> {
        let area = self.meta.area(r.area_id);
        let product = r.product_id.and_then(|p| self.meta.product(p));
        DetectionItem {
            area_id: r.area_id,
            area_name: area.map(|a| a.area_name.as_str()),
            area_type: area.map(|a| a.area_type.as_str()),
            detected_at: format_instant(table.instant(r.detected_at), self.tz),
            detection_id: r.detection_id,
            line_id: self.line_id,
            product_code: product.map(|p| p.product_code.as_str()),
            product_id: r.product_id,
            product_name: product.map(|p| p.product_name.as_str()),
        }
    }

    fn csv(&self, table: &DetectionTable, r: &DetectionRow, out: &mut String) {
        let area = self.meta.area(r.area_id);
        let product = r.product_id.and_then(|p| self.meta.product(p));
        let fields = [
            r.detection_id.to_string(),
            self.line_id.to_string(),
            csv_field(&self.line_name),
            format_instant(table.instant(r.detected_at), self.tz),
            r.area_id.to_string(),
            csv_field(area.map(|a| a.area_name.as_str()).unwrap_or("")),
            csv_field(area.map(|a| a.area_type.as_str()).unwrap_or("")),
            r.product_id.map(|p| p.to_string()).unwrap_or_default(),
            csv_field(product.map(|p| p.product_code.as_str()).unwrap_or("")),
            csv_field(product.map(|p| p.product_name.as_str()).unwrap_or("")),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
}

/// RFC 4180 quoting, and a leading `'` on text a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, tab, CR): client names are untrusted.
fn csv_field(s: &str) -> String {
    let mut v = String::with_capacity(s.len() + 2);
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        v.push('\'');
    }
    v.push_str(s);
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

// ---------------------------------------------------------------------------
// Counting the selection (query::widgets::count_selection, shared with the
// dashboard's production widgets so both give the same numbers)
// ---------------------------------------------------------------------------

/// Detections by `area_type` (`input`, `process`, `output`, `reject`).
#[derive(Default, Clone, Copy)]
struct ByType {
    input: u64,
    process: u64,
    output: u64,
    reject: u64,
    other: u64,
}

impl ByType {
    fn add(&mut self, area_type: Option<&str>, n: u64) {
        match area_type.map(str::to_ascii_lowercase).as_deref() {
            Some("input") => self.input += n,
            Some("process") => self.process += n,
            Some("output") => self.output += n,
            Some("reject") => self.reject += n,
            _ => self.other += n,
        }
    }

    fn detections(&self) -> u64 {
        self.input + self.process + self.output + self.reject + self.other
    }

    /// `good`, `rejects`, `total` (= good + rejects, the finished units),
    /// `reject_rate`, the input/process sensor counts and all `detections`.
    fn json(&self) -> Map<String, Value> {
        let total = self.output + self.reject;
        let mut m = Map::new();
        m.insert("good".into(), json!(self.output));
        m.insert("rejects".into(), json!(self.reject));
        m.insert("total".into(), json!(total));
        m.insert(
            "reject_rate".into(),
            json!((total > 0).then(|| self.reject as f64 / total as f64)),
        );
        m.insert("input".into(), json!(self.input));
        m.insert("process".into(), json!(self.process));
        m.insert("detections".into(), json!(self.detections()));
        m
    }
}

fn area_type(meta: &TenantMetadata, area_id: i64) -> Option<&str> {
    meta.area(area_id).map(|a| a.area_type.as_str())
}

/// Selection, plant, window and display zone shared by the production routes.
fn production_scope(call: &Call) -> AppResult<(Selection, Window, Tz)> {
    let sel = select(&call.params, &call.ctx, &call.meta, false)?;
    let plant = Plant::new(&call.tenant, &call.meta, call.state.now());
    let (window, tz) = window_of(call, &plant)?;
    Ok((sel, window, tz))
}

// ---------------------------------------------------------------------------
// GET /data/production/summary | by-product | by-area
// ---------------------------------------------------------------------------

async fn summary(call: Call) -> AppResult<(Response, u64)> {
    let (sel, window, tz) = production_scope(&call)?;
    let plant = Plant::new(&call.tenant, &call.meta, call.state.now());
    let mut conn = query::read_conn(&call.state, &call.tenant).await?;
    let counted =
        query::widgets::count_selection(&mut conn, &plant, &sel, &window, &[window]).await?;
    let mut all = ByType::default();
    let mut lines = Vec::with_capacity(counted.len());
    for lc in &counted {
        let mut t = ByType::default();
        for (k, n) in &lc.per_window[0] {
            t.add(area_type(&call.meta, k.area_id), *n);
        }
        all.add(Some("input"), t.input);
        all.add(Some("process"), t.process);
        all.add(Some("output"), t.output);
        all.add(Some("reject"), t.reject);
        all.add(None, t.other);
        let mut m = Map::new();
        m.insert("line_id".into(), json!(lc.line_id));
        m.insert(
            "line_name".into(),
            json!(call.meta.line(lc.line_id).map(|l| l.line_name.as_str())),
        );
        m.extend(t.json());
        lines.push(Value::Object(m));
    }
    let mut data = Map::new();
    data.insert("line_ids".into(), json!(sel.line_ids));
    data.insert("start".into(), json!(format_instant(window.start, tz)));
    data.insert("end".into(), json!(format_instant(window.end, tz)));
    data.extend(all.json());
    data.insert("lines".into(), Value::Array(lines));
    Ok((http::data(&Value::Object(data)), counted.len() as u64))
}

async fn by_product(call: Call) -> AppResult<(Response, u64)> {
    let (sel, window, tz) = production_scope(&call)?;
    let plant = Plant::new(&call.tenant, &call.meta, call.state.now());
    let mut conn = query::read_conn(&call.state, &call.tenant).await?;
    let counted =
        query::widgets::count_selection(&mut conn, &plant, &sel, &window, &[window]).await?;
    let mut per: BTreeMap<i64, ByType> = BTreeMap::new();
    for lc in &counted {
        for (k, n) in &lc.per_window[0] {
            per.entry(k.product_id.unwrap_or(NO_PRODUCT))
                .or_default()
                .add(area_type(&call.meta, k.area_id), *n);
        }
    }
    let mut items: Vec<(u64, i64, Value)> = per
        .into_iter()
        .map(|(pid, t)| {
            let product = call.meta.product(pid);
            let Value::Object(mut m) = json!({
                "product_id": (pid != NO_PRODUCT).then_some(pid),
                "product_name": product.map(|p| p.product_name.as_str()),
                "product_code": product.map(|p| p.product_code.as_str()),
                "ideal_cycle_time_seconds": product.and_then(|p| p.ideal_cycle_time_seconds),
            }) else {
                unreachable!("json! of an object literal is an object")
            };
            m.extend(t.json());
            m.insert("start".into(), json!(format_instant(window.start, tz)));
            m.insert("end".into(), json!(format_instant(window.end, tz)));
            (t.output + t.reject, pid, Value::Object(m))
        })
        .collect();
    items.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let items: Vec<Value> = items.into_iter().map(|(_, _, v)| v).collect();
    let n = items.len() as u64;
    Ok((http::list(&items, None), n))
}

async fn by_area(call: Call) -> AppResult<(Response, u64)> {
    let (sel, window, tz) = production_scope(&call)?;
    let plant = Plant::new(&call.tenant, &call.meta, call.state.now());
    let mut conn = query::read_conn(&call.state, &call.tenant).await?;
    let counted =
        query::widgets::count_selection(&mut conn, &plant, &sel, &window, &[window]).await?;
    let mut items = Vec::new();
    for lc in &counted {
        let mut per_area: BTreeMap<i64, u64> = BTreeMap::new();
        for (k, n) in &lc.per_window[0] {
            *per_area.entry(k.area_id).or_insert(0) += n;
        }
        // Every selected area of the line, zeros included, in area order.
        for area_id in sel.areas_of(&call.meta, lc.line_id, None) {
            let area = call.meta.area(area_id);
            items.push(json!({
                "area_id": area_id,
                "area_name": area.map(|a| a.area_name.as_str()),
                "area_type": area.map(|a| a.area_type.as_str()),
                "line_id": lc.line_id,
                "line_name": call.meta.line(lc.line_id).map(|l| l.line_name.as_str()),
                "detections": per_area.get(&area_id).copied().unwrap_or(0),
                "start": format_instant(window.start, tz),
                "end": format_instant(window.end, tz),
            }));
        }
    }
    let n = items.len() as u64;
    Ok((http::list(&items, None), n))
}

// ---------------------------------------------------------------------------
// POST /data/detections/aggregate
// ---------------------------------------------------------------------------

const AGGREGATE_FIELDS: &[&str] = &[
    "line_id",
    "line_ids",
    "start_date",
    "end_date",
    "range",
    "timezone",
    "group_by",
    "interval",
    "area_id",
    "area_ids",
    "product_id",
    "product_ids",
    "shift_id",
];

/// `group_by`: any of `hour|shift|day|week|month` (one at most, or the
/// `interval` field), `product`, `area`, `line`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Grouping {
    interval: Option<Interval>,
    product: bool,
    area: bool,
    line: bool,
}

fn grouping(call: &Call) -> AppResult<Grouping> {
    let mut g = Grouping {
        interval: call.params.interval("interval")?,
        ..Grouping::default()
    };
    if let Some(list) = call.params.get("group_by") {
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.to_ascii_lowercase().as_str() {
                "product" => g.product = true,
                "area" => g.area = true,
                "line" => g.line = true,
                other => {
                    let i = Interval::parse(other).map_err(|_| {
                        AppError::validation(
                            "group_by",
                            "group_by takes hour, shift, day, week, month (one of them), product, area, line",
                        )
                    })?;
                    if g.interval.is_some_and(|old| old != i) {
                        return Err(AppError::validation(
                            "group_by",
                            "group by one interval at most (hour, shift, day, week or month)",
                        ));
                    }
                    g.interval = Some(i);
                }
            }
        }
    }
    Ok(g)
}

/// One row of an aggregate: only the keys of its grouping are present (a
/// name the metadata does not know is `null`). Typed rather than a JSON map:
/// a month by hour is 720 rows.
#[derive(Serialize)]
struct AggregateRow<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    area_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    area_name: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    area_type: Option<Option<&'a str>>,
    count: u64,
    end: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line_name: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    product_code: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    product_id: Option<Option<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    product_name: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shift_id: Option<i64>,
    start: String,
}

async fn aggregate(call: Call) -> AppResult<(Response, u64)> {
    let g = grouping(&call)?;
    let sel = select(&call.params, &call.ctx, &call.meta, false)?;
    let plant = Plant::new(&call.tenant, &call.meta, call.state.now());
    let (window, tz) = window_of(&call, &plant)?;
    let buckets: Vec<Bucket> = match g.interval {
        Some(i) => plant.buckets(&window, i)?,
        None => Vec::new(),
    };
    let windows: Vec<Window> = if buckets.is_empty() {
        vec![window]
    } else {
        buckets.iter().map(Bucket::window).collect()
    };
    let mut conn = query::read_conn(&call.state, &call.tenant).await?;
    let counted =
        query::widgets::count_selection(&mut conn, &plant, &sel, &window, &windows).await?;
    // (window index, line, product, area) → detections
    type Key = (usize, Option<i64>, Option<Option<i64>>, Option<i64>);
    let mut acc: BTreeMap<Key, u64> = BTreeMap::new();
    for lc in &counted {
        for (wi, kc) in lc.per_window.iter().enumerate() {
            for (k, n) in kc {
                let key = (
                    wi,
                    g.line.then_some(lc.line_id),
                    g.product.then_some(k.product_id),
                    g.area.then_some(k.area_id),
                );
                *acc.entry(key).or_insert(0) += n;
            }
        }
    }
    let only_time = !(g.product || g.area || g.line);
    let mut rows = Vec::new();
    let row =
        |wi: usize, line: Option<i64>, product: Option<Option<i64>>, area: Option<i64>, n: u64| {
            let w = windows[wi];
            let bucket = buckets.get(wi);
            let area_meta = area.and_then(|a| call.meta.area(a));
            let prod = product.flatten().and_then(|p| call.meta.product(p));
            AggregateRow {
                area_id: area,
                area_name: area.map(|_| area_meta.map(|a| a.area_name.as_str())),
                area_type: area.map(|_| area_meta.map(|a| a.area_type.as_str())),
                count: n,
                end: format_instant(w.end, tz),
                label: bucket.map(|b| b.label.as_str()),
                line_id: line,
                line_name: line.map(|l| call.meta.line(l).map(|l| l.line_name.as_str())),
                product_code: product.map(|_| prod.map(|p| p.product_code.as_str())),
                product_id: product,
                product_name: product.map(|_| prod.map(|p| p.product_name.as_str())),
                seconds: bucket.map(|b| b.seconds),
                shift_id: bucket.and_then(|b| b.shift_id),
                start: format_instant(w.start, tz),
            }
        };
    if only_time {
        // Every bucket, zeros included, so chart axes are stable.
        for wi in 0..windows.len() {
            let n = acc.get(&(wi, None, None, None)).copied().unwrap_or(0);
            rows.push(row(wi, None, None, None, n));
        }
    } else {
        for ((wi, line, product, area), n) in &acc {
            if *n > 0 {
                rows.push(row(*wi, *line, *product, *area, *n));
            }
        }
    }
    let n = rows.len() as u64;
    Ok((http::list(&rows, None), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn routes_are_the_spec_ones() {
        let r = router();
        let routes: Vec<_> = r
            .routes()
            .map(|r| format!("{} {}", r.method, r.pattern))
            .collect();
        for want in [
            "GET /api/v1/data/detections",
            "POST /api/v1/data/detections/aggregate",
            "GET /api/v1/data/production/summary",
            "GET /api/v1/data/production/by-product",
            "GET /api/v1/data/production/by-area",
        ] {
            assert!(routes.iter().any(|r| r == want), "{want} missing");
        }
    }
}
