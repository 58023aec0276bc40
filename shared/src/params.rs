//! The one parameter parser: names and values read the same way from a query
//! string or a JSON body (docs/api.md#shapes), and the lines, areas, products
//! and shift they select, checked against the caller's line scope. Errors
//! name the parameter at fault (docs/api.md, "Bad input"): 422 for a value
//! that is not valid here, 404 for an id that does not exist here or that
//! the caller may not see — the same answer, so nothing leaks.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde_json::Value;

use crate::auth::TenantContext;
use crate::http::Request;
use dash_core::timeutil::{parse_timezone, Interval, WindowQuery};
use dash_store::error::{AppError, AppResult};
use dash_store::metadata::TenantMetadata;
use dash_store::query::Selection;

/// Most ids one list parameter may hold.
pub const MAX_IDS: usize = 100;

/// Request parameters by name: the query string (last value wins, empty =
/// absent) or a JSON body's top-level fields (numbers and lists of numbers
/// become the same text a query string would carry).
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
    raw: Value,
}

impl Params {
    pub fn from_query(req: &Request) -> Params {
        let mut values = BTreeMap::new();
        for (k, v) in req.query_pairs() {
            if v.trim().is_empty() {
                values.remove(&k);
            } else {
                values.insert(k, v);
            }
        }
        let raw = Value::Object(
            values
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        );
        Params { values, raw }
    }

    /// A JSON object body; fields outside `allowed` are refused (400 naming
    /// them) so a typo never silently widens a query.
    pub fn from_body(req: &Request, allowed: &[&str]) -> AppResult<Params> {
        let body: Value = req.json()?;
        let Value::Object(map) = &body else {
            return Err(AppError::bad_request("the body must be a JSON object"));
        };
        let mut values = BTreeMap::new();
        for (k, v) in map {
            if !allowed.contains(&k.as_str()) {
                return Err(AppError::validation(
                    k.clone(),
                    format!("unknown field {k}; expected one of: {}", allowed.join(", ")),
                ));
            }
            let text = match v {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Array(items) => {
                    let mut parts = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            Value::String(s) => parts.push(s.clone()),
                            Value::Number(n) => parts.push(n.to_string()),
                            _ => {
                                return Err(AppError::validation(
                                    k.clone(),
                                    format!("{k} must hold numbers or strings"),
                                ))
                            }
                        }
                    }
                    parts.join(",")
                }
                Value::Object(_) => {
                    return Err(AppError::validation(
                        k.clone(),
                        format!("{k} must not be an object"),
                    ));
                }
            };
            if !text.trim().is_empty() {
                values.insert(k.clone(), text);
            }
        }
        Ok(Params { values, raw: body })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The parameters as received, for the `user_query` trace.
    pub fn to_json(&self) -> Value {
        self.raw.clone()
    }

    pub fn window(&self) -> WindowQuery<'_> {
        WindowQuery {
            start_date: self.get("start_date"),
            end_date: self.get("end_date"),
            range: self.get("range"),
        }
    }

    /// `timezone`: an IANA zone for offset-less dates and the answer's times.
    pub fn timezone(&self) -> AppResult<Option<Tz>> {
        match self.get("timezone") {
            None => Ok(None),
            Some(z) => parse_timezone(z).map(Some).map_err(|e| {
                AppError::validation(
                    "timezone",
                    format!("timezone '{}' is {}", short(z), e.message()),
                )
            }),
        }
    }

    /// An interval parameter (`hour|shift|day|week|month`), refused on `field`.
    pub fn interval(&self, field: &'static str) -> AppResult<Option<Interval>> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => Interval::parse(v)
                .map(Some)
                .map_err(|e| AppError::validation(field, format!("{field}: {}", e.message()))),
        }
    }

    /// One positive id.
    pub fn id(&self, field: &str) -> AppResult<Option<i64>> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => parse_id(field, v).map(Some),
        }
    }

    /// A comma-separated list of positive ids.
    pub fn ids(&self, field: &str) -> AppResult<Option<Vec<i64>>> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let id = parse_id(field, part)?;
            if !out.contains(&id) {
                out.push(id);
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        if out.len() > MAX_IDS {
            return Err(AppError::validation(
                field,
                format!("{field} may list at most {MAX_IDS} ids"),
            ));
        }
        Ok(Some(out))
    }

    /// `one` (a single id) or `many` (a list), not both; with the name used.
    pub fn one_or_many(
        &self,
        one: &'static str,
        many: &'static str,
    ) -> AppResult<Option<(Vec<i64>, &'static str)>> {
        match (self.get(one).is_some(), self.get(many).is_some()) {
            (true, true) => Err(AppError::validation(
                many,
                format!("give {one} or {many}, not both"),
            )),
            (true, false) => Ok(self.id(one)?.map(|id| (vec![id], one))),
            (false, true) => Ok(self.ids(many)?.map(|ids| (ids, many))),
            (false, false) => Ok(None),
        }
    }

    /// A count parameter between 1 and `max` (default when absent).
    pub fn limit(&self, field: &str, default: usize, max: usize) -> AppResult<usize> {
        self.get(field)
            .map_or(Ok(default), |v| parse_limit(field, v, max))
    }

    /// A flag parameter (`true`/`1`, `false`/`0`).
    pub fn flag(&self, field: &str) -> AppResult<Option<bool>> {
        self.get(field).map(|v| parse_flag(field, v)).transpose()
    }

    /// One of `allowed`, refused on `field` otherwise.
    pub fn choice(&self, field: &str, allowed: &[&'static str]) -> AppResult<Option<&'static str>> {
        self.get(field)
            .map(|v| parse_choice(field, v, allowed))
            .transpose()
    }
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

// ---------------------------------------------------------------------------
// The one reading of each kind of parameter. Every route reads its query (and
// the data routes their JSON bodies) through these, so the same bad value gets
// the same answer everywhere: a 422 naming the parameter (docs/api.md, "Bad
// input"). Empty values count as absent.
// ---------------------------------------------------------------------------

/// A positive whole number id.
pub fn parse_id(field: &str, v: &str) -> AppResult<i64> {
    v.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            AppError::validation(
                field,
                format!("{field} must be a positive whole number (or a comma list of them)"),
            )
        })
}

/// A flag: `true`/`1` or `false`/`0`.
pub fn parse_flag(field: &str, v: &str) -> AppResult<bool> {
    match v.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(AppError::validation(
            field,
            format!("{field} must be true or false"),
        )),
    }
}

/// A count between 1 and `max`.
pub fn parse_limit(field: &str, v: &str, max: usize) -> AppResult<usize> {
    v.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            AppError::validation(
                field,
                format!("{field} must be a whole number from 1 to {max}"),
            )
        })
}

/// `?name=<id>` of a request.
pub fn query_id(req: &Request, name: &str) -> AppResult<Option<i64>> {
    req.query_param(name)
        .map(|v| parse_id(name, &v))
        .transpose()
}

/// `?name=true|false` of a request.
pub fn query_flag(req: &Request, name: &str) -> AppResult<Option<bool>> {
    req.query_param(name)
        .map(|v| parse_flag(name, &v))
        .transpose()
}

/// One of `allowed` (case-insensitive).
pub fn parse_choice(field: &str, v: &str, allowed: &[&'static str]) -> AppResult<&'static str> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(v.trim()))
        .copied()
        .ok_or_else(|| {
            AppError::validation(
                field,
                format!("{field} must be one of: {}", allowed.join(", ")),
            )
        })
}

/// `?name=<count>` of a request, `default` when absent.
pub fn query_limit(req: &Request, name: &str, default: usize, max: usize) -> AppResult<usize> {
    req.query_param(name)
        .map_or(Ok(default), |v| parse_limit(name, &v, max))
}

/// Reads and checks the selection parameters. `one_line`: exactly one line
/// is required (`line_id`); otherwise no line parameter means every line the
/// user may see.
pub fn select(
    params: &Params,
    ctx: &TenantContext,
    meta: &TenantMetadata,
    one_line: bool,
) -> AppResult<Selection> {
    let lines = params.one_or_many("line_id", "line_ids")?;
    let (line_ids, line_field) = match lines {
        Some((ids, field)) => {
            if one_line && ids.len() != 1 {
                return Err(AppError::validation(
                    field,
                    "this route reads one line at a time: give line_id",
                ));
            }
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let line = ctx.line(meta, id).map_err(|_| {
                    AppError::unknown_id(
                        field,
                        format!("line {id} does not exist or is not visible to you"),
                    )
                })?;
                if !out.contains(&line.line_id) {
                    out.push(line.line_id);
                }
            }
            (out, field)
        }
        None if one_line => {
            return Err(AppError::validation("line_id", "line_id is required"));
        }
        None => (ctx.visible_line_ids(meta), "line_id"),
    };
    let areas = match params.one_or_many("area_id", "area_ids")? {
        None => None,
        Some((ids, field)) => {
            for id in &ids {
                let ok = meta
                    .area(*id)
                    .is_some_and(|a| line_ids.contains(&a.line_id) && ctx.can_see_line(a.line_id));
                if !ok {
                    return Err(AppError::unknown_id(
                        field,
                        format!("area {id} does not exist on the selected lines"),
                    ));
                }
            }
            Some(ids)
        }
    };
    let products = match params.one_or_many("product_id", "product_ids")? {
        None => None,
        Some((ids, field)) => {
            for id in &ids {
                if meta.product(*id).is_none() {
                    return Err(AppError::unknown_id(
                        field,
                        format!("product {id} does not exist"),
                    ));
                }
            }
            Some(ids)
        }
    };
    let shift_id = match params.id("shift_id")? {
        None => None,
        Some(id) => {
            if meta.shift(id).is_none() {
                return Err(AppError::unknown_id(
                    "shift_id",
                    format!("shift {id} does not exist"),
                ));
            }
            Some(id)
        }
    };
    Ok(Selection {
        line_ids,
        line_field,
        areas,
        products,
        shift_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::{Method, StatusCode};

    fn query(q: &str) -> Params {
        let mut r = Request::new(Method::GET, "/x");
        r.query = q.into();
        Params::from_query(&r)
    }

    #[test]
    fn ids_and_lists_name_their_field() {
        let p = query("line_id=3&line_ids=&area_ids=1,%202,2&product_id=x&shift_id=-1&limit=0");
        assert_eq!(
            p.one_or_many("line_id", "line_ids").unwrap(),
            Some((vec![3], "line_id"))
        );
        assert_eq!(p.ids("area_ids").unwrap(), Some(vec![1, 2]));
        assert_eq!(p.id("product_id").unwrap_err().field(), Some("product_id"));
        assert_eq!(p.id("shift_id").unwrap_err().field(), Some("shift_id"));
        assert_eq!(
            p.limit("limit", 10, 100).unwrap_err().field(),
            Some("limit")
        );
        let both = query("line_id=1&line_ids=2");
        assert_eq!(
            both.one_or_many("line_id", "line_ids").unwrap_err().field(),
            Some("line_ids")
        );
    }

    #[test]
    fn intervals_and_zones_are_validated() {
        let p = query("interval=minute&timezone=Mars/Olympus");
        let e = p.interval("interval").unwrap_err();
        assert_eq!(
            (e.status(), e.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("interval"))
        );
        assert_eq!(p.timezone().unwrap_err().field(), Some("timezone"));
        assert_eq!(
            query("timezone=America/Mexico_City").timezone().unwrap(),
            Some(chrono_tz::America::Mexico_City)
        );
    }

    #[test]
    fn bodies_read_like_query_strings() {
        let mut r = Request::new(Method::POST, "/x");
        r.body = bytes::Bytes::from_static(
            br#"{"line_ids": [1, "2"], "group_by": "day", "shift_id": null}"#,
        );
        let p = Params::from_body(&r, &["line_ids", "group_by", "shift_id"]).unwrap();
        assert_eq!(p.ids("line_ids").unwrap(), Some(vec![1, 2]));
        assert_eq!(p.get("shift_id"), None);
        r.body = bytes::Bytes::from_static(br#"{"lines": [1]}"#);
        assert_eq!(
            Params::from_body(&r, &["line_ids"]).unwrap_err().field(),
            Some("lines")
        );
        r.body = bytes::Bytes::from_static(br#"{"line_ids": [{"a": 1}]}"#);
        assert_eq!(
            Params::from_body(&r, &["line_ids"]).unwrap_err().field(),
            Some("line_ids")
        );
    }
}
