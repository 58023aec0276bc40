//! The 18 widget types of the catalog through the real `dashboard` binary
//! (`GET /api/v1/dashboard/widgets/{type}`) for the demo manager, over the
//! demo plant of `auth_support.rs` (14 days ending now, Europe/Madrid):
//! * every type answers data, JSON and HTML partial, with figures that agree
//!   with each other;
//! * the production widgets count what the `data` routes count for the same
//!   window (summary, by product, by area, aggregate by day), filters
//!   included (`kpi_production` counts every detection, planned or not);
//! * a product named `<img src=x onerror=alert(1)>` and a line named
//!   `"><script>alert(1)</script>` show as text in the partials.
//!
//! Build first: `cargo build --release -p auth -p data -p dashboard -p jobs`.

use crate::auth_support as support;

use std::process::Command;

use chrono::{Duration, Utc};
use dashboard::render::fixtures::{XSS_LINE, XSS_PRODUCT};
use integration_tests::hosts::{bin, run_cgi, RawResponse, TestRequest};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use support::*;

const LINES: &str = "line_ids=1,2,3";
/// Output and reject areas of the three demo lines.
const FINISHED_AREAS: [i64; 6] = [3, 4, 7, 8, 11, 12];

struct Ctx {
    w: World,
    token: String,
    /// `start_date=…&end_date=…`: the 7 whole plant-local days before today.
    days: String,
}

impl Ctx {
    fn get(&self, binary: &str, uri: &str, htmx: bool) -> RawResponse {
        let mut req = TestRequest::get(uri).bearer(&self.token);
        if htmx {
            req = req.header("HX-Request", "true");
        }
        run_cgi(&bin(binary), &self.w.env, &req)
    }

    /// W of a widget (asserting a 200).
    fn widget(&self, widget_type: &str, query: &str) -> Value {
        let uri = format!("/api/v1/dashboard/widgets/{widget_type}?{query}");
        let r = self.get("dashboard", &uri, false);
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        let data = r.json()["data"].clone();
        assert_eq!(data["widget_type"], widget_type, "{uri}");
        data
    }

    /// The partial of a widget (asserting a 200 and no error card).
    fn partial(&self, widget_type: &str, query: &str) -> String {
        let uri = format!("/api/v1/dashboard/widgets/{widget_type}?{query}");
        let r = self.get("dashboard", &uri, true);
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        assert!(
            r.header("content-type")
                .unwrap_or("")
                .starts_with("text/html"),
            "{uri}: not HTML"
        );
        let html = r.text();
        assert!(
            !html.contains("data-widget-error"),
            "{uri}: error card {html}"
        );
        html
    }

    fn data(&self, uri: &str) -> Value {
        let r = self.get("data", uri, false);
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        r.json()["data"].clone()
    }

    fn aggregate(&self, body: &Value) -> Vec<Value> {
        let req =
            TestRequest::post_json("/api/v1/data/detections/aggregate", body).bearer(&self.token);
        let r = run_cgi(&bin("data"), &self.w.env, &req);
        assert_eq!(r.status, 200, "aggregate {body}: {}", r.text());
        r.json()["data"].as_array().expect("rows").clone()
    }
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn sum(items: &Value, key: &str) -> u64 {
    items
        .as_array()
        .expect("array")
        .iter()
        .map(|i| n(&i[key]))
        .sum()
}

async fn setup() -> Ctx {
    let w = world(&[]).await;
    // Hostile names from the client database (line 2 keeps its table suffix).
    let mut c = w.db.client_conn(w.demo).await.expect("client db");
    c.exec_drop(
        "UPDATE product SET product_name = ? WHERE product_id = 3",
        (XSS_PRODUCT,),
    )
    .await
    .expect("hostile product");
    c.exec_drop(
        "UPDATE production_line SET line_code = 'linea_2_etiquetado', line_name = ? WHERE line_id = 2",
        (XSS_LINE,),
    )
    .await
    .expect("hostile line");
    drop(c);
    // The stops, as cron would compute them (the downtime widgets read them).
    let out = Command::new(bin("jobs"))
        .args(["downtime", "--tenant", &w.demo.to_string()])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(w.env.clone())
        .output()
        .expect("jobs");
    assert!(
        out.status.success(),
        "jobs downtime: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let token = w.login("demo.manager").access;
    let tz = dash_core::timeutil::parse_timezone("Europe/Madrid").expect("zone");
    let today = Utc::now().with_timezone(&tz).date_naive();
    let days = format!(
        "start_date={}&end_date={}",
        today - Duration::days(7),
        today
    );
    Ctx { w, token, days }
}

#[tokio::test]
async fn every_widget_type_answers_data_for_the_demo_manager() {
    let c = setup().await;
    let win = format!("{LINES}&{}", c.days);
    let mut seen = Vec::new();
    let kpi = c.widget("kpi_production", &win)["result"].clone();
    let units = n(&kpi["units"]);
    assert!(units > 0, "no production in {kpi}");
    for wt in dash_core::catalog::widget_types() {
        let t = wt.widget_type;
        let query = match t {
            "line_status" => "line_id=1".to_string(),
            "production_over_time" => format!("{win}&interval=day"),
            "product_distribution" => format!("{win}&top_n=3"),
            _ => win.clone(),
        };
        let data = c.widget(t, &query);
        let r = &data["result"];
        assert!(
            r.as_object().is_some_and(|o| !o.is_empty()),
            "{t}: empty result {data}"
        );
        assert!(data["window"]["start"].is_string(), "{t}: no window");
        match t {
            "kpi_oee" | "kpi_availability" | "kpi_performance" | "kpi_quality" => {
                let metric = t.trim_start_matches("kpi_");
                let v = r[metric].as_f64().unwrap_or_else(|| panic!("{t}: {r}"));
                assert!(v > 0.0 && v.is_finite(), "{t}: {v}");
                assert!(n(&r["good"]) > 0, "{t}: no good units");
                // OEE counts planned time only: never more than production.
                assert!(n(&r["good"]) + n(&r["rejects"]) <= units, "{t}");
                assert!(r["previous"].is_object(), "{t}: no previous window");
            }
            "kpi_production" => {
                assert_eq!(n(&r["units"]), n(&r["good"]) + n(&r["rejects"]));
                assert!(n(&r["previous_units"]) > 0, "{r}");
                assert!(r["rate_per_hour"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
            }
            "kpi_downtime" => {
                assert!(n(&r["count"]) > 0, "{t}: {r}");
                assert!(
                    r["downtime_seconds"].as_f64().unwrap_or(0.0) > 0.0,
                    "{t}: {r}"
                );
            }
            "production_over_time" => {
                assert_eq!(r["interval"], "day");
                let b = &r["buckets"];
                assert_eq!(b.as_array().map(Vec::len), Some(7), "{t}: {r}");
                assert_eq!(sum(b, "good"), n(&r["good"]));
                assert_eq!(sum(b, "rejects"), n(&r["rejects"]));
                assert_eq!(sum(b, "units"), units);
            }
            "product_distribution" => {
                let items = r["items"].as_array().expect("items");
                assert_eq!(items.len(), 3, "{t}: top_n");
                assert!(n(&r["other_units"]) > 0 && n(&r["other_count"]) > 0, "{r}");
                assert_eq!(sum(&r["items"], "units") + n(&r["other_units"]), units);
                let shares: Vec<u64> = items.iter().map(|i| n(&i["units"])).collect();
                assert!(shares.windows(2).all(|p| p[0] >= p[1]), "{shares:?}");
            }
            "production_by_area" => {
                let items = r["items"].as_array().expect("items");
                assert_eq!(items.len(), 12, "{t}: every area of the 3 lines");
                let finished: u64 = items
                    .iter()
                    .filter(|i| FINISHED_AREAS.contains(&i["area_id"].as_i64().unwrap_or(0)))
                    .map(|i| n(&i["units"]))
                    .sum();
                assert_eq!(finished, units, "{t}");
                // (The small demo writes no input or process detections.)
                assert!(
                    items
                        .iter()
                        .filter(|i| FINISHED_AREAS.contains(&i["area_id"].as_i64().unwrap_or(0)))
                        .all(|i| n(&i["units"]) > 0),
                    "{t}: {r}"
                );
            }
            "hourly_heatmap" => {
                let days = r["days"].as_array().expect("days");
                assert_eq!(days.len(), 7, "{t}: {r}");
                for d in days {
                    let hours = d["hours"].as_array().expect("hours");
                    assert_eq!(hours.len(), 24);
                    let s: u64 = hours.iter().filter_map(Value::as_u64).sum();
                    assert_eq!(s, n(&d["total"]));
                }
                assert_eq!(sum(&r["days"], "total"), units);
                assert_eq!(n(&r["units"]), units);
                assert!(n(&r["max"]) > 0);
            }
            "line_comparison" => {
                let items = r["items"].as_array().expect("items");
                assert_eq!(items.len(), 3, "{t}: {r}");
                assert!(items.iter().all(|i| i["value"].as_f64().is_some()), "{r}");
            }
            "oee_trend" | "quality_trend" | "shift_summary" => {
                let b = r["buckets"].as_array().expect("buckets");
                assert!(!b.is_empty(), "{t}: {r}");
                assert!(r["oee"].as_f64().is_some(), "{t}");
            }
            "oee_losses" => {
                assert!(r["planned_seconds"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
                assert!(r["losses"].is_object(), "{r}");
            }
            "downtime_table" => {
                assert!(!r["items"].as_array().expect("items").is_empty(), "{r}");
            }
            "downtime_pareto" => {
                assert!(!r["by_reason"].as_array().expect("rows").is_empty(), "{r}");
            }
            "line_status" => {
                assert_eq!(r["line_id"], 1);
                assert!(
                    matches!(r["state"].as_str(), Some("running" | "stopped")),
                    "{r}"
                );
            }
            other => panic!("no check for {other}"),
        }
        // The partial renders with content, never the error card.
        let html = c.partial(t, &query);
        assert!(!html.contains("<img src"), "{t}: raw <img>");
        assert!(!html.contains("<script>alert"), "{t}: raw <script>");
        seen.push(t);
    }
    assert_eq!(seen.len(), 18);
}

#[tokio::test]
async fn production_widgets_count_what_the_data_routes_count() {
    let c = setup().await;
    let win = format!("{LINES}&{}", c.days);

    // kpi_production = the production summary (every detection, planned or not).
    let summary = c.data(&format!("/api/v1/data/production/summary?{win}"));
    let kpi = c.widget("kpi_production", &win)["result"].clone();
    assert_eq!(kpi["units"], summary["total"], "{kpi} vs {summary}");
    assert_eq!(kpi["good"], summary["good"]);
    assert_eq!(kpi["rejects"], summary["rejects"]);
    let oee = c.widget("kpi_oee", &win)["result"].clone();
    assert!(n(&oee["good"]) <= n(&kpi["good"]));

    // With filters: a shift, a product, two areas.
    let f = "shift_id=1&product_ids=1&area_ids=3,4";
    let filtered = c.data(&format!(
        "/api/v1/data/production/summary?line_id=1&{}&{f}",
        c.days
    ));
    let kpi_f = c.widget("kpi_production", &format!("line_id=1&{}&{f}", c.days))["result"].clone();
    assert!(n(&filtered["total"]) > 0, "{filtered}");
    assert_eq!(kpi_f["units"], filtered["total"], "{kpi_f} vs {filtered}");
    assert!(n(&kpi_f["units"]) < n(&kpi["units"]));
    // The dashboard's filters (f_*) apply the same way.
    let kpi_page = c.widget(
        "kpi_production",
        &format!(
            "{}&f_line_id=1&f_shift_id=1&f_product_ids=1&f_area_ids=3,4",
            c.days
        ),
    )["result"]
        .clone();
    assert_eq!(kpi_page["units"], filtered["total"]);

    // product_distribution = by-product totals.
    let by_product = c.get(
        "data",
        &format!("/api/v1/data/production/by-product?{win}"),
        false,
    );
    assert_eq!(by_product.status, 200, "{}", by_product.text());
    let expected: Vec<(Value, u64)> = by_product.json()["data"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| n(&i["total"]) > 0)
        .map(|i| (i["product_id"].clone(), n(&i["total"])))
        .collect();
    let dist = c.widget("product_distribution", &format!("{win}&top_n=50"))["result"].clone();
    let got: Vec<(Value, u64)> = dist["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (i["product_id"].clone(), n(&i["units"])))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(n(&dist["other_units"]), 0);

    // production_by_area = by-area detections, area by area.
    let by_area = c.get(
        "data",
        &format!("/api/v1/data/production/by-area?{win}"),
        false,
    );
    assert_eq!(by_area.status, 200);
    let expected: Vec<(Value, u64)> = by_area.json()["data"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (i["area_id"].clone(), n(&i["detections"])))
        .collect();
    let areas = c.widget("production_by_area", &win)["result"].clone();
    let got: Vec<(Value, u64)> = areas["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (i["area_id"].clone(), n(&i["units"])))
        .collect();
    assert_eq!(got, expected);

    // production_over_time = the aggregate by day at the output areas.
    let (start, end) = c.days.split_once('&').expect("dates");
    let start = start.trim_start_matches("start_date=");
    let end = end.trim_start_matches("end_date=");
    let rows = c.aggregate(&json!({
        "line_ids": [1, 2, 3], "start_date": start, "end_date": end,
        "interval": "day", "area_ids": [3, 7, 11],
    }));
    let over = c.widget("production_over_time", &format!("{win}&interval=day"))["result"].clone();
    let buckets = over["buckets"].as_array().expect("buckets");
    assert_eq!(rows.len(), buckets.len());
    for (row, b) in rows.iter().zip(buckets) {
        assert_eq!(row["label"], b["label"]);
        assert_eq!(row["count"], b["good"], "{row} vs {b}");
    }

    // hourly_heatmap = the aggregate by hour, filed by local date and hour.
    let rows = c.aggregate(&json!({
        "line_id": 2, "start_date": start, "end_date": end,
        "interval": "hour", "area_ids": [7, 8],
    }));
    let heat = c.widget("hourly_heatmap", &format!("line_id=2&{}", c.days))["result"].clone();
    let mut cells = std::collections::BTreeMap::<(String, usize), u64>::new();
    for row in &rows {
        // "2026-11-23T14:00:00.000+01:00": local date and hour.
        let s = row["start"].as_str().expect("start");
        let hour: usize = s[11..13].parse().expect("hour");
        *cells.entry((s[..10].to_string(), hour)).or_insert(0) += n(&row["count"]);
    }
    for d in heat["days"].as_array().expect("days") {
        let date = d["date"].as_str().expect("date").to_string();
        for (h, v) in d["hours"].as_array().expect("hours").iter().enumerate() {
            let want = cells.get(&(date.clone(), h)).copied().unwrap_or(0);
            assert_eq!(v.as_u64().unwrap_or(0), want, "{date} {h:02}:00");
        }
    }
    assert_eq!(n(&heat["units"]), cells.values().sum::<u64>());
}

#[tokio::test]
async fn hostile_names_are_escaped_in_the_production_widgets() {
    let c = setup().await;
    let esc_product = "&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;";
    let esc_line = "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;";
    let cases = [
        (
            "product_distribution",
            format!("line_id=2&{}", c.days),
            esc_product,
        ),
        (
            "production_by_area",
            format!("{LINES}&{}&show_table=true", c.days),
            esc_line,
        ),
        (
            "production_over_time",
            format!("line_id=2&{}&interval=day", c.days),
            esc_line,
        ),
        ("hourly_heatmap", format!("line_id=2&{}", c.days), esc_line),
        ("kpi_production", format!("line_id=2&{}", c.days), ""),
    ];
    for (t, query, escaped) in cases {
        let html = c.partial(t, &query);
        assert!(!html.contains("<img src"), "{t}: raw <img> in {html}");
        assert!(
            !html.contains("<script>alert"),
            "{t}: raw <script> in {html}"
        );
        assert!(!html.contains("\"><script"), "{t}: broken attribute");
        assert!(html.contains(escaped), "{t}: {escaped} not shown in {html}");
        if t != "kpi_production" && t != "hourly_heatmap" {
            // A chart with its data island and a table alternative.
            assert!(html.contains("data-chart-spec"), "{t}: no chart");
            assert!(html.contains("<table"), "{t}: no table");
        }
    }
    // The JSON carries the names as they are (escaping is the view's job).
    let dist = c.widget("product_distribution", &format!("line_id=2&{}", c.days));
    assert!(dist["result"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .any(|i| i["product_name"] == XSS_PRODUCT));
    // Spanish by default, English with the `lang` cookie.
    let uri = format!(
        "/api/v1/dashboard/widgets/production_over_time?line_id=2&{}&interval=day",
        c.days
    );
    let es = c.partial(
        "production_over_time",
        &format!("line_id=2&{}&interval=day", c.days),
    );
    assert!(es.contains("Buenas") && es.contains("Rechazos"), "{es}");
    let req = TestRequest::get(&uri)
        .bearer(&c.token)
        .header("HX-Request", "true")
        .header("Cookie", "lang=en");
    let en = run_cgi(&bin("dashboard"), &c.w.env, &req).text();
    assert!(en.contains("Good") && en.contains("Rejects"), "{en}");
}

#[tokio::test]
async fn a_widget_over_the_request_limit_says_how_long_to_wait() {
    let w = world(&[("RATE_LIMIT_USER_PER_MIN", "3")]).await;
    let token = w.login("demo.viewer").access;
    let uri = "/api/v1/dashboard/widgets/kpi_production?line_id=1&range=today";
    let card = |lang: &str| {
        let req = TestRequest::get(uri)
            .bearer(&token)
            .header("HX-Request", "true")
            .header("Cookie", &format!("lang={lang}"));
        run_cgi(&bin("dashboard"), &w.env, &req)
    };
    // The card of the first request over the limit: htmx gets a 200 to swap
    // in, the real status beside it, and how long to wait in the reader's
    // language.
    let answers: Vec<RawResponse> = (0..6).map(|_| card("es")).collect();
    let limited = answers
        .iter()
        .find(|r| r.header("x-widget-status") == Some("429"))
        .unwrap_or_else(|| {
            panic!(
                "the limit is reached within 6 requests: {:?}",
                answers
                    .iter()
                    .map(|r| (r.status, r.header("x-widget-status").map(str::to_string)))
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(limited.status, 200);
    let html = limited.text();
    assert!(
        html.contains("data-widget-error=\"rate_limited\""),
        "{html}"
    );
    assert!(
        html.contains("Demasiadas peticiones seguidas; espere ")
            && html.contains(" s y reintente."),
        "{html}"
    );
    let en = card("en").text();
    assert!(
        en.contains("Too many requests in a row; wait ") && en.contains(" s and retry."),
        "{en}"
    );
}
