//! `POST /downtime/justify`: one reason (and comment) for several stops in
//! one request — operator and up, within the caller's lines, each stop
//! audited as `PUT /downtime/{id}` audits it.
//!
//! **All or nothing**, in one transaction: the operator picked one reason for
//! a set of stops, so a partly applied set would leave them to find out which
//! stops still need it. Any refusal (an unknown stop, a stale
//! `expected_updated_at`) rolls everything back, and the error's `field`
//! names the item (`stops[2].downtime_id`), so the caller fixes that one and
//! sends the set again.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use mysql_async::TxOpts;
use serde_json::{json, Map, Value};

use dash_store::downtime::clock::DataClock;
use dash_store::downtime::events::EventsTable;
use dash_store::downtime::justify;
use dash_store::downtime::StopRow;
use dash_store::error::{AppError, AppResult};
use shared::auth::audit;
use shared::auth::input::Fields;
use shared::auth::Permission;
use shared::extract::{Call, Input};
use shared::http::{self, Request, Response};
use shared::state::AppState;

use crate::reason::{named_comment, NamedReason, REASON_FIELDS};
use crate::request::events_table;
use crate::stop::{audit_details, Version};
use crate::views::stop_view;

/// Most stops one request justifies (a shift's worth, with room).
const MAX_STOPS: usize = 200;

const BULK_FIELDS: [&str; 6] = [
    REASON_FIELDS[0],
    REASON_FIELDS[1],
    REASON_FIELDS[2],
    REASON_FIELDS[3],
    REASON_FIELDS[4],
    "stops",
];
const ITEM_FIELDS: [&str; 3] = ["line_id", "downtime_id", "expected_updated_at"];

/// One stop the request names.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    line_id: i64,
    downtime_id: i64,
    expected: Option<Version>,
}

fn item_id(obj: &Map<String, Value>, path: &str, name: &str) -> AppResult<i64> {
    let field = format!("{path}.{name}");
    match obj.get(name) {
        None | Some(Value::Null) => {
            Err(AppError::validation(&field, format!("{field} is required")))
        }
        Some(v) => v.as_i64().filter(|id| *id > 0).ok_or_else(|| {
            AppError::validation(&field, format!("{field} must be a positive whole number"))
        }),
    }
}

/// `stops`: 1 to [`MAX_STOPS`] objects `{line_id, downtime_id,
/// expected_updated_at?}`, each stop once; every refusal names its item.
fn read_items(fields: &Fields) -> AppResult<Vec<Item>> {
    let list = match fields.raw("stops") {
        Some(Value::Array(list)) => list,
        None | Some(Value::Null) => return Err(AppError::validation("stops", "stops is required")),
        Some(_) => {
            return Err(AppError::validation(
                "stops",
                "stops must be a list of {line_id, downtime_id, expected_updated_at}",
            ))
        }
    };
    if list.is_empty() || list.len() > MAX_STOPS {
        return Err(AppError::validation(
            "stops",
            format!("stops must hold 1 to {MAX_STOPS} stops"),
        ));
    }
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let path = format!("stops[{i}]");
        let Value::Object(obj) = v else {
            return Err(AppError::validation(
                &path,
                format!("{path} must be an object"),
            ));
        };
        if let Some(key) = obj.keys().find(|k| !ITEM_FIELDS.contains(&k.as_str())) {
            return Err(AppError::validation(
                format!("{path}.{key}"),
                format!("unknown field; a stop takes {}", ITEM_FIELDS.join(", ")),
            ));
        }
        let line_id = item_id(obj, &path, "line_id")?;
        let downtime_id = item_id(obj, &path, "downtime_id")?;
        let expected = match obj.get("expected_updated_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Version::parse(s).ok_or_else(|| {
                AppError::validation(
                    format!("{path}.expected_updated_at"),
                    "expected_updated_at must be the updated_at this API returned",
                )
            })?),
            Some(_) => {
                return Err(AppError::validation(
                    format!("{path}.expected_updated_at"),
                    "expected_updated_at must be a string",
                ))
            }
        };
        if !seen.insert((line_id, downtime_id)) {
            return Err(AppError::validation(
                &path,
                format!("{path} names a stop already in the list"),
            ));
        }
        items.push(Item {
            line_id,
            downtime_id,
            expected,
        });
    }
    Ok(items)
}

pub async fn justify_many(req: Request, state: AppState) -> AppResult<Response> {
    let call = Call::extract(req, state, Permission::DowntimeJustify, Input::Query).await?;
    let fields = Fields::parse(&call.req, &BULK_FIELDS)?;
    let items = read_items(&fields)?;
    let reason = NamedReason::read(&fields)?;
    let comment = named_comment(&fields)?;
    for (i, item) in items.iter().enumerate() {
        if call.ctx.line(&call.meta, item.line_id).is_err() {
            return Err(AppError::unknown_id(
                format!("stops[{i}].line_id"),
                format!(
                    "line {} does not exist or is not visible to you",
                    item.line_id
                ),
            ));
        }
    }

    let mut conn = call.state.db().client(&call.tenant.db_location()).await?;
    let failure_id = reason.resolve(&mut conn).await?;
    let mut tables: HashMap<i64, Option<EventsTable>> = HashMap::new();
    for item in &items {
        if let Entry::Vacant(slot) = tables.entry(item.line_id) {
            slot.insert(events_table(&mut conn, &call, item.line_id).await?);
        }
    }
    let mut clock = DataClock::new(call.tenant.data_timezone());
    let entered = crate::reason::entered_now(&call, &mut clock, failure_id, comment.as_deref());
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    let mut changed: Vec<(i64, StopRow, StopRow)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let missing = || {
            AppError::unknown_id(
                format!("stops[{i}].downtime_id"),
                format!("line {} has no stop {}", item.line_id, item.downtime_id),
            )
        };
        let stale = || {
            AppError::conflict_on(
                format!("stops[{i}].expected_updated_at"),
                format!(
                    "stop {} of line {} was changed by someone else; reload and try again (nothing was saved)",
                    item.downtime_id, item.line_id
                ),
            )
        };
        let table = tables
            .get(&item.line_id)
            .and_then(Option::as_ref)
            .ok_or_else(missing)?;
        let before = justify::stop_by_id(&mut tx, table, item.downtime_id)
            .await?
            .ok_or_else(missing)?;
        if item.expected.is_some_and(|e| !e.matches(&before)) {
            return Err(stale());
        }
        if !justify::justify(
            &mut tx,
            table,
            item.downtime_id,
            before.updated_at,
            &entered,
        )
        .await?
        {
            return Err(stale());
        }
        let after = justify::stop_by_id(&mut tx, table, item.downtime_id)
            .await?
            .ok_or_else(missing)?;
        changed.push((item.line_id, before, after));
    }
    tx.commit().await?;
    drop(conn);

    let tz = call.tenant.timezone();
    let count = changed.len();
    let mut views = Vec::with_capacity(count);
    for (line_id, before, after) in &changed {
        let mut details = audit_details(&mut clock, tz, *line_id, before, after);
        details["bulk_count"] = json!(count);
        audit::record_for(
            &call.state,
            &call.ctx,
            &call.req,
            "downtime.justify",
            "downtime",
            format!("{line_id}:{}", after.downtime_id),
            details,
        )
        .await?;
        views.push(stop_view(&call, &mut clock, *line_id, after));
    }
    // The shape of every list (docs/api.md#shapes): every stop, no next page.
    Ok(http::list(&views, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::Method;

    fn fields(body: Value) -> Fields {
        let mut req = Request::new(Method::POST, "/api/v1/downtime/justify");
        req.body = body.to_string().into_bytes().into();
        Fields::parse(&req, &BULK_FIELDS).unwrap()
    }

    fn refused_field(body: Value) -> String {
        match read_items(&fields(body)) {
            Err(AppError::Validation { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn every_refusal_names_its_item() {
        assert_eq!(refused_field(json!({"stops": []})), "stops");
        assert_eq!(refused_field(json!({"stops": 3})), "stops");
        assert_eq!(
            refused_field(json!({"stops": [{"line_id": 1, "downtime_id": 2}, 4]})),
            "stops[1]"
        );
        assert_eq!(
            refused_field(json!({"stops": [{"line_id": 0, "downtime_id": 2}]})),
            "stops[0].line_id"
        );
        assert_eq!(
            refused_field(json!({"stops": [{"line_id": 1}]})),
            "stops[0].downtime_id"
        );
        assert_eq!(
            refused_field(
                json!({"stops": [{"line_id": 1, "downtime_id": 2, "expected_updated_at": "soon"}]})
            ),
            "stops[0].expected_updated_at"
        );
        assert_eq!(
            refused_field(json!({"stops": [{"line_id": 1, "downtime_id": 2, "x": 1}]})),
            "stops[0].x"
        );
        assert_eq!(
            refused_field(
                json!({"stops": [{"line_id": 1, "downtime_id": 2}, {"line_id": 1, "downtime_id": 2}]})
            ),
            "stops[1]"
        );
        let many: Vec<Value> = (1..=201)
            .map(|i| json!({"line_id": 1, "downtime_id": i}))
            .collect();
        assert_eq!(refused_field(json!({"stops": many})), "stops");
    }

    #[test]
    fn a_valid_list_reads_in_order() {
        let items = read_items(&fields(json!({"stops": [
            {"line_id": 2, "downtime_id": 9, "expected_updated_at": "2026-04-01T10:00:00.123Z"},
            {"line_id": 1, "downtime_id": 9}
        ]})))
        .unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!((items[0].line_id, items[0].downtime_id), (2, 9));
        assert!(items[0].expected.is_some() && items[1].expected.is_none());
    }
}
