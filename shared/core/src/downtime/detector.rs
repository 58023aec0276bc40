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

#[cfg(test)]
mod tests;
