//! The widget catalog (docs/widgets.md#widgets): the 18 widget types, the JSON Schema
//! (draft 2020-12) of each type's params, their defaults, and validation of
//! params and of whole dashboard layouts.
//!
//! The catalog is code, seeded into the global `widget_catalog` table by
//! `dashctl seed-widget-catalog` (`params_schema` is the `required_params`
//! column). Validation here never escapes or rewrites anything: strings such as
//! a title are kept exactly as given and escaped wherever they are shown.
//!
//! Params vocabulary (each type takes the subset its schema lists):
//!
//! | param | meaning |
//! |---|---|
//! | `line_id` / `line_ids` | one line, or 1..=50 distinct lines; neither = every line the user may see (not both) |
//! | `range` | a relative window ([`RANGES`]); or `start_date` + `end_date` (ISO 8601, plant-local without an offset, `end_date` exclusive); not both |
//! | `interval` | `hour`, `shift`, `day`, `week`, `month` where a widget buckets |
//! | `product_ids`, `area_ids` | filters, 1..=100 distinct ids |
//! | `shift_id` | one shift |
//! | `top_n` | 1..=50 |
//! | `include_micro` | count micro-stops too |
//! | `show_table` | show the chart's table alternative |
//! | `target`, `warning` | KPI colouring; ratios in 0..=1 (higher is better), production in units (higher is better), downtime in minutes (lower is better) |
//! | `metric` | what `line_comparison` compares |
//! | `rate_window_minutes` | the window of `line_status`'s current rate |
//!
//! Here: the constants, the types, the catalog built once, params validation
//! and defaults. Beside it: `schema` (the building blocks of a params
//! schema), `definitions` (the table of the 18 types), `describe` (a schema
//! error as a message; the rules a schema cannot express), `layout` (whole
//! layouts) and `tests`.

mod definitions;
mod describe;
mod layout;
mod schema;
#[cfg(test)]
mod tests;

pub use layout::{validate_layout, Layout, LayoutError, LayoutWidget};

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use definitions::definitions;
use describe::{check_semantics, describe};
use schema::Colouring;

/// The JSON Schema dialect of every params schema.
pub const SCHEMA_DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Relative time windows a widget may ask for (docs/api.md#shapes, §7).
pub const RANGES: &[&str] = &[
    "today",
    "yesterday",
    "current_shift",
    "last_shift",
    "this_week",
    "last_7_days",
    "last_30_days",
    "this_month",
    "last_24_hours",
];

/// Every bucket size a route may use.
pub const INTERVALS: &[&str] = &["hour", "shift", "day", "week", "month"];

/// What `line_comparison` can compare.
pub const METRICS: &[&str] = &[
    "oee",
    "availability",
    "performance",
    "quality",
    "production",
    "downtime",
];

/// The layout grid's width (`columns`) and the largest accepted.
pub const GRID_COLUMNS: u64 = 12;
/// Tallest widget, in grid rows.
pub const MAX_WIDGET_HEIGHT: u64 = 12;
/// Lowest row a widget may start at (keeps a layout within a sane page).
pub const MAX_WIDGET_Y: u64 = 480;
/// Most widgets on one layout.
pub const MAX_WIDGETS: usize = 40;
/// Longest widget title, in characters.
pub const MAX_TITLE_CHARS: usize = 80;

/// Most ids in `line_ids`.
pub const MAX_LINE_IDS: u64 = 50;
/// Most ids in `product_ids` / `area_ids`.
pub const MAX_FILTER_IDS: u64 = 100;
/// Largest id accepted (MySQL `INT` / what every client table uses).
pub const MAX_ID: i64 = 2_147_483_647;

/// Pattern of `start_date` / `end_date`: an ISO 8601 date, or a date-time to
/// the minute, second or millisecond, with an optional `Z` or `±hh:mm`.
/// (Calendar validity, e.g. no 31 February, is checked after the schema.)
pub const DATE_PATTERN: &str = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])\
(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,3})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$";

/// How a widget draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// A KPI card.
    Kpi,
    /// A line chart.
    Line,
    /// A bar chart.
    Bar,
    /// A pie / doughnut chart.
    Pie,
    /// A waterfall chart.
    Waterfall,
    /// A table.
    Table,
    /// A heatmap.
    Heatmap,
    /// A live status tile.
    Status,
}

impl ChartKind {
    /// The name used in JSON and templates.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Kpi => "kpi",
            Self::Line => "line",
            Self::Bar => "bar",
            Self::Pie => "pie",
            Self::Waterfall => "waterfall",
            Self::Table => "table",
            Self::Heatmap => "heatmap",
            Self::Status => "status",
        }
    }

    /// A chart (as opposed to a KPI card, table or status tile): it has a
    /// table alternative (`show_table`).
    #[must_use]
    pub const fn is_chart(self) -> bool {
        matches!(
            self,
            Self::Line | Self::Bar | Self::Pie | Self::Waterfall | Self::Heatmap
        )
    }
}

impl fmt::Display for ChartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WidgetType {
    /// Unique key, e.g. `kpi_oee`.
    pub widget_type: &'static str,
    /// English name.
    pub widget_name: &'static str,
    /// Spanish name.
    pub widget_name_es: &'static str,
    /// English description.
    pub description: &'static str,
    /// Spanish description.
    pub description_es: &'static str,
    /// How it draws.
    pub chart_kind: ChartKind,
    /// JSON Schema (draft 2020-12) of its params (`widget_catalog.required_params`).
    pub params_schema: Value,
    /// Params used when a layout gives none; valid against `params_schema`.
    pub default_params: Value,
    /// Suggested width in grid columns for the layout editor.
    pub default_w: u64,
    /// Suggested height in grid rows for the layout editor.
    pub default_h: u64,
}
// ---------------------------------------------------------------------------
// The catalog, built once

struct Catalog {
    types: Vec<WidgetType>,
    validators: Vec<jsonschema::Validator>,
    /// Each type's KPI colouring, for the target/warning order check.
    colourings: Vec<Option<Colouring>>,
    index: HashMap<&'static str, usize>,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let defs = definitions();
        let colourings = defs.iter().map(|d| d.params.kpi_colouring()).collect();
        let types: Vec<WidgetType> = defs
            .into_iter()
            .map(|d| WidgetType {
                widget_type: d.widget_type,
                widget_name: d.widget_name,
                widget_name_es: d.widget_name_es,
                description: d.description,
                description_es: d.description_es,
                chart_kind: d.chart_kind,
                params_schema: d.params.build(d.widget_type),
                default_params: d.defaults,
                default_w: d.size.0,
                default_h: d.size.1,
            })
            .collect();
        let validators = types
            .iter()
            .map(|t| {
                // The schemas are constants of this module; a test compiles
                // every one, so this cannot fail at run time.
                jsonschema::draft202012::options()
                    .should_validate_formats(false)
                    .build(&t.params_schema)
                    .expect("catalog schemas are valid")
            })
            .collect();
        let index = types
            .iter()
            .enumerate()
            .map(|(i, t)| (t.widget_type, i))
            .collect();
        Catalog {
            types,
            validators,
            colourings,
            index,
        }
    })
}

/// All widget types, in catalog order (built once).
#[must_use]
pub fn widget_types() -> &'static [WidgetType] {
    &catalog().types
}

/// The widget type named `widget_type`.
#[must_use]
pub fn find(widget_type: &str) -> Option<&'static WidgetType> {
    let c = catalog();
    c.index.get(widget_type).map(|&i| &c.types[i])
}

// ---------------------------------------------------------------------------
// Params validation

/// Why params were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// No such widget type in the catalog.
    #[error("unknown widget type `{widget_type}`")]
    UnknownWidgetType {
        /// The name asked for (as given; escape it when shown).
        widget_type: String,
    },
    /// A param breaks the schema or a rule the schema cannot express.
    #[error("{}: {message}", if pointer.is_empty() { "params" } else { pointer.as_str() })]
    Invalid {
        /// JSON pointer of the failing field inside the params (`""` = the
        /// params object itself), e.g. `/line_ids/2`.
        pointer: String,
        /// What is wrong, readable.
        message: String,
    },
}

impl ParamsError {
    /// JSON pointer of the failing field inside the params (`""` for the
    /// whole params object or an unknown widget type).
    #[must_use]
    pub fn pointer(&self) -> &str {
        match self {
            Self::UnknownWidgetType { .. } => "",
            Self::Invalid { pointer, .. } => pointer,
        }
    }

    /// The readable message without the pointer.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::UnknownWidgetType { widget_type } => {
                format!("unknown widget type `{}`", clip(widget_type))
            }
            Self::Invalid { message, .. } => message.clone(),
        }
    }

    fn invalid(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

/// Validates `params` for `widget_type`: its JSON Schema first, then the
/// rules a schema cannot express (calendar-valid dates, `start_date` before
/// `end_date`, `warning` on the right side of `target`, integers written as
/// integers). Returns the first failing field.
pub fn validate_params(widget_type: &str, params: &Value) -> Result<(), ParamsError> {
    let c = catalog();
    let i = index_of(widget_type)?;
    if let Err(e) = c.validators[i].validate(params) {
        return Err(describe(&e));
    }
    check_semantics(c.colourings[i], params)
}

/// The catalog index of `widget_type`, or the error naming it.
fn index_of(widget_type: &str) -> Result<usize, ParamsError> {
    catalog()
        .index
        .get(widget_type)
        .copied()
        .ok_or_else(|| ParamsError::UnknownWidgetType {
            widget_type: clip(widget_type),
        })
}

/// The params a widget renders with: `default_params` overlaid with
/// `params` (validated first). Giving `start_date`/`end_date` drops the
/// default `range`, giving `line_ids` drops a default `line_id` and the
/// other way round.
pub fn effective_params(widget_type: &str, params: &Value) -> Result<Value, ParamsError> {
    validate_params(widget_type, params)?;
    let wt = &catalog().types[index_of(widget_type)?];
    let mut merged = wt.default_params.as_object().cloned().unwrap_or_default();
    if let Some(given) = params.as_object() {
        if given.contains_key("start_date") || given.contains_key("end_date") {
            merged.remove("range");
        }
        if given.contains_key("range") {
            merged.remove("start_date");
            merged.remove("end_date");
        }
        if given.contains_key("line_ids") {
            merged.remove("line_id");
        }
        if given.contains_key("line_id") {
            merged.remove("line_ids");
        }
        for (k, v) in given {
            merged.insert(k.clone(), v.clone());
        }
    }
    let merged = Value::Object(merged);
    validate_params(widget_type, &merged)?;
    Ok(merged)
}

/// Keeps user-given text short in messages.
fn clip(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

/// Appends one reference token to a JSON pointer (RFC 6901 escaping).
fn push_token(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}
