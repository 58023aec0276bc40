//! A tenant's plant metadata, read from its client database in one go and kept
//! in the warm cache: lines, areas, products, shifts, breaks, filters, reason
//! codes and `system_config`. Detection queries return ids; names are joined
//! here, in the application (the "application-side join").

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveTime;
use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{Conn, QueryResult, TextProtocol};
use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::store::Store;
use crate::tenancy::Tenant;

#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub line_id: i64,
    pub line_name: String,
    pub line_code: String,
    pub is_active: bool,
    pub downtime_threshold_seconds: Option<i64>,
    pub micro_stop_seconds: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Area {
    pub area_id: i64,
    pub line_id: i64,
    pub area_name: String,
    pub area_type: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub product_id: i64,
    pub product_name: String,
    pub product_code: String,
    pub ideal_cycle_time_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Shift {
    pub shift_id: i64,
    pub shift_name: String,
    #[serde(serialize_with = "hhmm")]
    pub start_time: NaiveTime,
    #[serde(serialize_with = "hhmm")]
    pub end_time: NaiveTime,
    pub days_of_week: Option<Vec<u8>>,
    pub is_active: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShiftBreak {
    pub break_id: i64,
    pub shift_id: i64,
    pub break_name: String,
    #[serde(serialize_with = "hhmm")]
    pub start_time: NaiveTime,
    #[serde(serialize_with = "hhmm")]
    pub end_time: NaiveTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct Filter {
    pub filter_id: i64,
    pub filter_name: String,
    pub default_value: serde_json::Value,
    pub additional_filter: serde_json::Value,
    pub display_order: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub failure_id: i64,
    pub failure_code: String,
    pub failure_name: String,
    pub failure_category: String,
    pub is_active: bool,
}

fn hhmm<S: serde::Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.format("%H:%M").to_string())
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TenantMetadata {
    pub lines: Vec<Line>,
    pub areas: Vec<Area>,
    pub products: Vec<Product>,
    pub shifts: Vec<Shift>,
    pub breaks: Vec<ShiftBreak>,
    pub filters: Vec<Filter>,
    pub failures: Vec<Failure>,
    pub system_config: HashMap<String, String>,
}

impl TenantMetadata {
    pub fn line(&self, id: i64) -> Option<&Line> {
        self.lines.iter().find(|l| l.line_id == id)
    }
    pub fn area(&self, id: i64) -> Option<&Area> {
        self.areas.iter().find(|a| a.area_id == id)
    }
    pub fn product(&self, id: i64) -> Option<&Product> {
        self.products.iter().find(|p| p.product_id == id)
    }
    pub fn failure(&self, id: i64) -> Option<&Failure> {
        self.failures.iter().find(|f| f.failure_id == id)
    }
    pub fn shift(&self, id: i64) -> Option<&Shift> {
        self.shifts.iter().find(|s| s.shift_id == id)
    }
    pub fn areas_of_line(&self, line_id: i64) -> impl Iterator<Item = &Area> {
        self.areas.iter().filter(move |a| a.line_id == line_id)
    }
    /// A `system_config` value parsed as a number, if set and numeric.
    pub fn config_number(&self, key: &str) -> Option<f64> {
        self.system_config
            .get(key)
            .and_then(|v| v.trim().parse().ok())
    }
    pub fn product_name(&self, id: i64) -> String {
        self.product(id)
            .map(|p| p.product_name.clone())
            .unwrap_or_else(|| format!("#{id}"))
    }
    pub fn area_name(&self, id: i64) -> String {
        self.area(id)
            .map(|a| a.area_name.clone())
            .unwrap_or_else(|| format!("#{id}"))
    }
}

/// Columns that are optional in the client contract (docs/client-database.md#client-database-contract) and may be absent.
async fn existing_columns(conn: &mut Conn, db: &str) -> AppResult<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = conn
        .exec(
            // Naming the tables keeps MariaDB from opening every partitioned
            // detection table of the schema (milliseconds per request under CGI).
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN \
             ('production_line', 'product', 'shift', 'shift_break', 'filter')",
            (db,),
        )
        .await?;
    Ok(rows)
}

fn parse_days(v: Option<String>) -> Option<Vec<u8>> {
    v.map(|s| {
        s.split(',')
            .filter_map(|d| d.trim().parse::<u8>().ok())
            .filter(|d| (1..=7).contains(d))
            .collect()
    })
}

/// The rows of the current result set of a multi-statement query, or a clear
/// error naming the table when the client database holds unexpected types.
async fn rows<R>(
    result: &mut QueryResult<'_, 'static, TextProtocol>,
    table: &str,
) -> AppResult<Vec<R>>
where
    R: FromRow + Send + 'static,
{
    result
        .try_collect::<R>()
        .await?
        .into_iter()
        .collect::<Result<Vec<R>, _>>()
        .map_err(|_| AppError::ClientSchema {
            detail: format!("table {table} holds a value of an unexpected type"),
        })
}

/// Reads everything from the client database; optional columns and the
/// optional `shift_break` table are used only when present. Two round trips:
/// the optional columns, then every table in one multi-statement query (a CGI
/// process pays this on every request).
pub async fn load(conn: &mut Conn, db_name: &str) -> AppResult<TenantMetadata> {
    let cols = existing_columns(conn, db_name).await?;
    let has = |t: &str, c: &str| cols.iter().any(|(tt, cc)| tt == t && cc == c);
    let has_breaks = cols.iter().any(|(tt, _)| tt == "shift_break");
    let opt = |t: &str, c: &str, fallback: &str| {
        if has(t, c) {
            c.to_string()
        } else {
            fallback.to_string()
        }
    };

    let mut sql = format!(
        "SELECT line_id, line_name, {}, is_active, {}, {} FROM production_line ORDER BY line_id; \
         SELECT area_id, line_id, area_name, area_type FROM area ORDER BY area_id; \
         SELECT product_id, product_name, product_code, {} FROM product ORDER BY product_id; \
         SELECT shift_id, shift_name, start_time, end_time, {}, {} FROM shift ORDER BY start_time, shift_id; \
         SELECT filter_id, filter_name, CAST(default_value AS CHAR), CAST(additional_filter AS CHAR), {} \
         FROM filter WHERE filter_status = 1 ORDER BY 5, filter_id; \
         SELECT failure_id, failure_code, failure_name, failure_category, is_active FROM failure ORDER BY failure_id; \
         SELECT config_key, config_value FROM system_config",
        opt("production_line", "line_code", "NULL"),
        opt("production_line", "downtime_threshold_seconds", "NULL"),
        opt("production_line", "micro_stop_seconds", "NULL"),
        opt("product", "ideal_cycle_time_seconds", "NULL"),
        opt("shift", "days_of_week", "NULL"),
        opt("shift", "is_active", "1"),
        opt("filter", "display_order", "filter_id"),
    );
    if has_breaks {
        sql.push_str(
            "; SELECT break_id, shift_id, break_name, start_time, end_time FROM shift_break ORDER BY break_id",
        );
    }
    let mut result = conn.query_iter(sql).await?;

    type LineRow = (i64, String, Option<String>, bool, Option<i64>, Option<i64>);
    let line_rows: Vec<LineRow> = rows(&mut result, "production_line").await?;
    type AreaRow = (i64, i64, String, String);
    let areas = rows::<AreaRow>(&mut result, "area")
        .await?
        .into_iter()
        .map(|(area_id, line_id, area_name, area_type)| Area {
            area_id,
            line_id,
            area_name,
            area_type,
        })
        .collect();
    type ProductRow = (i64, String, String, Option<f64>);
    let products = rows::<ProductRow>(&mut result, "product")
        .await?
        .into_iter()
        .map(|(product_id, product_name, product_code, ict)| Product {
            product_id,
            product_name,
            product_code,
            ideal_cycle_time_seconds: ict,
        })
        .collect();
    type ShiftRow = (i64, String, NaiveTime, NaiveTime, Option<String>, bool);
    let shifts = rows::<ShiftRow>(&mut result, "shift")
        .await?
        .into_iter()
        .map(
            |(shift_id, shift_name, start_time, end_time, days, is_active)| Shift {
                shift_id,
                shift_name,
                start_time,
                end_time,
                days_of_week: parse_days(days),
                is_active,
            },
        )
        .collect();
    type FilterRow = (i64, String, Option<String>, Option<String>, i64);
    let filters = rows::<FilterRow>(&mut result, "filter")
        .await?
        .into_iter()
        .map(|(filter_id, filter_name, dv, af, display_order)| Filter {
            filter_id,
            filter_name,
            default_value: dv
                .and_then(|v| serde_json::from_str(&v).ok())
                .unwrap_or(serde_json::Value::Null),
            additional_filter: af
                .and_then(|v| serde_json::from_str(&v).ok())
                .unwrap_or(serde_json::Value::Null),
            display_order,
        })
        .collect();
    type FailureRow = (i64, String, String, String, bool);
    let failures = rows::<FailureRow>(&mut result, "failure")
        .await?
        .into_iter()
        .map(
            |(failure_id, failure_code, failure_name, failure_category, is_active)| Failure {
                failure_id,
                failure_code,
                failure_name,
                failure_category,
                is_active,
            },
        )
        .collect();
    let system_config: HashMap<String, String> =
        rows::<(String, Option<String>)>(&mut result, "system_config")
            .await?
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
    type BreakRow = (i64, i64, String, NaiveTime, NaiveTime);
    let breaks = if has_breaks {
        rows::<BreakRow>(&mut result, "shift_break")
            .await?
            .into_iter()
            .map(
                |(break_id, shift_id, break_name, start_time, end_time)| ShiftBreak {
                    break_id,
                    shift_id,
                    break_name,
                    start_time,
                    end_time,
                },
            )
            .collect()
    } else {
        Vec::new()
    };
    result.drop_result().await?;

    let mut lines = Vec::with_capacity(line_rows.len());
    for (line_id, line_name, code, is_active, threshold, micro) in line_rows {
        let line_code = match code {
            Some(c) if !c.is_empty() => c,
            _ => crate::schema::line_code(&line_name).ok_or_else(|| AppError::ClientSchema {
                detail: format!("line {line_id} has no usable line_code"),
            })?,
        };
        if !crate::schema::is_valid_line_code(&line_code) {
            return Err(AppError::ClientSchema {
                detail: format!("line {line_id} has an invalid line_code"),
            });
        }
        lines.push(Line {
            line_id,
            line_name,
            line_code,
            is_active,
            downtime_threshold_seconds: threshold,
            micro_stop_seconds: micro,
        });
    }

    Ok(TenantMetadata {
        lines,
        areas,
        products,
        shifts,
        breaks,
        filters,
        failures,
        system_config,
    })
}

/// The tenant's metadata from the warm cache, loading it on a miss.
pub async fn for_tenant(store: &Store, tenant: &Tenant) -> AppResult<Arc<TenantMetadata>> {
    store
        .cache()
        .metadata
        .get_or_load(tenant.tenant_id, || async {
            let location = tenant.db_location();
            let mut conn = store.db().client(&location).await?;
            load(&mut conn, &location.db_name).await.map(Arc::new)
        })
        .await
}
