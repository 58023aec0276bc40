//! Listing detections in keyset pages: [`list_sql`] builds one page's
//! statement (per area, along the (`area_id`, `detected_at`) index), and
//! [`list_detections`] runs it and completes ties exactly.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::NaiveDateTime;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};

use super::{id_list, naive_value, ranges_sql, DetectionTable};
use crate::error::{AppError, AppResult};

/// Most rows one keyset page may ask for (JSON).
pub const MAX_PAGE_ROWS: usize = 1000;

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
