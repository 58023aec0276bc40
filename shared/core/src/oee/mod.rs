//! The one OEE engine (docs/oee.md#oee). Every endpoint and widget goes through it so a
//! KPI card, a shift report and a comparison chart agree for the same window.
//!
//! Use in two steps, because counting detections is the data layer's job:
//! 1. [`TimeModel::build`] turns shifts, breaks and stops of one line and one
//!    window into interval sets; [`TimeModel::planned`] is where detections
//!    must be counted (`start <= detected_at < end` for each span).
//! 2. [`TimeModel::totals`] adds those counts and the ideal cycle times; sum
//!    [`Totals`] over lines, buckets or sub-windows and only then call
//!    [`Totals::to_result`], which divides.

mod engine;
mod interval;
mod shifts;
mod totals;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod prop_tests;

pub use engine::{LineInputs, OpenStop, ReasonCategory, Stop, TimeModel};
pub use interval::{IntervalSet, Span};
pub use shifts::{
    current_shift, has_active_shifts, last_shift, parse_days_of_week, planned_shift_time, shift_at,
    shift_occurrences, Shift, ShiftBreak, ShiftOccurrence,
};
pub use totals::{
    AreaKind, Counts, CycleTimes, Losses, OeeResult, ProductCounts, ReasonLoss, Totals, Warning,
};
