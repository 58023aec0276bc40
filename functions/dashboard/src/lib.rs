//! The `dashboard` function's routes (docs/api.md#routes, §11): the HTML pages, the
//! built front end under `/static/dist/` (where no web server serves it), the
//! dashboard API (`/api/v1/dashboard/*`) and `/api/v1/system/*`.
//!
//! Pages authenticate with the session cookies ([`pages::page`]). Without a
//! valid access token a page answers the "resuming session" step when a
//! refresh cookie exists (its script renews the session and reloads) or
//! redirects to `/login?next=…`. Errors on pages render the themed
//! 403/404/500 pages ([`errors`]), unknown paths (the router's own 404)
//! included. The API routes start with the one extractor,
//! [`shared::extract::Call`].
//!
//! | module | holds |
//! |---|---|
//! | [`pages`] | the page wrapper, sign-in, and the pages (`plant`, `admin`, `account`) |
//! | [`layout`] | the layout API and the layout a role sees |
//! | [`widget`] | the widget data route (`/api/v1/dashboard/widgets/{widget_type}`) |
//! | [`board`] | every widget of the dashboard in one answer (`/api/v1/dashboard/widgets`) |
//! | [`cards`] | the widget cards a page lays out |
//! | [`filters`] | the filter panel, the filters and catalog API |
//! | [`system`] | `/api/v1/system/version` and `/stats` |
//! | [`errors`] | the themed error pages |
//! | [`render`], [`i18n`], [`openapi`] | templates and view models, strings, the API document |

pub mod i18n;
pub mod openapi;
pub mod render;

mod board;
mod cards;
mod errors;
mod filters;
mod layout;
mod pages;
mod system;
mod widget;

pub use errors::error_page;
pub use layout::{builtin_layout, LayoutSource};
pub use widget::params_from_query;

use pages::{account, admin, page, plant};
use shared::router::Router;

pub fn router() -> Router {
    Router::new("dashboard")
        .html_errors(|req, state, err| error_page(req, state, None, err))
        .get("/", pages::root)
        .get("/login", pages::login)
        .get("/dashboard", |r, s| page(r, s, plant::dashboard))
        .get("/lines", |r, s| page(r, s, plant::lines))
        .get("/lines/{id}", |r, s| page(r, s, plant::line))
        .get("/downtime", |r, s| page(r, s, plant::downtime))
        .get("/reports", |r, s| page(r, s, plant::reports))
        .get("/admin/users", |r, s| page(r, s, admin::users))
        .get("/admin/tenants", |r, s| page(r, s, admin::tenants))
        .get("/admin/config", |r, s| page(r, s, admin::config))
        .get("/profile", |r, s| page(r, s, account::profile))
        .get("/docs", |r, s| page(r, s, account::api_docs))
        .get("/api/v1/openapi.json", openapi::serve)
        .post("/profile/sessions/{id}/revoke", account::revoke_session)
        .get("/dev/widgets", |r, s| page(r, s, plant::dev_widgets))
        .get("/static/dist/{a}", pages::static_file)
        .get("/static/dist/{a}/{b}", pages::static_file)
        .get("/static/dist/{a}/{b}/{c}", pages::static_file)
        .get("/api/v1/dashboard/layout", layout::get_layout)
        .query(&["role"])
        .post("/api/v1/dashboard/layout", layout::save_layout)
        .get(board::BOARD_PATH, board::dashboard_widgets)
        .query(board::FILTER_PARAMS)
        .get("/api/v1/dashboard/widgets/{widget_id}", widget::widget)
        .query_checked_by_handler()
        .get("/api/v1/dashboard/filters", filters::filters_api)
        .get("/api/v1/dashboard/catalog", filters::catalog_api)
        .get("/api/v1/system/health", shared::health::health)
        .get("/api/v1/system/version", system::version)
        .get("/api/v1/system/stats", system::stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_a_dashboard_route() {
        let r = router();
        for pattern in r.routes().map(|r| r.pattern) {
            assert!(
                !pattern.starts_with("/api/")
                    || pattern.starts_with("/api/v1/dashboard/")
                    || pattern.starts_with("/api/v1/system/")
                    || pattern == "/api/v1/openapi.json",
                "{pattern}"
            );
        }
    }
}
