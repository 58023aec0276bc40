//! `dashctl demo-data`: a believable synthetic plant in a client database —
//! three lines at different speeds, six products, three shifts (the night one
//! crossing midnight) with breaks, long stops with reasons, many micro-stops,
//! about 2 % rejects — deterministic for a given `seed` and window.
//!
//! Sizes: [`DemoSize::Small`] (default) runs the lines five times slower and
//! records only the output and reject sensors (≈ 0.8 M detections over 90 days,
//! loaded in seconds); [`DemoSize::Large`] runs them at real speed (≈ 1 unit / 2 s,
//! 1 / 3 s, 1 / 8 s) with input and process sensors too (≥ 10 M detections over
//! 90 days) — the benchmark data set of docs/operations.md#performance-targets.
//!
//! Rows are streamed from a generator thread to the server with
//! `LOAD DATA LOCAL INFILE` (falling back to 10,000-row INSERTs when the server
//! refuses local infile), into monthly partitions created beforehand.

pub mod generate;
pub mod plant;
pub mod reasons;

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, TxOpts, Value, WhiteListFsHandler};
use serde_json::json;

use crate::schema::{self, quote_ident, Result, SchemaError};
use generate::{Incident, Plan, Row};

/// How much data: see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoSize {
    Small,
    Large,
}

impl DemoSize {
    /// Factor on every cycle time (and on the ideal cycle times stored).
    pub fn speed_scale(self) -> f64 {
        match self {
            DemoSize::Small => 5.0,
            DemoSize::Large => 1.0,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            DemoSize::Small => "small",
            DemoSize::Large => "large",
        }
    }
}

impl std::str::FromStr for DemoSize {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "small" => Ok(DemoSize::Small),
            "large" => Ok(DemoSize::Large),
            other => Err(format!("size {other:?}: use small or large")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    pub size: DemoSize,
    /// Days of history ending at `end`.
    pub days: u32,
    /// Reload even when the line tables already hold data (truncates them).
    pub force: bool,
    /// The plant's zone (shifts are local times).
    pub timezone: Tz,
    /// Zone of the DATETIME values written.
    pub data_timezone: Tz,
    /// End of the data (exclusive); None = now. Fix it for reproducible data.
    pub end: Option<DateTime<Utc>>,
    /// The shop floor as its operators leave it (`reasons`): most incidents'
    /// stops get the reason they would have entered, and one line has been
    /// stopped for the last half hour, waiting for one. Off, the detections
    /// are the simulation's alone and every stop is left unjustified.
    pub shop_floor: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: 42,
            size: DemoSize::Small,
            days: 90,
            force: false,
            timezone: chrono_tz::Europe::Madrid,
            data_timezone: chrono_tz::UTC,
            end: None,
            shop_floor: false,
        }
    }
}

/// How the detections reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMethod {
    LoadDataLocal,
    MultiRowInsert,
}

#[derive(Debug, Clone)]
pub struct LineLoad {
    pub line_id: i64,
    pub line_code: String,
    pub rows: u64,
    pub incidents: u64,
}

/// What [`load_demo`] did.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// True when data was already there and `force` was not set: nothing changed.
    pub skipped: bool,
    pub lines: Vec<LineLoad>,
    /// Detections loaded.
    pub rows: u64,
    pub incidents: u64,
    /// Wall time of the whole load.
    pub seconds: f64,
    pub method: Option<LoadMethod>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl DemoReport {
    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.rows as f64 / self.seconds
        } else {
            0.0
        }
    }
}

const CHUNK_ROWS: usize = 500_000;
const INSERT_ROWS: usize = 10_000;
const MONTHS_AHEAD: u32 = 3;

/// Writes the demo plant into the client database `db_name` (created with the
/// reference schema if needed) and loads its detections. Idempotent: when the
/// line tables already hold data and `force` is false, nothing changes and the
/// report says `skipped`. Refuses a database whose `production_line` holds
/// lines that are not the demo plant's.
pub async fn load_demo(conn: &mut Conn, db_name: &str, opts: &DemoOptions) -> Result<DemoReport> {
    let started = Instant::now();
    let db = quote_ident(db_name)?;
    if opts.days == 0 || opts.days > 3660 {
        return Err(SchemaError::Invalid(
            "--days must be between 1 and 3660".into(),
        ));
    }
    let end = opts.end.unwrap_or_else(Utc::now);
    let end = DateTime::from_timestamp(end.timestamp(), 0).unwrap_or(end);
    let start = end - Duration::days(i64::from(opts.days));
    let lines = plant::lines();

    schema::provision_client(conn, db_name, true).await?;
    check_foreign_lines(conn, &db, &lines).await?;

    let mut has_data = false;
    for line in &lines {
        let table = schema::detection_table(line.code)?;
        if schema::table_exists(conn, db_name, &table).await? {
            let any: Option<i64> = conn
                .query_first(format!("SELECT 1 FROM {db}.`{table}` LIMIT 1"))
                .await?;
            has_data |= any.is_some();
        }
    }
    if has_data && !opts.force {
        return Ok(DemoReport {
            skipped: true,
            lines: Vec::new(),
            rows: 0,
            incidents: 0,
            seconds: started.elapsed().as_secs_f64(),
            method: None,
            start,
            end,
        });
    }

    write_catalogs(conn, &db, opts.size).await?;
    let first_day = start.with_timezone(&opts.data_timezone).date_naive();
    for line in &lines {
        let table = schema::detection_table(line.code)?;
        if !schema::create_detection_table(conn, db_name, line.code, first_day, MONTHS_AHEAD)
            .await?
        {
            schema::ensure_partitions(conn, db_name, &table, MONTHS_AHEAD).await?;
        }
    }
    schema::provision_client(conn, db_name, true).await?;

    if has_data {
        for line in &lines {
            let detection = schema::detection_table(line.code)?;
            let downtime = schema::downtime_table(line.code)?;
            conn.query_drop(format!("TRUNCATE TABLE {db}.`{detection}`"))
                .await?;
            conn.query_drop(format!("TRUNCATE TABLE {db}.`{downtime}`"))
                .await?;
        }
    }
    // Stale derived state of earlier loads: incidents, the product's line state
    // (downtime watermarks) and rollups.
    let ids: Vec<String> = lines.iter().map(|l| l.line_id.to_string()).collect();
    conn.query_drop(format!(
        "DELETE FROM {db}.incident WHERE line_id IN ({})",
        ids.join(",")
    ))
    .await?;
    for table in [crate::line_state::TABLE, crate::query::rollup::TABLE] {
        conn.query_drop(format!("DELETE FROM {db}.`{table}`"))
            .await?;
    }

    let plan = Plan {
        seed: opts.seed,
        size: opts.size,
        tz: opts.timezone,
        start,
        end,
    };
    let (line_rows, incidents, method) =
        stream_detections(conn, db_name, &plan, opts.data_timezone).await?;
    insert_incidents(conn, &db, &incidents, opts.data_timezone).await?;
    if opts.shop_floor {
        reasons::leave_a_line_stopped(conn, db_name, &lines, opts.data_timezone, end).await?;
        let reasons = reasons::queue(
            conn,
            db_name,
            &lines,
            &incidents,
            opts.data_timezone,
            end,
            opts.seed,
        )
        .await?;
        tracing::info!(
            reasons,
            incidents = incidents.len(),
            "demo stops' reasons waiting for the downtime job"
        );
    }
    for line in &lines {
        let table = schema::detection_table(line.code)?;
        conn.query_drop(format!("ANALYZE TABLE {db}.`{table}`"))
            .await?;
    }

    let report_lines: Vec<LineLoad> = lines
        .iter()
        .zip(line_rows.iter())
        .map(|(l, rows)| LineLoad {
            line_id: l.line_id,
            line_code: l.code.to_string(),
            rows: *rows,
            incidents: incidents.iter().filter(|i| i.line_id == l.line_id).count() as u64,
        })
        .collect();
    Ok(DemoReport {
        skipped: false,
        rows: line_rows.iter().sum(),
        incidents: incidents.len() as u64,
        lines: report_lines,
        seconds: started.elapsed().as_secs_f64(),
        method: Some(method),
        start,
        end,
    })
}

async fn check_foreign_lines(conn: &mut Conn, db: &str, lines: &[plant::DemoLine]) -> Result<()> {
    let existing: Vec<(i64, String)> = conn
        .query(format!(
            "SELECT line_id, line_name FROM {db}.production_line ORDER BY line_id"
        ))
        .await?;
    for (id, name) in existing {
        if !lines.iter().any(|l| l.line_id == id && l.line_name == name) {
            return Err(SchemaError::Conflict(format!(
                "the client database already has production line {id} ({name:?}), which is not the demo plant's: \
                 demo-data only fills an empty client database (or one it filled before)"
            )));
        }
    }
    Ok(())
}

async fn write_catalogs(conn: &mut Conn, db: &str, size: DemoSize) -> Result<()> {
    let scale = size.speed_scale();
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    for l in plant::lines() {
        let (thr, micro) = match l.stored_thresholds(size) {
            Some((t, m)) => (Some(t), Some(m)),
            None => (None, None),
        };
        tx.exec_drop(
            format!(
                "INSERT INTO {db}.production_line (line_id, line_name, line_code, is_active, downtime_threshold_seconds, micro_stop_seconds) \
                 VALUES (?, ?, ?, 1, ?, ?) ON DUPLICATE KEY UPDATE line_name = VALUES(line_name), line_code = VALUES(line_code), \
                 is_active = 1, downtime_threshold_seconds = VALUES(downtime_threshold_seconds), micro_stop_seconds = VALUES(micro_stop_seconds)"
            ),
            (l.line_id, l.line_name, l.stored_code, thr, micro),
        )
        .await?;
        for (area_id, name, kind) in l.areas {
            tx.exec_drop(
                format!(
                    "INSERT INTO {db}.area (area_id, line_id, area_name, area_type) VALUES (?, ?, ?, ?) \
                     ON DUPLICATE KEY UPDATE line_id = VALUES(line_id), area_name = VALUES(area_name), area_type = VALUES(area_type)"
                ),
                (area_id, l.line_id, name, kind),
            )
            .await?;
        }
    }
    for p in plant::PRODUCTS {
        let ict = p.ideal_cycle_time.map(|c| format!("{:.3}", c * scale));
        tx.exec_drop(
            format!(
                "INSERT INTO {db}.product (product_id, product_name, product_code, ideal_cycle_time_seconds) VALUES (?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE product_name = VALUES(product_name), product_code = VALUES(product_code), \
                 ideal_cycle_time_seconds = VALUES(ideal_cycle_time_seconds)"
            ),
            (p.product_id, p.product_name, p.product_code, ict),
        )
        .await?;
    }
    for s in plant::SHIFTS {
        let days = s
            .days
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(",");
        tx.exec_drop(
            format!(
                "INSERT INTO {db}.shift (shift_id, shift_name, start_time, end_time, days_of_week, is_active) VALUES (?, ?, ?, ?, ?, 1) \
                 ON DUPLICATE KEY UPDATE shift_name = VALUES(shift_name), start_time = VALUES(start_time), end_time = VALUES(end_time), \
                 days_of_week = VALUES(days_of_week), is_active = 1"
            ),
            (s.shift_id, s.shift_name, s.start, s.end, days),
        )
        .await?;
        for (break_id, name, bs, be) in s.breaks {
            tx.exec_drop(
                format!(
                    "INSERT INTO {db}.shift_break (break_id, shift_id, break_name, start_time, end_time) VALUES (?, ?, ?, ?, ?) \
                     ON DUPLICATE KEY UPDATE shift_id = VALUES(shift_id), break_name = VALUES(break_name), \
                     start_time = VALUES(start_time), end_time = VALUES(end_time)"
                ),
                (break_id, s.shift_id, name, bs, be),
            )
            .await?;
        }
    }
    for (id, code, name, category, active) in plant::FAILURES {
        tx.exec_drop(
            format!(
                "INSERT INTO {db}.failure (failure_id, failure_code, failure_name, failure_category, is_active) VALUES (?, ?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE failure_code = VALUES(failure_code), failure_name = VALUES(failure_name), \
                 failure_category = VALUES(failure_category), is_active = VALUES(is_active)"
            ),
            (id, code, name, category, active),
        )
        .await?;
    }
    for (id, name, status, default_value, additional, order) in plant::filters() {
        tx.exec_drop(
            format!(
                "INSERT INTO {db}.filter (filter_id, filter_name, filter_status, default_value, additional_filter, display_order) \
                 VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE filter_name = VALUES(filter_name), filter_status = VALUES(filter_status), \
                 default_value = VALUES(default_value), additional_filter = VALUES(additional_filter), display_order = VALUES(display_order)"
            ),
            (id, name, status, default_value.to_string(), additional.to_string(), order),
        )
        .await?;
    }
    for (key, value, description) in plant::system_config(size) {
        tx.exec_drop(
            format!(
                "INSERT INTO {db}.system_config (config_key, config_value, description) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE config_value = VALUES(config_value), description = VALUES(description)"
            ),
            (key, value, description),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A block of CSV rows for one line.
struct Chunk {
    line: usize,
    rows: u64,
    csv: Vec<u8>,
}

fn push_num(buf: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = tmp.len() - i;
    for _ in digits..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn naive_in(data_tz: Tz, at_ms: i64) -> NaiveDateTime {
    let utc = DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    if data_tz == chrono_tz::UTC {
        utc.naive_utc()
    } else {
        utc.with_timezone(&data_tz).naive_local()
    }
}

/// `id,YYYY-MM-DD HH:MM:SS.mmm,area,product\n`
fn push_csv_row(buf: &mut Vec<u8>, id: u64, row: &Row, data_tz: Tz) {
    let t = naive_in(data_tz, row.at_ms);
    push_num(buf, id, 0);
    buf.push(b',');
    push_num(buf, t.year().max(0) as u64, 4);
    buf.push(b'-');
    push_num(buf, u64::from(t.month()), 2);
    buf.push(b'-');
    push_num(buf, u64::from(t.day()), 2);
    buf.push(b' ');
    push_num(buf, u64::from(t.hour()), 2);
    buf.push(b':');
    push_num(buf, u64::from(t.minute()), 2);
    buf.push(b':');
    push_num(buf, u64::from(t.second()), 2);
    buf.push(b'.');
    push_num(buf, u64::from(t.nanosecond() / 1_000_000), 3);
    buf.push(b',');
    push_num(buf, row.area_id as u64, 0);
    buf.push(b',');
    push_num(buf, row.product_id as u64, 0);
    buf.push(b'\n');
}

fn temp_csv_path() -> PathBuf {
    let nonce: u64 = rand::random();
    std::env::temp_dir().join(format!(
        "dashctl-demo-{}-{nonce:016x}.csv",
        std::process::id()
    ))
}

const ER_NOT_ALLOWED_COMMAND: u16 = 1148;
const ER_CLIENT_LOCAL_FILES_DISABLED: u16 = 3948;
const ER_LOAD_INFILE_CAPABILITY_DISABLED: u16 = 4166;

fn local_infile_refused(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Server(s) => matches!(
            s.code,
            ER_NOT_ALLOWED_COMMAND
                | ER_CLIENT_LOCAL_FILES_DISABLED
                | ER_LOAD_INFILE_CAPABILITY_DISABLED
        ),
        mysql_async::Error::Other(_) => true,
        _ => false,
    }
}

/// Loads every line at once (one generator thread and one connection per
/// line; the server parses and indexes on as many cores). Returns rows per
/// line, the incidents and the method used.
async fn stream_detections(
    conn: &mut Conn,
    db_name: &str,
    plan: &Plan,
    data_tz: Tz,
) -> Result<(Vec<u64>, Vec<Incident>, LoadMethod)> {
    let lines = plant::lines();
    let mut tasks = Vec::new();
    for (idx, _) in lines.iter().enumerate() {
        let opts = conn.opts().clone();
        let db_name = db_name.to_string();
        let plan = plan.clone();
        tasks.push(tokio::spawn(async move {
            load_line(opts, &db_name, &plan, idx, data_tz).await
        }));
    }
    let mut counts = Vec::new();
    let mut incidents = Vec::new();
    let mut method = LoadMethod::LoadDataLocal;
    let mut failure = None;
    for task in tasks {
        match task.await {
            Ok(Ok((rows, mut inc, m))) => {
                counts.push(rows);
                incidents.append(&mut inc);
                if m == LoadMethod::MultiRowInsert {
                    method = m;
                }
            }
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => {
                failure = failure.or(Some(SchemaError::Schema(format!(
                    "demo loader failed: {e}"
                ))))
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok((counts, incidents, method))
}

/// One line: a generator thread formats CSV chunks, this task loads them.
async fn load_line(
    opts: mysql_async::Opts,
    db_name: &str,
    plan: &Plan,
    idx: usize,
    data_tz: Tz,
) -> Result<(u64, Vec<Incident>, LoadMethod)> {
    let line = plant::lines()
        .into_iter()
        .nth(idx)
        .ok_or_else(|| SchemaError::Schema(format!("no demo line {idx}")))?;
    let table = schema::detection_table(line.code)?;
    let path = temp_csv_path();
    let opts = OptsBuilder::from_opts(opts)
        .db_name(Some(db_name.to_string()))
        .local_infile_handler(Some(WhiteListFsHandler::new([path.clone()])));
    let mut load_conn = Conn::new(opts).await?;
    // The tables are empty (new or truncated): lets MariaDB take its bulk-load path.
    load_conn
        .query_drop("SET SESSION unique_checks = 0, foreign_key_checks = 0")
        .await?;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(2);
    let gen_plan = plan.clone();
    let generator = tokio::task::spawn_blocking(move || {
        let mut incidents = Vec::new();
        let mut aborted = false;
        let mut next_id: u64 = 1;
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_ROWS * 36);
        let mut in_buf: u64 = 0;
        generate::simulate_line(
            &gen_plan,
            &line,
            |rows| {
                if aborted {
                    return;
                }
                for r in rows {
                    push_csv_row(&mut buf, next_id, r, data_tz);
                    next_id += 1;
                }
                in_buf += rows.len() as u64;
                if in_buf as usize >= CHUNK_ROWS {
                    let csv = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK_ROWS * 36));
                    aborted = tx
                        .blocking_send(Chunk {
                            line: idx,
                            rows: in_buf,
                            csv,
                        })
                        .is_err();
                    in_buf = 0;
                }
            },
            &mut incidents,
        );
        if in_buf > 0 && !aborted {
            let _ = tx.blocking_send(Chunk {
                line: idx,
                rows: in_buf,
                csv: buf,
            });
        }
        incidents
    });

    let mut method = LoadMethod::LoadDataLocal;
    let mut count = 0u64;
    let mut failure: Option<SchemaError> = None;
    while let Some(chunk) = rx.recv().await {
        debug_assert_eq!(chunk.line, idx);
        if let Err(e) = load_chunk(
            &mut load_conn,
            &mut method,
            &path,
            db_name,
            &table,
            &chunk.csv,
        )
        .await
        {
            failure = Some(e);
            break;
        }
        count += chunk.rows;
    }
    drop(rx);
    let _ = tokio::fs::remove_file(&path).await;
    let incidents = generator
        .await
        .map_err(|e| SchemaError::Schema(format!("demo generator failed: {e}")))?;
    let _ = load_conn.disconnect().await;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok((count, incidents, method))
}

async fn load_chunk(
    conn: &mut Conn,
    method: &mut LoadMethod,
    path: &std::path::Path,
    db_name: &str,
    table: &str,
    csv: &[u8],
) -> Result<()> {
    let db = quote_ident(db_name)?;
    if *method == LoadMethod::LoadDataLocal {
        tokio::fs::write(path, csv)
            .await
            .map_err(|e| SchemaError::Schema(format!("cannot write {}: {e}", path.display())))?;
        let quoted = path
            .to_string_lossy()
            .replace('\\', "\\\\")
            .replace('\'', "\\'");
        let sql = format!(
            "LOAD DATA LOCAL INFILE '{quoted}' INTO TABLE {db}.`{table}` CHARACTER SET utf8mb4 \
             FIELDS TERMINATED BY ',' LINES TERMINATED BY '\\n' (detection_id, detected_at, area_id, product_id)"
        );
        match conn.query_drop(sql).await {
            Ok(()) => return Ok(()),
            Err(e) if local_infile_refused(&e) => {
                tracing::info!(
                    "LOAD DATA LOCAL INFILE refused ({e}); loading with multi-row INSERTs"
                );
                *method = LoadMethod::MultiRowInsert;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let text = std::str::from_utf8(csv).map_err(|e| SchemaError::Schema(e.to_string()))?;
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    let head = format!(
        "INSERT INTO {db}.`{table}` (detection_id, detected_at, area_id, product_id) VALUES "
    );
    let mut sql = String::with_capacity(INSERT_ROWS * 40 + head.len());
    let mut n = 0;
    for line in text.lines() {
        let mut f = line.splitn(4, ',');
        let (Some(id), Some(at), Some(area), Some(product)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        if n == 0 {
            sql.push_str(&head);
        } else {
            sql.push(',');
        }
        sql.push_str(&format!("({id},'{at}',{area},{product})"));
        n += 1;
        if n == INSERT_ROWS {
            tx.query_drop(std::mem::take(&mut sql)).await?;
            n = 0;
        }
    }
    if n > 0 {
        tx.query_drop(sql).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn insert_incidents(
    conn: &mut Conn,
    db: &str,
    incidents: &[Incident],
    data_tz: Tz,
) -> Result<()> {
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    for batch in incidents.chunks(500) {
        let placeholders = vec!["(?, ?, ?, ?, ?, ?)"; batch.len()].join(", ");
        let mut params: Vec<Value> = Vec::with_capacity(batch.len() * 6);
        for i in batch {
            params.push(i.failure_id.into());
            params.push(i.line_id.into());
            params.push(naive_in(data_tz, i.start_ms).into());
            params.push(naive_in(data_tz, i.end_ms).into());
            params.push(i.description.clone().into());
            params.push(i.reported_by.clone().into());
        }
        tx.exec_drop(
            format!(
                "INSERT INTO {db}.incident (failure_id, line_id, start_time, end_time, description, reported_by) VALUES {placeholders}"
            ),
            params,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The demo plant as JSON (for `--help`-style summaries and docs).
pub fn describe() -> serde_json::Value {
    json!({
        "lines": plant::lines().iter().map(|l| json!({"line_id": l.line_id, "line_name": l.line_name, "code": l.code})).collect::<Vec<_>>(),
        "products": plant::PRODUCTS.iter().map(|p| json!({"product_id": p.product_id, "name": p.product_name, "ideal_cycle_time": p.ideal_cycle_time})).collect::<Vec<_>>(),
        "shifts": plant::SHIFTS.iter().map(|s| json!({"shift_id": s.shift_id, "name": s.shift_name, "start": s.start.format("%H:%M").to_string(), "end": s.end.format("%H:%M").to_string(), "days": s.days})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_formatted() {
        let mut buf = Vec::new();
        let at = DateTime::parse_from_rfc3339("2026-03-29T00:59:59.007Z")
            .unwrap()
            .timestamp_millis();
        push_csv_row(
            &mut buf,
            12,
            &Row {
                at_ms: at,
                area_id: 3,
                product_id: 1,
            },
            chrono_tz::UTC,
        );
        push_csv_row(
            &mut buf,
            13,
            &Row {
                at_ms: at,
                area_id: 3,
                product_id: 1,
            },
            chrono_tz::Europe::Madrid,
        );
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "12,2026-03-29 00:59:59.007,3,1\n13,2026-03-29 01:59:59.007,3,1\n"
        );
    }

    #[test]
    fn sizes_parse() {
        assert_eq!("small".parse::<DemoSize>(), Ok(DemoSize::Small));
        assert_eq!("large".parse::<DemoSize>(), Ok(DemoSize::Large));
        assert!("huge".parse::<DemoSize>().is_err());
    }
}
