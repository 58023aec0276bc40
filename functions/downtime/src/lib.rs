//! The `downtime` function's routes (docs/api.md#routes, §6):
//!
//! * `GET /downtime` — stops overlapping a window, filtered by line, minimum
//!   duration, justified or not, reason, micro-stops in or out; newest first,
//!   keyset-paginated; CSV with `Accept: text/csv` (or `format=csv`);
//! * `GET /downtime/{id}?line_id=N` — one stop (ids are per line);
//! * `PUT /downtime/{id}?line_id=N` — justify it: a reason from `failure` and
//!   a comment; operator and up; audited with before and after; a stale
//!   update (`If-Match` ETag or `expected_updated_at`) is a 409;
//! * `POST /downtime/calculate` — recompute a bounded window (late data),
//!   keeping justifications of unchanged stops; manager and up;
//! * `GET /downtime/summary` — count, total time, MTBF, MTTR, Pareto by
//!   reason and by shift.
//!
//! Times are ISO 8601 with the plant's offset and milliseconds. Stops are
//! never re-classified by the window: they are listed when they overlap it,
//! and the summary clips their duration to it.

use std::collections::BTreeMap;
use std::sync::Arc;

use ::http::StatusCode;
use base64::Engine as _;
use chrono::NaiveDateTime;
use chrono_tz::Tz;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use dash_core::timeutil::{self, PlantCalendar, Window, WindowQuery};
use dash_store::downtime::engine::{self, EngineOptions, LineSpec, RecomputeOutcome, RunOutcome};
use dash_store::downtime::store::{
    fmt_naive, parse_naive, DataClock, EventRow, LineTables, StopRow, STOP_COLUMNS,
};
use dash_store::downtime::summary::{self, Labels, ReasonInfo, SummaryInput, SummaryStop};
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::{self, TenantMetadata};
use dash_store::tenancy::Tenant;
use shared::auth::audit;
use shared::auth::input::{check_len, Fields};
use shared::auth::{self, Permission, TenantContext};
use shared::http::{self, Request, Response};
use shared::params::{query_choice, query_flag, query_id, query_limit};
use shared::router::Router;
use shared::state::AppState;

/// Longest justification comment (the column is `VARCHAR(1000)`).
pub const MAX_COMMENT_CHARS: usize = 1000;
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
const DEFAULT_CSV_LIMIT: usize = 10_000;
const MAX_CSV_LIMIT: usize = 100_000;
const DEFAULT_MAX_QUERY_DAYS: u32 = 366;

pub fn router() -> Router {
    Router::new("downtime")
        .get("/api/v1/downtime", list)
        .query(&[
            "line_id",
            "line_ids",
            "start_date",
            "end_date",
            "range",
            "min_duration",
            "justified",
            "failure_id",
            "reason",
            "micro",
            "include_micro",
            "format",
            "limit",
            "cursor",
        ])
        .post("/api/v1/downtime/calculate", calculate)
        .get("/api/v1/downtime/summary", summary_route)
        .query(&[
            "line_id",
            "line_ids",
            "start_date",
            "end_date",
            "range",
            "min_duration",
            "justified",
            "failure_id",
            "reason",
            "micro",
            "include_micro",
        ])
        .get("/api/v1/downtime/{id}", one)
        .query(&["line_id"])
        .put("/api/v1/downtime/{id}", justify)
        .query(&["line_id"])
}

// ---------------------------------------------------------------------------
// Context and parameters
// ---------------------------------------------------------------------------

struct Ctx {
    ctx: TenantContext,
    tenant: Arc<Tenant>,
    meta: Arc<TenantMetadata>,
}

impl Ctx {
    fn db_name(&self) -> String {
        self.tenant.db_location().db_name
    }

    async fn conn(&self, state: &AppState) -> AppResult<Conn> {
        state.db().client(&self.tenant.db_location()).await
    }

    fn spec(&self, line_id: i64) -> AppResult<LineSpec> {
        LineSpec::from_metadata(&self.meta, &self.tenant, line_id)
    }

    fn tables(&self, line_id: i64) -> AppResult<LineTables> {
        // Listing reads the events table only; the areas are not needed.
        let line = self.meta.line(line_id).ok_or(AppError::NotFound)?;
        LineTables::new(&self.db_name(), line_id, &line.line_code, &[])
    }

    fn calendar(&self) -> PlantCalendar {
        PlantCalendar::new(self.tenant.timezone(), self.tenant.production_day_start())
    }

    fn plant_tz(&self) -> Tz {
        self.tenant.timezone()
    }

    fn max_days(&self) -> u32 {
        self.meta
            .config_number("max_query_days")
            .filter(|v| v.is_finite() && *v >= 1.0)
            .map(|v| v.min(36_600.0) as u32)
            .unwrap_or(DEFAULT_MAX_QUERY_DAYS)
    }

    fn reason_name(&self, failure_id: Option<i64>) -> Option<&str> {
        failure_id
            .and_then(|id| self.meta.failure(id))
            .map(|f| f.failure_name.as_str())
    }
}

async fn context(req: &Request, state: &AppState, p: Permission) -> AppResult<Ctx> {
    let ctx = auth::require(req, state, p).await?;
    let tenant = ctx.tenant()?;
    let meta = metadata::for_tenant(state, &tenant).await?;
    Ok(Ctx { ctx, tenant, meta })
}

fn oee_shifts(meta: &TenantMetadata) -> Vec<dash_core::oee::Shift> {
    meta.shifts
        .iter()
        .map(|s| dash_core::oee::Shift {
            id: s.shift_id,
            name: s.shift_name.clone(),
            start_time: s.start_time,
            end_time: s.end_time,
            days_of_week: s.days_of_week.clone(),
            is_active: s.is_active,
        })
        .collect()
}

/// The window of a request (`start_date`/`end_date` or `range`); `default`
/// when none is given. Longer than `max_query_days` is a 422.
fn resolve_window(
    c: &Ctx,
    state: &AppState,
    start: Option<&str>,
    end: Option<&str>,
    range: Option<&str>,
    default: Option<&str>,
) -> AppResult<Window> {
    let none = [start, end, range]
        .iter()
        .all(|v| v.is_none_or(|s| s.trim().is_empty()));
    let range = if none { default } else { range };
    timeutil::resolve_window(
        &WindowQuery {
            start_date: start,
            end_date: end,
            range,
        },
        &c.calendar(),
        &oee_shifts(&c.meta),
        state.now(),
        c.max_days(),
    )
    .map_err(AppError::from)
}

/// `line_id=3` or `line_ids=1,2,3` (at most 100); `None` = every visible line.
fn q_lines(req: &Request) -> AppResult<Option<Vec<i64>>> {
    let mut ids = Vec::new();
    if let Some(id) = query_id(req, "line_id")? {
        ids.push(id);
    }
    if let Some(list) = req.query_param("line_ids") {
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let id = part.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                AppError::validation("line_ids", "line_ids must be a comma list of line ids")
            })?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.len() > 100 {
            return Err(AppError::validation(
                "line_ids",
                "at most 100 lines at once",
            ));
        }
    }
    Ok((!ids.is_empty()).then_some(ids))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Micro {
    Exclude,
    Include,
    Only,
}

#[derive(Debug, Clone)]
struct Filters {
    lines: Vec<i64>,
    window: Window,
    min_duration_ms: Option<i64>,
    justified: Option<bool>,
    failure_id: Option<i64>,
    micro: Micro,
}

fn parse_filters(req: &Request, state: &AppState, c: &Ctx) -> AppResult<Filters> {
    let lines = c.ctx.resolve_lines(&c.meta, q_lines(req)?.as_deref())?;
    let start = req.query_param("start_date");
    let end = req.query_param("end_date");
    let range = req.query_param("range");
    let window = resolve_window(
        c,
        state,
        start.as_deref(),
        end.as_deref(),
        range.as_deref(),
        Some("last_7_days"),
    )?;
    let min_duration_ms = match req.query_param("min_duration") {
        None => None,
        Some(v) => {
            let secs: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s <= 1e9)
                .ok_or_else(|| {
                    AppError::validation(
                        "min_duration",
                        "min_duration must be a number of seconds ≥ 0",
                    )
                })?;
            Some((secs * 1000.0).round() as i64)
        }
    };
    let failure_id = match (query_id(req, "failure_id")?, req.query_param("reason")) {
        (Some(id), _) => Some(id),
        (None, None) => None,
        (None, Some(r)) => {
            let r = r.trim();
            match r.parse::<i64>() {
                Ok(id) if id > 0 => Some(id),
                _ => Some(
                    c.meta
                        .failures
                        .iter()
                        .find(|f| f.failure_code.eq_ignore_ascii_case(r))
                        .map(|f| f.failure_id)
                        .ok_or_else(|| AppError::validation("reason", "unknown reason code"))?,
                ),
            }
        }
    };
    if let Some(id) = failure_id {
        if c.meta.failure(id).is_none() {
            return Err(AppError::validation(
                "reason",
                format!("unknown reason {id}"),
            ));
        }
    }
    let micro = match (
        req.query_param("micro").as_deref().map(str::trim),
        query_flag(req, "include_micro")?,
    ) {
        (Some("exclude"), _) | (None, Some(false)) | (None, None) => Micro::Exclude,
        (Some("include"), _) | (None, Some(true)) => Micro::Include,
        (Some("only"), _) => Micro::Only,
        (Some(_), _) => {
            return Err(AppError::validation(
                "micro",
                "micro must be exclude, include or only",
            ))
        }
    };
    Ok(Filters {
        lines,
        window,
        min_duration_ms,
        justified: query_flag(req, "justified")?,
        failure_id,
        micro,
    })
}

/// The SQL conditions and parameters of the filters (the window as stored
/// wall times); stops overlapping the window match.
fn filter_sql(f: &Filters, clock: &DataClock) -> (String, Vec<mysql_async::Value>) {
    let mut sql = String::from("start_time < ? AND end_time > ?");
    let mut params: Vec<mysql_async::Value> = vec![
        clock.to_naive(f.window.end).into(),
        clock.to_naive(f.window.start).into(),
    ];
    match f.micro {
        Micro::Exclude => sql.push_str(" AND is_micro = 0"),
        Micro::Only => sql.push_str(" AND is_micro = 1"),
        Micro::Include => {}
    }
    if let Some(ms) = f.min_duration_ms {
        sql.push_str(" AND duration_seconds >= ?");
        params.push(format!("{}.{:03}", ms / 1000, ms % 1000).into());
    }
    match f.justified {
        Some(true) => sql.push_str(" AND failure_id IS NOT NULL"),
        Some(false) => sql.push_str(" AND failure_id IS NULL"),
        None => {}
    }
    if let Some(id) = f.failure_id {
        sql.push_str(" AND failure_id = ?");
        params.push(id.into());
    }
    (sql, params)
}

// ---------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------

/// The opaque version of a row: its `updated_at` as the database stores it.
fn version(row: &StopRow) -> String {
    row.updated_at.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
}

fn etag(line_id: i64, row: &StopRow) -> String {
    format!(
        "\"{line_id}-{}-{}\"",
        row.downtime_id,
        row.updated_at.format("%Y%m%d%H%M%S%3f")
    )
}

fn fmt_time(clock: &mut DataClock, tz: Tz, n: &NaiveDateTime) -> String {
    timeutil::format_instant(clock.to_utc(n), tz)
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A stop in the shape of docs/api.md#shapes (plus `line_name`, reason details and
/// `updated_at`, the version for `expected_updated_at`).
fn stop_view(c: &Ctx, clock: &mut DataClock, line_id: i64, row: &StopRow) -> Value {
    let tz = c.plant_tz();
    let failure = row.failure_id.and_then(|id| c.meta.failure(id));
    json!({
        "downtime_id": row.downtime_id,
        "line_id": line_id,
        "line_name": c.meta.line(line_id).map(|l| l.line_name.as_str()),
        "start_time": fmt_time(clock, tz, &row.start),
        "end_time": fmt_time(clock, tz, &row.end),
        "duration_seconds": seconds(row.duration_ms),
        "is_micro": row.is_micro,
        "detection_id": row.detection_id,
        "failure_id": row.failure_id,
        "reason": failure.map(|f| f.failure_name.as_str()),
        "reason_code": failure.map(|f| f.failure_code.as_str()),
        "reason_category": failure.map(|f| f.failure_category.as_str()),
        "justification": row.justification,
        "justified_by": row.justified_by,
        "justified_at": row.justified_at.map(|j| fmt_time(clock, tz, &j)),
        "updated_at": version(row),
    })
}

fn event_view(clock: &mut DataClock, tz: Tz, e: &EventRow) -> Value {
    json!({
        "start_time": fmt_time(clock, tz, &e.start),
        "end_time": fmt_time(clock, tz, &e.end),
        "duration_seconds": seconds(e.duration_ms),
        "is_micro": e.is_micro,
    })
}

async fn open_stops(
    c: &Ctx,
    state: &AppState,
    conn: &mut Conn,
    lines: &[i64],
) -> AppResult<Vec<Value>> {
    let now = state.now();
    let mut out = Vec::new();
    for &line_id in lines {
        let spec = c.spec(line_id)?;
        match engine::open_stop(conn, &c.db_name(), &spec, now).await {
            Ok(Some(open)) => out.push(json!({
                "line_id": line_id,
                "since": timeutil::format_instant(open.since, c.plant_tz()),
                "duration_seconds": seconds(open.duration_ms),
                "threshold_seconds": seconds(spec.thresholds.downtime_threshold_ms),
            })),
            Ok(None) => {}
            // A line whose detection table does not exist yet has no state.
            Err(AppError::ClientSchema { detail }) => {
                tracing::warn!(line_id, %detail, "cannot tell whether the line is stopped");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// GET /downtime
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Cursor {
    /// `start_time` (stored wall time).
    s: String,
    /// `line_id`.
    l: i64,
    /// `downtime_id`.
    i: i64,
}

impl Cursor {
    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(s: &str) -> AppResult<(Cursor, NaiveDateTime)> {
        let bad = || AppError::validation("cursor", "cursor is not one this API returned");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim())
            .map_err(|_| bad())?;
        let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let at = parse_naive(&c.s).ok_or_else(bad)?;
        Ok((c, at))
    }
}

async fn list(req: Request, state: AppState) -> AppResult<Response> {
    let csv = req.wants_csv() || query_choice(&req, "format", &["json", "csv"])? == Some("csv");
    let c = context(&req, &state, Permission::DataRead).await?;
    if csv {
        c.ctx.require(Permission::DataExport)?;
    }
    let f = parse_filters(&req, &state, &c)?;
    let limit = if csv {
        query_limit(&req, "limit", DEFAULT_CSV_LIMIT, MAX_CSV_LIMIT)?
    } else {
        query_limit(&req, "limit", DEFAULT_LIMIT, MAX_LIMIT)?
    };
    let cursor = req
        .query_param("cursor")
        .map(|s| Cursor::decode(&s))
        .transpose()?;
    let mut clock = DataClock::new(c.tenant.data_timezone());
    let (conditions, params) = filter_sql(&f, &clock);
    let mut conn = c.conn(&state).await?;

    let mut rows: Vec<(i64, StopRow)> = Vec::new();
    for &line_id in &f.lines {
        let t = c.tables(line_id)?;
        let mut sql = format!("SELECT {STOP_COLUMNS} FROM {} WHERE {conditions}", t.events);
        let mut p = params.clone();
        if let Some((cur, at)) = &cursor {
            match line_id.cmp(&cur.l) {
                std::cmp::Ordering::Less => {
                    sql.push_str(" AND start_time <= ?");
                    p.push((*at).into());
                }
                std::cmp::Ordering::Greater => {
                    sql.push_str(" AND start_time < ?");
                    p.push((*at).into());
                }
                std::cmp::Ordering::Equal => {
                    sql.push_str(" AND (start_time < ? OR (start_time = ? AND downtime_id < ?))");
                    p.push((*at).into());
                    p.push((*at).into());
                    p.push(cur.i.into());
                }
            }
        }
        sql.push_str(&format!(
            " ORDER BY start_time DESC, downtime_id DESC LIMIT {}",
            limit + 1
        ));
        let found: Vec<mysql_async::Row> = match conn.exec(sql, p).await {
            Ok(r) => r,
            // A line whose events table is not provisioned has no stops yet.
            Err(mysql_async::Error::Server(e)) if e.code == 1146 => {
                tracing::warn!(
                    line_id,
                    "downtime events table missing; run dashctl provision-client"
                );
                Vec::new()
            }
            Err(e) => return Err(e.into()),
        };
        for r in found {
            rows.push((line_id, StopRow::from_row(r)?));
        }
    }
    rows.sort_by(|(la, a), (lb, b)| {
        (b.start, *lb, b.downtime_id).cmp(&(a.start, *la, a.downtime_id))
    });
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more {
        rows.last().map(|(l, r)| {
            Cursor {
                s: fmt_naive(&r.start),
                l: *l,
                i: r.downtime_id,
            }
            .encode()
        })
    } else {
        None
    };

    if csv {
        let mut out = String::from(
            "downtime_id,line_id,line_name,start_time,end_time,duration_seconds,is_micro,failure_id,reason,justification,justified_by,justified_at\r\n",
        );
        let tz = c.plant_tz();
        for (line_id, r) in &rows {
            let cells = [
                r.downtime_id.to_string(),
                line_id.to_string(),
                c.meta
                    .line(*line_id)
                    .map(|l| l.line_name.clone())
                    .unwrap_or_default(),
                fmt_time(&mut clock, tz, &r.start),
                fmt_time(&mut clock, tz, &r.end),
                format!("{:.3}", seconds(r.duration_ms)),
                u8::from(r.is_micro).to_string(),
                r.failure_id.map(|f| f.to_string()).unwrap_or_default(),
                c.reason_name(r.failure_id).unwrap_or_default().to_string(),
                r.justification.clone().unwrap_or_default(),
                r.justified_by.map(|u| u.to_string()).unwrap_or_default(),
                r.justified_at
                    .map(|j| fmt_time(&mut clock, tz, &j))
                    .unwrap_or_default(),
            ];
            let line: Vec<String> = cells.iter().map(|v| csv_cell(v)).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        let mut resp = http::response(StatusCode::OK, "text/csv; charset=utf-8", out.into_bytes());
        resp = http::with_header(
            resp,
            "content-disposition",
            "attachment; filename=\"downtime.csv\"",
        );
        if let Some(next) = &next_cursor {
            resp = http::with_header(resp, "x-next-cursor", next);
        }
        return Ok(resp);
    }

    let data: Vec<Value> = rows
        .iter()
        .map(|(line_id, r)| stop_view(&c, &mut clock, *line_id, r))
        .collect();
    let open = if cursor.is_none() {
        open_stops(&c, &state, &mut conn, &f.lines).await?
    } else {
        Vec::new()
    };
    Ok(http::json(
        StatusCode::OK,
        &json!({
            "data": data,
            "next_cursor": next_cursor,
            "open_stops": open,
            "window": {
                "start": timeutil::format_instant(f.window.start, c.plant_tz()),
                "end": timeutil::format_instant(f.window.end, c.plant_tz()),
            },
        }),
    ))
}

/// One CSV field: quoted when needed; a leading `= + - @` is neutralised so
/// spreadsheets never run it as a formula.
fn csv_cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) && v.parse::<f64>().is_err() {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

// ---------------------------------------------------------------------------
// GET /downtime/{id}
// ---------------------------------------------------------------------------

/// The line a stop route addresses: `line_id` in the query (or `body_line`).
fn required_line(req: &Request, c: &Ctx, body_line: Option<i64>) -> AppResult<i64> {
    let line_id = match (query_id(req, "line_id")?, body_line) {
        (Some(q), Some(b)) if q != b => {
            return Err(AppError::validation(
                "line_id",
                "line_id differs between the query and the body",
            ))
        }
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => {
            return Err(AppError::validation(
                "line_id",
                "line_id is required: a stop's id is scoped by its line",
            ))
        }
    };
    Ok(c.ctx.line(&c.meta, line_id)?.line_id)
}

async fn load_stop(conn: &mut Conn, t: &LineTables, id: i64) -> AppResult<Option<StopRow>> {
    let row: Option<mysql_async::Row> = match conn
        .exec_first(
            format!(
                "SELECT {STOP_COLUMNS} FROM {} WHERE downtime_id = ?",
                t.events
            ),
            (id,),
        )
        .await
    {
        Ok(r) => r,
        Err(mysql_async::Error::Server(e)) if e.code == 1146 => None,
        Err(e) => return Err(e.into()),
    };
    row.map(StopRow::from_row).transpose()
}

fn if_none_match(req: &Request, tag: &str) -> bool {
    req.header("if-none-match").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().trim_start_matches("W/") == tag || t.trim() == "*")
    })
}

async fn one(req: Request, state: AppState) -> AppResult<Response> {
    let c = context(&req, &state, Permission::DataRead).await?;
    let id = req.path_id("id")?;
    let line_id = required_line(&req, &c, None)?;
    let t = c.tables(line_id)?;
    let mut conn = c.conn(&state).await?;
    let row = load_stop(&mut conn, &t, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tag = etag(line_id, &row);
    if if_none_match(&req, &tag) {
        let resp = http::response(StatusCode::NOT_MODIFIED, "application/json", Vec::new());
        return Ok(http::with_header(resp, "etag", &tag));
    }
    let mut clock = DataClock::new(c.tenant.data_timezone());
    let view = stop_view(&c, &mut clock, line_id, &row);
    Ok(http::with_header(http::data(&view), "etag", &tag))
}

// ---------------------------------------------------------------------------
// PUT /downtime/{id}
// ---------------------------------------------------------------------------

const JUSTIFY_FIELDS: [&str; 7] = [
    "failure_id",
    "reason",
    "justification",
    "comment",
    "expected_updated_at",
    "line_id",
    "reason_code",
];

/// A comment fit to store: at most 1000 characters, no control characters
/// other than line breaks and tabs. Empty means none.
fn check_comment(field: &str, v: &str) -> AppResult<Option<String>> {
    check_len(field, v, 0, MAX_COMMENT_CHARS)?;
    if v.chars()
        .any(|ch| ch.is_control() && !matches!(ch, '\n' | '\r' | '\t'))
    {
        return Err(AppError::validation(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    let trimmed = v.trim();
    Ok((!trimmed.is_empty()).then(|| trimmed.to_string()))
}

fn justification_json(clock: &mut DataClock, tz: Tz, row: &StopRow) -> Value {
    json!({
        "failure_id": row.failure_id,
        "justification": row.justification,
        "justified_by": row.justified_by,
        "justified_at": row.justified_at.map(|j| fmt_time(clock, tz, &j)),
        "updated_at": version(row),
    })
}

async fn justify(req: Request, state: AppState) -> AppResult<Response> {
    let c = context(&req, &state, Permission::DowntimeJustify).await?;
    let id = req.path_id("id")?;
    let fields = Fields::parse(&req, &JUSTIFY_FIELDS)?;
    let line_id = required_line(&req, &c, fields.opt_id("line_id")?)?;

    // The reason: an id (failure_id, or reason given as a number) or a code.
    let reason_code = match (fields.opt_str("reason_code")?, fields.raw("reason")) {
        (Some(code), _) => Some(code.to_string()),
        (None, Some(Value::String(s))) if s.trim().parse::<i64>().is_err() => {
            Some(s.trim().to_string())
        }
        _ => None,
    };
    let reason_id = match fields.raw("reason") {
        Some(Value::Number(_)) => fields.opt_id("reason")?,
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(Value::Null) | None => None,
        Some(_) => {
            return Err(AppError::validation(
                "reason",
                "reason must be a reason id or code",
            ))
        }
    };
    let failure_id = fields.opt_id("failure_id")?.or(reason_id);
    if failure_id.is_none() && reason_code.is_none() {
        return Err(AppError::validation(
            "failure_id",
            "failure_id (the reason) is required",
        ));
    }
    let comment = match (fields.opt_str("justification")?, fields.opt_str("comment")?) {
        (Some(_), Some(_)) => {
            return Err(AppError::validation(
                "comment",
                "give justification or comment, not both",
            ))
        }
        (Some(v), None) => check_comment("justification", v)?,
        (None, Some(v)) => check_comment("comment", v)?,
        (None, None) => None,
    };
    let expected = match fields.opt_str("expected_updated_at")? {
        None => None,
        Some(v) => Some(parse_naive(v).ok_or_else(|| {
            AppError::validation(
                "expected_updated_at",
                "expected_updated_at must be the updated_at this API returned",
            )
        })?),
    };
    let if_match = req.header("if-match").map(str::to_string);

    let t = c.tables(line_id)?;
    let mut conn = c.conn(&state).await?;
    // Checked against the table (not the cache) so a reason added a minute ago is accepted.
    let reason: Option<(i64, bool)> = match (failure_id, &reason_code) {
        (Some(fid), _) => {
            conn.exec_first(
                "SELECT failure_id, is_active FROM failure WHERE failure_id = ?",
                (fid,),
            )
            .await?
        }
        (None, Some(code)) => {
            conn.exec_first(
                "SELECT failure_id, is_active FROM failure WHERE failure_code = ?",
                (code.as_str(),),
            )
            .await?
        }
        (None, None) => None,
    };
    let failure_id = match reason {
        Some((fid, true)) => fid,
        Some((_, false)) => {
            return Err(AppError::validation(
                "failure_id",
                "this reason is no longer active",
            ))
        }
        None => {
            return Err(AppError::validation(
                "failure_id",
                "unknown reason: pick one of the plant's reason codes",
            ))
        }
    };

    let before = load_stop(&mut conn, &t, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let stale =
        || AppError::conflict("the stop was changed by someone else; reload it and try again");
    if let Some(tags) = &if_match {
        let current = etag(line_id, &before);
        let ok = tags
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_start_matches("W/") == current);
        if !ok {
            return Err(stale());
        }
    }
    if let Some(expected) = expected {
        if expected != before.updated_at {
            return Err(stale());
        }
    }
    let mut clock = DataClock::new(c.tenant.data_timezone());
    let now_naive = clock.to_naive(state.now());
    conn.exec_drop(
        format!(
            "UPDATE {} SET failure_id = ?, justification = ?, justified_by = ?, justified_at = ?, \
             updated_at = GREATEST(CURRENT_TIMESTAMP(3), updated_at + INTERVAL 1000 MICROSECOND) \
             WHERE downtime_id = ? AND updated_at = ?",
            t.events
        ),
        (
            failure_id,
            comment.as_deref(),
            c.ctx.user_id,
            now_naive,
            id,
            before.updated_at,
        ),
    )
    .await?;
    if conn.affected_rows() == 0 {
        return match load_stop(&mut conn, &t, id).await? {
            None => Err(AppError::NotFound),
            Some(_) => Err(stale()),
        };
    }
    let after = load_stop(&mut conn, &t, id)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);

    let tz = c.plant_tz();
    audit::record_for(
        &state,
        &c.ctx,
        &req,
        "downtime.justify",
        "downtime",
        format!("{line_id}:{id}"),
        json!({
            "line_id": line_id,
            "downtime_id": id,
            "start_time": fmt_time(&mut clock, tz, &after.start),
            "before": justification_json(&mut clock, tz, &before),
            "after": justification_json(&mut clock, tz, &after),
        }),
    )
    .await?;
    let view = stop_view(&c, &mut clock, line_id, &after);
    Ok(http::with_header(
        http::data(&view),
        "etag",
        &etag(line_id, &after),
    ))
}

// ---------------------------------------------------------------------------
// POST /downtime/calculate
// ---------------------------------------------------------------------------

const CALCULATE_FIELDS: [&str; 5] = ["line_id", "line_ids", "start_date", "end_date", "range"];

async fn calculate(req: Request, state: AppState) -> AppResult<Response> {
    let c = context(&req, &state, Permission::DowntimeCalculate).await?;
    let fields = Fields::parse(&req, &CALCULATE_FIELDS)?;
    let mut requested: Vec<i64> = Vec::new();
    if let Some(id) = fields.opt_id("line_id")? {
        requested.push(id);
    }
    match fields.raw("line_ids") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for v in items {
                let id = v.as_i64().filter(|n| *n > 0).ok_or_else(|| {
                    AppError::validation("line_ids", "line_ids must be a list of line ids")
                })?;
                if !requested.contains(&id) {
                    requested.push(id);
                }
            }
        }
        Some(_) => {
            return Err(AppError::validation(
                "line_ids",
                "line_ids must be a list of line ids",
            ))
        }
    }
    if requested.len() > 100 {
        return Err(AppError::validation(
            "line_ids",
            "at most 100 lines at once",
        ));
    }
    let lines = c.ctx.resolve_lines(
        &c.meta,
        (!requested.is_empty()).then_some(requested.as_slice()),
    )?;
    let start = fields.opt_str("start_date")?;
    let end = fields.opt_str("end_date")?;
    let range = fields.opt_str("range")?;
    if start.is_none() && range.is_none() {
        return Err(AppError::validation(
            "start_date",
            "give the window to recompute: start_date and end_date, or range",
        ));
    }
    let window = resolve_window(&c, &state, start, end, range, None)?;

    let opts = EngineOptions::default();
    let db_name = c.db_name();
    let mut conn = c.conn(&state).await?;
    let tz = c.plant_tz();
    let mut clock = DataClock::new(c.tenant.data_timezone());
    let mut results = Vec::new();
    let mut busy = 0usize;
    let mut changed_ids = Vec::new();
    for line_id in &lines {
        let spec = c.spec(*line_id)?;
        let mut entry = serde_json::Map::new();
        entry.insert("line_id".into(), json!(line_id));
        let status = match engine::recompute(
            &mut conn,
            &db_name,
            &spec,
            window.start,
            Some(window.end),
            &opts,
        )
        .await?
        {
            RecomputeOutcome::Busy => "busy",
            RecomputeOutcome::Skipped { reason } => {
                entry.insert("note".into(), json!(reason));
                "skipped"
            }
            RecomputeOutcome::Done(r) => {
                entry.insert(
                    "recomputed".into(),
                    json!({
                        "detections": r.detections,
                        "kept": r.kept,
                        "deleted": r.deleted,
                        "inserted": r.inserted,
                        "relinked": r.relinked,
                    }),
                );
                let mut changed = Vec::new();
                for ch in &r.changed_justified {
                    changed_ids
                        .push(json!({"line_id": line_id, "downtime_id": ch.old.downtime_id}));
                    changed.push(json!({
                        "stop": stop_view(&c, &mut clock, *line_id, &ch.old),
                        "replaced_by": ch.replaced_by.iter().map(|e| event_view(&mut clock, tz, e)).collect::<Vec<_>>(),
                    }));
                }
                entry.insert("changed_justified".into(), Value::Array(changed));
                if let Some(note) = r.note {
                    entry.insert("note".into(), json!(note));
                }
                // Whatever lies after the watermark (or was never computed) is
                // the incremental run's: catch up so the window is complete.
                match engine::run_incremental(&mut conn, &db_name, &spec, &opts).await? {
                    RunOutcome::Done(inc) => {
                        entry.insert(
                            "incremental".into(),
                            json!({
                                "detections": inc.detections,
                                "stops": inc.stops,
                                "micro_stops": inc.micro_stops,
                            }),
                        );
                        "done"
                    }
                    RunOutcome::Busy => "busy",
                    RunOutcome::Skipped { reason } => {
                        entry.insert("note".into(), json!(reason));
                        "skipped"
                    }
                }
            }
        };
        if status == "busy" {
            busy += 1;
        }
        entry.insert("status".into(), json!(status));
        results.push(Value::Object(entry));
    }
    drop(conn);
    if busy > 0 && busy == lines.len() {
        return Err(AppError::conflict(
            "a downtime calculation for this line is already running; try again in a minute",
        ));
    }
    let window_json = json!({
        "start": timeutil::format_instant(window.start, tz),
        "end": timeutil::format_instant(window.end, tz),
    });
    audit::record_for(
        &state,
        &c.ctx,
        &req,
        "downtime.calculate",
        "downtime",
        lines
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(","),
        json!({ "lines": lines, "window": window_json, "changed_justified": changed_ids }),
    )
    .await?;
    Ok(http::data(
        &json!({ "window": window_json, "lines": results }),
    ))
}

// ---------------------------------------------------------------------------
// GET /downtime/summary
// ---------------------------------------------------------------------------

async fn summary_route(req: Request, state: AppState) -> AppResult<Response> {
    let c = context(&req, &state, Permission::DataRead).await?;
    let mut f = parse_filters(&req, &state, &c)?;
    let include_micro = f.micro != Micro::Exclude;
    // The micro-stop figures are always reported; the filter decides whether
    // they count in the totals.
    let only_micro = f.micro == Micro::Only;
    f.micro = Micro::Include;
    let mut clock = DataClock::new(c.tenant.data_timezone());
    let (conditions, params) = filter_sql(&f, &clock);
    let mut conn = c.conn(&state).await?;
    let mut stops = Vec::new();
    for &line_id in &f.lines {
        let t = c.tables(line_id)?;
        let sql = format!(
            "SELECT start_time, end_time, is_micro, failure_id FROM {} WHERE {conditions}",
            t.events
        );
        let rows: Vec<(NaiveDateTime, NaiveDateTime, bool, Option<i64>)> =
            match conn.exec(sql, params.clone()).await {
                Ok(r) => r,
                Err(mysql_async::Error::Server(e)) if e.code == 1146 => Vec::new(),
                Err(e) => return Err(e.into()),
            };
        for (start, end, is_micro, failure_id) in rows {
            if only_micro && !is_micro {
                continue;
            }
            stops.push(SummaryStop {
                line_id,
                start: clock.to_utc(&start),
                end: clock.to_utc(&end),
                is_micro,
                failure_id,
            });
        }
    }
    let reasons: BTreeMap<i64, ReasonInfo> = c
        .meta
        .failures
        .iter()
        .map(|f| {
            (
                f.failure_id,
                ReasonInfo {
                    code: f.failure_code.clone(),
                    name: f.failure_name.clone(),
                    category: f.failure_category.clone(),
                },
            )
        })
        .collect();
    let labels = if c.tenant.language() == "en" {
        Labels {
            unjustified: "Not justified",
            no_shift: "Outside shifts",
        }
    } else {
        Labels::default()
    };
    let shifts = oee_shifts(&c.meta);
    let now = state.now();
    let s = summary::summarize(&SummaryInput {
        window: f.window,
        now,
        lines: f.lines.len(),
        stops: &stops,
        include_micro,
        reasons: &reasons,
        shifts: &shifts,
        tz: c.plant_tz(),
        labels,
    });
    let open = open_stops(&c, &state, &mut conn, &f.lines).await?;
    let tz = c.plant_tz();
    let mut body = serde_json::to_value(&s).map_err(AppError::internal)?;
    if let Value::Object(map) = &mut body {
        map.insert("line_ids".into(), json!(f.lines));
        map.insert(
            "window".into(),
            json!({
                "start": timeutil::format_instant(f.window.start, tz),
                "end": timeutil::format_instant(f.window.end, tz),
            }),
        );
        map.insert("open_stops".into(), Value::Array(open));
    }
    Ok(http::data(&body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let c = Cursor {
            s: "2026-04-01 06:00:00.123".into(),
            l: 3,
            i: 99,
        };
        let (back, at) = Cursor::decode(&c.encode()).unwrap();
        assert_eq!(back, c);
        assert_eq!(fmt_naive(&at), "2026-04-01 06:00:00.123");
        assert!(Cursor::decode("not-a-cursor").is_err());
        assert!(Cursor::decode("").is_err());
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_cell("-12.5"), "-12.5");
    }

    #[test]
    fn comments_are_bounded() {
        assert_eq!(
            check_comment("comment", "  ok  ").unwrap().as_deref(),
            Some("ok")
        );
        assert_eq!(check_comment("comment", "").unwrap(), None);
        assert!(check_comment("comment", &"x".repeat(1001)).is_err());
        assert!(check_comment("comment", "bad\u{0}byte").is_err());
        assert!(check_comment("comment", "line\nbreak").is_ok());
    }
}
