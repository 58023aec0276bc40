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

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

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
// Schema building blocks

fn id_schema(what: &str) -> Value {
    json!({
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_ID,
        "description": format!("{what} id"),
    })
}

fn ids_schema(what: &str, max: u64) -> Value {
    json!({
        "type": "array",
        "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "minItems": 1,
        "maxItems": max,
        "uniqueItems": true,
        "description": format!("{what} ids"),
    })
}

/// Which KPI colouring a widget takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Colouring {
    /// Ratios in 0..=1, higher is better.
    Ratio,
    /// Units produced, higher is better.
    Units,
    /// Minutes of downtime, lower is better.
    Minutes,
}

impl Colouring {
    fn schema(self, which: &str) -> Value {
        match self {
            Self::Ratio => json!({
                "type": "number", "minimum": 0, "maximum": 1,
                "description": format!("{which} ratio (0..1); at or above target is good"),
            }),
            Self::Units => json!({
                "type": "number", "minimum": 0, "maximum": 1_000_000_000,
                "description": format!("{which} units; at or above target is good"),
            }),
            Self::Minutes => json!({
                "type": "number", "minimum": 0, "maximum": 527_040,
                "description": format!("{which} minutes of downtime; at or below target is good"),
            }),
        }
    }

    fn higher_is_better(self) -> bool {
        !matches!(self, Self::Minutes)
    }
}

/// Builds one params schema.
struct Params {
    props: Map<String, Value>,
    required: Vec<&'static str>,
    exclusive: Vec<[&'static str; 2]>,
    dependent: Vec<(&'static str, &'static str)>,
}

impl Params {
    fn new() -> Self {
        Self {
            props: Map::new(),
            required: Vec::new(),
            exclusive: Vec::new(),
            dependent: Vec::new(),
        }
    }

    fn prop(mut self, name: &str, schema: Value) -> Self {
        self.props.insert(name.to_owned(), schema);
        self
    }

    /// `line_id` or `line_ids` or neither (every line the user may see).
    fn lines(self) -> Self {
        let mut p = self
            .prop("line_id", id_schema("Line"))
            .prop("line_ids", ids_schema("Line", MAX_LINE_IDS));
        p.exclusive.push(["line_id", "line_ids"]);
        p
    }

    /// Exactly one line, required.
    fn one_line(self) -> Self {
        let mut p = self.prop("line_id", id_schema("Line"));
        p.required.push("line_id");
        p
    }

    /// `range`, or `start_date` + `end_date`.
    fn window(self) -> Self {
        let date = |what: &str| {
            json!({
                "type": "string",
                "pattern": DATE_PATTERN,
                "maxLength": 29,
                "description": format!(
                    "{what}: ISO 8601 date or date-time, plant-local time without an offset"
                ),
            })
        };
        let mut p = self
            .prop(
                "range",
                json!({"type": "string", "enum": RANGES, "description": "Relative time window"}),
            )
            .prop("start_date", date("Start (inclusive)"))
            .prop("end_date", date("End (exclusive)"));
        p.exclusive.push(["range", "start_date"]);
        p.exclusive.push(["range", "end_date"]);
        p.dependent.push(("start_date", "end_date"));
        p.dependent.push(("end_date", "start_date"));
        p
    }

    fn interval(self, allowed: &[&str]) -> Self {
        self.prop(
            "interval",
            json!({"type": "string", "enum": allowed, "description": "Bucket size"}),
        )
    }

    fn shift(self) -> Self {
        self.prop("shift_id", id_schema("Shift"))
    }

    fn products(self) -> Self {
        self.prop("product_ids", ids_schema("Product", MAX_FILTER_IDS))
    }

    fn areas(self) -> Self {
        self.prop("area_ids", ids_schema("Area", MAX_FILTER_IDS))
    }

    fn top_n(self) -> Self {
        self.prop(
            "top_n",
            json!({"type": "integer", "minimum": 1, "maximum": 50,
                   "description": "How many items to show; the rest are grouped as 'other'"}),
        )
    }

    fn include_micro(self) -> Self {
        self.prop(
            "include_micro",
            json!({"type": "boolean", "description": "Include micro-stops"}),
        )
    }

    fn show_table(self) -> Self {
        self.prop(
            "show_table",
            json!({"type": "boolean", "description": "Show the data table under the chart"}),
        )
    }

    fn colouring(self, c: Colouring) -> Self {
        self.prop("target", c.schema("Target"))
            .prop("warning", c.schema("Warning"))
    }

    fn build(self, widget_type: &str) -> Value {
        let mut schema = Map::new();
        schema.insert("$schema".into(), json!(SCHEMA_DIALECT));
        schema.insert("title".into(), json!(format!("{widget_type} params")));
        schema.insert("type".into(), json!("object"));
        schema.insert("additionalProperties".into(), json!(false));
        schema.insert("properties".into(), Value::Object(self.props));
        if !self.required.is_empty() {
            schema.insert("required".into(), json!(self.required));
        }
        if !self.dependent.is_empty() {
            let mut dep = Map::new();
            for (k, v) in self.dependent {
                dep.insert(k.into(), json!([v]));
            }
            schema.insert("dependentRequired".into(), Value::Object(dep));
        }
        if !self.exclusive.is_empty() {
            let all: Vec<Value> = self
                .exclusive
                .iter()
                .map(|pair| json!({"not": {"required": pair}}))
                .collect();
            schema.insert("allOf".into(), Value::Array(all));
        }
        Value::Object(schema)
    }
}

// ---------------------------------------------------------------------------
// The catalog

struct Def {
    widget_type: &'static str,
    widget_name: &'static str,
    widget_name_es: &'static str,
    description: &'static str,
    description_es: &'static str,
    chart_kind: ChartKind,
    size: (u64, u64),
    params: Params,
    defaults: Value,
}

fn ratio_kpi(
    widget_type: &'static str,
    names: (&'static str, &'static str),
    descriptions: (&'static str, &'static str),
    target: f64,
    warning: f64,
) -> Def {
    Def {
        widget_type,
        widget_name: names.0,
        widget_name_es: names.1,
        description: descriptions.0,
        description_es: descriptions.1,
        chart_kind: ChartKind::Kpi,
        size: (3, 2),
        params: Params::new()
            .lines()
            .window()
            .shift()
            .colouring(Colouring::Ratio),
        defaults: json!({"range": "today", "target": target, "warning": warning}),
    }
}

fn definitions() -> Vec<Def> {
    vec![
        ratio_kpi(
            "kpi_oee",
            ("OEE", "OEE"),
            (
                "Overall equipment effectiveness (availability × performance × quality) for the window.",
                "Eficiencia general de los equipos (disponibilidad × rendimiento × calidad) en el periodo.",
            ),
            0.85,
            0.60,
        ),
        ratio_kpi(
            "kpi_availability",
            ("Availability", "Disponibilidad"),
            (
                "Run time over planned time.",
                "Tiempo en marcha sobre tiempo planificado.",
            ),
            0.90,
            0.75,
        ),
        ratio_kpi(
            "kpi_performance",
            ("Performance", "Rendimiento"),
            (
                "Ideal production time over run time.",
                "Tiempo ideal de producción sobre tiempo en marcha.",
            ),
            0.95,
            0.80,
        ),
        ratio_kpi(
            "kpi_quality",
            ("Quality", "Calidad"),
            (
                "Good units over total units.",
                "Unidades buenas sobre unidades totales.",
            ),
            0.99,
            0.95,
        ),
        Def {
            widget_type: "kpi_production",
            widget_name: "Production",
            widget_name_es: "Producción",
            description: "Units produced in the window, optionally for some products or areas.",
            description_es: "Unidades producidas en el periodo, opcionalmente por productos o áreas.",
            chart_kind: ChartKind::Kpi,
            size: (3, 2),
            params: Params::new()
                .lines()
                .window()
                .shift()
                .products()
                .areas()
                .colouring(Colouring::Units),
            defaults: json!({"range": "today"}),
        },
        Def {
            widget_type: "kpi_downtime",
            widget_name: "Downtime",
            widget_name_es: "Tiempo de paro",
            description: "Total stop time in the window and the number of stops.",
            description_es: "Tiempo total de paro en el periodo y número de paros.",
            chart_kind: ChartKind::Kpi,
            size: (3, 2),
            params: Params::new()
                .lines()
                .window()
                .shift()
                .include_micro()
                .colouring(Colouring::Minutes),
            defaults: json!({"range": "today", "include_micro": false}),
        },
        Def {
            widget_type: "production_over_time",
            widget_name: "Production over time",
            widget_name_es: "Producción en el tiempo",
            description: "Units produced per hour, shift, day, week or month.",
            description_es: "Unidades producidas por hora, turno, día, semana o mes.",
            chart_kind: ChartKind::Line,
            size: (6, 4),
            params: Params::new()
                .lines()
                .window()
                .interval(INTERVALS)
                .shift()
                .products()
                .areas()
                .show_table(),
            defaults: json!({"range": "last_24_hours", "interval": "hour"}),
        },
        Def {
            widget_type: "product_distribution",
            widget_name: "Product distribution",
            widget_name_es: "Distribución por producto",
            description: "Share of the units produced by each product.",
            description_es: "Parte de las unidades producidas por cada producto.",
            chart_kind: ChartKind::Pie,
            size: (4, 4),
            params: Params::new()
                .lines()
                .window()
                .shift()
                .areas()
                .top_n()
                .show_table(),
            defaults: json!({"range": "today", "top_n": 8}),
        },
        Def {
            widget_type: "production_by_area",
            widget_name: "Production by area",
            widget_name_es: "Producción por área",
            description: "Units counted at each area of the line(s).",
            description_es: "Unidades contadas en cada área de la(s) línea(s).",
            chart_kind: ChartKind::Bar,
            size: (6, 4),
            params: Params::new()
                .lines()
                .window()
                .shift()
                .products()
                .areas()
                .show_table(),
            defaults: json!({"range": "today"}),
        },
        Def {
            widget_type: "line_comparison",
            widget_name: "Line comparison",
            widget_name_es: "Comparación de líneas",
            description: "One metric side by side for several lines (none given: every line you may see).",
            description_es: "Una métrica lado a lado para varias líneas (ninguna indicada: todas las que puede ver).",
            chart_kind: ChartKind::Bar,
            size: (6, 4),
            params: Params::new()
                .prop("line_ids", ids_schema("Line", MAX_LINE_IDS))
                .window()
                .shift()
                .prop(
                    "metric",
                    json!({"type": "string", "enum": METRICS, "description": "What to compare"}),
                )
                .show_table(),
            defaults: json!({"range": "this_week", "metric": "oee"}),
        },
        Def {
            widget_type: "oee_trend",
            widget_name: "OEE trend",
            widget_name_es: "Tendencia OEE",
            description: "OEE and its three factors per bucket.",
            description_es: "OEE y sus tres factores por intervalo.",
            chart_kind: ChartKind::Line,
            size: (6, 4),
            params: Params::new()
                .lines()
                .window()
                .interval(INTERVALS)
                .shift()
                .colouring(Colouring::Ratio)
                .show_table(),
            defaults: json!({"range": "last_7_days", "interval": "day", "target": 0.85}),
        },
        Def {
            widget_type: "oee_losses",
            widget_name: "OEE losses",
            widget_name_es: "Pérdidas OEE",
            description: "Waterfall from planned time to ideal production time: downtime by reason, micro-stops, speed and quality losses.",
            description_es: "Cascada del tiempo planificado al tiempo ideal de producción: paros por motivo, micro-paros, pérdidas de velocidad y de calidad.",
            chart_kind: ChartKind::Waterfall,
            size: (6, 4),
            params: Params::new().lines().window().shift().show_table(),
            defaults: json!({"range": "today"}),
        },
        Def {
            widget_type: "downtime_table",
            widget_name: "Downtime list",
            widget_name_es: "Lista de paros",
            description: "Stops in the window with duration, reason and justification.",
            description_es: "Paros del periodo con duración, motivo y justificación.",
            chart_kind: ChartKind::Table,
            size: (12, 4),
            params: Params::new()
                .lines()
                .window()
                .shift()
                .include_micro(),
            defaults: json!({"range": "today", "include_micro": false}),
        },
        Def {
            widget_type: "downtime_pareto",
            widget_name: "Downtime Pareto",
            widget_name_es: "Pareto de paros",
            description: "Stop time by reason, largest first, with the cumulative share.",
            description_es: "Tiempo de paro por motivo, de mayor a menor, con el porcentaje acumulado.",
            chart_kind: ChartKind::Bar,
            size: (6, 4),
            params: Params::new()
                .lines()
                .window()
                .shift()
                .include_micro()
                .top_n()
                .show_table(),
            defaults: json!({"range": "last_7_days", "top_n": 10, "include_micro": false}),
        },
        Def {
            widget_type: "shift_summary",
            widget_name: "Shift summary",
            widget_name_es: "Resumen por turno",
            description: "Production, downtime and OEE for each shift occurrence in the window.",
            description_es: "Producción, paros y OEE de cada turno del periodo.",
            chart_kind: ChartKind::Table,
            size: (12, 4),
            params: Params::new().lines().window().shift(),
            defaults: json!({"range": "today"}),
        },
        Def {
            widget_type: "hourly_heatmap",
            widget_name: "Hourly heatmap",
            widget_name_es: "Mapa de calor por hora",
            description: "Units produced by day and hour of the day.",
            description_es: "Unidades producidas por día y hora del día.",
            chart_kind: ChartKind::Heatmap,
            size: (12, 4),
            params: Params::new()
                .lines()
                .window()
                .shift()
                .products()
                .areas()
                .show_table(),
            defaults: json!({"range": "last_7_days"}),
        },
        Def {
            widget_type: "quality_trend",
            widget_name: "Quality trend",
            widget_name_es: "Tendencia de calidad",
            description: "Quality (good over total) and rejects per bucket.",
            description_es: "Calidad (buenas sobre totales) y rechazos por intervalo.",
            chart_kind: ChartKind::Line,
            size: (6, 4),
            params: Params::new()
                .lines()
                .window()
                .interval(INTERVALS)
                .shift()
                .products()
                .colouring(Colouring::Ratio)
                .show_table(),
            defaults: json!({"range": "last_7_days", "interval": "day", "target": 0.99, "warning": 0.95}),
        },
        Def {
            widget_type: "line_status",
            widget_name: "Line status",
            widget_name_es: "Estado de línea",
            description: "Live: running, or stopped since when; current rate against the ideal rate.",
            description_es: "En vivo: en marcha o parada desde cuándo; ritmo actual frente al ideal.",
            chart_kind: ChartKind::Status,
            size: (4, 3),
            params: Params::new().one_line().prop(
                "rate_window_minutes",
                json!({"type": "integer", "minimum": 1, "maximum": 240,
                       "description": "Minutes over which the current rate is measured"}),
            ),
            defaults: json!({"line_id": 1, "rate_window_minutes": 15}),
        },
    ]
}

/// Colouring of each type, for the target/warning order check.
fn colouring_of(widget_type: &str) -> Option<Colouring> {
    match widget_type {
        "kpi_oee" | "kpi_availability" | "kpi_performance" | "kpi_quality" | "oee_trend"
        | "quality_trend" => Some(Colouring::Ratio),
        "kpi_production" => Some(Colouring::Units),
        "kpi_downtime" => Some(Colouring::Minutes),
        _ => None,
    }
}

struct Catalog {
    types: Vec<WidgetType>,
    validators: Vec<jsonschema::Validator>,
    index: HashMap<&'static str, usize>,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let types: Vec<WidgetType> = definitions()
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
    let &i = c
        .index
        .get(widget_type)
        .ok_or_else(|| ParamsError::UnknownWidgetType {
            widget_type: clip(widget_type),
        })?;
    if let Err(e) = c.validators[i].validate(params) {
        return Err(describe(&e));
    }
    check_semantics(widget_type, params)
}

/// The params a widget renders with: `default_params` overlaid with
/// `params` (validated first). Giving `start_date`/`end_date` drops the
/// default `range`, giving `line_ids` drops a default `line_id` and the
/// other way round.
pub fn effective_params(widget_type: &str, params: &Value) -> Result<Value, ParamsError> {
    validate_params(widget_type, params)?;
    let wt = find(widget_type).ok_or_else(|| ParamsError::UnknownWidgetType {
        widget_type: clip(widget_type),
    })?;
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
fn describe(e: &jsonschema::ValidationError<'_>) -> ParamsError {
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
        K::MinItems { limit } => ParamsError::invalid(
            at,
            format!("must have at least {limit} item{}", plural(*limit)),
        ),
        K::MaxItems { limit } => ParamsError::invalid(
            at,
            format!("must have at most {limit} item{}", plural(*limit)),
        ),
        K::UniqueItems => ParamsError::invalid(at, "must not repeat an id"),
        K::Pattern { .. } | K::MaxLength { .. } if field == "start_date" || field == "end_date" => {
            ParamsError::invalid(
                at,
                "must be an ISO 8601 date (2026-04-01) or date-time (2026-04-01T06:00), \
                 optionally with seconds, milliseconds and an offset",
            )
        }
        K::MaxLength { limit } => ParamsError::invalid(
            at,
            format!("must be at most {limit} character{}", plural(*limit)),
        ),
        K::MinLength { limit } => ParamsError::invalid(
            at,
            format!("must be at least {limit} character{}", plural(*limit)),
        ),
        _ => ParamsError::invalid(at, e.masked_with("the value").to_string()),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
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

fn check_semantics(widget_type: &str, params: &Value) -> Result<(), ParamsError> {
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
        colouring_of(widget_type),
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

// ---------------------------------------------------------------------------
// Layouts

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
    /// see [`effective_params`]).
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

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [&str; 18] = [
        "kpi_oee",
        "kpi_availability",
        "kpi_performance",
        "kpi_quality",
        "kpi_production",
        "kpi_downtime",
        "production_over_time",
        "product_distribution",
        "production_by_area",
        "line_comparison",
        "oee_trend",
        "oee_losses",
        "downtime_table",
        "downtime_pareto",
        "shift_summary",
        "hourly_heatmap",
        "quality_trend",
        "line_status",
    ];

    fn err(widget_type: &str, params: Value) -> ParamsError {
        validate_params(widget_type, &params).expect_err("must be refused")
    }

    #[test]
    fn catalog_has_the_18_types_in_order() {
        let names: Vec<_> = widget_types().iter().map(|t| t.widget_type).collect();
        assert_eq!(names, ALL);
        for t in widget_types() {
            assert!(find(t.widget_type).is_some());
            assert!(!t.widget_name.is_empty() && !t.widget_name_es.is_empty());
            assert!(!t.description.is_empty() && !t.description_es.is_empty());
            assert!(t.default_w >= 1 && t.default_w <= GRID_COLUMNS);
            assert!(t.default_h >= 1 && t.default_h <= MAX_WIDGET_HEIGHT);
        }
        assert!(find("kpi_card").is_none());
        assert!(find("").is_none());
    }

    #[test]
    fn chart_kinds() {
        let kind = |t: &str| find(t).map(|w| w.chart_kind.as_str());
        assert_eq!(kind("kpi_oee"), Some("kpi"));
        assert_eq!(kind("production_over_time"), Some("line"));
        assert_eq!(kind("product_distribution"), Some("pie"));
        assert_eq!(kind("production_by_area"), Some("bar"));
        assert_eq!(kind("line_comparison"), Some("bar"));
        assert_eq!(kind("oee_trend"), Some("line"));
        assert_eq!(kind("oee_losses"), Some("waterfall"));
        assert_eq!(kind("downtime_table"), Some("table"));
        assert_eq!(kind("shift_summary"), Some("table"));
        assert_eq!(kind("hourly_heatmap"), Some("heatmap"));
        assert_eq!(kind("line_status"), Some("status"));
        assert_eq!(
            serde_json::to_value(ChartKind::Waterfall).unwrap(),
            json!("waterfall")
        );
    }

    #[test]
    fn every_schema_is_a_closed_2020_12_object_and_valid_against_the_meta_schema() {
        for t in widget_types() {
            let s = &t.params_schema;
            assert_eq!(s["$schema"], json!(SCHEMA_DIALECT), "{}", t.widget_type);
            assert_eq!(s["type"], json!("object"));
            assert_eq!(s["additionalProperties"], json!(false));
            assert!(
                jsonschema::meta::is_valid(s),
                "{} schema is not valid 2020-12",
                t.widget_type
            );
            // Charts offer their table alternative.
            assert_eq!(
                s["properties"].get("show_table").is_some(),
                t.chart_kind.is_chart(),
                "{}",
                t.widget_type
            );
        }
    }

    #[test]
    fn every_default_validates() {
        for t in widget_types() {
            validate_params(t.widget_type, &t.default_params)
                .unwrap_or_else(|e| panic!("{} defaults: {e}", t.widget_type));
            assert_eq!(
                effective_params(t.widget_type, &json!({})).ok(),
                if t.widget_type == "line_status" {
                    // line_id is required, so {} alone is refused.
                    None
                } else {
                    Some(t.default_params.clone())
                }
            );
        }
    }

    #[test]
    fn full_vocabulary_validates() {
        let p = json!({
            "line_ids": [1, 2, 3],
            "start_date": "2026-04-01T06:00",
            "end_date": "2026-04-08",
            "interval": "shift",
            "shift_id": 2,
            "product_ids": [4, 5],
            "area_ids": [7],
            "show_table": true,
        });
        validate_params("production_over_time", &p).unwrap();
        for (s, e) in [
            ("2026-04-01", "2026-04-02"),
            ("2026-04-01T06:00:00", "2026-04-01T14:00:00.500"),
            ("2026-04-01T06:00Z", "2026-04-01T14:00+02:00"),
            ("2026-03-29T01:30:00.125+01:00", "2026-03-29T03:30:00-00:30"),
            // 22 bytes with seconds and a fraction: not mistaken for `06:00+02:00`.
            ("2026-04-01T06:00:00.5Z", "2026-04-01T14:00:00.25Z"),
        ] {
            validate_params(
                "oee_losses",
                &json!({"line_id": 1, "start_date": s, "end_date": e}),
            )
            .unwrap_or_else(|err| panic!("{s} .. {e}: {err}"));
        }
        for r in RANGES {
            validate_params("kpi_oee", &json!({ "range": r })).unwrap();
        }
        validate_params("line_comparison", &json!({"range": "today"})).unwrap();
        validate_params(
            "line_status",
            &json!({"line_id": 2147483647, "rate_window_minutes": 240}),
        )
        .unwrap();
        validate_params("kpi_downtime", &json!({"target": 30, "warning": 60})).unwrap();
        validate_params("kpi_production", &json!({"target": 5000, "warning": 4000})).unwrap();
    }

    #[test]
    fn bad_params_are_refused_with_the_path() {
        let cases: Vec<(&str, Value, &str, &str)> = vec![
            ("kpi_oee", json!({"line_id": 0}), "/line_id", "at least 1"),
            (
                "kpi_oee",
                json!({"line_id": "1"}),
                "/line_id",
                "must be an integer",
            ),
            ("kpi_oee", json!({"line_id": 1.5}), "/line_id", "integer"),
            (
                "kpi_oee",
                json!({"line_id": 1.0}),
                "/line_id",
                "whole number",
            ),
            (
                "kpi_oee",
                json!({"line_ids": []}),
                "/line_ids",
                "at least 1 item",
            ),
            (
                "kpi_oee",
                json!({"line_ids": (1..=51).collect::<Vec<_>>()}),
                "/line_ids",
                "at most 50 items",
            ),
            (
                "kpi_oee",
                json!({"line_ids": [1, 2, 2]}),
                "/line_ids",
                "repeat",
            ),
            (
                "kpi_oee",
                json!({"line_ids": [1, -2]}),
                "/line_ids/1",
                "at least 1",
            ),
            (
                "kpi_oee",
                json!({"line_ids": [1, 2.0]}),
                "/line_ids/1",
                "whole number",
            ),
            (
                "kpi_oee",
                json!({"line_id": 1, "line_ids": [2]}),
                "/line_ids",
                "cannot be combined with `line_id`",
            ),
            (
                "kpi_oee",
                json!({"range": "forever"}),
                "/range",
                "must be one of: today, yesterday",
            ),
            (
                "kpi_oee",
                json!({"range": "today", "start_date": "2026-04-01", "end_date": "2026-04-02"}),
                "/start_date",
                "cannot be combined with `range`",
            ),
            (
                "kpi_oee",
                json!({"start_date": "2026-04-01"}),
                "/end_date",
                "is required",
            ),
            (
                "kpi_oee",
                json!({"end_date": "2026-04-01"}),
                "/start_date",
                "is required",
            ),
            (
                "kpi_oee",
                json!({"start_date": "01/04/2026", "end_date": "2026-04-02"}),
                "/start_date",
                "ISO 8601",
            ),
            (
                "kpi_oee",
                json!({"start_date": "2026-04-01'; DROP TABLE user;--", "end_date": "2026-04-02"}),
                "/start_date",
                "ISO 8601",
            ),
            (
                "kpi_oee",
                json!({"start_date": "2026-02-30", "end_date": "2026-03-02"}),
                "/start_date",
                "real calendar date",
            ),
            (
                "kpi_oee",
                json!({"start_date": "2026-04-02", "end_date": "2026-04-02"}),
                "/end_date",
                "after start_date",
            ),
            (
                "kpi_oee",
                json!({"start_date": "2026-04-02T10:00Z", "end_date": "2026-04-02T11:00+02:00"}),
                "/end_date",
                "after start_date",
            ),
            ("kpi_oee", json!({"target": 1.2}), "/target", "at most 1"),
            (
                "kpi_oee",
                json!({"target": 0.8, "warning": 0.9}),
                "/warning",
                "not be above target",
            ),
            (
                "kpi_downtime",
                json!({"target": 60, "warning": 30}),
                "/warning",
                "not be below target",
            ),
            (
                "kpi_oee",
                json!({"colour": "red"}),
                "/colour",
                "unknown parameter `colour`",
            ),
            (
                "kpi_oee",
                json!({"a/b~c": 1}),
                "/a~1b~0c",
                "unknown parameter",
            ),
            ("kpi_oee", json!([1, 2]), "", "must be an object"),
            ("kpi_oee", json!(null), "", "must be an object"),
            (
                "production_over_time",
                json!({"interval": "minute"}),
                "/interval",
                "hour, shift, day, week, month",
            ),
            (
                "product_distribution",
                json!({"top_n": 0}),
                "/top_n",
                "at least 1",
            ),
            (
                "downtime_pareto",
                json!({"top_n": 51}),
                "/top_n",
                "at most 50",
            ),
            (
                "downtime_table",
                json!({"include_micro": "yes"}),
                "/include_micro",
                "must be a boolean",
            ),
            (
                "kpi_oee",
                json!({"show_table": true}),
                "/show_table",
                "unknown parameter",
            ),
            (
                "kpi_oee",
                json!({"interval": "day"}),
                "/interval",
                "unknown parameter",
            ),
            (
                "line_comparison",
                json!({"line_id": 1}),
                "/line_id",
                "unknown parameter",
            ),
            (
                "line_comparison",
                json!({"metric": "speed"}),
                "/metric",
                "must be one of",
            ),
            ("line_status", json!({}), "/line_id", "is required"),
            (
                "line_status",
                json!({"line_id": 1, "range": "today"}),
                "/range",
                "unknown parameter",
            ),
            (
                "line_status",
                json!({"line_id": 2147483648i64}),
                "/line_id",
                "at most 2147483647",
            ),
            (
                "kpi_production",
                json!({"product_ids": ["<script>alert(1)</script>"]}),
                "/product_ids/0",
                "integer",
            ),
        ];
        for (wt, params, pointer, msg) in cases {
            let e = err(wt, params.clone());
            assert_eq!(e.pointer(), pointer, "{wt} {params}: {e}");
            assert!(
                e.to_string().contains(msg),
                "{wt} {params}: `{e}` should contain `{msg}`"
            );
            assert!(e.to_string().starts_with(if pointer.is_empty() {
                "params"
            } else {
                pointer
            }));
        }
    }

    #[test]
    fn messages_do_not_echo_long_values() {
        let long = "x".repeat(10_000);
        let e = err("kpi_oee", json!({ "range": long }));
        assert!(e.to_string().len() < 300, "{e}");
        let e = err("kpi_oee", json!({ long.clone(): 1 }));
        assert!(e.message().len() < 300);
    }

    #[test]
    fn unknown_widget_type() {
        let e = err("kpi_card", json!({}));
        assert_eq!(
            e,
            ParamsError::UnknownWidgetType {
                widget_type: "kpi_card".into()
            }
        );
        assert_eq!(e.pointer(), "");
        assert_eq!(e.to_string(), "unknown widget type `kpi_card`");
    }

    #[test]
    fn effective_params_overlay() {
        let p = effective_params(
            "downtime_pareto",
            &json!({"start_date": "2026-04-01", "end_date": "2026-04-08", "top_n": 5}),
        )
        .unwrap();
        assert_eq!(
            p,
            json!({"start_date": "2026-04-01", "end_date": "2026-04-08", "top_n": 5, "include_micro": false})
        );
        let p = effective_params("line_status", &json!({"line_id": 7})).unwrap();
        assert_eq!(p, json!({"line_id": 7, "rate_window_minutes": 15}));
        assert!(effective_params("kpi_oee", &json!({"line_id": 0})).is_err());
    }

    fn widget(t: &str, x: u64, y: u64, w: u64, h: u64) -> Value {
        json!({"widget_type": t, "x": x, "y": y, "w": w, "h": h, "params": {}, "title": null})
    }

    #[test]
    fn a_good_layout_validates() {
        let l = json!({
            "columns": 12,
            "widgets": [
                widget("kpi_oee", 0, 0, 3, 2),
                widget("kpi_availability", 3, 0, 3, 2),
                widget("kpi_performance", 6, 0, 3, 2),
                widget("kpi_quality", 9, 0, 3, 2),
                {"widget_type": "oee_trend", "x": 0, "y": 2, "w": 6, "h": 4,
                 "params": {"line_ids": [1, 2], "range": "last_30_days", "interval": "week"},
                 "title": "OEE — Línea 1 & 2"},
                {"widget_type": "line_status", "x": 6, "y": 2, "w": 6, "h": 4,
                 "params": {"line_id": 1}},
                widget("downtime_table", 0, 6, 12, 12),
            ]
        });
        let layout = validate_layout(&l).unwrap();
        assert_eq!(layout.columns, 12);
        assert_eq!(layout.widgets.len(), 7);
        assert_eq!(
            layout.widgets[4].title.as_deref(),
            Some("OEE — Línea 1 & 2")
        );
        assert_eq!(layout.widgets[5].title, None);
        // Round trip.
        assert_eq!(validate_layout(&layout.to_json()).unwrap(), layout);
        // Columns default to 12; an empty layout is fine.
        assert_eq!(
            validate_layout(&json!({"widgets": []})).unwrap(),
            Layout {
                columns: 12,
                widgets: vec![]
            }
        );
        // Missing params mean defaults.
        let l = validate_layout(&json!({"widgets": [
            {"widget_type": "kpi_oee", "x": 0, "y": 0, "w": 12, "h": 1}
        ]}))
        .unwrap();
        assert_eq!(l.widgets[0].params, json!({}));
    }

    #[test]
    fn every_type_defaults_fit_a_layout() {
        let mut y = 0;
        let widgets: Vec<Value> = widget_types()
            .iter()
            .map(|t| {
                let v = json!({"widget_type": t.widget_type, "x": 0, "y": y,
                    "w": t.default_w, "h": t.default_h, "params": t.default_params,
                    "title": t.widget_name_es});
                y += t.default_h;
                v
            })
            .collect();
        validate_layout(&json!({"columns": 12, "widgets": widgets})).unwrap();
    }

    #[test]
    fn bad_layouts_are_refused_with_a_useful_message() {
        let mut many = Vec::new();
        for i in 0..41u64 {
            many.push(widget("kpi_oee", 0, i, 1, 1));
        }
        let cases: Vec<(Value, Option<usize>, &str, &str)> = vec![
            (json!([]), None, "", "must be a JSON object"),
            (json!({"columns": 12}), None, "/widgets", "is required"),
            (json!({"widgets": {}}), None, "/widgets", "must be an array"),
            (
                json!({"columns": 0, "widgets": []}),
                None,
                "/columns",
                "from 1 to 12",
            ),
            (
                json!({"columns": 13, "widgets": []}),
                None,
                "/columns",
                "from 1 to 12",
            ),
            (
                json!({"columns": "12", "widgets": []}),
                None,
                "/columns",
                "from 1 to 12",
            ),
            (
                json!({"widgets": [], "grid": 1}),
                None,
                "/grid",
                "unknown layout key",
            ),
            (
                json!({"widgets": many}),
                None,
                "/widgets",
                "at most 40 widgets",
            ),
            (
                json!({"widgets": [1]}),
                Some(0),
                "/widgets/0",
                "must be a JSON object",
            ),
            (
                json!({"widgets": [widget("kpi_oee", 0, 0, 1, 1), widget("kpi_card", 1, 0, 1, 1)]}),
                Some(1),
                "/widgets/1/widget_type",
                "widget 1: unknown widget type `kpi_card`",
            ),
            (
                json!({"widgets": [{"x": 0, "y": 0, "w": 1, "h": 1}]}),
                Some(0),
                "/widgets/0/widget_type",
                "is required",
            ),
            (
                json!({"widgets": [{"widget_type": 3, "x": 0, "y": 0, "w": 1, "h": 1}]}),
                Some(0),
                "/widgets/0/widget_type",
                "must be a string",
            ),
            (
                json!({"widgets": [widget("kpi_oee", 0, 0, 0, 1)]}),
                Some(0),
                "/widgets/0/w",
                "`w` is 0, must be from 1 to 12",
            ),
            (
                json!({"widgets": [widget("kpi_oee", 0, 0, 1, 0)]}),
                Some(0),
                "/widgets/0/h",
                "from 1 to 12",
            ),
            (
                json!({"widgets": [widget("kpi_oee", 0, 0, 1, 13)]}),
                Some(0),
                "/widgets/0/h",
                "from 1 to 12",
            ),
            (
                json!({"widgets": [widget("kpi_oee", 12, 0, 1, 1)]}),
                Some(0),
                "/widgets/0/x",
                "from 0 to 11",
            ),
            (
                json!({"widgets": [widget("kpi_oee", 8, 0, 6, 1)]}),
                Some(0),
                "/widgets/0/w",
                "x + w = 14 is past the 12-column grid",
            ),
            (
                json!({"columns": 6, "widgets": [widget("kpi_oee", 0, 0, 7, 1)]}),
                Some(0),
                "/widgets/0/w",
                "from 1 to 6",
            ),
            (
                json!({"widgets": [{"widget_type": "kpi_oee", "x": -1, "y": 0, "w": 1, "h": 1}]}),
                Some(0),
                "/widgets/0/x",
                "whole number",
            ),
            (
                json!({"widgets": [{"widget_type": "kpi_oee", "x": 0.5, "y": 0, "w": 1, "h": 1}]}),
                Some(0),
                "/widgets/0/x",
                "whole number",
            ),
            (
                json!({"widgets": [{"widget_type": "kpi_oee", "y": 0, "w": 1, "h": 1}]}),
                Some(0),
                "/widgets/0/x",
                "`x` is required",
            ),
            (
                json!({"widgets": [widget("kpi_oee", 0, 481, 1, 1)]}),
                Some(0),
                "/widgets/0/y",
                "from 0 to 480",
            ),
            (
                json!({"widgets": [{"widget_type": "kpi_oee", "x": 0, "y": 0, "w": 1, "h": 1, "colour": "red"}]}),
                Some(0),
                "/widgets/0/colour",
                "unknown key",
            ),
            (
                json!({"widgets": [widget("kpi_oee", 0, 0, 3, 2),
                {"widget_type": "line_status", "x": 3, "y": 0, "w": 3, "h": 2, "params": {"line_id": 0}}]}),
                Some(1),
                "/widgets/1/params/line_id",
                "widget 1 (line_status): /line_id: must be at least 1",
            ),
            (
                json!({"widgets": [{"widget_type": "line_status", "x": 0, "y": 0, "w": 3, "h": 2}]}),
                Some(0),
                "/widgets/0/params/line_id",
                "is required",
            ),
            (
                json!({"widgets": [{"widget_type": "kpi_oee", "x": 0, "y": 0, "w": 3, "h": 2, "params": "today"}]}),
                Some(0),
                "/widgets/0/params",
                "must be an object",
            ),
            (
                json!({"widgets": [{"widget_type": "kpi_oee", "x": 0, "y": 0, "w": 3, "h": 2, "title": "x".repeat(81)}]}),
                Some(0),
                "/widgets/0/title",
                "81 characters, at most 80",
            ),
            (
                json!({"widgets": [{"widget_type": "kpi_oee", "x": 0, "y": 0, "w": 3, "h": 2, "title": 5}]}),
                Some(0),
                "/widgets/0/title",
                "string or null",
            ),
            (
                json!({"widgets": [widget("kpi_oee", 0, 0, 6, 4), widget("kpi_quality", 6, 0, 6, 4), widget("oee_trend", 5, 3, 2, 2)]}),
                Some(2),
                "/widgets/2",
                "widget 2 (oee_trend) at x=5, y=3, 2×2 overlaps widget 0 (kpi_oee)",
            ),
            (
                json!({"widgets": [widget("kpi_oee", 0, 0, 6, 4), widget("kpi_oee", 0, 0, 6, 4)]}),
                Some(1),
                "/widgets/1",
                "overlaps widget 0",
            ),
        ];
        for (layout, index, pointer, msg) in cases {
            let e = validate_layout(&layout).expect_err("must be refused");
            assert_eq!(e.widget, index, "{e}");
            assert_eq!(e.pointer, pointer, "{e}");
            assert!(e.to_string().contains(msg), "`{e}` should contain `{msg}`");
        }
    }

    #[test]
    fn touching_widgets_do_not_overlap() {
        let l = json!({"widgets": [
            widget("kpi_oee", 0, 0, 6, 4),
            widget("kpi_quality", 6, 0, 6, 4),
            widget("oee_trend", 0, 4, 12, 1),
        ]});
        validate_layout(&l).unwrap();
    }

    #[test]
    fn title_max_80_chars_not_bytes() {
        let title = "ñ".repeat(80); // 160 bytes
        let l = json!({"widgets": [{"widget_type": "kpi_oee", "x": 0, "y": 0, "w": 1, "h": 1, "title": title}]});
        assert_eq!(validate_layout(&l).unwrap().widgets[0].title, Some(title));
    }

    #[test]
    fn sql_and_script_in_titles_are_kept_as_data() {
        for title in [
            "'; DROP TABLE dashboard_template; --",
            "<script>alert('x')</script>",
            "{{title}} \" & < > ' `",
            "Robert'); DELETE FROM user WHERE ('1'='1",
        ] {
            let l = json!({"widgets": [{"widget_type": "kpi_oee", "x": 0, "y": 0, "w": 3,
                "h": 2, "params": {"range": "today"}, "title": title}]});
            let layout = validate_layout(&l).unwrap();
            assert_eq!(layout.widgets[0].title.as_deref(), Some(title), "verbatim");
            assert_eq!(layout.to_json()["widgets"][0]["title"], json!(title));
        }
    }

    #[test]
    fn serialises_for_the_seed() {
        let t = find("kpi_oee").unwrap();
        let v = serde_json::to_value(t).unwrap();
        assert_eq!(v["widget_type"], json!("kpi_oee"));
        assert_eq!(v["chart_kind"], json!("kpi"));
        assert_eq!(v["params_schema"], t.params_schema);
        assert_eq!(v["default_params"], t.default_params);
    }
}
