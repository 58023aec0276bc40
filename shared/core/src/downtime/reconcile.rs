//! Reconciling a recomputed window with the stops stored for it
//! (docs/downtime.md#late-detections): unchanged stops keep their row and
//! justification, the others are deleted or inserted, and a justified stop
//! that changed is reported. Pure: the store reads the rows and applies the
//! plan in one transaction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::detector::Event;

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
    use crate::downtime::detector::{detect, Detection, Thresholds};
    use crate::downtime::testing::stop;

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
        let detections = [0, 30_000, 300_000, 301_000, 500_000]
            .iter()
            .enumerate()
            .map(|(i, &at)| Detection::new(i as i64 + 1, at));
        let evs = detect(detections, Thresholds::default()).unwrap();
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
}
