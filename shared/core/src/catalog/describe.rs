//! The second half of params validation: a JSON Schema error turned into a
//! pointer and a readable message that never echoes the offending value
//! ([`describe`]), and the rules a schema cannot express
//! ([`check_semantics`]): integers written as integers, calendar-valid dates,
//! `start_date` before `end_date`, `warning` on the right side of `target`.

use serde_json::Value;

use super::schema::Colouring;
use super::{clip, push_token, ParamsError};

fn list(values: &Value) -> String {
    match values.as_array() {
        Some(a) => a
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        None => values.to_string(),
    }
}

/// Turns a schema error into a pointer and a message that never echoes the
/// offending value.
pub(super) fn describe(e: &jsonschema::ValidationError<'_>) -> ParamsError {
    use jsonschema::error::{TypeKind, ValidationErrorKind as K};
    let at = e.instance_path().as_str().to_owned();
    let field = at.rsplit('/').next().unwrap_or("");
    match e.kind() {
        K::AdditionalProperties { unexpected } => {
            let name = unexpected.first().map_or("", String::as_str);
            ParamsError::invalid(
                push_token(&at, name),
                format!("unknown parameter `{}` for this widget type", clip(name)),
            )
        }
        K::Required { property } => {
            let name = property.as_str().unwrap_or("");
            ParamsError::invalid(push_token(&at, name), "is required")
        }
        K::Not { schema } => {
            let pair: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match pair.as_slice() {
                [a, b] => ParamsError::invalid(
                    push_token(&at, b),
                    format!("cannot be combined with `{a}`; give one or the other"),
                ),
                _ => ParamsError::invalid(at, "this combination of parameters is not allowed"),
            }
        }
        K::Type { kind } => {
            let t = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(ts) => ts
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            let article = if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            ParamsError::invalid(at, format!("must be {article} {t}"))
        }
        K::Enum { options } => {
            ParamsError::invalid(at, format!("must be one of: {}", list(options)))
        }
        K::Minimum { limit } => ParamsError::invalid(at, format!("must be at least {limit}")),
        K::Maximum { limit } => ParamsError::invalid(at, format!("must be at most {limit}")),
        K::ExclusiveMinimum { limit } => {
            ParamsError::invalid(at, format!("must be greater than {limit}"))
        }
        K::ExclusiveMaximum { limit } => {
            ParamsError::invalid(at, format!("must be less than {limit}"))
        }
        K::MinItems { limit } => ParamsError::invalid(at, bound("have at least", *limit, "item")),
        K::MaxItems { limit } => ParamsError::invalid(at, bound("have at most", *limit, "item")),
        K::UniqueItems => ParamsError::invalid(at, "must not repeat an id"),
        K::Pattern { .. } | K::MaxLength { .. } if field == "start_date" || field == "end_date" => {
            ParamsError::invalid(
                at,
                "must be an ISO 8601 date (2026-04-01) or date-time (2026-04-01T06:00), \
                 optionally with seconds, milliseconds and an offset",
            )
        }
        K::MaxLength { limit } => {
            ParamsError::invalid(at, bound("be at most", *limit, "character"))
        }
        K::MinLength { limit } => {
            ParamsError::invalid(at, bound("be at least", *limit, "character"))
        }
        _ => ParamsError::invalid(at, e.masked_with("the value").to_string()),
    }
}

/// `must <verb> <n> <noun>(s)`, e.g. "must have at least 1 item".
fn bound(verb: &str, n: u64, noun: &str) -> String {
    let plural = if n == 1 { "" } else { "s" };
    format!("must {verb} {n} {noun}{plural}")
}

/// A parsed `start_date` / `end_date`.
#[derive(Clone, Copy)]
enum When {
    Local(chrono::NaiveDateTime),
    Fixed(chrono::DateTime<chrono::FixedOffset>),
}

fn parse_when(s: &str) -> Option<When> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(When::Local);
    }
    let has_offset = s.ends_with('Z') || s.get(10..).is_some_and(|t| t.contains(['+', '-']));
    if has_offset {
        let normalized;
        // The minutes end at byte 16; no `:` after them means no seconds (`06:00Z`,
        // `06:00+02:00`). A length test is not enough: `06:00:00.5Z` is 22 bytes too.
        let s = if s.as_bytes().get(16).is_some_and(|&b| b != b':') {
            // No seconds: add them so RFC 3339 parsing accepts it.
            normalized = insert_seconds(s)?;
            normalized.as_str()
        } else {
            s
        };
        DateTime::parse_from_rfc3339(s).ok().map(When::Fixed)
    } else {
        [
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M:%S%.f",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(When::Local)
    }
}

/// `2026-04-01T06:00+02:00` → `2026-04-01T06:00:00+02:00` (the pattern
/// guarantees the minutes end at byte 16).
fn insert_seconds(s: &str) -> Option<String> {
    Some(format!("{}:00{}", s.get(..16)?, s.get(16..)?))
}

/// The rules after the schema; `colouring` is the widget type's KPI colouring.
pub(super) fn check_semantics(
    colouring: Option<Colouring>,
    params: &Value,
) -> Result<(), ParamsError> {
    let Some(obj) = params.as_object() else {
        return Ok(());
    };
    // Integers written as integers: `1.0` passes JSON Schema's "integer" but
    // would not read back as one.
    for key in [
        "line_id",
        "shift_id",
        "top_n",
        "rate_window_minutes",
        "line_ids",
        "product_ids",
        "area_ids",
    ] {
        match obj.get(key) {
            Some(Value::Array(items)) => {
                if let Some(i) = items.iter().position(|v| v.as_i64().is_none()) {
                    return Err(ParamsError::invalid(
                        format!("/{key}/{i}"),
                        "must be a whole number written without a decimal point",
                    ));
                }
            }
            Some(v) if v.as_i64().is_none() => {
                return Err(ParamsError::invalid(
                    format!("/{key}"),
                    "must be a whole number written without a decimal point",
                ));
            }
            _ => {}
        }
    }

    let mut parsed = [None, None];
    for (slot, key) in ["start_date", "end_date"].into_iter().enumerate() {
        if let Some(s) = obj.get(key).and_then(Value::as_str) {
            parsed[slot] = Some(parse_when(s).ok_or_else(|| {
                ParamsError::invalid(format!("/{key}"), "is not a real calendar date or time")
            })?);
        }
    }
    let order = match parsed {
        [Some(When::Local(a)), Some(When::Local(b))] => Some(a < b),
        [Some(When::Fixed(a)), Some(When::Fixed(b))] => Some(a < b),
        _ => None,
    };
    if order == Some(false) {
        return Err(ParamsError::invalid(
            "/end_date",
            "must be after start_date (end_date is exclusive)",
        ));
    }

    if let (Some(c), Some(target), Some(warning)) = (
        colouring,
        obj.get("target").and_then(Value::as_f64),
        obj.get("warning").and_then(Value::as_f64),
    ) {
        if c.higher_is_better() && warning > target {
            return Err(ParamsError::invalid(
                "/warning",
                "must not be above target (higher is better for this KPI)",
            ));
        }
        if !c.higher_is_better() && warning < target {
            return Err(ParamsError::invalid(
                "/warning",
                "must not be below target (lower is better for this KPI)",
            ));
        }
    }
    Ok(())
}
