//! `GET /downtime/summary`: count, downtime (in planned time: the OEE's),
//! downtime outside planned time, MTBF, MTTR and the Paretos by reason and by
//! shift of the stops a list would give — counted in the window they start
//! in, their time clipped to it ([`dash_store::downtime::summary`]), with the
//! lines stopped now.

use serde_json::{json, Value};

use dash_core::downtime::summary::Labels;
use dash_store::downtime::summary::summarize;
use dash_store::error::{AppError, AppResult};
use shared::auth::Permission;
use shared::extract::{Call, Input};
use shared::http::{self, Request, Response};
use shared::state::AppState;

use crate::request::{plant, stop_selection};
use crate::views::{open_stops, window_json};

/// The API's labels of the Pareto rows without an id: English, or Spanish for
/// a plant that speaks it.
fn labels(language: &str) -> Labels<'static> {
    match language {
        "es" => Labels {
            unjustified: "Sin justificar",
            no_shift: "Fuera de turno",
        },
        _ => Labels {
            unjustified: "Not justified",
            no_shift: "Outside shifts",
        },
    }
}

pub async fn summary(req: Request, state: AppState) -> AppResult<Response> {
    let call = Call::extract(req, state, Permission::DataRead, Input::Query).await?;
    let plant = plant(&call);
    let selection = stop_selection(&call, &plant)?;
    let mut conn = call.state.db().client(&call.tenant.db_location()).await?;
    let s = summarize(
        &mut conn,
        &plant,
        &selection,
        labels(call.tenant.language()),
    )
    .await?;
    let open = open_stops(&call, &mut conn, &selection.line_ids).await?;
    let mut body = serde_json::to_value(&s).map_err(AppError::internal)?;
    if let Value::Object(map) = &mut body {
        map.insert("line_ids".into(), json!(selection.line_ids));
        map.insert(
            "window".into(),
            window_json(&selection.window, call.tenant.timezone()),
        );
        map.insert("open_stops".into(), Value::Array(open));
    }
    Ok(http::data(&body))
}
