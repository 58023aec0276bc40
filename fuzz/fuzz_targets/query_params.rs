//! `shared::params::Params` on arbitrary query strings and JSON bodies, and every
//! accessor the data and metrics routes call: never a panic, and every refusal is a 400
//! or 422 that names the field at fault (docs/api.md#errors).
//!
//! Input: first byte even → the rest is a query string; odd → the rest is a JSON body.
#![no_main]

use chrono::{NaiveTime, TimeZone, Utc};
use http::Method;
use libfuzzer_sys::fuzz_target;
use dash_store::error::AppError;
use shared::http::Request;
use dash_core::oee::Shift;
use shared::params::Params;
use dash_core::timeutil::{buckets, resolve_window, PlantCalendar};

/// The fields the data and metrics routes accept in a body (docs/api.md#shapes).
const ALLOWED: &[&str] = &[
    "line_id",
    "line_ids",
    "area_id",
    "area_ids",
    "product_id",
    "product_ids",
    "shift_id",
    "start_date",
    "end_date",
    "range",
    "timezone",
    "interval",
    "group_by",
    "limit",
    "metric",
    "include_micro",
];

fn check(e: &AppError, field: &str) {
    let status = e.status().as_u16();
    assert!(
        status == 400 || status == 422,
        "{field}: a refused parameter is a 400 or 422, got {status}: {e:?}"
    );
    if !field.is_empty() {
        assert_eq!(e.field(), Some(field), "the error names the field: {e:?}");
    }
    let _ = shared::http::error_response(e);
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let params = if mode % 2 == 0 {
        let mut req = Request::new(Method::GET, "/api/v1/metrics/oee");
        req.query = String::from_utf8_lossy(rest).into_owned();
        Params::from_query(&req)
    } else {
        let mut req = Request::new(Method::POST, "/api/v1/data/detections/aggregate");
        req.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        req.body = bytes::Bytes::copy_from_slice(rest);
        match Params::from_body(&req, ALLOWED) {
            Ok(p) => p,
            Err(e) => {
                check(&e, "");
                return;
            }
        }
    };
    let _ = params.to_json();

    for field in ["line_id", "area_id", "product_id", "shift_id"] {
        if let Err(e) = params.id(field) {
            check(&e, field);
        }
    }
    for field in ["line_ids", "area_ids", "product_ids"] {
        match params.ids(field) {
            Ok(Some(ids)) => {
                assert!(!ids.is_empty() && ids.len() <= shared::params::MAX_IDS);
                assert!(ids.iter().all(|id| *id > 0));
            }
            Ok(None) => {}
            Err(e) => check(&e, field),
        }
    }
    for (one, many) in [("line_id", "line_ids"), ("area_id", "area_ids")] {
        if let Err(e) = params.one_or_many(one, many) {
            let status = e.status().as_u16();
            assert!(status == 400 || status == 422, "{e:?}");
        }
    }
    match params.limit("limit", 10, 100) {
        Ok(n) => assert!((1..=100).contains(&n)),
        Err(e) => check(&e, "limit"),
    }
    if let Err(e) = params.choice("metric", dash_core::catalog::METRICS) {
        check(&e, "metric");
    }
    let interval = match params.interval("interval") {
        Ok(i) => i,
        Err(e) => {
            check(&e, "interval");
            None
        }
    };
    if let Err(e) = params.interval("group_by") {
        check(&e, "group_by");
    }
    let tz = match params.timezone() {
        Ok(tz) => tz.unwrap_or(chrono_tz::Europe::Madrid),
        Err(e) => {
            check(&e, "timezone");
            chrono_tz::Europe::Madrid
        }
    };

    // The window in a plant whose day starts at 06:00 with three shifts (one overnight).
    let cal = PlantCalendar::new(tz, hm(6, 0));
    let shifts = [
        Shift::new(1, "Morning", hm(6, 0), hm(14, 0)),
        Shift::new(2, "Afternoon", hm(14, 0), hm(22, 0)),
        Shift::new(3, "Night", hm(22, 0), hm(6, 0)),
    ];
    let now = Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap();
    match resolve_window(&params.window(), &cal, &shifts, now, 366) {
        Ok(window) => {
            assert!(window.start <= window.end, "{window:?}");
            if let Some(interval) = interval {
                let list = buckets(&window, interval, &cal, &shifts);
                for b in &list {
                    assert!(b.start < b.end, "empty bucket {b:?}");
                    assert!(b.start >= window.start && b.end <= window.end, "{b:?}");
                }
            }
        }
        Err(e) => {
            let e = AppError::from(e);
            let status = e.status().as_u16();
            assert_eq!(status, 422, "{e:?}");
            let field = e.field().unwrap_or_default();
            assert!(
                ["range", "start_date", "end_date", "timezone"].contains(&field),
                "window error on an unexpected field: {e:?}"
            );
        }
    }
});
