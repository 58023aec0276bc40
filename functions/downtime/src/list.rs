//! `GET /downtime`: the stops overlapping a window, newest first across the
//! lines, in keyset pages; CSV with `Accept: text/csv` (or `format=csv`).

use ::http::StatusCode;
use base64::Engine as _;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use dash_store::downtime::clock::DataClock;
use dash_store::downtime::store::{fmt_naive, parse_naive};
use dash_store::downtime::window::{self, Position};
use dash_store::downtime::StopRow;
use dash_store::error::{AppError, AppResult};
use shared::auth::Permission;
use shared::extract::{Call, Input};
use shared::http::{self, Request, Response};
use shared::state::AppState;

use crate::request::{self, reason_name};
use crate::views::{fmt_time, open_stops, seconds, stop_view, window_json};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
const DEFAULT_CSV_LIMIT: usize = 10_000;
const MAX_CSV_LIMIT: usize = 100_000;

/// Where the previous page ended, as the client carries it (`next_cursor`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Cursor {
    /// `start_time` (stored wall time).
    s: String,
    /// `line_id`.
    l: i64,
    /// `downtime_id`.
    i: i64,
}

impl Cursor {
    fn after(line_id: i64, row: &StopRow) -> Cursor {
        Cursor {
            s: fmt_naive(&row.start),
            l: line_id,
            i: row.downtime_id,
        }
    }

    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(s: &str) -> AppResult<Position> {
        let bad = || AppError::validation("cursor", "cursor is not one this API returned");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim())
            .map_err(|_| bad())?;
        let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let start: NaiveDateTime = parse_naive(&c.s).ok_or_else(bad)?;
        Ok(Position {
            start,
            line_id: c.l,
            downtime_id: c.i,
        })
    }
}

pub async fn list(req: Request, state: AppState) -> AppResult<Response> {
    let call = Call::extract(req, state, Permission::DataRead, Input::Query).await?;
    let csv =
        call.req.wants_csv() || call.params.choice("format", &["json", "csv"])? == Some("csv");
    if csv {
        call.ctx.require(Permission::DataExport)?;
    }
    let plant = request::plant(&call);
    let selection = request::stop_selection(&call, &plant)?;
    let limit = if csv {
        call.params
            .limit("limit", DEFAULT_CSV_LIMIT, MAX_CSV_LIMIT)?
    } else {
        call.params.limit("limit", DEFAULT_LIMIT, MAX_LIMIT)?
    };
    let after = call.params.get("cursor").map(Cursor::decode).transpose()?;
    let mut conn = call.state.db().client(&call.tenant.db_location()).await?;
    // One row more than the page tells whether another page follows.
    let mut rows =
        window::newest_of_lines(&mut conn, &plant, &selection, limit + 1, after.as_ref()).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = more
        .then(|| rows.last().map(|(l, r)| Cursor::after(*l, r).encode()))
        .flatten();
    let mut clock = DataClock::new(call.tenant.data_timezone());

    if csv {
        return Ok(csv_response(
            &call,
            &mut clock,
            &rows,
            next_cursor.as_deref(),
        ));
    }
    let data: Vec<Value> = rows
        .iter()
        .map(|(line_id, r)| stop_view(&call, &mut clock, *line_id, r))
        .collect();
    let open = if after.is_none() {
        open_stops(&call, &mut conn, &selection.line_ids).await?
    } else {
        Vec::new()
    };
    Ok(http::json(
        StatusCode::OK,
        &json!({
            "data": data,
            "next_cursor": next_cursor,
            "open_stops": open,
            "window": window_json(&selection.window, call.tenant.timezone()),
        }),
    ))
}

const CSV_HEADER: &str = "downtime_id,line_id,line_name,start_time,end_time,duration_seconds,is_micro,failure_id,reason,justification,justified_by,justified_at\r\n";

/// The page as a CSV download; the next page's cursor in `X-Next-Cursor`.
fn csv_response(
    call: &Call,
    clock: &mut DataClock,
    rows: &[(i64, StopRow)],
    next_cursor: Option<&str>,
) -> Response {
    let tz = call.tenant.timezone();
    let mut out = String::from(CSV_HEADER);
    for (line_id, r) in rows {
        let cells = [
            r.downtime_id.to_string(),
            line_id.to_string(),
            call.meta
                .line(*line_id)
                .map(|l| l.line_name.clone())
                .unwrap_or_default(),
            fmt_time(clock, tz, &r.start),
            fmt_time(clock, tz, &r.end),
            format!("{:.3}", seconds(r.duration_ms)),
            u8::from(r.is_micro).to_string(),
            r.failure_id.map(|f| f.to_string()).unwrap_or_default(),
            reason_name(&call.meta, r.failure_id)
                .unwrap_or_default()
                .to_string(),
            r.justification.clone().unwrap_or_default(),
            r.justified_by.map(|u| u.to_string()).unwrap_or_default(),
            r.justified_at
                .map(|j| fmt_time(clock, tz, &j))
                .unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|v| csv_cell(v)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    let mut resp = http::response(StatusCode::OK, "text/csv; charset=utf-8", out.into_bytes());
    resp = http::with_header(
        resp,
        "content-disposition",
        "attachment; filename=\"downtime.csv\"",
    );
    if let Some(next) = next_cursor {
        resp = http::with_header(resp, "x-next-cursor", next);
    }
    resp
}

/// One CSV field: quoted when needed; a leading `= + - @` is neutralised so
/// spreadsheets never run it as a formula.
fn csv_cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) && v.parse::<f64>().is_err() {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let c = Cursor {
            s: "2026-04-01 06:00:00.123".into(),
            l: 3,
            i: 99,
        };
        let at = Cursor::decode(&c.encode()).unwrap();
        assert_eq!(
            (fmt_naive(&at.start), at.line_id, at.downtime_id),
            ("2026-04-01 06:00:00.123".to_string(), 3, 99)
        );
        assert!(Cursor::decode("not-a-cursor").is_err());
        assert!(Cursor::decode("").is_err());
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_cell("-12.5"), "-12.5");
    }
}
