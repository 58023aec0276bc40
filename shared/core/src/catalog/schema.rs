//! The building blocks of the params schemas: one JSON Schema (draft
//! 2020-12) fragment per param of the vocabulary (see the table in
//! [`super`]), and [`Params`], which assembles a closed object schema from
//! them with its required, mutually exclusive and dependent params.

use serde_json::{json, Map, Value};

use super::{DATE_PATTERN, MAX_FILTER_IDS, MAX_ID, MAX_LINE_IDS, RANGES, SCHEMA_DIALECT};

pub(super) fn id_schema(what: &str) -> Value {
    json!({
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_ID,
        "description": format!("{what} id"),
    })
}

pub(super) fn ids_schema(what: &str, max: u64) -> Value {
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
pub(super) enum Colouring {
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

    pub(super) fn higher_is_better(self) -> bool {
        !matches!(self, Self::Minutes)
    }
}

/// Builds one params schema.
pub(super) struct Params {
    props: Map<String, Value>,
    required: Vec<&'static str>,
    exclusive: Vec<[&'static str; 2]>,
    dependent: Vec<(&'static str, &'static str)>,
    /// The KPI colouring (`target`/`warning`) the widget takes, if any.
    colouring: Option<Colouring>,
}

impl Params {
    pub(super) fn new() -> Self {
        Self {
            props: Map::new(),
            required: Vec::new(),
            exclusive: Vec::new(),
            dependent: Vec::new(),
            colouring: None,
        }
    }

    pub(super) fn prop(mut self, name: &str, schema: Value) -> Self {
        self.props.insert(name.to_owned(), schema);
        self
    }

    /// What most widgets select: [`Self::lines`], a [`Self::window`] and a
    /// [`Self::shift`].
    pub(super) fn selection() -> Self {
        Self::new().lines().window().shift()
    }

    /// `line_id` or `line_ids` or neither (every line the user may see).
    pub(super) fn lines(self) -> Self {
        let mut p = self
            .prop("line_id", id_schema("Line"))
            .prop("line_ids", ids_schema("Line", MAX_LINE_IDS));
        p.exclusive.push(["line_id", "line_ids"]);
        p
    }

    /// Exactly one line, required.
    pub(super) fn one_line(self) -> Self {
        let mut p = self.prop("line_id", id_schema("Line"));
        p.required.push("line_id");
        p
    }

    /// `range`, or `start_date` + `end_date`.
    pub(super) fn window(self) -> Self {
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

    pub(super) fn interval(self, allowed: &[&str]) -> Self {
        self.prop(
            "interval",
            json!({"type": "string", "enum": allowed, "description": "Bucket size"}),
        )
    }

    pub(super) fn shift(self) -> Self {
        self.prop("shift_id", id_schema("Shift"))
    }

    pub(super) fn products(self) -> Self {
        self.prop("product_ids", ids_schema("Product", MAX_FILTER_IDS))
    }

    pub(super) fn areas(self) -> Self {
        self.prop("area_ids", ids_schema("Area", MAX_FILTER_IDS))
    }

    pub(super) fn top_n(self) -> Self {
        self.prop(
            "top_n",
            json!({"type": "integer", "minimum": 1, "maximum": 50,
                   "description": "How many items to show; the rest are grouped as 'other'"}),
        )
    }

    pub(super) fn include_micro(self) -> Self {
        self.prop(
            "include_micro",
            json!({"type": "boolean", "description": "Include micro-stops"}),
        )
    }

    pub(super) fn show_table(self) -> Self {
        self.prop(
            "show_table",
            json!({"type": "boolean", "description": "Show the data table under the chart"}),
        )
    }

    /// `target` and `warning`, read with colouring `c`.
    pub(super) fn colouring(self, c: Colouring) -> Self {
        let mut p = self
            .prop("target", c.schema("Target"))
            .prop("warning", c.schema("Warning"));
        p.colouring = Some(c);
        p
    }

    /// The colouring given with [`Self::colouring`], if any.
    pub(super) fn kpi_colouring(&self) -> Option<Colouring> {
        self.colouring
    }

    pub(super) fn build(self, widget_type: &str) -> Value {
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
