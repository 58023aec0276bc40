//! Dashboard layouts (`dashboard_template.layout_config`): [`validate_layout`]
//! checks a whole layout — its keys, the grid, each widget's type, place,
//! params and title, and that no two widgets overlap — and returns it typed
//! as a [`Layout`].

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{
    clip, find, push_token, validate_params, GRID_COLUMNS, MAX_TITLE_CHARS, MAX_WIDGETS,
    MAX_WIDGET_HEIGHT, MAX_WIDGET_Y,
};

/// A validated dashboard layout (`dashboard_template.layout_config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// Grid width (`1..=12`, default 12).
    pub columns: u64,
    /// The widgets, in the order given.
    pub widgets: Vec<LayoutWidget>,
}

/// One widget placed on the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayoutWidget {
    /// A catalog widget type.
    pub widget_type: String,
    /// Column, from 0.
    pub x: u64,
    /// Row, from 0.
    pub y: u64,
    /// Width in columns.
    pub w: u64,
    /// Height in rows.
    pub h: u64,
    /// Params as given (valid for the type; not merged with the defaults —
    /// see [`super::effective_params`]).
    pub params: Value,
    /// Title as given (kept verbatim; escape it when shown). `None`: the
    /// widget's name in the user's language.
    pub title: Option<String>,
}

/// Why a layout was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", if pointer.is_empty() { "layout" } else { pointer.as_str() })]
pub struct LayoutError {
    /// Index of the widget at fault, if one is.
    pub widget: Option<usize>,
    /// JSON pointer of the failing field in the layout, e.g.
    /// `/widgets/3/params/line_id` or `/widgets/2/w`.
    pub pointer: String,
    /// What is wrong, readable.
    pub message: String,
}

impl LayoutError {
    fn at(widget: Option<usize>, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            widget,
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

const LAYOUT_KEYS: &[&str] = &["columns", "widgets"];
const WIDGET_KEYS: &[&str] = &["widget_type", "x", "y", "w", "h", "params", "title"];

fn unknown_key(obj: &Map<String, Value>, allowed: &[&str]) -> Option<String> {
    obj.keys().find(|k| !allowed.contains(&k.as_str())).cloned()
}

fn uint(
    obj: &Map<String, Value>,
    key: &str,
    index: usize,
    min: u64,
    max: u64,
) -> Result<u64, LayoutError> {
    let pointer = format!("/widgets/{index}/{key}");
    let v = obj.get(key).ok_or_else(|| {
        LayoutError::at(
            Some(index),
            &pointer,
            format!("widget {index}: `{key}` is required"),
        )
    })?;
    let n = v.as_u64().ok_or_else(|| {
        LayoutError::at(
            Some(index),
            &pointer,
            format!("widget {index}: `{key}` must be a whole number from {min} to {max}"),
        )
    })?;
    if n < min || n > max {
        return Err(LayoutError::at(
            Some(index),
            &pointer,
            format!("widget {index}: `{key}` is {n}, must be from {min} to {max}"),
        ));
    }
    Ok(n)
}

/// Validates a whole layout `{"columns": 12, "widgets": [{"widget_type",
/// "x", "y", "w", "h", "params", "title"}]}` and returns it typed.
///
/// Refused (first problem found, naming the widget index and field): not an
/// object, unknown keys, `columns` outside `1..=12`, more than
/// [`MAX_WIDGETS`] widgets, an unknown widget type, params failing the
/// type's schema, `x`/`y`/`w`/`h` off the grid (`w, h ≥ 1`, `h ≤ 12`,
/// `x + w ≤ columns`), a title over [`MAX_TITLE_CHARS`] characters, and two
/// widgets that overlap. A missing `params` means the type's defaults (`{}`);
/// `title` may be absent or null.
pub fn validate_layout(layout: &Value) -> Result<Layout, LayoutError> {
    let obj = layout
        .as_object()
        .ok_or_else(|| LayoutError::at(None, "", "a layout must be a JSON object"))?;
    if let Some(k) = unknown_key(obj, LAYOUT_KEYS) {
        return Err(LayoutError::at(
            None,
            push_token("", &k),
            format!(
                "unknown layout key `{}` (expected `columns` and `widgets`)",
                clip(&k)
            ),
        ));
    }
    let columns = match obj.get("columns") {
        None => GRID_COLUMNS,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=GRID_COLUMNS).contains(&n) => n,
            _ => {
                return Err(LayoutError::at(
                    None,
                    "/columns",
                    format!("`columns` must be a whole number from 1 to {GRID_COLUMNS}"),
                ))
            }
        },
    };
    let items = match obj.get("widgets") {
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(LayoutError::at(
                None,
                "/widgets",
                "`widgets` must be an array",
            ))
        }
        None => return Err(LayoutError::at(None, "/widgets", "`widgets` is required")),
    };
    if items.len() > MAX_WIDGETS {
        return Err(LayoutError::at(
            None,
            "/widgets",
            format!(
                "a layout holds at most {MAX_WIDGETS} widgets, this one has {}",
                items.len()
            ),
        ));
    }

    let mut widgets = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let base = format!("/widgets/{i}");
        let w = item.as_object().ok_or_else(|| {
            LayoutError::at(Some(i), &base, format!("widget {i} must be a JSON object"))
        })?;
        if let Some(k) = unknown_key(w, WIDGET_KEYS) {
            return Err(LayoutError::at(
                Some(i),
                push_token(&base, &k),
                format!("widget {i}: unknown key `{}`", clip(&k)),
            ));
        }
        let widget_type = match w.get("widget_type") {
            Some(Value::String(s)) => s,
            Some(_) => {
                return Err(LayoutError::at(
                    Some(i),
                    format!("{base}/widget_type"),
                    format!("widget {i}: `widget_type` must be a string"),
                ))
            }
            None => {
                return Err(LayoutError::at(
                    Some(i),
                    format!("{base}/widget_type"),
                    format!("widget {i}: `widget_type` is required"),
                ))
            }
        };
        if find(widget_type).is_none() {
            return Err(LayoutError::at(
                Some(i),
                format!("{base}/widget_type"),
                format!("widget {i}: unknown widget type `{}`", clip(widget_type)),
            ));
        }
        let x = uint(w, "x", i, 0, columns - 1)?;
        let y = uint(w, "y", i, 0, MAX_WIDGET_Y)?;
        let width = uint(w, "w", i, 1, columns)?;
        let h = uint(w, "h", i, 1, MAX_WIDGET_HEIGHT)?;
        if x + width > columns {
            return Err(LayoutError::at(
                Some(i),
                format!("{base}/w"),
                format!(
                    "widget {i}: x + w = {} is past the {columns}-column grid",
                    x + width
                ),
            ));
        }
        let params = w.get("params").cloned().unwrap_or_else(|| json!({}));
        if let Err(e) = validate_params(widget_type, &params) {
            return Err(LayoutError::at(
                Some(i),
                format!("{base}/params{}", e.pointer()),
                format!("widget {i} ({widget_type}): {e}"),
            ));
        }
        let title = match w.get("title") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let n = s.chars().count();
                if n > MAX_TITLE_CHARS {
                    return Err(LayoutError::at(
                        Some(i),
                        format!("{base}/title"),
                        format!(
                            "widget {i}: title is {n} characters, at most {MAX_TITLE_CHARS} allowed"
                        ),
                    ));
                }
                Some(s.clone())
            }
            Some(_) => {
                return Err(LayoutError::at(
                    Some(i),
                    format!("{base}/title"),
                    format!("widget {i}: `title` must be a string or null"),
                ))
            }
        };
        widgets.push(LayoutWidget {
            widget_type: widget_type.clone(),
            x,
            y,
            w: width,
            h,
            params,
            title,
        });
    }

    for (i, a) in widgets.iter().enumerate() {
        for (j, b) in widgets.iter().enumerate().take(i) {
            let apart =
                a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
            if !apart {
                return Err(LayoutError::at(
                    Some(i),
                    format!("/widgets/{i}"),
                    format!(
                        "widget {i} ({}) at x={}, y={}, {}×{} overlaps widget {j} ({}) at x={}, y={}, {}×{}",
                        a.widget_type, a.x, a.y, a.w, a.h, b.widget_type, b.x, b.y, b.w, b.h
                    ),
                ));
            }
        }
    }

    Ok(Layout { columns, widgets })
}

/// The layout as JSON (what `dashboard_template.layout_config` stores).
impl Layout {
    /// Serialises the layout back to its stored JSON shape.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "columns": self.columns,
            "widgets": self.widgets.iter().map(|w| json!({
                "widget_type": w.widget_type,
                "x": w.x, "y": w.y, "w": w.w, "h": w.h,
                "params": w.params,
                "title": w.title,
            })).collect::<Vec<_>>(),
        })
    }
}
