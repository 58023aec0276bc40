//! The pure core of Dashboard SaaS Industrial: the rules, with no I/O.
//!
//! Architecture invariant: nothing here knows MySQL, HTTP, the process's
//! configuration or the clock — every function takes its inputs and returns its
//! answer, so the engines are tested with plain values and property tests.

pub mod catalog;
pub mod downtime;
pub mod line_code;
pub mod oee;
pub mod timeutil;
