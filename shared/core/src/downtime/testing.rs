//! What the detector's and the reconciliation's tests share.

use super::detector::Event;

/// The event of a gap from `start_ms` to `end_ms`, ended by `detection_id`.
pub fn stop(start_ms: i64, end_ms: i64, detection_id: i64, is_micro: bool) -> Event {
    Event {
        start_ms,
        end_ms,
        duration_ms: end_ms - start_ms,
        detection_id,
        is_micro,
    }
}
