//! Golden OEE figures of the hand-built plant (see `metrics_support.rs` for
//! its rows), through the real release `metrics` binary over a real database.
//! Every expected number is worked out by hand in the comments.
//!
//! Build first: `cargo build --release -p auth -p metrics`.

use crate::metrics_support as support;

use serde_json::Value;
use support::*;

const OEE: &str = "/api/v1/metrics/oee";

fn bucket<'a>(r: &'a Value, label: &str) -> &'a Value {
    r["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .find(|b| b["label"] == label)
        .unwrap_or_else(|| panic!("no bucket {label} in {}", r["buckets"]))
}

#[tokio::test]
async fn golden_figures() {
    let g = golden().await;

    // ------------------------------------------------------------------
    // D1, line A, Tuesday 2026-03-10 (CET).
    // Shift time in the local day: Night of the 9th clipped to 00:00–06:00
    // (6 h) + Day 06:00–14:00 minus the 10:00–10:30 break (7.5 h) + Night of
    // the 10th 22:00–24:00 (2 h) = 15.5 h = 55 800 s.
    // Planned stop S2 (Limpieza, 12:00–12:30) leaves PT = 54 000 s.
    // Downtime: S1 (Atasco, 07:00–07:30) 1 800 s + S3 (unjustified,
    // 21:40–22:15, counted from the night shift's start) 900 s = 2 700 s.
    // RT = 51 300 s → A = 51 300 / 54 000 = 0.95.
    // Good in planned time 500 (the 23 outputs at 10:10, 12:10, 14:00:00.000
    // and 15:00–15:19 are outside it); rejects 13 (not the one at 15:30).
    // P = 60 s × 513 / 51 300 = 30 780 / 51 300 = 0.6; Q = 500 / 513.
    // OEE = A·P·Q = 60 × 500 / 54 000 = 5/9.
    // ------------------------------------------------------------------
    let r = g.data(
        "metrics",
        &format!("{OEE}?line_id=1&start_date=2026-03-10&end_date=2026-03-11"),
    );
    assert_eq!(r["line_ids"], serde_json::json!([1]));
    assert_eq!(r["start"], "2026-03-10T00:00:00.000+01:00");
    assert_eq!(r["end"], "2026-03-11T00:00:00.000+01:00");
    close(num(&r, "planned_seconds"), 54_000.0);
    close(num(&r, "downtime_seconds"), 2_700.0);
    close(num(&r, "run_seconds"), 51_300.0);
    assert_eq!(r["good"], 500);
    assert_eq!(r["rejects"], 13);
    close(num(&r, "availability"), 0.95);
    close(num(&r, "performance"), 0.6);
    close(num(&r, "quality"), 500.0 / 513.0);
    close(num(&r, "oee"), 5.0 / 9.0);
    assert_eq!(r["warnings"], serde_json::json!([]));
    assert!(r.get("buckets").is_none());
    // Losses: downtime by reason in Pareto order (Atasco 1 800 s, then the
    // unjustified 900 s), micro-stop M1 30 s, speed loss RT − ideal − micro
    // = 51 300 − 30 780 − 30 = 20 490 s, quality loss 13 × 60 = 780 s.
    let l = &r["losses"];
    let reasons = l["downtime_by_reason"].as_array().expect("reasons");
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0]["failure_id"], 1);
    assert_eq!(reasons[0]["reason"], "Atasco");
    close(num(&reasons[0], "seconds"), 1_800.0);
    assert!(reasons[1]["failure_id"].is_null());
    close(num(&reasons[1], "seconds"), 900.0);
    close(num(l, "micro_stop_seconds"), 30.0);
    close(num(l, "speed_loss_seconds"), 20_490.0);
    close(num(l, "quality_loss_seconds"), 780.0);

    // The same window by relative instants with offsets gives the same.
    let same = g.data(
        "metrics",
        &format!(
            "{OEE}?line_id=1&start_date=2026-03-09T23:00:00Z&end_date=2026-03-11T00:00:00%2B01:00"
        ),
    );
    assert_eq!(same["good"], 500);
    close(num(&same, "oee"), 5.0 / 9.0);

    // Hour buckets (24 on a normal day).
    let h = g.data(
        "metrics",
        &format!("{OEE}?line_id=1&start_date=2026-03-10&end_date=2026-03-11&interval=hour"),
    );
    assert_eq!(h["buckets"].as_array().expect("buckets").len(), 24);
    // 07:00 — S1 takes half the hour.
    let b = bucket(&h, "2026-03-10 07:00");
    close(num(b, "planned_seconds"), 3_600.0);
    close(num(b, "downtime_seconds"), 1_800.0);
    close(num(b, "availability"), 0.5);
    assert_eq!(b["losses"]["downtime_by_reason"][0]["reason"], "Atasco");
    // 08:00 — outputs 08:01–08:59 (59) and the micro-stop.
    let b = bucket(&h, "2026-03-10 08:00");
    assert_eq!(b["good"], 59);
    close(num(&b["losses"], "micro_stop_seconds"), 30.0);
    // 10:00 — planned only 10:30–11:00 (the break), 30 outputs in it (10:10 is not).
    let b = bucket(&h, "2026-03-10 10:00");
    close(num(b, "planned_seconds"), 1_800.0);
    assert_eq!(b["good"], 30);
    // 12:00 — the planned stop leaves 12:30–13:00.
    let b = bucket(&h, "2026-03-10 12:00");
    close(num(b, "planned_seconds"), 1_800.0);
    assert_eq!(b["good"], 30);
    // 13:00 — 13:00–13:18 (19) plus 13:59:59.999.
    assert_eq!(bucket(&h, "2026-03-10 13:00")["good"], 20);
    // 14:00 — nothing planned: 14:00:00.000 and 15:00… are production, not OEE.
    let b = bucket(&h, "2026-03-10 14:00");
    close(num(b, "planned_seconds"), 0.0);
    assert!(b["availability"].is_null());
    assert_eq!(b["good"], 0);
    // 22:00 — S3 counts from 22:00 (900 s); outputs 22:20–22:59.
    let b = bucket(&h, "2026-03-10 22:00");
    close(num(b, "downtime_seconds"), 900.0);
    assert_eq!(b["good"], 40);
    // Buckets add up to the window.
    let buckets = h["buckets"].as_array().expect("buckets");
    let sum = |k: &str| buckets.iter().map(|b| num(b, k)).sum::<f64>();
    close(sum("planned_seconds"), 54_000.0);
    close(sum("run_seconds"), 51_300.0);
    close(sum("good"), 500.0);
    close(sum("rejects"), 13.0);
    close(num(&h, "oee"), 5.0 / 9.0);

    // Shift buckets: Night of the 9th (00:00–06:00 here, 21 600 s, 200 good,
    // 13 rejects), Day of the 10th (7.5 h − 0.5 h planned stop = 25 200 s,
    // S1 1 800 s down, 250 good), Night of the 10th (7 200 s, 900 s down,
    // 50 good).
    let s = g.data(
        "metrics",
        &format!("{OEE}?line_id=1&start_date=2026-03-10&end_date=2026-03-11&interval=shift"),
    );
    let labels: Vec<&str> = s["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| b["label"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        labels,
        ["Night 2026-03-09", "Day 2026-03-10", "Night 2026-03-10"]
    );
    let n9 = bucket(&s, "Night 2026-03-09");
    close(num(n9, "planned_seconds"), 21_600.0);
    assert_eq!(
        (n9["good"].as_u64(), n9["rejects"].as_u64()),
        (Some(200), Some(13))
    );
    let d = bucket(&s, "Day 2026-03-10");
    close(num(d, "planned_seconds"), 25_200.0);
    close(num(d, "downtime_seconds"), 1_800.0);
    assert_eq!(d["good"], 250);
    let n10 = bucket(&s, "Night 2026-03-10");
    close(num(n10, "planned_seconds"), 7_200.0);
    close(num(n10, "downtime_seconds"), 900.0);
    assert_eq!(n10["good"], 50);

    // ------------------------------------------------------------------
    // D2, line A, Sunday 2026-03-29: the local day lasts 23 h.
    // Night of the 28th 22:00 CET → 06:00 CEST lasts 7 real hours; clipped
    // to the day it is 00:00 CET → 06:00 CEST = 5 h. Day 7.5 h, Night 2 h:
    // PT = 14.5 h = 52 200 s, no stops → A = 1. 290 good: P = 60 × 290 /
    // 52 200 = 1/3, Q = 1, OEE = 1/3.
    // ------------------------------------------------------------------
    let r = g.data(
        "metrics",
        &format!("{OEE}?line_id=1&start_date=2026-03-29&end_date=2026-03-30&interval=hour"),
    );
    assert_eq!(r["start"], "2026-03-29T00:00:00.000+01:00");
    assert_eq!(r["end"], "2026-03-30T00:00:00.000+02:00");
    close(num(&r, "planned_seconds"), 52_200.0);
    close(num(&r, "availability"), 1.0);
    assert_eq!(r["good"], 290);
    close(num(&r, "performance"), 1.0 / 3.0);
    close(num(&r, "oee"), 1.0 / 3.0);
    let buckets = r["buckets"].as_array().expect("buckets");
    assert_eq!(
        buckets.len(),
        23,
        "a spring-forward day has 23 hour buckets"
    );
    assert_eq!(buckets[1]["label"], "2026-03-29 01:00");
    assert_eq!(buckets[2]["label"], "2026-03-29 03:00");
    assert_eq!(buckets[2]["start"], "2026-03-29T03:00:00.000+02:00");
    // 00:00 CET: planned, 20 outputs every 3 min.
    assert_eq!(buckets[0]["good"], 20);
    close(num(&buckets[0], "planned_seconds"), 3_600.0);
    close(
        buckets
            .iter()
            .map(|b| num(b, "planned_seconds"))
            .sum::<f64>(),
        52_200.0,
    );
    // The night occurrence across the change really lasts 7 h.
    let s = g.data(
        "metrics",
        &format!("{OEE}?line_id=1&start_date=2026-03-28&end_date=2026-03-30&interval=shift"),
    );
    let n = bucket(&s, "Night 2026-03-28");
    close(num(n, "planned_seconds"), 25_200.0);
    assert_eq!(n["good"], 100);
    // Day buckets say how long the day was.
    let d = g.data(
        "metrics",
        &format!("{OEE}?line_id=1&start_date=2026-03-28&end_date=2026-03-31&interval=day"),
    );
    let days: Vec<(String, f64)> = d["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| {
            let start = chrono::DateTime::parse_from_rfc3339(b["start"].as_str().unwrap_or(""))
                .expect("start");
            let end =
                chrono::DateTime::parse_from_rfc3339(b["end"].as_str().unwrap_or("")).expect("end");
            (
                b["label"].as_str().unwrap_or("").to_string(),
                (end - start).num_seconds() as f64,
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-03-28".to_string(), 86_400.0),
            ("2026-03-29".to_string(), 82_800.0),
            ("2026-03-30".to_string(), 86_400.0)
        ]
    );

    // ------------------------------------------------------------------
    // D3, line B: only product 2 "Sin ciclo", which has no ideal cycle time
    // and there is no default: P and OEE are null, with a warning naming it.
    // PT = 55 800 s, no stops: A = 1; 100 good, Q = 1.
    // ------------------------------------------------------------------
    let r = g.data(
        "metrics",
        &format!("{OEE}?line_id=2&start_date=2026-03-11&end_date=2026-03-12"),
    );
    close(num(&r, "availability"), 1.0);
    close(num(&r, "quality"), 1.0);
    assert_eq!(r["good"], 100);
    assert!(r["performance"].is_null());
    assert!(r["oee"].is_null());
    assert!(r["losses"]["speed_loss_seconds"].is_null());
    let w = &r["warnings"][0];
    assert_eq!(w["code"], "missing_ideal_cycle_time");
    assert_eq!(w["products"], serde_json::json!([2]));
    assert!(
        w["message"]
            .as_str()
            .unwrap_or("")
            .contains("Sin ciclo (#2)"),
        "{w}"
    );

    // ------------------------------------------------------------------
    // D4, line B: 600 units of product 3 (ideal 100 s) in PT = 55 800 s:
    // P = 60 000 / 55 800 = 1.0753…, reported as is with a warning; A = Q = 1,
    // OEE = P. Speed loss is negative: 55 800 − 60 000 = −4 200 s.
    // ------------------------------------------------------------------
    let r = g.data(
        "metrics",
        &format!("{OEE}?line_id=2&start_date=2026-03-12&end_date=2026-03-13"),
    );
    close(num(&r, "performance"), 60_000.0 / 55_800.0);
    close(num(&r, "oee"), 60_000.0 / 55_800.0);
    close(num(&r["losses"], "speed_loss_seconds"), -4_200.0);
    let w = &r["warnings"][0];
    assert_eq!(w["code"], "performance_above_100");
    assert!(
        w["message"].as_str().unwrap_or("").contains("107.5 %"),
        "{w}"
    );
    // The factor routes agree, each with its own warnings.
    let p = g.data(
        "metrics",
        "/api/v1/metrics/performance?line_id=2&start_date=2026-03-12&end_date=2026-03-13",
    );
    close(num(&p, "performance"), 60_000.0 / 55_800.0);
    assert_eq!(p["warnings"][0]["code"], "performance_above_100");
    let a = g.data(
        "metrics",
        "/api/v1/metrics/availability?line_id=2&start_date=2026-03-12&end_date=2026-03-13",
    );
    close(num(&a, "availability"), 1.0);
    assert_eq!(a["warnings"], serde_json::json!([]));
    assert!(a.get("performance").is_none());

    // ------------------------------------------------------------------
    // Both lines on D1: times and counts are summed first, divided last.
    // Line B has no stops and no output that day: PT 55 800, RT 55 800.
    // PT = 109 800, RT = 107 100, good 500, rejects 13, ideal 30 780:
    // OEE = 60 × 500 / 109 800 (not the mean of 5/9 and 0).
    // ------------------------------------------------------------------
    let r = g.data(
        "metrics",
        &format!("{OEE}?line_ids=1,2&start_date=2026-03-10&end_date=2026-03-11"),
    );
    close(num(&r, "planned_seconds"), 109_800.0);
    close(num(&r, "run_seconds"), 107_100.0);
    close(num(&r, "availability"), 107_100.0 / 109_800.0);
    close(num(&r, "performance"), 30_780.0 / 107_100.0);
    close(num(&r, "oee"), 30_000.0 / 109_800.0);

    // ------------------------------------------------------------------
    // 2026-04-05, line A: the newest output detection is at 12:00 CEST; the
    // line has been "stopped since" then. Planned that day: 00:00–06:00,
    // 06:00–14:00 − break, 22:00–24:00 (15.5 h = 55 800 s); the open stop
    // covers 12:00–14:00 and 22:00–24:00 = 4 h = 14 400 s, unjustified.
    // ------------------------------------------------------------------
    let r = g.data(
        "metrics",
        &format!("{OEE}?line_id=1&start_date=2026-04-05&end_date=2026-04-06"),
    );
    close(num(&r, "planned_seconds"), 55_800.0);
    close(num(&r, "downtime_seconds"), 14_400.0);
    assert!(r["losses"]["downtime_by_reason"][0]["failure_id"].is_null());
    assert_eq!(r["good"], 1);
}

#[tokio::test]
async fn kpi_trend_and_comparison_agree() {
    let g = golden().await;
    let window = "start_date=2026-03-09&end_date=2026-03-31";
    let kpi = g.data("metrics", &format!("{OEE}?line_ids=1,2&{window}"));
    let trend = g.data(
        "metrics",
        &format!("{OEE}?line_ids=1,2&{window}&interval=day"),
    );
    let weeks = g.data(
        "metrics",
        &format!("{OEE}?line_ids=1,2&{window}&interval=week"),
    );
    let cmp = g.data(
        "metrics",
        &format!("/api/v1/metrics/comparison?line_ids=1,2&{window}"),
    );
    let avail = g.data(
        "metrics",
        &format!("/api/v1/metrics/availability?line_ids=1,2&{window}"),
    );
    let qual = g.data(
        "metrics",
        &format!("/api/v1/metrics/quality?line_ids=1,2&{window}"),
    );

    // The overall figures are the same wherever they are read.
    for other in [&trend, &weeks, &cmp["total"]] {
        for k in [
            "planned_seconds",
            "downtime_seconds",
            "run_seconds",
            "good",
            "rejects",
        ] {
            close(num(other, k), num(&kpi, k));
        }
        for k in ["availability", "quality"] {
            close(num(other, k), num(&kpi, k));
        }
        assert_eq!(other["oee"].is_null(), kpi["oee"].is_null());
    }
    close(num(&avail, "availability"), num(&kpi, "availability"));
    close(num(&qual, "quality"), num(&kpi, "quality"));
    // Buckets and lines add up to the whole.
    for series in [&trend["buckets"], &weeks["buckets"], &cmp["items"]] {
        let items = series.as_array().expect("array");
        for k in [
            "planned_seconds",
            "downtime_seconds",
            "run_seconds",
            "good",
            "rejects",
        ] {
            close(items.iter().map(|b| num(b, k)).sum::<f64>(), num(&kpi, k));
        }
    }
    // The comparison's per-line items are each line's own KPI.
    let items = cmp["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let line1 = g.data("metrics", &format!("{OEE}?line_id=1&{window}"));
    assert_eq!(items[0]["line_id"], 1);
    assert_eq!(items[0]["line_name"], "Golden A");
    for k in ["planned_seconds", "good", "oee"] {
        close(num(&items[0], k), num(&line1, k));
    }
    // Line B made a product without an ideal cycle time in this window, so
    // the combined OEE is null and says why.
    assert!(kpi["oee"].is_null());
    assert_eq!(kpi["warnings"][0]["code"], "missing_ideal_cycle_time");

    // Periods: D1 against the day before (the previous period by default).
    let p = g.data(
        "metrics",
        "/api/v1/metrics/comparison?line_id=1&by=periods&start_date=2026-03-10&end_date=2026-03-11",
    );
    let items = p["items"].as_array().expect("items");
    assert_eq!(items[0]["period"], "current");
    assert_eq!(items[1]["period"], "previous");
    assert_eq!(items[1]["start"], "2026-03-09T00:00:00.000+01:00");
    close(num(&items[0], "oee"), 5.0 / 9.0);
    assert_eq!(items[1]["good"], 0);
    // Explicit comparison period: D2 (the 23-hour day).
    let p = g.data(
        "metrics",
        "/api/v1/metrics/comparison?line_id=1&start_date=2026-03-10&end_date=2026-03-11\
         &compare_start_date=2026-03-29&compare_end_date=2026-03-30",
    );
    assert_eq!(p["by"], "periods");
    close(num(&p["items"][1], "oee"), 1.0 / 3.0);
    close(num(&p["delta"], "oee"), 5.0 / 9.0 - 1.0 / 3.0);
}
