//! Tests of the catalog: the types and their schemas, params validation and
//! defaults, layouts.

use serde_json::json;

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
    for (widget_type, chart_kind) in [
        ("kpi_oee", "kpi"),
        ("production_over_time", "line"),
        ("product_distribution", "pie"),
        ("production_by_area", "bar"),
        ("line_comparison", "bar"),
        ("oee_trend", "line"),
        ("oee_losses", "waterfall"),
        ("downtime_table", "table"),
        ("shift_summary", "table"),
        ("hourly_heatmap", "heatmap"),
        ("line_status", "status"),
    ] {
        assert_eq!(kind(widget_type), Some(chart_kind), "{widget_type}");
    }
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
    for (widget_type, params) in [
        ("line_comparison", json!({"range": "today"})),
        (
            "line_status",
            json!({"line_id": 2147483647, "rate_window_minutes": 240}),
        ),
        ("kpi_downtime", json!({"target": 30, "warning": 60})),
        ("kpi_production", json!({"target": 5000, "warning": 4000})),
    ] {
        validate_params(widget_type, &params).unwrap_or_else(|e| panic!("{widget_type}: {e}"));
    }
}

/// Params refused: `(widget type, params, pointer, part of the message)`.
#[rustfmt::skip]
fn refused_params() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    vec![
        ("kpi_oee", json!({"line_id": 0}), "/line_id", "at least 1"),
        ("kpi_oee", json!({"line_id": "1"}), "/line_id", "must be an integer"),
        ("kpi_oee", json!({"line_id": 1.5}), "/line_id", "integer"),
        ("kpi_oee", json!({"line_id": 1.0}), "/line_id", "whole number"),
        ("kpi_oee", json!({"line_ids": []}), "/line_ids", "at least 1 item"),
        ("kpi_oee", json!({"line_ids": (1..=51).collect::<Vec<_>>()}), "/line_ids", "at most 50 items"),
        ("kpi_oee", json!({"line_ids": [1, 2, 2]}), "/line_ids", "repeat"),
        ("kpi_oee", json!({"line_ids": [1, -2]}), "/line_ids/1", "at least 1"),
        ("kpi_oee", json!({"line_ids": [1, 2.0]}), "/line_ids/1", "whole number"),
        ("kpi_oee", json!({"line_id": 1, "line_ids": [2]}), "/line_ids", "cannot be combined with `line_id`"),
        ("kpi_oee", json!({"range": "forever"}), "/range", "must be one of: today, yesterday"),
        ("kpi_oee", json!({"range": "today", "start_date": "2026-04-01", "end_date": "2026-04-02"}), "/start_date", "cannot be combined with `range`"),
        ("kpi_oee", json!({"start_date": "2026-04-01"}), "/end_date", "is required"),
        ("kpi_oee", json!({"end_date": "2026-04-01"}), "/start_date", "is required"),
        ("kpi_oee", json!({"start_date": "01/04/2026", "end_date": "2026-04-02"}), "/start_date", "ISO 8601"),
        ("kpi_oee", json!({"start_date": "2026-04-01'; DROP TABLE user;--", "end_date": "2026-04-02"}), "/start_date", "ISO 8601"),
        ("kpi_oee", json!({"start_date": "2026-02-30", "end_date": "2026-03-02"}), "/start_date", "real calendar date"),
        ("kpi_oee", json!({"start_date": "2026-04-02", "end_date": "2026-04-02"}), "/end_date", "after start_date"),
        ("kpi_oee", json!({"start_date": "2026-04-02T10:00Z", "end_date": "2026-04-02T11:00+02:00"}), "/end_date", "after start_date"),
        ("kpi_oee", json!({"target": 1.2}), "/target", "at most 1"),
        ("kpi_oee", json!({"target": 0.8, "warning": 0.9}), "/warning", "not be above target"),
        ("kpi_downtime", json!({"target": 60, "warning": 30}), "/warning", "not be below target"),
        ("kpi_oee", json!({"colour": "red"}), "/colour", "unknown parameter `colour`"),
        ("kpi_oee", json!({"a/b~c": 1}), "/a~1b~0c", "unknown parameter"),
        ("kpi_oee", json!([1, 2]), "", "must be an object"),
        ("kpi_oee", json!(null), "", "must be an object"),
        ("production_over_time", json!({"interval": "minute"}), "/interval", "hour, shift, day, week, month"),
        ("product_distribution", json!({"top_n": 0}), "/top_n", "at least 1"),
        ("downtime_pareto", json!({"top_n": 51}), "/top_n", "at most 50"),
        ("downtime_table", json!({"include_micro": "yes"}), "/include_micro", "must be a boolean"),
        ("kpi_oee", json!({"show_table": true}), "/show_table", "unknown parameter"),
        ("kpi_oee", json!({"interval": "day"}), "/interval", "unknown parameter"),
        ("line_comparison", json!({"line_id": 1}), "/line_id", "unknown parameter"),
        ("line_comparison", json!({"metric": "speed"}), "/metric", "must be one of"),
        ("line_status", json!({}), "/line_id", "is required"),
        ("line_status", json!({"line_id": 1, "range": "today"}), "/range", "unknown parameter"),
        ("line_status", json!({"line_id": 2147483648i64}), "/line_id", "at most 2147483647"),
        ("kpi_production", json!({"product_ids": ["<script>alert(1)</script>"]}), "/product_ids/0", "integer"),
    ]
}

#[test]
fn bad_params_are_refused_with_the_path() {
    for (wt, params, pointer, msg) in refused_params() {
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

/// A layout of one widget.
fn one(widget: Value) -> Value {
    json!({ "widgets": [widget] })
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

/// Layouts refused: `(layout, widget index, pointer, part of the message)`.
#[rustfmt::skip]
fn refused_layouts() -> Vec<(Value, Option<usize>, &'static str, &'static str)> {
    let many: Vec<Value> = (0..41u64).map(|i| widget("kpi_oee", 0, i, 1, 1)).collect();
    vec![
        (json!([]), None, "", "must be a JSON object"),
        (json!({"columns": 12}), None, "/widgets", "is required"),
        (json!({"widgets": {}}), None, "/widgets", "must be an array"),
        (json!({"columns": 0, "widgets": []}), None, "/columns", "from 1 to 12"),
        (json!({"columns": 13, "widgets": []}), None, "/columns", "from 1 to 12"),
        (json!({"columns": "12", "widgets": []}), None, "/columns", "from 1 to 12"),
        (json!({"widgets": [], "grid": 1}), None, "/grid", "unknown layout key"),
        (json!({"widgets": many}), None, "/widgets", "at most 40 widgets"),
        (one(json!(1)), Some(0), "/widgets/0", "must be a JSON object"),
        (json!({"widgets": [widget("kpi_oee", 0, 0, 1, 1), widget("kpi_card", 1, 0, 1, 1)]}),
            Some(1), "/widgets/1/widget_type", "widget 1: unknown widget type `kpi_card`"),
        (one(json!({"x": 0, "y": 0, "w": 1, "h": 1})), Some(0), "/widgets/0/widget_type", "is required"),
        (one(json!({"widget_type": 3, "x": 0, "y": 0, "w": 1, "h": 1})), Some(0), "/widgets/0/widget_type", "must be a string"),
        (one(widget("kpi_oee", 0, 0, 0, 1)), Some(0), "/widgets/0/w", "`w` is 0, must be from 1 to 12"),
        (one(widget("kpi_oee", 0, 0, 1, 0)), Some(0), "/widgets/0/h", "from 1 to 12"),
        (one(widget("kpi_oee", 0, 0, 1, 13)), Some(0), "/widgets/0/h", "from 1 to 12"),
        (one(widget("kpi_oee", 12, 0, 1, 1)), Some(0), "/widgets/0/x", "from 0 to 11"),
        (one(widget("kpi_oee", 8, 0, 6, 1)), Some(0), "/widgets/0/w", "x + w = 14 is past the 12-column grid"),
        (json!({"columns": 6, "widgets": [widget("kpi_oee", 0, 0, 7, 1)]}), Some(0), "/widgets/0/w", "from 1 to 6"),
        (one(json!({"widget_type": "kpi_oee", "x": -1, "y": 0, "w": 1, "h": 1})), Some(0), "/widgets/0/x", "whole number"),
        (one(json!({"widget_type": "kpi_oee", "x": 0.5, "y": 0, "w": 1, "h": 1})), Some(0), "/widgets/0/x", "whole number"),
        (one(json!({"widget_type": "kpi_oee", "y": 0, "w": 1, "h": 1})), Some(0), "/widgets/0/x", "`x` is required"),
        (one(widget("kpi_oee", 0, 481, 1, 1)), Some(0), "/widgets/0/y", "from 0 to 480"),
        (one(json!({"widget_type": "kpi_oee", "x": 0, "y": 0, "w": 1, "h": 1, "colour": "red"})), Some(0), "/widgets/0/colour", "unknown key"),
        (json!({"widgets": [widget("kpi_oee", 0, 0, 3, 2),
                            {"widget_type": "line_status", "x": 3, "y": 0, "w": 3, "h": 2, "params": {"line_id": 0}}]}),
            Some(1), "/widgets/1/params/line_id", "widget 1 (line_status): /line_id: must be at least 1"),
        (one(json!({"widget_type": "line_status", "x": 0, "y": 0, "w": 3, "h": 2})), Some(0), "/widgets/0/params/line_id", "is required"),
        (one(json!({"widget_type": "kpi_oee", "x": 0, "y": 0, "w": 3, "h": 2, "params": "today"})), Some(0), "/widgets/0/params", "must be an object"),
        (one(json!({"widget_type": "kpi_oee", "x": 0, "y": 0, "w": 3, "h": 2, "title": "x".repeat(81)})), Some(0), "/widgets/0/title", "81 characters, at most 80"),
        (one(json!({"widget_type": "kpi_oee", "x": 0, "y": 0, "w": 3, "h": 2, "title": 5})), Some(0), "/widgets/0/title", "string or null"),
        (json!({"widgets": [widget("kpi_oee", 0, 0, 6, 4), widget("kpi_quality", 6, 0, 6, 4), widget("oee_trend", 5, 3, 2, 2)]}),
            Some(2), "/widgets/2", "widget 2 (oee_trend) at x=5, y=3, 2×2 overlaps widget 0 (kpi_oee)"),
        (json!({"widgets": [widget("kpi_oee", 0, 0, 6, 4), widget("kpi_oee", 0, 0, 6, 4)]}), Some(1), "/widgets/1", "overlaps widget 0"),
    ]
}

#[test]
fn bad_layouts_are_refused_with_a_useful_message() {
    for (layout, index, pointer, msg) in refused_layouts() {
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
