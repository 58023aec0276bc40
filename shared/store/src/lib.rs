//! The store: every SQL statement the product runs, over the global database and
//! each tenant's client database, and the engines that are mostly reading
//! (detection counts, rollups, the downtime job, the OEE over a plant).
//!
//! Architecture invariant: the store knows SQL, the pools and the domain types of
//! `dash_core`; it knows no HTTP request, no route, no session and no web
//! configuration. Its functions take a connection or a [`Store`].

pub mod audit;
pub mod cache;
pub mod db;
pub mod demo;
pub mod downtime;
pub mod error;
pub mod housekeeping;
pub mod jobs;
pub mod layouts;
pub mod line_state;
pub mod metadata;
pub mod metrics;
pub mod password;
pub mod query;
pub mod rate_limit;
pub mod schema;
pub mod settings;
mod sql;
pub mod store;
pub mod tenancy;
pub mod user_login;
pub mod users;

pub use error::{AppError, AppResult};
pub use store::{HostKind, Store};
