//! The HTTP API, one module per function group (SPEC §3). Each module's
//! `router()` lists every route of its group in one place; the binaries in
//! `functions/` do nothing but hand that router to `hosts::run`.

pub mod auth;
pub mod dashboard;
pub mod data;
pub mod downtime;
pub mod metrics;
pub mod production;
