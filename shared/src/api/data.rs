//! The `data` function's routes.

use crate::router::Router;

pub fn router() -> Router {
    Router::new("data")
}
