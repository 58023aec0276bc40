//! Widget params and dashboard layouts in `dash_core::catalog` (`validate_layout`,
//! `validate_params`, `effective_params`) and the widget params a dashboard builds from
//! its query and filters (`dashboard::params_from_query`), on arbitrary
//! JSON: never a panic; errors point at a field; what is accepted stays accepted.
//!
//! Input: a JSON document (anything else is skipped).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use dashboard::params_from_query;
use dash_core::catalog::{effective_params, validate_layout, validate_params, widget_types};
use dash_core::timeutil::parse_instant;

fn pointer_ok(p: &str) -> bool {
    p.is_empty() || p.starts_with('/')
}

/// The catalog and the engines read `start_date` / `end_date` with different code: a
/// date the catalog accepts must be one `timeutil::parse_instant` reads, and one it
/// refuses as not a real date must be one that `parse_instant` refuses too.
fn dates_agree(params: &Value, outcome: &Result<(), dash_core::catalog::ParamsError>) {
    for key in ["start_date", "end_date"] {
        let Some(s) = params.get(key).and_then(Value::as_str) else {
            continue;
        };
        let engine = parse_instant(s, chrono_tz::UTC, "start_date");
        match outcome {
            Ok(()) => assert!(
                engine.is_ok(),
                "{key} {s:?} accepted by the catalog, not by parse_instant"
            ),
            Err(e)
                if e.pointer() == format!("/{key}")
                    && e.message() == "is not a real calendar date or time" =>
            {
                assert!(
                    engine.is_err(),
                    "{key} {s:?} refused by the catalog, read by parse_instant"
                )
            }
            Err(_) => {}
        }
    }
}

/// Query pairs as a browser would send them: an object's string, number and bool
/// values, one pair per array item.
fn pairs_of(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(obj) = v.as_object() else {
        return out;
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    for (k, v) in obj {
        match v {
            Value::Array(items) => {
                out.extend(items.iter().filter_map(text).map(|t| (k.clone(), t)))
            }
            other => out.extend(text(other).map(|t| (k.clone(), t))),
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };

    match validate_layout(&value) {
        Ok(layout) => {
            // The stored form reads back as the same layout.
            let again = validate_layout(&layout.to_json()).expect("a valid layout stays valid");
            assert_eq!(again, layout);
            for w in &layout.widgets {
                assert!(w.x + w.w <= layout.columns && w.w >= 1 && w.h >= 1);
                if let Ok(merged) = effective_params(&w.widget_type, &w.params) {
                    validate_params(&w.widget_type, &merged).expect("merged params are valid");
                }
            }
        }
        Err(e) => {
            assert!(pointer_ok(&e.pointer), "{e:?}");
            assert!(!e.message.is_empty());
            let _ = e.to_string();
        }
    }

    // As the params of every widget type, and as a dashboard query (own params + f_* filters).
    let pairs = pairs_of(&value);
    for wt in widget_types() {
        let name = wt.widget_type;
        let outcome = validate_params(name, &value);
        dates_agree(&value, &outcome);
        match outcome {
            Ok(()) => {
                if let Ok(merged) = effective_params(name, &value) {
                    validate_params(name, &merged).expect("merged params are valid");
                }
            }
            Err(e) => {
                assert!(pointer_ok(e.pointer()), "{e:?}");
                let _ = (e.message(), e.to_string());
            }
        }
        match params_from_query(name, &pairs) {
            Ok(params) => {
                if let Err(e) = effective_params(name, &params) {
                    assert!(pointer_ok(e.pointer()), "{e:?}");
                    let _ = e.message();
                }
            }
            Err(e) => panic!("a known widget type always gives params: {e:?}"),
        }
    }
    if let Some(name) = value.get("widget_type").and_then(Value::as_str) {
        let params = value.get("params").cloned().unwrap_or(Value::Null);
        let _ = validate_params(name, &params).map_err(|e| e.message());
        let _ = effective_params(name, &params);
        let _ = params_from_query(name, &pairs);
    }
});
