//! Downtime engine (docs/downtime.md#downtime): stops and micro-stops found from gaps between the
//! detections of a line's output areas.
//!
//! [`detector`] is the pure, streaming core: no I/O, constant memory, fed one
//! detection at a time in (`detected_at`, `detection_id`) order, resumable from
//! a watermark. [`engine`] runs it against a client database (incremental
//! runs, recomputation of a window, the "stopped since" state) through
//! [`store`]; [`summary`] computes count, MTBF, MTTR and the Paretos.

pub mod engine;
pub mod store;

pub use dash_core::downtime::{detector, summary};

pub use detector::{
    detect, reconcile, ChangedStop, Detection, Detector, DetectorError, Event, Justification,
    KeptEvent, Reconciliation, StoredEvent, Thresholds, DEFAULT_DOWNTIME_THRESHOLD_MS,
    DEFAULT_MICRO_STOP_MS,
};
pub use engine::{
    open_stop, recompute, run_incremental, thresholds_for, ChangedJustified, EngineOptions,
    LineSpec, OpenStop, RecomputeOutcome, RecomputeReport, RunOutcome, RunReport,
    DEFAULT_PAGE_SIZE,
};
pub use store::{EventRow, StopRow, Watermark};
