//! The synthetic plant of the demo: three lines at different speeds, six
//! products, three shifts (the night one crossing midnight) with breaks, reason
//! codes, filters and `system_config` defaults. Everything has fixed ids so the
//! data set is the same on every machine.

use chrono::{NaiveTime, Weekday};

use super::DemoSize;

/// A production line of the demo plant.
#[derive(Debug, Clone)]
pub struct DemoLine {
    pub line_id: i64,
    pub line_name: &'static str,
    /// What is stored in `production_line.line_code` (None = derived from the name).
    pub stored_code: Option<&'static str>,
    /// The resolved code (suffix of the line's tables).
    pub code: &'static str,
    /// (area_id, name, type) in input, process, output, reject order.
    pub areas: [(i64, &'static str, &'static str); 4],
    /// Product ids this line makes.
    pub products: &'static [i64],
    /// Mean run time between unplanned stops, minutes.
    pub mtbf_minutes: f64,
    /// Mean time between micro-stops, minutes.
    pub micro_every_minutes: f64,
    /// Seconds from the input and the process sensor to the output one.
    pub transit_input: f64,
    pub transit_process: f64,
    /// Day of the weekly preventive maintenance (morning shift).
    pub maintenance_day: Weekday,
}

impl DemoLine {
    pub fn input_area(&self) -> i64 {
        self.areas[0].0
    }
    pub fn process_area(&self) -> i64 {
        self.areas[1].0
    }
    pub fn output_area(&self) -> i64 {
        self.areas[2].0
    }
    pub fn reject_area(&self) -> i64 {
        self.areas[3].0
    }

    /// (`downtime_threshold_seconds`, `micro_stop_seconds`) stored on the line;
    /// None = the line uses `system_config`.
    pub fn stored_thresholds(&self, size: DemoSize) -> Option<(u32, u32)> {
        match (size, self.line_id) {
            (DemoSize::Large, 3) => Some((300, 40)),
            (DemoSize::Large, _) => None,
            (DemoSize::Small, 1) => Some((300, 40)),
            (DemoSize::Small, 2) => Some((300, 60)),
            (DemoSize::Small, _) => Some((600, 150)),
        }
    }

    /// The thresholds in effect (line override or the system defaults 120/20).
    pub fn thresholds(&self, size: DemoSize) -> (u32, u32) {
        self.stored_thresholds(size).unwrap_or((120, 20))
    }
}

pub fn lines() -> Vec<DemoLine> {
    vec![
        DemoLine {
            line_id: 1,
            line_name: "Línea 1 – Envasado",
            stored_code: None,
            code: "linea_1_envasado",
            areas: [
                (1, "Entrada envases", "input"),
                (2, "Llenadora", "process"),
                (3, "Salida envasado", "output"),
                (4, "Rechazo llenado", "reject"),
            ],
            products: &[1, 2],
            mtbf_minutes: 80.0,
            micro_every_minutes: 7.0,
            transit_input: 45.0,
            transit_process: 20.0,
            maintenance_day: Weekday::Wed,
        },
        DemoLine {
            line_id: 2,
            line_name: "Línea 2 – Etiquetado",
            stored_code: None,
            code: "linea_2_etiquetado",
            areas: [
                (5, "Entrada etiquetado", "input"),
                (6, "Etiquetadora", "process"),
                (7, "Salida etiquetado", "output"),
                (8, "Rechazo etiquetas", "reject"),
            ],
            products: &[3, 4, 5],
            mtbf_minutes: 110.0,
            micro_every_minutes: 9.0,
            transit_input: 35.0,
            transit_process: 12.0,
            maintenance_day: Weekday::Thu,
        },
        DemoLine {
            line_id: 3,
            line_name: "Línea 3 – Paletizado",
            stored_code: Some("linea_3_paletizado"),
            code: "linea_3_paletizado",
            areas: [
                (9, "Entrada cajas", "input"),
                (10, "Robot paletizador", "process"),
                (11, "Salida flejado", "output"),
                (12, "Rechazo paletizado", "reject"),
            ],
            products: &[6],
            mtbf_minutes: 160.0,
            micro_every_minutes: 14.0,
            transit_input: 90.0,
            transit_process: 40.0,
            maintenance_day: Weekday::Tue,
        },
    ]
}

/// A product: id, name, code, ideal cycle time at the large (real) speed.
pub struct DemoProduct {
    pub product_id: i64,
    pub product_name: &'static str,
    pub product_code: &'static str,
    /// None: the product has no ideal cycle time (the system default applies).
    pub ideal_cycle_time: Option<f64>,
    /// The real average speed when `ideal_cycle_time` is None.
    pub nominal_cycle_time: f64,
}

pub const PRODUCTS: &[DemoProduct] = &[
    DemoProduct {
        product_id: 1,
        product_name: "Agua mineral 500 ml",
        product_code: "AGU-050",
        ideal_cycle_time: Some(1.8),
        nominal_cycle_time: 1.8,
    },
    DemoProduct {
        product_id: 2,
        product_name: "Agua mineral 1,5 L",
        product_code: "AGU-150",
        ideal_cycle_time: Some(2.2),
        nominal_cycle_time: 2.2,
    },
    DemoProduct {
        product_id: 3,
        product_name: "Refresco cola 330 ml",
        product_code: "REF-033",
        ideal_cycle_time: Some(2.7),
        nominal_cycle_time: 2.7,
    },
    DemoProduct {
        product_id: 4,
        product_name: "Zumo de naranja 1 L",
        product_code: "ZUM-NAR",
        ideal_cycle_time: Some(3.0),
        nominal_cycle_time: 3.0,
    },
    DemoProduct {
        product_id: 5,
        product_name: "Zumo de manzana 1 L",
        product_code: "ZUM-MAN",
        ideal_cycle_time: None,
        nominal_cycle_time: 3.0,
    },
    DemoProduct {
        product_id: 6,
        product_name: "Palet europeo 80 cajas",
        product_code: "PAL-EUR",
        ideal_cycle_time: Some(7.5),
        nominal_cycle_time: 7.5,
    },
];

/// `default_ideal_cycle_time_seconds` at the large (real) speed.
pub const DEFAULT_IDEAL_CYCLE_TIME: f64 = 3.0;

pub fn product(id: i64) -> &'static DemoProduct {
    PRODUCTS
        .iter()
        .find(|p| p.product_id == id)
        .unwrap_or(&PRODUCTS[0])
}

/// A shift: id, name, local start/end (end <= start: next day), ISO weekdays of the start, breaks.
pub struct DemoShift {
    pub shift_id: i64,
    pub shift_name: &'static str,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub days: &'static [u32],
    /// (break_id, name, start, end) in plant-local time.
    pub breaks: &'static [(i64, &'static str, NaiveTime, NaiveTime)],
}

const fn hm(h: u32, m: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(h, m, 0) {
        Some(t) => t,
        None => NaiveTime::MIN,
    }
}

/// Mañana Monday to Saturday, Tarde Monday to Friday; Noche from Sunday to
/// Thursday night (22:00 → 06:00 the next day): the week runs Sunday 22:00 →
/// Friday 22:00, plus Saturday morning.
pub const SHIFTS: &[DemoShift] = &[
    DemoShift {
        shift_id: 1,
        shift_name: "Mañana",
        start: hm(6, 0),
        end: hm(14, 0),
        days: &[1, 2, 3, 4, 5, 6],
        breaks: &[(1, "Almuerzo", hm(10, 0), hm(10, 20))],
    },
    DemoShift {
        shift_id: 2,
        shift_name: "Tarde",
        start: hm(14, 0),
        end: hm(22, 0),
        days: &[1, 2, 3, 4, 5],
        breaks: &[(2, "Merienda", hm(18, 0), hm(18, 20))],
    },
    DemoShift {
        shift_id: 3,
        shift_name: "Noche",
        start: hm(22, 0),
        end: hm(6, 0),
        days: &[7, 1, 2, 3, 4],
        breaks: &[(3, "Cena", hm(23, 50), hm(0, 20))],
    },
];

/// Reason codes: (id, code, name, category, active).
pub const FAILURES: &[(i64, &str, &str, &str, bool)] = &[
    (1, "CAMBIO", "Cambio de formato", "planned", true),
    (2, "MANT-PREV", "Mantenimiento preventivo", "planned", true),
    (3, "LIMPIEZA", "Limpieza programada", "planned", true),
    (4, "ATASCO", "Atasco", "unplanned", true),
    (5, "FALTA-MAT", "Falta de material", "unplanned", true),
    (6, "AVERIA-MEC", "Avería mecánica", "unplanned", true),
    (7, "AVERIA-ELEC", "Avería eléctrica", "unplanned", true),
    (8, "CALIDAD", "Ajuste por calidad", "unplanned", true),
    (9, "SIN-OPERARIO", "Falta de operario", "unplanned", false),
];

pub const FAILURE_CAMBIO: i64 = 1;
pub const FAILURE_MANT: i64 = 2;
pub const FAILURE_LIMPIEZA: i64 = 3;

/// Unplanned reasons: (failure_id, weight, min seconds, max seconds).
pub const UNPLANNED: &[(i64, f64, f64, f64)] = &[
    (4, 40.0, 180.0, 600.0),
    (5, 25.0, 300.0, 1500.0),
    (8, 15.0, 240.0, 900.0),
    (6, 12.0, 900.0, 5400.0),
    (7, 8.0, 600.0, 3600.0),
];

/// Filters: (id, name, status, default_value, additional_filter, display_order).
pub fn filters() -> Vec<(
    i64,
    &'static str,
    bool,
    serde_json::Value,
    serde_json::Value,
    i64,
)> {
    use serde_json::json;
    vec![
        (
            1,
            "Rango de fechas",
            true,
            json!({"days_back": 7}),
            json!({"type": "daterange", "show_time": true}),
            1,
        ),
        (
            2,
            "Línea",
            true,
            json!({"value": null}),
            json!({"type": "select", "source": "lines", "param": "line_id", "allow_empty": true}),
            2,
        ),
        (
            3,
            "Producto",
            true,
            json!({"values": []}),
            json!({"type": "multiselect", "source": "products", "param": "product_ids"}),
            3,
        ),
        (
            4,
            "Turno",
            true,
            json!({"value": null}),
            json!({"type": "shift", "source": "shifts", "param": "shift_id", "allow_empty": true}),
            4,
        ),
        (
            5,
            "Área",
            true,
            json!({"values": []}),
            json!({"type": "multiselect", "source": "areas", "param": "area_ids"}),
            5,
        ),
        (
            6,
            "Incluir microparadas",
            false,
            json!({"value": true}),
            json!({"type": "toggle", "param": "include_micro"}),
            6,
        ),
    ]
}

/// `system_config` rows: (key, value, description).
pub fn system_config(size: DemoSize) -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "downtime_threshold_seconds",
            "120".into(),
            "Hueco entre detecciones (s) a partir del cual hay una parada",
        ),
        (
            "micro_stop_seconds",
            "20".into(),
            "Hueco (s) a partir del cual hay una microparada",
        ),
        (
            "default_ideal_cycle_time_seconds",
            format!("{:.3}", DEFAULT_IDEAL_CYCLE_TIME * size.speed_scale()),
            "Tiempo de ciclo ideal (s) de los productos que no tienen uno",
        ),
        (
            "max_query_days",
            "366".into(),
            "Días máximos de una consulta",
        ),
        (
            "dashboard_refresh_seconds",
            "30".into(),
            "Refresco de los widgets (s)",
        ),
    ]
}
