//! The `downtime` function's routes (docs/api.md#routes, §6):
//!
//! * `GET /downtime` — stops overlapping a window, filtered by line, minimum
//!   duration, justified or not, reason, micro-stops in or out; newest first,
//!   keyset-paginated; CSV with `Accept: text/csv` (or `format=csv`)
//!   ([`list`]);
//! * `GET /downtime/{id}?line_id=N` — one stop (ids are per line);
//! * `PUT /downtime/{id}?line_id=N` — justify it: a reason from `failure` and
//!   a comment; operator and up; audited with before and after; a stale
//!   update (`If-Match` ETag or `expected_updated_at`) is a 409 ([`stop`]);
//! * `PUT /downtime/running` — give the stop a line is in now (never stored
//!   until it ends) its reason; kept in the product's state and put on the
//!   stop when the job stores it ([`running`]);
//! * `POST /downtime/justify` — one reason for several stops, all or
//!   nothing, each audited ([`bulk`]);
//! * `POST /downtime/calculate` — recompute a bounded window (late data),
//!   keeping justifications of unchanged stops; manager and up
//!   ([`calculate`]);
//! * `GET /downtime/summary` — count, total time, MTBF, MTTR, Pareto by
//!   reason and by shift ([`summary`]).
//!
//! Every handler starts with `shared::extract::Call` and reads its query
//! through `shared::params` ([`request`]); the stops come from the store's
//! one window reader. Stops are never re-classified by the window: they are
//! listed when they overlap it; the summary counts those that start in it
//! and clips every duration to it.

mod bulk;
mod calculate;
mod list;
mod reason;
mod request;
mod running;
mod stop;
mod summary;
mod views;

use shared::router::Router;

/// The query parameters that choose stops (the list and the summary), then
/// the route's own.
macro_rules! stop_selection_params {
    ($($own:literal),*) => {
        &[
            "line_id",
            "line_ids",
            "start_date",
            "end_date",
            "range",
            "min_duration",
            "justified",
            "failure_id",
            "reason",
            "micro",
            "include_micro",
            $($own),*
        ]
    };
}

const LIST_PARAMS: &[&str] = stop_selection_params!("format", "limit", "cursor");
const SUMMARY_PARAMS: &[&str] = stop_selection_params!();
/// A stop's id is scoped by its line.
const STOP_PARAMS: &[&str] = &["line_id"];

pub fn router() -> Router {
    Router::new("downtime")
        .get("/api/v1/downtime", list::list)
        .query(LIST_PARAMS)
        .post("/api/v1/downtime/calculate", calculate::calculate)
        .get("/api/v1/downtime/summary", summary::summary)
        .query(SUMMARY_PARAMS)
        .post("/api/v1/downtime/justify", bulk::justify_many)
        .put("/api/v1/downtime/running", running::justify_running)
        .get("/api/v1/downtime/{id}", stop::one)
        .query(STOP_PARAMS)
        .put("/api/v1/downtime/{id}", stop::justify)
        .query(STOP_PARAMS)
}
