//! Counts go by start (docs/downtime.md#counts-and-durations-in-windows):
//! stops stored across midnights count once, in the day they start in, while
//! each day gets its clipped time; the days' counts add up to the week's, on
//! the API and on the dashboard's downtime widgets.

use crate::auth_support::{request, world, Bearer};
use crate::downtime_api::{all_pages, get, reason_ids};

use integration_tests::hosts::{bin, run_cgi};
use mysql_async::prelude::Queryable;
use serde_json::Value;

/// Issue 13: counts go by start. Stops stored across midnight (and across
/// the week's start) give each day its clipped time but count once, in the
/// day they start in, so the days' counts add up to the week's; the
/// dashboard's downtime widgets count what the API counts.
#[tokio::test]
async fn counts_of_the_days_of_a_week_add_up_to_the_week() {
    let w = world(&[]).await;
    let viewer = w.login("demo.viewer").access;
    let reason = reason_ids(&w).await[0];
    let tenant = dash_store::tenancy::find_tenant(&mut w.global().await, w.demo)
        .await
        .expect("tenant")
        .expect("demo tenant");
    let (tz, data_tz) = (tenant.timezone(), tenant.data_timezone());
    // Plant-local times, stored in the data zone. A week (Madrid, no DST
    // change) long before the demo's data: only these stops are in it.
    let stored = |local: &str| {
        let t = dash_core::timeutil::parse_instant(local, tz, "t").expect("time");
        (t, dash_core::timeutil::utc_to_data_naive(t, data_tz))
    };
    // (start, end, micro, reason)
    let stops: [(&str, &str, bool, Option<i64>); 6] = [
        // Before the week, into its first day: time on Monday, no count.
        ("2026-03-01T23:55:00", "2026-03-02T00:05:00", false, None),
        // The micro-stop: Tuesday's only (14 s), 26 s on Wednesday.
        ("2026-03-03T23:59:46", "2026-03-04T00:00:26", true, None),
        // A justified stop across Wednesday's midnight.
        (
            "2026-03-04T23:50:00",
            "2026-03-05T00:20:00",
            false,
            Some(reason),
        ),
        ("2026-03-05T10:00:00", "2026-03-05T10:05:00", false, None),
        // Starting exactly at midnight: Friday's.
        ("2026-03-06T00:00:00", "2026-03-06T00:03:00", false, None),
        // Across the week's end: Sunday's (and the week's).
        ("2026-03-08T23:58:00", "2026-03-09T00:03:00", false, None),
    ];
    let mut c = w.db.client_conn(w.demo).await.expect("client db");
    for (i, (s, e, micro, failure)) in stops.iter().enumerate() {
        let ((s_utc, s), (e_utc, e)) = (stored(s), stored(e));
        c.exec_drop(
            "INSERT INTO downtime_events_linea_1_envasado \
             (start_time, end_time, duration_seconds, detection_id, is_micro, failure_id) \
             VALUES (?, ?, ?, ?, ?, ?)",
            (
                s,
                e,
                (e_utc - s_utc).num_milliseconds() as f64 / 1000.0,
                i as i64 + 1,
                *micro,
                *failure,
            ),
        )
        .await
        .expect("stop");
    }
    drop(c);

    let dashboard = |widget: &str, q: &str| -> Value {
        let uri = format!("/api/v1/dashboard/widgets/{widget}?{q}");
        let r = run_cgi(
            &bin("dashboard"),
            &w.env,
            &request("GET", &uri).bearer(&viewer),
        );
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        r.json()["data"]["result"].clone()
    };
    let u = |v: &Value| v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"));
    let f = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("not seconds: {v}"));
    // Per reason id: (count, seconds); the labels are each reader's own.
    let reason_counts = |s: &Value| -> Vec<(String, u64, String)> {
        let mut rows: Vec<(String, u64, String)> = s["by_reason"]
            .as_array()
            .expect("by_reason")
            .iter()
            .map(|r| {
                (
                    r["id"].to_string(),
                    u(&r["count"]),
                    r["total_seconds"].to_string(),
                )
            })
            .collect();
        rows.sort();
        rows
    };
    let summary = |from: &str, to: &str| -> Value {
        let q = format!("line_id=1&start_date={from}&end_date={to}&include_micro=true");
        let r = get(&w, &viewer, &format!("/api/v1/downtime/summary?{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        let s = r.json()["data"].clone();
        // One truth: the dashboard counts what the API counts.
        for widget in ["kpi_downtime", "downtime_pareto"] {
            let d = dashboard(widget, &q);
            for key in [
                "count",
                "justified_count",
                "unjustified_count",
                "downtime_seconds",
                "outside_planned_seconds",
                "mttr_seconds",
                "micro_stops",
            ] {
                assert_eq!(d[key], s[key], "{widget} {key} {q}: {d} vs {s}");
            }
            assert_eq!(reason_counts(&d), reason_counts(&s), "{widget} {q}");
        }
        s
    };

    let week = summary("2026-03-02", "2026-03-09");
    let days: Vec<Value> = (2..9)
        .map(|d| summary(&format!("2026-03-{d:02}"), &format!("2026-03-{:02}", d + 1)))
        .collect();
    // Per day: Monday has the time of the stop from Sunday night but no
    // count; Tuesday the micro-stop; Wednesday its last 26 s and the stop at
    // 23:50; Thursday that stop's 20 min and one more; Friday the stop at
    // midnight; Sunday the stop into the next week.
    let counts: Vec<u64> = days.iter().map(|d| u(&d["count"])).collect();
    assert_eq!(counts, vec![0, 1, 1, 1, 1, 0, 1], "{days:?}");
    let micro: Vec<(u64, f64)> = days
        .iter()
        .map(|d| {
            (
                u(&d["micro_stops"]["count"]),
                f(&d["micro_stops"]["total_seconds"]),
            )
        })
        .collect();
    // Every stop here lies in a break (the night shift's 23:50–00:20, the
    // morning's 10:00–10:20): no planned time, so no downtime and no
    // micro-stop time, all of it downtime outside planned time
    // (docs/oee.md#downtime-outside-planned-time); counts are unchanged.
    assert_eq!(micro[1], (1, 0.0));
    assert_eq!(micro[2], (0, 0.0));
    for d in &days {
        assert_eq!(f(&d["downtime_seconds"]), 0.0, "{d}");
    }
    let outside: Vec<f64> = days
        .iter()
        .map(|d| f(&d["outside_planned_seconds"]))
        .collect();
    assert_eq!(outside[1], 14.0, "the micro-stop, counted as a stop");
    assert_eq!(
        days[0]["mttr_seconds"],
        Value::Null,
        "no stop starts on Monday"
    );
    assert_eq!(outside[0], 300.0);
    assert_eq!(outside[2], 26.0 + 600.0);

    // The days add up to the week: counts of every kind, and clipped time.
    let sum_u = |key: &dyn Fn(&Value) -> &Value| days.iter().map(|d| u(key(d))).sum::<u64>();
    assert_eq!(sum_u(&|d| &d["count"]), u(&week["count"]));
    assert_eq!(u(&week["count"]), 5, "{week}");
    assert_eq!(
        sum_u(&|d| &d["micro_stops"]["count"]),
        u(&week["micro_stops"]["count"])
    );
    assert_eq!(
        sum_u(&|d| &d["justified_count"]),
        u(&week["justified_count"])
    );
    assert_eq!(u(&week["justified_count"]), 1);
    assert_eq!(
        sum_u(&|d| &d["unjustified_count"]),
        u(&week["unjustified_count"])
    );
    let mut by_reason: std::collections::BTreeMap<String, u64> = Default::default();
    for d in &days {
        for (id, n, _) in reason_counts(d) {
            *by_reason.entry(id).or_default() += n;
        }
    }
    let week_reasons: std::collections::BTreeMap<String, u64> = reason_counts(&week)
        .into_iter()
        .map(|(id, n, _)| (id, n))
        .collect();
    assert_eq!(by_reason, week_reasons);
    assert_eq!(week_reasons.get(&reason.to_string()), Some(&1), "{week}");
    assert_eq!(week_reasons.get("null"), Some(&4), "{week}");
    let total: f64 = outside.iter().sum();
    assert!(
        (total - f(&week["outside_planned_seconds"])).abs() < 1e-6,
        "{total} vs {week}"
    );
    assert_eq!(f(&week["downtime_seconds"]), 0.0, "{week}");
    // 5 min of Sunday night + 40 s + 30 min + 5 min + 3 min + 2 min of the last.
    let stop_time = 300.0 + 40.0 + 1800.0 + 300.0 + 180.0 + 120.0;
    assert!((f(&week["outside_planned_seconds"]) - stop_time).abs() < 1e-6);
    let mttr = f(&week["mttr_seconds"]);
    assert!((mttr - stop_time / 5.0).abs() < 1e-6, "{week}");

    // The list still shows every stop overlapping the week, the one from
    // Sunday night included (a list, not a count).
    let listed = all_pages(
        &w,
        &viewer,
        "line_id=1&start_date=2026-03-02&end_date=2026-03-09&micro=include",
    );
    assert_eq!(listed.len(), 6);
}
