//! Downtime engine (docs/downtime.md#downtime): stops and micro-stops found from gaps between the
//! detections of a line's output areas.
//!
//! [`detector`] and [`reconcile`] are the pure core (dash-core): no I/O,
//! constant memory, fed one detection at a time in (`detected_at`,
//! `detection_id`) order, resumable from a watermark. [`engine`] runs it
//! against a client database (incremental runs, recomputation of a window,
//! the "stopped since" state) through [`store`] (the line's tables, the
//! watermark, the lock), [`detections`] (the detections in keyset pages) and
//! [`events`] (the stored stops). [`window`] is the one reader of the stops
//! of a window; [`summary`] builds a window's count, MTBF, MTTR and Paretos;
//! [`justify`] reads one stop and writes its justification;
//! [`running`] keeps the reason given to a running stop until it is stored.

pub mod clock;
pub mod detections;
pub mod engine;
pub mod events;
pub mod justify;
pub mod running;
pub mod store;
pub mod summary;
pub mod window;

pub use dash_core::downtime::{detector, reconcile};

pub use detector::{
    detect, Detection, Detector, DetectorError, Event, Thresholds, DEFAULT_DOWNTIME_THRESHOLD_MS,
    DEFAULT_MICRO_STOP_MS,
};
pub use engine::{
    open_stop, recompute, run_incremental, thresholds_for, ChangedJustified, EngineOptions,
    LineSpec, OpenStop, RecomputeOutcome, RecomputeReport, RunOutcome, RunReport,
    DEFAULT_PAGE_SIZE,
};
pub use events::{EventRow, StopRow};
pub use reconcile::{
    reconcile, ChangedStop, Justification, KeptEvent, Reconciliation, StoredEvent,
};
pub use store::Watermark;
