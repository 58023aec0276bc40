//! The database-backed downtime engine (docs/downtime.md#downtime): per line, the output-area
//! detections streamed through the [`Detector`] in keyset pages, each page's
//! stops written together with the watermark in one transaction, under a
//! per-line advisory lock so two runs never overlap.
//!
//! * [`run_incremental`] resumes after the stored watermark and processes
//!   everything up to the newest detection present when it starts. Killed at
//!   any point, the next run continues from the last committed page and the
//!   table ends up exactly as one uninterrupted run leaves it.
//! * [`recompute`] replays a window of already-processed detections (late
//!   data) and reconciles the stored stops with the result: unchanged stops
//!   keep their row and justification, changed ones are replaced, and the
//!   justified stops that changed are reported.
//! * [`open_stop`] says whether the line is "stopped since" its newest
//!   detection.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use mysql_async::{Conn, TxOpts};
use serde::Serialize;

use super::clock::{ms_to_utc, DataClock};
use super::detections::DetectionReader;
use super::detector::{Detection, Detector, DetectorError, Event, Thresholds};
use super::events::{self, EventRow, StopRow};
use super::reconcile::reconcile;
use super::running;
use super::store::{self, fmt_naive, min_datetime, Key, LineTables, Watermark};
use super::{DEFAULT_DOWNTIME_THRESHOLD_MS, DEFAULT_MICRO_STOP_MS};
use crate::error::{AppError, AppResult};
use crate::metadata::{Line, TenantMetadata};
use crate::tenancy::Tenant;

/// Detections per keyset page (and per committed transaction).
pub const DEFAULT_PAGE_SIZE: usize = 50_000;

/// Everything the engine needs to know about one line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineSpec {
    pub line_id: i64,
    pub line_name: String,
    pub line_code: String,
    pub is_active: bool,
    /// Areas whose detections are the line's output; empty = nothing to compute.
    pub output_areas: Vec<i64>,
    pub thresholds: Thresholds,
    /// Zone of the client's DATETIME values.
    pub data_tz: Tz,
    /// The plant's zone (API times are shown in it).
    pub plant_tz: Tz,
}

impl LineSpec {
    /// The line as the tenant's metadata describes it; `NotFound` for an
    /// unknown line id.
    pub fn from_metadata(
        meta: &TenantMetadata,
        tenant: &Tenant,
        line_id: i64,
    ) -> AppResult<LineSpec> {
        let line = meta.line(line_id).ok_or(AppError::NotFound)?;
        let output_areas = meta
            .areas_of_line(line_id)
            .filter(|a| a.area_type.eq_ignore_ascii_case("output"))
            .map(|a| a.area_id)
            .collect();
        Ok(LineSpec {
            line_id,
            line_name: line.line_name.clone(),
            line_code: line.line_code.clone(),
            is_active: line.is_active,
            output_areas,
            thresholds: thresholds_for(meta, line)?,
            data_tz: tenant.data_timezone(),
            plant_tz: tenant.timezone(),
        })
    }

    pub fn tables(&self, db_name: &str) -> AppResult<LineTables> {
        LineTables::new(db_name, self.line_id, &self.line_code, &self.output_areas)
    }
}

/// The line's thresholds: its own columns, else `system_config`, else the
/// defaults of docs/operations.md#configuration (120 s and 20 s). A micro-stop limit above the stop
/// threshold is capped at it.
pub fn thresholds_for(meta: &TenantMetadata, line: &Line) -> AppResult<Thresholds> {
    let system = |key: &str, default_ms: i64| {
        meta.config_number(key)
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| (v * 1000.0).round() as i64)
            .unwrap_or(default_ms)
    };
    let threshold = match line.downtime_threshold_seconds {
        Some(s) => s.saturating_mul(1000),
        None => system("downtime_threshold_seconds", DEFAULT_DOWNTIME_THRESHOLD_MS),
    };
    let micro = match line.micro_stop_seconds {
        Some(s) => s.saturating_mul(1000),
        None => system("micro_stop_seconds", DEFAULT_MICRO_STOP_MS),
    };
    Thresholds::new(threshold, micro.clamp(0, threshold.max(0))).map_err(|e| {
        AppError::validation(
            "downtime_threshold_seconds",
            format!(
                "line {} has unusable downtime thresholds: {e}",
                line.line_id
            ),
        )
    })
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Detections per keyset page and per transaction.
    pub page_size: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// What an incremental run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub line_id: i64,
    pub detections: u64,
    pub stops: u64,
    pub micro_stops: u64,
    /// Transactions committed (one per non-empty page).
    pub pages: u64,
    pub watermark: Option<Watermark>,
    pub duration_ms: u64,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunOutcome {
    Done(RunReport),
    /// Another run holds the line's lock; nothing was done.
    Busy,
    /// Nothing to compute (e.g. the line has no output area).
    Skipped {
        reason: String,
    },
}

fn skip_reason(spec: &LineSpec) -> Option<String> {
    spec.output_areas.is_empty().then(|| {
        format!(
            "line {} has no output area (area_type = 'output'): there is nothing to detect stops from",
            spec.line_id
        )
    })
}

/// Releases the line's advisory lock; a failure is only logged (closing or
/// resetting the connection releases it too). If a run's future is dropped
/// half-way (a killed process), the connection going away releases it.
async fn unlock(conn: &mut Conn, name: &str, line_id: i64) {
    if let Err(e) = store::release_lock(conn, name).await {
        tracing::warn!(line_id, error = %e, "could not release the downtime lock (the connection will)");
    }
}

/// Processes the line's detections that came after its watermark, committing
/// stops and watermark page by page.
pub async fn run_incremental(
    conn: &mut Conn,
    db_name: &str,
    spec: &LineSpec,
    opts: &EngineOptions,
) -> AppResult<RunOutcome> {
    if let Some(reason) = skip_reason(spec) {
        return Ok(RunOutcome::Skipped { reason });
    }
    let tables = spec.tables(db_name)?;
    let name = store::lock_name(db_name, spec.line_id);
    if !store::try_lock(conn, &name).await? {
        return Ok(RunOutcome::Busy);
    }
    let result = incremental_locked(conn, &tables, spec, opts).await;
    unlock(conn, &name, spec.line_id).await;
    result.map(RunOutcome::Done)
}

/// State of one pass of the detector over a range of detections.
struct Pass {
    detector: Detector,
    clock: DataClock,
    prev: Option<NaiveDateTime>,
    last: Option<Key>,
    failure: Option<DetectorError>,
    detections: u64,
}

impl Pass {
    fn new(seed: Option<(Key, i64)>, thresholds: Thresholds, data_tz: Tz) -> Pass {
        Pass {
            detector: Detector::resume(seed.map(|(k, at)| Detection::new(k.id, at)), thresholds),
            clock: DataClock::new(data_tz),
            prev: seed.map(|(k, _)| k.at),
            last: seed.map(|(k, _)| k),
            failure: None,
            detections: 0,
        }
    }

    /// Feeds one detection; a stop it ends goes to `out` (with its event).
    fn feed(&mut self, id: i64, at: NaiveDateTime, out: &mut Vec<(EventRow, Event)>) {
        if self.failure.is_some() {
            return;
        }
        let ms = self.clock.to_ms(&at);
        match self.detector.push_clamped(Detection::new(id, ms)) {
            Ok(Some(ev)) => {
                if let Some(start) = self.prev {
                    out.push((
                        EventRow {
                            start,
                            end: at,
                            duration_ms: ev.duration_ms,
                            detection_id: id,
                            is_micro: ev.is_micro,
                        },
                        ev,
                    ));
                }
            }
            Ok(None) => {}
            Err(e) => {
                self.failure = Some(e);
                return;
            }
        }
        self.prev = Some(at);
        self.last = Some(Key { at, id });
        self.detections += 1;
    }

    fn check(&mut self) -> AppResult<()> {
        match self.failure.take() {
            Some(e) => Err(AppError::internal(e)),
            None => Ok(()),
        }
    }

    /// The watermark after what was fed, if anything was ever fed or seeded.
    fn watermark(&self) -> Option<Watermark> {
        let key = self.last?;
        let d = self.detector.watermark()?;
        Some(Watermark {
            detection_id: key.id,
            detected_at: key.at,
            at_ms: d.at,
        })
    }
}

async fn incremental_locked(
    conn: &mut Conn,
    t: &LineTables,
    spec: &LineSpec,
    opts: &EngineOptions,
) -> AppResult<RunReport> {
    let started = Instant::now();
    let wm = store::load_watermark(conn, t).await?;
    let mut report = RunReport {
        line_id: spec.line_id,
        watermark: wm,
        ..RunReport::default()
    };
    let Some(newest) = store::max_detected_at(conn, t).await? else {
        report.duration_ms = started.elapsed().as_millis() as u64;
        return Ok(report);
    };
    let lower = wm.map(|w| w.key()).unwrap_or_else(Key::min);
    let mut reader = DetectionReader::new(t, lower, Key::end_of(newest), opts.page_size);
    let mut pass = Pass::new(
        wm.map(|w| (w.key(), w.at_ms)),
        spec.thresholds,
        spec.data_tz,
    );
    let mut found: Vec<(EventRow, Event)> = Vec::new();
    let mut rows: Vec<EventRow> = Vec::new();
    loop {
        found.clear();
        let n = reader
            .next_page(conn, |id, at| pass.feed(id, at, &mut found))
            .await?;
        pass.check()?;
        if n == 0 {
            break;
        }
        let Some(new_wm) = pass.watermark() else {
            break;
        };
        rows.clear();
        rows.extend(found.iter().map(|(r, _)| *r));
        let mut tx = conn.start_transaction(TxOpts::default()).await?;
        events::insert_events(&mut tx, &t.events, t.line_id, &rows).await?;
        store::save_watermark(&mut tx, t, Some(&new_wm)).await?;
        running::settle(
            &mut tx,
            &t.db_name,
            t.line_id,
            &t.events,
            new_wm.detected_at,
        )
        .await?;
        tx.commit().await?;
        report.pages += 1;
        report.detections += n as u64;
        report.micro_stops += rows.iter().filter(|r| r.is_micro).count() as u64;
        report.stops += rows.iter().filter(|r| !r.is_micro).count() as u64;
        report.watermark = Some(new_wm);
        if reader.is_done() {
            break;
        }
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// A justified stop that a recomputation changed or removed.
#[derive(Debug, Clone)]
pub struct ChangedJustified {
    /// The row as it was (now deleted).
    pub old: StopRow,
    /// The new stops overlapping it (empty: it disappeared).
    pub replaced_by: Vec<EventRow>,
}

/// What a recomputation did.
#[derive(Debug, Clone, Default)]
pub struct RecomputeReport {
    pub line_id: i64,
    /// Stored wall times of the detections the replay started after and ended
    /// with (`None`: nothing was replayed).
    pub replayed_from: Option<NaiveDateTime>,
    pub replayed_to: Option<NaiveDateTime>,
    pub detections: u64,
    /// Unchanged stops (their justification kept).
    pub kept: usize,
    pub deleted: usize,
    pub inserted: usize,
    /// Unchanged stops now ended by another detection at the same time.
    pub relinked: usize,
    pub changed_justified: Vec<ChangedJustified>,
    pub watermark: Option<Watermark>,
    /// Why nothing (or less than asked) was replayed.
    pub note: Option<String>,
    pub duration_ms: u64,
}

/// The counts of a recomputation, as the job summary and the API report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecomputeCounts {
    pub detections: u64,
    pub kept: usize,
    pub deleted: usize,
    pub inserted: usize,
    pub relinked: usize,
}

impl RecomputeReport {
    pub fn counts(&self) -> RecomputeCounts {
        RecomputeCounts {
            detections: self.detections,
            kept: self.kept,
            deleted: self.deleted,
            inserted: self.inserted,
            relinked: self.relinked,
        }
    }
}

#[derive(Debug, Clone)]
pub enum RecomputeOutcome {
    Done(RecomputeReport),
    Busy,
    Skipped { reason: String },
}

/// Recomputes the stops of `[from, to)` from the detections now present —
/// for late data. Only detections up to the watermark are replayed (what
/// comes after it is the incremental run's work; run it afterwards). The
/// replay starts at the detection before `from` (earlier when a stored stop
/// spans it) and ends at the first detection at or after `to` (later when a
/// stored stop spans it), so the stored rows and the replayed events cover
/// the same gaps. Everything is written in one transaction.
pub async fn recompute(
    conn: &mut Conn,
    db_name: &str,
    spec: &LineSpec,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    opts: &EngineOptions,
) -> AppResult<RecomputeOutcome> {
    if let Some(reason) = skip_reason(spec) {
        return Ok(RecomputeOutcome::Skipped { reason });
    }
    let tables = spec.tables(db_name)?;
    let name = store::lock_name(db_name, spec.line_id);
    if !store::try_lock(conn, &name).await? {
        return Ok(RecomputeOutcome::Busy);
    }
    let result = recompute_locked(conn, &tables, spec, from, to, opts).await;
    unlock(conn, &name, spec.line_id).await;
    result.map(RecomputeOutcome::Done)
}

async fn recompute_locked(
    conn: &mut Conn,
    t: &LineTables,
    spec: &LineSpec,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    opts: &EngineOptions,
) -> AppResult<RecomputeReport> {
    let started = Instant::now();
    let mut clock = DataClock::new(spec.data_tz);
    let mut report = RecomputeReport {
        line_id: spec.line_id,
        ..RecomputeReport::default()
    };
    let Some(wm) = store::load_watermark(conn, t).await? else {
        report.note = Some("the line was never processed: the incremental run computes it".into());
        return Ok(report);
    };
    report.watermark = Some(wm);
    let from_n = clock.to_naive(from);
    if from_n > wm.detected_at {
        report.note = Some(format!(
            "the window starts after the newest processed detection ({}): the incremental run computes it",
            fmt_naive(&wm.detected_at)
        ));
        return Ok(report);
    }

    // Start: the detection before `from`, or the start of a stop spanning it.
    let mut anchor = store::detection_before(conn, t, Key::start_of(from_n), false).await?;
    if let Some(a) = anchor {
        if let Some((start, _)) = events::stop_spanning(conn, &t.events, a.at).await? {
            anchor = store::detection_before(conn, t, Key::end_of(start), true).await?;
        }
    }
    let anchor_at = anchor.map(|a| a.at).unwrap_or_else(min_datetime);

    // End: the first detection at or after `to`, moved past any stored stop
    // that would straddle it; never beyond the watermark.
    let wm_key = wm.key();
    let mut bound = to.map(|t| clock.to_naive(t)).unwrap_or(wm.detected_at);
    let final_key = loop {
        if bound >= wm.detected_at {
            break wm_key;
        }
        let f = match store::detection_at_or_after(conn, t, Key::start_of(bound)).await? {
            Some(f) if f < wm_key => f,
            _ => break wm_key,
        };
        match events::max_end_of_stops_starting_in(conn, &t.events, anchor_at, f.at).await? {
            Some(end) if end > f.at => bound = end,
            _ => break f,
        }
    };
    let to_wm = final_key == wm_key;

    let old_rows = events::stops_starting_in(conn, &t.events, anchor_at, final_key.at).await?;
    let seed = anchor.map(|a| (a, clock.to_ms(&a.at)));
    let mut pass = Pass::new(seed, spec.thresholds, spec.data_tz);
    let mut found: Vec<(EventRow, Event)> = Vec::new();
    let mut reader = DetectionReader::new(
        t,
        anchor.unwrap_or_else(Key::min),
        final_key,
        opts.page_size,
    );
    while reader
        .next_page(conn, |id, at| pass.feed(id, at, &mut found))
        .await?
        > 0
    {
        pass.check()?;
    }
    pass.check()?;
    report.detections = pass.detections;
    report.replayed_from = anchor.map(|a| a.at);
    report.replayed_to = pass.last.map(|k| k.at);

    let old: Vec<_> = old_rows.iter().map(|r| r.to_stored(&mut clock)).collect();
    let new: Vec<Event> = found.iter().map(|(_, e)| *e).collect();
    let by_start: HashMap<i64, EventRow> = found.iter().map(|(r, e)| (e.start_ms, *r)).collect();
    let plan = reconcile(&old, &new);
    let row_of = |e: &Event| {
        by_start
            .get(&e.start_ms)
            .copied()
            .ok_or_else(|| AppError::internal("recomputed stop lost its row"))
    };
    let inserts = plan
        .insert
        .iter()
        .map(row_of)
        .collect::<AppResult<Vec<_>>>()?;
    let new_wm = if to_wm { pass.watermark() } else { Some(wm) };
    let wm_changed = new_wm != Some(wm);

    if !plan.is_noop() || wm_changed {
        let mut tx = conn.start_transaction(TxOpts::default()).await?;
        events::delete_stops(&mut tx, &t.events, &plan.delete).await?;
        for k in plan.keep.iter().filter(|k| k.detection_id_changed) {
            events::set_stop_detection(&mut tx, &t.events, k.downtime_id, k.event.detection_id)
                .await?;
        }
        events::insert_events(&mut tx, &t.events, t.line_id, &inserts).await?;
        if wm_changed {
            store::save_watermark(&mut tx, t, new_wm.as_ref()).await?;
            if let Some(wm) = &new_wm {
                running::settle(&mut tx, &t.db_name, t.line_id, &t.events, wm.detected_at).await?;
            }
        }
        tx.commit().await?;
    }

    report.kept = plan.keep.len();
    report.relinked = plan.keep.iter().filter(|k| k.detection_id_changed).count();
    report.deleted = plan.delete.len();
    report.inserted = inserts.len();
    report.watermark = new_wm;
    for changed in &plan.changed_justified {
        let Some(old) = old_rows
            .iter()
            .find(|r| r.downtime_id == changed.old.downtime_id)
        else {
            continue;
        };
        let replaced_by = changed
            .replaced_by
            .iter()
            .map(row_of)
            .collect::<AppResult<Vec<_>>>()?;
        tracing::warn!(
            line_id = spec.line_id,
            downtime_id = old.downtime_id,
            start = %fmt_naive(&old.start),
            replaced_by = replaced_by.len(),
            "a justified stop changed on recomputation; its justification was not carried over"
        );
        report.changed_justified.push(ChangedJustified {
            old: old.clone(),
            replaced_by,
        });
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// The line is "stopped since" its newest output detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenStop {
    pub since: DateTime<Utc>,
    /// The stored wall time of that detection.
    pub since_naive: NaiveDateTime,
    /// `now − since`, ms.
    pub duration_ms: i64,
}

/// `Some` when the gap after the newest output detection exceeds the line's
/// threshold at `now` (docs/downtime.md#downtime); never stored.
pub async fn open_stop(
    conn: &mut Conn,
    db_name: &str,
    spec: &LineSpec,
    now: DateTime<Utc>,
) -> AppResult<Option<OpenStop>> {
    if spec.output_areas.is_empty() {
        return Ok(None);
    }
    let t = spec.tables(db_name)?;
    let Some(last) = store::max_detected_at(conn, &t).await? else {
        return Ok(None);
    };
    let mut clock = DataClock::new(spec.data_tz);
    let last_ms = clock.to_ms(&last);
    let detector = Detector::resume(Some(Detection::new(0, last_ms)), spec.thresholds);
    Ok(detector
        .open_stop(now.timestamp_millis())
        .map(|since_ms| OpenStop {
            since: ms_to_utc(since_ms),
            since_naive: last,
            duration_ms: now.timestamp_millis().saturating_sub(since_ms),
        }))
}

/// Records the outcome of a run in `dash_line_state` (`downtime_last_run`).
pub async fn record_last_run(
    conn: &mut Conn,
    db_name: &str,
    spec: &LineSpec,
    value: &serde_json::Value,
) -> AppResult<()> {
    crate::line_state::put(
        conn,
        db_name,
        spec.line_id,
        crate::line_state::DOWNTIME_LAST_RUN,
        &value.to_string(),
    )
    .await
}
