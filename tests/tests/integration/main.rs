//! The one integration-test target (`cargo test -p integration-tests --test
//! integration`; one binary to build and link instead of one per suite). Each
//! module is a suite: the API in process over a fresh database
//! (`integration_tests::app`), the release binaries as CGI, FastCGI and Lambda
//! functions and under Apache (`integration_tests::hosts`), the engines against
//! a real MariaDB. `auth_support` and `metrics_support` are the fixtures the
//! auth/tenancy and the data/metrics suites share.
//!
//! Filter by suite with the module path: `-- bad_input::` (cargo test) or
//! `-E 'test(/^bad_input::/)'` (nextest).

mod apache;
mod auth_enumeration;
mod auth_input;
mod auth_limits;
mod auth_ratelimit;
mod auth_sessions;
mod auth_support;
mod auth_tokens;
mod auth_user_scope;
mod auth_users;
mod bad_input;
mod client_databases;
mod cpanel;
mod dashboard_batch;
mod dashboard_widgets;
mod dashctl;
mod data_api;
mod data_bench;
mod data_partitions;
mod downtime_api;
mod downtime_counts;
mod downtime_engine;
mod downtime_reasons;
mod hosts;
mod hot_path;
mod jobs;
mod metrics_errors;
mod metrics_golden;
mod metrics_props;
mod metrics_support;
mod offsets;
mod openapi;
mod production;
mod reconciliation;
mod schema;
mod security_probe;
mod static_files;
mod tenancy_matrix;
mod tenant_databases;
mod two_servers;
