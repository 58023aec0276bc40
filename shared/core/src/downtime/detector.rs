//! The pure, streaming core of the downtime engine (docs/downtime.md#downtime).
//!
//! Detections of a line's output areas are walked in (`at`, `id`) order. For two
//! consecutive detections `a`, `b` with gap `g = b.at − a.at`:
//!
//! * `g > downtime_threshold` → a stop from `a.at` to `b.at`, ended by `b`;
//! * `micro_stop < g ≤ downtime_threshold` → a micro-stop (a performance loss);
//! * otherwise nothing.
//!
//! The [`Detector`] keeps only the previous detection (the *watermark*), so a
//! run uses constant memory however many detections it sees, and a later run
//! that [resumes](Detector::resume) from the stored watermark produces exactly
//! the events one uninterrupted run would have produced. Times are
//! milliseconds since the Unix epoch, UTC; the caller converts the client's
//! `DATETIME(3)` values (in the tenant's `data_timezone`) before feeding them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Default `downtime_threshold_seconds` (docs/operations.md#configuration): 120 s.
pub const DEFAULT_DOWNTIME_THRESHOLD_MS: i64 = 120_000;
/// Default `micro_stop_seconds` (docs/operations.md#configuration): 20 s.
pub const DEFAULT_MICRO_STOP_MS: i64 = 20_000;

/// What can go wrong while detecting stops.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectorError {
    /// A detection sorts before the watermark: it arrived late (or the input
    /// is not ordered by (`detected_at`, `detection_id`)). It is never folded
    /// in silently; recompute the window that contains it instead.
    #[error(
        "detection {} at {} ms is older than the watermark (detection {} at {} ms); \
         input must be ordered by (detected_at, detection_id) — recompute the window \
         to take late detections into account",
        got.id, got.at, watermark.id, watermark.at
    )]
    OutOfOrder {
        /// The newest detection processed so far.
        watermark: Detection,
        /// The detection that came after it but sorts before it.
        got: Detection,
    },
    /// The gap between two detections does not fit in an `i64` of milliseconds.
    #[error("gap between detection {} and detection {} overflows", from.id, to.id)]
    GapOverflow {
        /// The earlier detection.
        from: Detection,
        /// The later detection.
        to: Detection,
    },
    /// Thresholds that cannot classify a gap.
    #[error("invalid thresholds: {0}")]
    InvalidThresholds(String),
}

/// The two limits that classify a gap, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Thresholds {
    /// A gap strictly longer than this is a stop.
    pub downtime_threshold_ms: i64,
    /// A gap strictly longer than this (and not a stop) is a micro-stop.
    pub micro_stop_ms: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            downtime_threshold_ms: DEFAULT_DOWNTIME_THRESHOLD_MS,
            micro_stop_ms: DEFAULT_MICRO_STOP_MS,
        }
    }
}

impl Thresholds {
    /// Checked constructor: `0 ≤ micro_stop_ms ≤ downtime_threshold_ms` and
    /// `downtime_threshold_ms ≥ 1`.
    pub fn new(downtime_threshold_ms: i64, micro_stop_ms: i64) -> Result<Self, DetectorError> {
        let t = Self {
            downtime_threshold_ms,
            micro_stop_ms,
        };
        t.validate()?;
        Ok(t)
    }

    /// Checked constructor from whole seconds, as `system_config` and the
    /// `production_line` columns store them.
    pub fn from_seconds(
        downtime_threshold_seconds: i64,
        micro_stop_seconds: i64,
    ) -> Result<Self, DetectorError> {
        let ms = |s: i64, what: &str| {
            s.checked_mul(1000).ok_or_else(|| {
                DetectorError::InvalidThresholds(format!("{what} of {s} s is too large"))
            })
        };
        Self::new(
            ms(downtime_threshold_seconds, "downtime threshold")?,
            ms(micro_stop_seconds, "micro-stop threshold")?,
        )
    }

    /// Refuses thresholds that cannot classify gaps sensibly.
    pub fn validate(&self) -> Result<(), DetectorError> {
        if self.downtime_threshold_ms < 1 {
            return Err(DetectorError::InvalidThresholds(format!(
                "downtime threshold must be at least 1 ms, got {} ms",
                self.downtime_threshold_ms
            )));
        }
        if self.micro_stop_ms < 0 {
            return Err(DetectorError::InvalidThresholds(format!(
                "micro-stop threshold must not be negative, got {} ms",
                self.micro_stop_ms
            )));
        }
        if self.micro_stop_ms > self.downtime_threshold_ms {
            return Err(DetectorError::InvalidThresholds(format!(
                "micro-stop threshold ({} ms) must not exceed the downtime threshold ({} ms)",
                self.micro_stop_ms, self.downtime_threshold_ms
            )));
        }
        Ok(())
    }

    /// Classifies a gap: `Some(false)` a stop, `Some(true)` a micro-stop,
    /// `None` normal running.
    #[must_use]
    pub fn classify(&self, gap_ms: i64) -> Option<bool> {
        if gap_ms > self.downtime_threshold_ms {
            Some(false)
        } else if gap_ms > self.micro_stop_ms {
            Some(true)
        } else {
            None
        }
    }
}

/// One detection of an output area: its `detection_id` and `detected_at`
/// (milliseconds since the epoch, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Detection {
    /// `detection_id`.
    pub id: i64,
    /// `detected_at`, ms since the epoch, UTC.
    pub at: i64,
}

impl Detection {
    /// Builds a detection.
    #[must_use]
    pub const fn new(id: i64, at: i64) -> Self {
        Self { id, at }
    }

    /// The processing order: by time, then by id.
    #[must_use]
    pub const fn key(&self) -> (i64, i64) {
        (self.at, self.id)
    }
}

/// A stop or micro-stop found from one gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// Time of the last detection before the gap (ms, UTC).
    pub start_ms: i64,
    /// Time of the detection that ended the gap (ms, UTC).
    pub end_ms: i64,
    /// `end_ms − start_ms`.
    pub duration_ms: i64,
    /// The detection that ended the stop.
    pub detection_id: i64,
    /// A micro-stop (performance loss) rather than a stop.
    pub is_micro: bool,
}

impl Event {
    /// Duration in seconds, milliseconds kept as the fraction.
    #[must_use]
    pub fn duration_seconds(&self) -> f64 {
        // Exact for every duration below 2^53 ms (≈ 285,000 years).
        self.duration_ms as f64 / 1000.0
    }

    /// Same stop: same start, end and kind (the detection that ended it may
    /// differ when two detections share the end time).
    #[must_use]
    pub fn same_stop(&self, other: &Event) -> bool {
        self.start_ms == other.start_ms
            && self.end_ms == other.end_ms
            && self.is_micro == other.is_micro
    }
}

/// The streaming detector. Its whole state is the previous detection (the
/// watermark) and the thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detector {
    thresholds: Thresholds,
    last: Option<Detection>,
    processed: u64,
}

impl Detector {
    /// A detector for a line never processed before.
    #[must_use]
    pub fn new(thresholds: Thresholds) -> Self {
        Self::resume(None, thresholds)
    }

    /// Continues exactly where a previous run stopped: `watermark` is the
    /// newest detection that run processed (stored with its events in one
    /// transaction). Feed it the detections that sort after the watermark,
    /// i.e. `WHERE (detected_at, detection_id) > (wm.at, wm.id)`.
    #[must_use]
    pub fn resume(watermark: Option<Detection>, thresholds: Thresholds) -> Self {
        Self {
            thresholds,
            last: watermark,
            processed: 0,
        }
    }

    /// The thresholds in use.
    #[must_use]
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// The newest detection processed (what to store as the watermark).
    #[must_use]
    pub fn watermark(&self) -> Option<Detection> {
        self.last
    }

    /// How many detections this detector accepted since it was built.
    #[must_use]
    pub fn processed(&self) -> u64 {
        self.processed
    }

    /// Feeds the next detection; returns the stop or micro-stop it ends, if any.
    ///
    /// A detection that sorts before the watermark is refused with
    /// [`DetectorError::OutOfOrder`] and leaves the state unchanged. The
    /// watermark itself fed again is a zero gap and changes nothing, so
    /// re-reading it (an inclusive resume query) is harmless.
    pub fn push(&mut self, d: Detection) -> Result<Option<Event>, DetectorError> {
        let event = match self.last {
            None => None,
            Some(prev) => {
                if d.key() < prev.key() {
                    return Err(DetectorError::OutOfOrder {
                        watermark: prev,
                        got: d,
                    });
                }
                let gap =
                    d.at.checked_sub(prev.at)
                        .ok_or(DetectorError::GapOverflow { from: prev, to: d })?;
                self.thresholds.classify(gap).map(|is_micro| Event {
                    start_ms: prev.at,
                    end_ms: d.at,
                    duration_ms: gap,
                    detection_id: d.id,
                    is_micro,
                })
            }
        };
        self.last = Some(d);
        self.processed += 1;
        Ok(event)
    }

    /// Like [`Detector::push`], for a source whose *order* is authoritative
    /// but whose times may step back after conversion: naive local DATETIME
    /// values ordered by the database around a DST change (a wall time in
    /// the gap, or the repeated hour) can map to an instant before the
    /// previous one. Such a detection is taken at the watermark's time (a
    /// zero gap, no event) and becomes the watermark, instead of being
    /// refused. On well-ordered input it is exactly [`Detector::push`].
    pub fn push_clamped(&mut self, d: Detection) -> Result<Option<Event>, DetectorError> {
        match self.last {
            Some(prev) if d.key() < prev.key() => {
                self.last = Some(Detection::new(d.id, prev.at));
                self.processed += 1;
                Ok(None)
            }
            _ => self.push(d),
        }
    }

    /// Feeds every detection of `detections`, calling `sink` for each event
    /// as it is found (nothing is buffered). Stops at the first error; the
    /// detections before it stay processed.
    pub fn feed<I, F>(&mut self, detections: I, mut sink: F) -> Result<(), DetectorError>
    where
        I: IntoIterator<Item = Detection>,
        F: FnMut(Event),
    {
        for d in detections {
            if let Some(e) = self.push(d)? {
                sink(e);
            }
        }
        Ok(())
    }

    /// Feeds every detection of `detections` and collects the events.
    pub fn run<I>(&mut self, detections: I) -> Result<Vec<Event>, DetectorError>
    where
        I: IntoIterator<Item = Detection>,
    {
        let mut out = Vec::new();
        self.feed(detections, |e| out.push(e))?;
        Ok(out)
    }

    /// The open gap after the newest detection: `Some(since_ms)` (the time of
    /// that detection) when `now_ms − since_ms` exceeds the downtime
    /// threshold, i.e. the line is "stopped since". Never stored as an event.
    #[must_use]
    pub fn open_stop(&self, now_ms: i64) -> Option<i64> {
        let last = self.last?;
        (now_ms.saturating_sub(last.at) > self.thresholds.downtime_threshold_ms).then_some(last.at)
    }
}

/// One uninterrupted run over `detections` from scratch.
pub fn detect<I>(detections: I, thresholds: Thresholds) -> Result<Vec<Event>, DetectorError>
where
    I: IntoIterator<Item = Detection>,
{
    Detector::new(thresholds).run(detections)
}

/// What a person entered on a stop (docs/api.md#shapes stop shape).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Justification {
    /// The reason (`failure.failure_id`).
    pub failure_id: Option<i64>,
    /// Free text.
    pub justification: Option<String>,
    /// The user who justified it (`user.user_id`).
    pub justified_by: Option<i64>,
    /// When it was justified (ms, UTC).
    pub justified_at: Option<i64>,
}

impl Justification {
    /// Anything entered at all.
    #[must_use]
    pub fn is_justified(&self) -> bool {
        self.failure_id.is_some()
            || self.justification.is_some()
            || self.justified_by.is_some()
            || self.justified_at.is_some()
    }
}

/// A row of `downtime_events_<code>` as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// `downtime_id`.
    pub downtime_id: i64,
    /// The computed part.
    pub event: Event,
    /// The part a person entered.
    pub justification: Justification,
}

/// A stored stop that a recomputation leaves as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptEvent {
    /// The row kept.
    pub downtime_id: i64,
    /// The recomputed event (same start, end and kind as the row).
    pub event: Event,
    /// The row's justification, kept.
    pub justification: Justification,
    /// The ending detection differs (two detections share the end time):
    /// update the row's `detection_id` to `event.detection_id`.
    pub detection_id_changed: bool,
}

/// A justified stop that a recomputation changed or removed; its
/// justification is not carried over, so the API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedStop {
    /// The row as it was (deleted by the reconciliation).
    pub old: StoredEvent,
    /// The new events that start at or overlap the old stop's time (empty:
    /// the stop disappeared).
    pub replaced_by: Vec<Event>,
}

/// How to turn the stored rows of a window into the recomputed events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// Unchanged rows, with their justification.
    pub keep: Vec<KeptEvent>,
    /// `downtime_id`s of rows to delete (changed or gone).
    pub delete: Vec<i64>,
    /// New events to insert, without justification.
    pub insert: Vec<Event>,
    /// Justified rows among `delete`, with what replaced them.
    pub changed_justified: Vec<ChangedStop>,
}

impl Reconciliation {
    /// Nothing to write.
    #[must_use]
    pub fn is_noop(&self) -> bool {
        self.delete.is_empty()
            && self.insert.is_empty()
            && self.keep.iter().all(|k| !k.detection_id_changed)
    }
}

/// Compares the stored rows of a recomputed window (`old`) with the events
/// the recomputation found (`new`).
///
/// A stop is unchanged when a new event has the same start, end and kind
/// (`is_micro`); it keeps its row and justification. Every other old row is
/// deleted; every other new event is inserted. Apply deletes before inserts
/// (`start_time` is unique), all in one transaction. The caller passes the
/// rows whose `start_time` lies in the window and the events recomputed from
/// the detection before the window onward, so both sides cover the same gaps.
/// All lists come out ordered by start time.
#[must_use]
pub fn reconcile(old: &[StoredEvent], new: &[Event]) -> Reconciliation {
    // start → indices into `new` (a well-formed run has one event per start).
    let mut by_start: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, e) in new.iter().enumerate() {
        by_start.entry(e.start_ms).or_default().push(i);
    }
    let mut matched = vec![false; new.len()];

    let mut olds: Vec<&StoredEvent> = old.iter().collect();
    olds.sort_by_key(|o| (o.event.start_ms, o.downtime_id));

    let mut out = Reconciliation::default();
    for o in olds {
        let hit = by_start.get(&o.event.start_ms).and_then(|idx| {
            idx.iter()
                .copied()
                .find(|&i| !matched[i] && new[i].same_stop(&o.event))
        });
        if let Some(i) = hit {
            matched[i] = true;
            out.keep.push(KeptEvent {
                downtime_id: o.downtime_id,
                event: new[i],
                justification: o.justification.clone(),
                detection_id_changed: new[i].detection_id != o.event.detection_id,
            });
            continue;
        }
        out.delete.push(o.downtime_id);
        if o.justification.is_justified() {
            let replaced_by = new
                .iter()
                .filter(|n| {
                    n.start_ms == o.event.start_ms
                        || (n.start_ms < o.event.end_ms && o.event.start_ms < n.end_ms)
                })
                .copied()
                .collect();
            out.changed_justified.push(ChangedStop {
                old: o.clone(),
                replaced_by,
            });
        }
    }
    out.insert = new
        .iter()
        .zip(&matched)
        .filter(|(_, &m)| !m)
        .map(|(e, _)| *e)
        .collect();
    out.insert.sort_by_key(|e| (e.start_ms, e.end_ms));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    const T: Thresholds = Thresholds {
        downtime_threshold_ms: 120_000,
        micro_stop_ms: 20_000,
    };

    fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, milli: u32) -> i64 {
        let naive = NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_milli_opt(h, mi, s, milli))
            .expect("valid date");
        Utc.from_utc_datetime(&naive).timestamp_millis()
    }

    fn dets(ats: &[i64]) -> Vec<Detection> {
        ats.iter()
            .enumerate()
            .map(|(i, &at)| Detection::new(i as i64 + 1, at))
            .collect()
    }

    fn stop(start_ms: i64, end_ms: i64, detection_id: i64, is_micro: bool) -> Event {
        Event {
            start_ms,
            end_ms,
            duration_ms: end_ms - start_ms,
            detection_id,
            is_micro,
        }
    }

    #[test]
    fn defaults_are_spec_values() {
        let t = Thresholds::default();
        assert_eq!(t.downtime_threshold_ms, 120_000);
        assert_eq!(t.micro_stop_ms, 20_000);
        assert_eq!(Thresholds::from_seconds(120, 20), Ok(t));
    }

    #[test]
    fn bad_thresholds_are_refused() {
        assert!(Thresholds::new(0, 0).is_err());
        assert!(Thresholds::new(1000, -1).is_err());
        assert!(Thresholds::new(1000, 1001).is_err());
        assert!(Thresholds::new(1000, 1000).is_ok());
        assert!(Thresholds::from_seconds(i64::MAX, 0).is_err());
    }

    #[test]
    fn exactly_at_threshold_is_not_a_stop_but_a_micro_stop() {
        let base = ms(2026, 4, 1, 6, 0, 0, 0);
        let ev = detect(dets(&[base, base + 120_000]), T).unwrap();
        assert_eq!(ev, vec![stop(base, base + 120_000, 2, true)]);
    }

    #[test]
    fn one_ms_over_threshold_is_a_stop() {
        let base = ms(2026, 4, 1, 6, 0, 0, 0);
        let ev = detect(dets(&[base, base + 120_001]), T).unwrap();
        assert_eq!(ev, vec![stop(base, base + 120_001, 2, false)]);
        assert_eq!(ev[0].duration_seconds(), 120.001);
    }

    #[test]
    fn micro_stop_bounds() {
        let base = ms(2026, 4, 1, 6, 0, 0, 0);
        // exactly 20 s: nothing; 20.001 s: micro-stop.
        let ev = detect(dets(&[base, base + 20_000, base + 40_001]), T).unwrap();
        assert_eq!(ev, vec![stop(base + 20_000, base + 40_001, 3, true)]);
    }

    #[test]
    fn equal_timestamps_are_a_zero_gap() {
        let base = ms(2026, 4, 1, 6, 0, 0, 0);
        let d = vec![
            Detection::new(10, base),
            Detection::new(11, base),
            Detection::new(12, base),
            Detection::new(13, base + 200_000),
            Detection::new(14, base + 200_000),
        ];
        let ev = detect(d, T).unwrap();
        assert_eq!(ev, vec![stop(base, base + 200_000, 13, false)]);
    }

    #[test]
    fn across_midnight() {
        let a = ms(2026, 4, 1, 23, 58, 30, 250);
        let b = ms(2026, 4, 2, 0, 3, 0, 0);
        let ev = detect(dets(&[a - 5_000, a, b, b + 1_000]), T).unwrap();
        // 23:58:30.250 → 00:03:00.000 = 269.750 s
        assert_eq!(ev, vec![stop(a, b, 3, false)]);
        assert_eq!(ev[0].duration_ms, 269_750);
    }

    #[test]
    fn across_month_boundary() {
        let a = ms(2026, 1, 31, 23, 59, 0, 0);
        let b = ms(2026, 2, 1, 0, 1, 0, 1);
        let c = ms(2026, 2, 1, 0, 1, 30, 1);
        let ev = detect(dets(&[a, b, c]), T).unwrap();
        assert_eq!(
            ev,
            vec![stop(a, b, 2, false), stop(b, c, 3, true)],
            "120.001 s across Jan→Feb is a stop, then a 30 s micro-stop"
        );
        assert_eq!(ev[0].duration_ms, 120_001);
    }

    #[test]
    fn open_stop_at_the_end() {
        let a = ms(2026, 4, 1, 6, 0, 0, 0);
        let b = ms(2026, 4, 1, 6, 0, 10, 0);
        let mut det = Detector::new(T);
        let ev = det.run(dets(&[a, b])).unwrap();
        assert!(ev.is_empty(), "the open gap is not stored as finished");
        assert_eq!(det.open_stop(b + 120_000), None, "exactly at threshold");
        assert_eq!(det.open_stop(b + 120_001), Some(b));
        assert_eq!(det.open_stop(b + 3_600_000), Some(b));
        assert_eq!(det.open_stop(b - 1), None, "clock behind the data");
        assert_eq!(Detector::new(T).open_stop(b), None, "no detections at all");
        assert_eq!(
            Detector::resume(Some(Detection::new(2, b)), T).open_stop(i64::MAX),
            Some(b)
        );
        assert_eq!(
            Detector::resume(Some(Detection::new(2, i64::MAX)), T).open_stop(i64::MIN),
            None
        );
    }

    #[test]
    fn out_of_order_is_an_error_and_keeps_state() {
        let mut det = Detector::new(T);
        det.push(Detection::new(5, 1_000)).unwrap();
        det.push(Detection::new(6, 2_000)).unwrap();
        let err = det.push(Detection::new(4, 1_500)).unwrap_err();
        assert_eq!(
            err,
            DetectorError::OutOfOrder {
                watermark: Detection::new(6, 2_000),
                got: Detection::new(4, 1_500)
            }
        );
        assert!(err.to_string().contains("older than the watermark"));
        // Same time, smaller id also sorts before the watermark.
        assert!(det.push(Detection::new(5, 2_000)).is_err());
        assert_eq!(det.watermark(), Some(Detection::new(6, 2_000)));
        assert_eq!(det.processed(), 2);
        // The watermark itself again is harmless.
        assert_eq!(det.push(Detection::new(6, 2_000)), Ok(None));
        assert_eq!(det.watermark(), Some(Detection::new(6, 2_000)));
        // And the detector goes on.
        assert_eq!(
            det.push(Detection::new(7, 200_000)),
            Ok(Some(stop(2_000, 200_000, 7, false)))
        );
    }

    #[test]
    fn push_clamped_takes_a_step_back_as_a_zero_gap() {
        let mut det = Detector::new(T);
        det.push_clamped(Detection::new(5, 1_000)).unwrap();
        det.push_clamped(Detection::new(6, 2_000)).unwrap();
        // Sorts before the watermark: no event, no error, time held.
        assert_eq!(det.push_clamped(Detection::new(4, 1_500)), Ok(None));
        assert_eq!(det.watermark(), Some(Detection::new(4, 2_000)));
        assert_eq!(det.processed(), 3);
        // The gap is measured from the held time.
        assert_eq!(
            det.push_clamped(Detection::new(7, 202_000)),
            Ok(Some(stop(2_000, 202_000, 7, false)))
        );
        // Well-ordered input: same as push.
        let d = dets(&[0, 30_000, 300_000, 300_000, 301_000]);
        let mut a = Detector::new(T);
        let mut got = Vec::new();
        for x in &d {
            got.extend(a.push_clamped(*x).unwrap());
        }
        assert_eq!(got, detect(d, T).unwrap());
    }

    #[test]
    fn resume_refuses_a_detection_older_than_the_stored_watermark() {
        let mut det = Detector::resume(Some(Detection::new(100, 50_000)), T);
        assert!(matches!(
            det.push(Detection::new(99, 49_999)),
            Err(DetectorError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn gap_overflow_is_an_error_not_a_panic() {
        let mut det = Detector::new(T);
        det.push(Detection::new(1, i64::MIN)).unwrap();
        assert!(matches!(
            det.push(Detection::new(2, i64::MAX)),
            Err(DetectorError::GapOverflow { .. })
        ));
    }

    #[test]
    fn feed_streams_events() {
        let mut det = Detector::new(T);
        let mut seen = Vec::new();
        det.feed(dets(&[0, 30_000, 300_000]), |e| seen.push(e))
            .unwrap();
        assert_eq!(
            seen,
            vec![stop(0, 30_000, 2, true), stop(30_000, 300_000, 3, false)]
        );
        assert_eq!(det.processed(), 3);
    }

    #[test]
    fn watermark_roundtrips_through_json() {
        let d = Detection::new(42, 1_775_000_000_123);
        let s = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Detection>(&s).unwrap(), d);
    }

    fn stored(id: i64, e: Event, justified: bool) -> StoredEvent {
        StoredEvent {
            downtime_id: id,
            event: e,
            justification: if justified {
                Justification {
                    failure_id: Some(3),
                    justification: Some("cambio de formato".into()),
                    justified_by: Some(7),
                    justified_at: Some(1_000),
                }
            } else {
                Justification::default()
            },
        }
    }

    #[test]
    fn reconcile_keeps_unchanged_and_reports_changed() {
        let a = stop(0, 200_000, 2, false);
        let b = stop(300_000, 330_000, 4, true);
        let c = stop(400_000, 700_000, 6, false);
        let old = vec![stored(1, a, true), stored(2, b, false), stored(3, c, true)];
        // A late detection at 550 000 splits c into two stops; a is unchanged,
        // b is unchanged, and a new micro-stop appears.
        let c1 = stop(400_000, 550_000, 9, false);
        let c2 = stop(550_000, 700_000, 6, false);
        let d = stop(800_000, 830_000, 8, true);
        let new = vec![a, b, c1, c2, d];
        let r = reconcile(&old, &new);
        assert_eq!(
            r.keep.iter().map(|k| k.downtime_id).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(r.keep[0].justification.is_justified());
        assert_eq!(r.delete, vec![3]);
        assert_eq!(r.insert, vec![c1, c2, d]);
        assert_eq!(r.changed_justified.len(), 1);
        assert_eq!(r.changed_justified[0].old.downtime_id, 3);
        assert_eq!(r.changed_justified[0].replaced_by, vec![c1, c2]);
        assert!(!r.is_noop());
    }

    #[test]
    fn reconcile_kind_change_is_a_change() {
        let old = vec![stored(1, stop(0, 120_001, 2, false), true)];
        let new = vec![stop(0, 120_001, 2, true)];
        let r = reconcile(&old, &new);
        assert!(r.keep.is_empty());
        assert_eq!(r.delete, vec![1]);
        assert_eq!(r.insert, new);
        assert_eq!(r.changed_justified[0].replaced_by, new);
    }

    #[test]
    fn reconcile_vanished_and_unjustified() {
        let old = vec![
            stored(1, stop(0, 200_000, 2, false), true),
            stored(2, stop(300_000, 500_000, 4, false), false),
        ];
        let r = reconcile(&old, &[]);
        assert_eq!(r.delete, vec![1, 2]);
        assert!(r.insert.is_empty());
        assert_eq!(r.changed_justified.len(), 1, "only the justified one");
        assert!(r.changed_justified[0].replaced_by.is_empty());
    }

    #[test]
    fn reconcile_same_times_other_ending_detection_is_kept() {
        let old = vec![stored(1, stop(0, 200_000, 2, false), true)];
        let new = vec![stop(0, 200_000, 1_000, false)];
        let r = reconcile(&old, &new);
        assert_eq!(r.keep.len(), 1);
        assert!(r.keep[0].detection_id_changed);
        assert_eq!(r.keep[0].event.detection_id, 1_000);
        assert!(r.delete.is_empty() && r.insert.is_empty());
        assert!(!r.is_noop());
    }

    #[test]
    fn reconcile_identical_is_noop() {
        let evs = detect(dets(&[0, 30_000, 300_000, 301_000, 500_000]), T).unwrap();
        let old: Vec<_> = evs
            .iter()
            .enumerate()
            .map(|(i, e)| stored(i as i64 + 1, *e, i % 2 == 0))
            .collect();
        let r = reconcile(&old, &evs);
        assert!(r.is_noop());
        assert_eq!(r.keep.len(), evs.len());
    }

    #[test]
    fn reconcile_duplicate_old_rows_keep_one() {
        let e = stop(0, 200_000, 2, false);
        let old = vec![stored(5, e, true), stored(4, e, false)];
        let r = reconcile(&old, &[e]);
        assert_eq!(r.keep.len(), 1);
        assert_eq!(r.keep[0].downtime_id, 4, "lowest id first");
        assert_eq!(r.delete, vec![5]);
        assert!(r.insert.is_empty());
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        /// Gaps mixing bursts (0 ms, equal timestamps), running (≤ micro),
        /// micro-stops, values right at the thresholds and long stops.
        fn gap() -> impl Strategy<Value = i64> {
            prop_oneof![
                4 => Just(0i64),
                6 => 1i64..=20_000,
                2 => prop_oneof![
                    Just(19_999i64), Just(20_000), Just(20_001),
                    Just(119_999), Just(120_000), Just(120_001)
                ],
                3 => 20_001i64..=120_000,
                2 => 120_001i64..=86_400_000,
                1 => 86_400_000i64..=40 * 86_400_000,
            ]
        }

        fn stream() -> impl Strategy<Value = Vec<Detection>> {
            (
                1_700_000_000_000i64..1_900_000_000_000,
                prop::collection::vec((gap(), 1i64..=3), 0..300),
            )
                .prop_map(|(start, steps)| {
                    let mut at = start;
                    let mut id = 0i64;
                    steps
                        .into_iter()
                        .map(|(g, id_step)| {
                            at += g;
                            id += id_step;
                            Detection::new(id, at)
                        })
                        .collect()
                })
        }

        fn thresholds() -> impl Strategy<Value = Thresholds> {
            prop_oneof![
                3 => Just(Thresholds::default()),
                1 => (1i64..=600_000).prop_flat_map(|t| (Just(t), 0..=t))
                    .prop_map(|(t, m)| Thresholds::new(t, m).expect("valid")),
            ]
        }

        /// Reference: the rule of docs/downtime.md#downtime applied to consecutive pairs.
        fn reference(d: &[Detection], t: Thresholds) -> Vec<Event> {
            d.windows(2)
                .filter_map(|w| {
                    let g = w[1].at - w[0].at;
                    let is_micro = if g > t.downtime_threshold_ms {
                        false
                    } else if g > t.micro_stop_ms {
                        true
                    } else {
                        return None;
                    };
                    Some(Event {
                        start_ms: w[0].at,
                        end_ms: w[1].at,
                        duration_ms: g,
                        detection_id: w[1].id,
                        is_micro,
                    })
                })
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn full_run_matches_the_rule(d in stream(), t in thresholds()) {
                let ev = detect(d.iter().copied(), t).unwrap();
                prop_assert_eq!(&ev, &reference(&d, t));
                for e in &ev {
                    prop_assert!(e.duration_ms > t.micro_stop_ms);
                    prop_assert_eq!(e.duration_ms, e.end_ms - e.start_ms);
                    prop_assert_eq!(e.is_micro, e.duration_ms <= t.downtime_threshold_ms);
                }
                // Starts are strictly increasing (unique start_time holds).
                prop_assert!(ev.windows(2).all(|w| w[0].start_ms < w[1].start_ms));
            }

            /// (a) any split into incremental runs, each resumed from the
            /// previous run's watermark (stored as JSON, as a DB would), gives
            /// exactly the events of one full run.
            #[test]
            fn incremental_runs_equal_one_run(
                d in stream(),
                t in thresholds(),
                cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
            ) {
                let full = detect(d.iter().copied(), t).unwrap();
                let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(d.len() + 1)).collect();
                cuts.push(0);
                cuts.push(d.len());
                cuts.sort_unstable();
                let mut watermark_json = serde_json::to_string(&None::<Detection>).unwrap();
                let mut all = Vec::new();
                for w in cuts.windows(2) {
                    let wm: Option<Detection> = serde_json::from_str(&watermark_json).unwrap();
                    let mut det = Detector::resume(wm, t);
                    all.extend(det.run(d[w[0]..w[1]].iter().copied()).unwrap());
                    watermark_json = serde_json::to_string(&det.watermark()).unwrap();
                }
                prop_assert_eq!(all, full);
            }

            /// (b) a run killed at any point (its uncommitted events lost) and
            /// run again from the last committed watermark gives exactly the
            /// same events; so does re-running a finished run (nothing new).
            #[test]
            fn killed_run_resumed_equals_one_run(
                d in stream(),
                t in thresholds(),
                commit in any::<prop::sample::Index>(),
                killed in any::<prop::sample::Index>(),
                inclusive in any::<bool>(),
            ) {
                let full = detect(d.iter().copied(), t).unwrap();
                let c = commit.index(d.len() + 1);
                let k = c + killed.index(d.len() - c + 1);

                // First run: commits events + watermark after c detections,
                // processes up to k, then dies.
                let (committed, wm) = {
                    let mut first = Detector::new(t);
                    let committed = first.run(d[..c].iter().copied()).unwrap();
                    let wm = first.watermark();
                    let _lost = first.run(d[c..k].iter().copied()).unwrap();
                    (committed, wm)
                };

                // Second run resumes from the committed watermark. An
                // inclusive resume query re-reads the watermark itself.
                let mut second = Detector::resume(wm, t);
                let start = if inclusive && c > 0 { c - 1 } else { c };
                let rest = second.run(d[start..].iter().copied()).unwrap();
                let mut all = committed;
                all.extend(rest);
                prop_assert_eq!(&all, &full);

                // A third run right after finds nothing new.
                let mut third = Detector::resume(second.watermark(), t);
                prop_assert!(third.run(std::iter::empty()).unwrap().is_empty());
                prop_assert_eq!(third.watermark(), d.last().copied());
            }

            /// Any detection sorting before the watermark is refused, and the
            /// state is untouched.
            #[test]
            fn older_than_watermark_is_refused(d in stream(), back in 1i64..1_000_000, idx in any::<prop::sample::Index>()) {
                prop_assume!(!d.is_empty());
                let mut det = Detector::new(Thresholds::default());
                det.run(d.iter().copied()).unwrap();
                let wm = det.watermark().unwrap();
                let late = d[idx.index(d.len())];
                let late = Detection::new(late.id, late.at.min(wm.at - back));
                prop_assert!(
                    matches!(det.push(late), Err(DetectorError::OutOfOrder { .. })),
                    "expected OutOfOrder"
                );
                prop_assert_eq!(det.watermark(), Some(wm));
            }

            /// Recomputing a window over the same detections changes nothing;
            /// reconciling with any other result keeps exactly the events
            /// present on both sides and accounts for every row.
            #[test]
            fn reconcile_accounts_for_every_row(d in stream(), e in stream(), t in thresholds()) {
                let old_ev = detect(d.iter().copied(), t).unwrap();
                let new_ev = detect(e.iter().copied(), t).unwrap();
                let old: Vec<StoredEvent> = old_ev.iter().enumerate().map(|(i, ev)| StoredEvent {
                    downtime_id: i as i64 + 1,
                    event: *ev,
                    justification: Justification {
                        failure_id: (i % 3 == 0).then_some(1),
                        ..Justification::default()
                    },
                }).collect();
                prop_assert!(reconcile(&old, &old_ev).is_noop());

                let r = reconcile(&old, &new_ev);
                prop_assert_eq!(r.keep.len() + r.delete.len(), old.len());
                prop_assert_eq!(r.keep.len() + r.insert.len(), new_ev.len());
                for k in &r.keep {
                    let o = &old[(k.downtime_id - 1) as usize];
                    prop_assert!(o.event.same_stop(&k.event));
                    prop_assert_eq!(&o.justification, &k.justification);
                }
                let justified_deleted = r.delete.iter()
                    .filter(|id| old[(**id - 1) as usize].justification.is_justified())
                    .count();
                prop_assert_eq!(justified_deleted, r.changed_justified.len());
                // After applying it, the table holds exactly the new events.
                let mut after: Vec<Event> = r.keep.iter().map(|k| k.event).chain(r.insert.iter().copied()).collect();
                after.sort_by_key(|e| e.start_ms);
                prop_assert_eq!(after, new_ev);
            }
        }
    }
}
