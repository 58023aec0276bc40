//! The catalog's data: the 18 widget types, in catalog order, each with its
//! names and descriptions (English and Spanish), how it draws, its suggested
//! size, the params its schema takes (built with [`super::schema::Params`])
//! and its default params. A data table, one entry per type, all of the same
//! shape; the code that reads it is in [`super`].

use serde_json::{json, Value};

use super::schema::{ids_schema, Colouring, Params};
use super::{ChartKind, INTERVALS, MAX_LINE_IDS, METRICS};

/// One widget type as written in the table ([`super::WidgetType`] once built).
pub(super) struct Def {
    pub(super) widget_type: &'static str,
    pub(super) widget_name: &'static str,
    pub(super) widget_name_es: &'static str,
    pub(super) description: &'static str,
    pub(super) description_es: &'static str,
    pub(super) chart_kind: ChartKind,
    /// Suggested (width, height) in grid cells.
    pub(super) size: (u64, u64),
    pub(super) params: Params,
    pub(super) defaults: Value,
}

/// A KPI card of a ratio (OEE or one of its factors) with its colouring defaults.
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
        params: Params::selection().colouring(Colouring::Ratio),
        defaults: json!({"range": "today", "target": target, "warning": warning}),
    }
}

/// The 18 widget types, in catalog order.
pub(super) fn definitions() -> Vec<Def> {
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
            params: Params::selection()
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
            params: Params::selection()
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
            params: Params::selection()
                .interval(INTERVALS)
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
            params: Params::selection().areas().top_n().show_table(),
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
            params: Params::selection().products().areas().show_table(),
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
            params: Params::selection()
                .interval(INTERVALS)
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
            params: Params::selection().show_table(),
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
            params: Params::selection().include_micro(),
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
            params: Params::selection().include_micro().top_n().show_table(),
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
            params: Params::selection(),
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
            params: Params::selection().products().areas().show_table(),
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
            params: Params::selection()
                .interval(INTERVALS)
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
