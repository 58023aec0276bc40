//! The pure half of the downtime engine (docs/downtime.md): [`detector`] finds stops and
//! micro-stops from the gaps between a line's output detections, one detection at a
//! time; [`reconcile`] turns a recomputed window and its stored stops into what to
//! keep, delete and insert; [`summary`] computes counts, MTBF, MTTR and the Paretos of
//! a set of stops. Reading detections and storing stops is the store's job.

pub mod detector;
pub mod reconcile;
pub mod summary;

#[cfg(test)]
mod testing;
