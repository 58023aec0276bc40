//! One request per dashboard refresh (issue 14): the batch route
//! `GET /api/v1/dashboard/widgets?f_*` in process over a demo plant (14 days
//! ending now, Europe/Madrid), the manager's built-in layout of 14 widgets:
//! * each widget's fragment in the batch is, byte for byte, what the
//!   single-widget route answers under htmx for that card and filters;
//! * the ETag changes with the filters, the language, the role, the layout
//!   and the data, and a matching `If-None-Match` is a 304 without a body;
//! * the dashboard page carries the batch (its fragments and its ETag), so a
//!   load is one request and the first refresh of an unchanged board a 304;
//! * ten minutes of browsing — a refresh every 30 s and a filter change every
//!   20 s — never meet the per-user limit (100 a minute), while the same
//!   browsing done one request per widget (the page before) does; over the
//!   limit the batch answers 429 with `Retry-After`.
//!
//! The windows are whole past days (a custom range), so nothing moves while
//! a test compares two answers.

use chrono::{Duration, Utc};
use integration_tests::app::{http_routers, Answer, TestApp};
use integration_tests::testdb::TestDb;
use mysql_async::prelude::Queryable;
use serde_json::Value;

const PASSWORD: &str = "Batch-Pass-42";
const PLANT: &str = "Batch Plant";
const BATCH: &str = "/api/v1/dashboard/widgets";
/// The manager's built-in layout (`dashboard::builtin_layout`).
const WIDGETS: usize = 14;
/// The product's per-user limit (`RATE_LIMIT_USER_PER_MIN`'s default).
const LIMIT: usize = 100;

async fn app() -> TestApp {
    let db = TestDb::new()
        .await
        .expect("test database")
        .with_demo_tenant(PLANT, "Europe/Madrid")
        .await
        .expect("demo tenant");
    TestApp::new(db, http_routers(), &[]).expect("app")
}

async fn token(app: &TestApp, user: &str, role: &str) -> String {
    let tenant = app.db.tenant(PLANT).tenant_id;
    app.user_token(Some(tenant), user, role, PASSWORD)
        .await
        .expect("user")
}

/// `f_range=custom` over whole plant-local days, `from` to `to` days ago.
fn past_days(from: i64, to: i64) -> String {
    let today = Utc::now().date_naive();
    format!(
        "f_range=custom&f_start_date={}&f_end_date={}",
        today - Duration::days(from),
        today - Duration::days(to)
    )
}

async fn batch(app: &TestApp, token: &str, filters: &str, headers: &[(&str, &str)]) -> Answer {
    app.call_with_headers(
        "GET",
        &format!("{BATCH}?{filters}"),
        Some(token),
        None,
        headers,
    )
    .await
}

/// The widgets of a 200 batch.
fn widgets(a: &Answer) -> Vec<Value> {
    assert_eq!(a.status, 200, "{}", a.text());
    a.json()["data"]["widgets"]
        .as_array()
        .expect("widgets")
        .clone()
}

fn etag(a: &Answer) -> String {
    a.header("etag").expect("an ETag").to_string()
}

#[tokio::test]
async fn each_batch_fragment_is_the_single_widget_answer() {
    let app = app().await;
    let manager = token(&app, "batch.manager", "manager").await;
    let layout = dashboard::builtin_layout(shared::auth::Role::Manager);
    let layout = layout["widgets"].as_array().expect("layout widgets");
    for filters in [
        past_days(8, 1),
        format!("{}&f_line_id=2", past_days(3, 1)),
        format!("{}&f_include_micro=true", past_days(2, 1)),
    ] {
        let got = widgets(&batch(&app, &manager, &filters, &[]).await);
        assert_eq!(got.len(), WIDGETS, "{filters}");
        for (slot, w) in got.iter().enumerate() {
            let widget_type = w["widget_type"].as_str().expect("type");
            assert_eq!(w["slot"], slot, "{filters}");
            assert_eq!(layout[slot]["widget_type"], widget_type, "{filters}");
            // The card's own URL: its layout params (none in the built-in
            // layout), its slot, then the filter panel's values.
            assert_eq!(layout[slot]["params"], serde_json::json!({}));
            let uri = format!("/api/v1/dashboard/widgets/{widget_type}?slot={slot}&{filters}");
            let single = app
                .call_with_headers("GET", &uri, Some(&manager), None, &[("HX-Request", "true")])
                .await;
            assert_eq!(single.status, 200, "{uri}: {}", single.text());
            assert_eq!(
                single.header("x-widget-status"),
                None,
                "{uri}: {}",
                single.text()
            );
            assert_eq!(w["status"], 200, "{uri}: {}", w["html"]);
            assert!(
                !single.text().contains("data-widget-error"),
                "{uri}: an error card {}",
                single.text()
            );
            assert_eq!(w["html"].as_str(), Some(single.text().as_str()), "{uri}");
        }
    }
}

#[tokio::test]
async fn the_etag_names_everything_the_board_shows() {
    let app = app().await;
    let manager = token(&app, "etag.manager", "manager").await;
    let operator = token(&app, "etag.operator", "operator").await;
    let week = past_days(8, 1);

    let first = batch(&app, &manager, &week, &[]).await;
    let tag = etag(&first);
    assert_eq!(first.header("cache-control"), Some("private, no-cache"));
    let again = batch(&app, &manager, &week, &[("If-None-Match", &tag)]).await;
    assert_eq!(again.status, 304, "{}", again.text());
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(tag.as_str()));

    // Each of these changes what the board shows, so the tag.
    let changed = |what: &str, a: &Answer| {
        assert_eq!(a.status, 200, "{what}: {}", a.text());
        assert_ne!(etag(a), tag, "{what}: same ETag");
    };
    let if_tag = [("If-None-Match", tag.as_str())];
    changed(
        "another line",
        &batch(&app, &manager, &format!("{week}&f_line_id=2"), &if_tag).await,
    );
    changed(
        "another window",
        &batch(&app, &manager, &past_days(9, 2), &if_tag).await,
    );
    changed(
        "English",
        &batch(
            &app,
            &manager,
            &week,
            &[("If-None-Match", &tag), ("Cookie", "lang=en")],
        )
        .await,
    );
    let operator_board = batch(&app, &operator, &week, &if_tag).await;
    changed("the operator's layout", &operator_board);
    assert_eq!(widgets(&operator_board).len(), 7);

    // The data: a day of one line's detections gone.
    let tenant = app.db.tenant(PLANT).tenant_id;
    let mut c = app.db.client_conn(tenant).await.expect("client database");
    let table: String = c
        .query_first(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_name LIKE 'detection\\_line\\_%' ORDER BY table_name LIMIT 1",
        )
        .await
        .expect("detection tables")
        .expect("a detection table");
    let day = Utc::now().date_naive() - Duration::days(4);
    c.exec_drop(
        format!("DELETE FROM `{table}` WHERE detected_at >= ? AND detected_at < ?"),
        (day.to_string(), (day + Duration::days(1)).to_string()),
    )
    .await
    .expect("delete a day");
    assert!(c.affected_rows() > 0, "no detections on {day}");
    changed("the data", &batch(&app, &manager, &week, &if_tag).await);

    // The layout: the manager saves one of two widgets.
    let saved = app
        .call(
            "POST",
            "/api/v1/dashboard/layout",
            Some(&manager),
            Some(
                serde_json::json!({"role": "manager", "layout": {"columns": 12, "widgets": [
                {"widget_type": "kpi_oee", "x": 0, "y": 0, "w": 6, "h": 2, "params": {}},
                {"widget_type": "kpi_production", "x": 6, "y": 0, "w": 6, "h": 2, "params": {}}]}}),
            ),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    let relaid = batch(&app, &manager, &week, &if_tag).await;
    changed("the layout", &relaid);
    assert_eq!(widgets(&relaid).len(), 2);
}

/// The `content` attribute-free text of the board's JSON island in a page.
fn board_config(page: &str) -> Value {
    let start = page
        .find(r#"<script type="application/json" id="board-config">"#)
        .expect("the board's settings in the page");
    let rest = &page[start..];
    let open = rest.find('>').expect("tag") + 1;
    let close = rest.find("</script>").expect("end");
    serde_json::from_str(&rest[open..close]).expect("board settings JSON")
}

#[tokio::test]
async fn the_page_carries_the_board() {
    let app = app().await;
    let manager = token(&app, "page.manager", "manager").await;
    let week = past_days(8, 1);
    let page = app
        .call("GET", &format!("/dashboard?{week}"), Some(&manager), None)
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    let config = board_config(&html);
    assert_eq!(config["src"], BATCH);
    assert_eq!(config["refresh"], 30);
    assert!(config["rate_limited"]
        .as_str()
        .is_some_and(|t| t.contains("{seconds}")));
    // No card loads on its own: the page holds every fragment.
    assert!(!html.contains("hx-get"), "a card still loads on its own");
    // The filter panel shows the window; what it sends (the custom range,
    // the empty line choice left out) is the page's board, so the first
    // refresh of the unchanged board is a 304.
    let board = batch(&app, &manager, &week, &[]).await;
    for w in widgets(&board) {
        let fragment = w["html"].as_str().expect("html");
        assert!(
            html.contains(fragment),
            "slot {} is not in the page",
            w["slot"]
        );
    }
    assert_eq!(config["etag"].as_str(), Some(etag(&board).as_str()));
    let refresh = batch(
        &app,
        &manager,
        &week,
        &[("If-None-Match", config["etag"].as_str().expect("etag"))],
    )
    .await;
    assert_eq!(refresh.status, 304);
}

/// What the page asks for while a user browses `minutes` minutes: the page at
/// 0 s, then a refresh every 30 s and a filter change every 20 s — counted
/// apart even where they coincide (the page's script restarts the refresh
/// wait after each answer, so it sends fewer): `(second, filters)`.
fn browsing(minutes: u32) -> Vec<(u32, String)> {
    let windows = [past_days(8, 1), past_days(3, 1), past_days(2, 1)];
    let mut events = Vec::new();
    for second in (30..minutes * 60).step_by(30) {
        events.push((second, None));
    }
    for (i, second) in (20..minutes * 60).step_by(20).enumerate() {
        events.push((second, Some(i)));
    }
    events.sort_by_key(|(s, _)| *s);
    let mut filters = windows[0].clone();
    let mut out = Vec::new();
    for (second, change) in events {
        if let Some(i) = change {
            let line = ["", "&f_line_id=1", "&f_line_id=2"][i % 3];
            filters = format!("{}{line}", windows[(i / 3) % 3]);
        }
        out.push((second, filters.clone()));
    }
    out
}

/// The user's count in the current minute of the limit (`user_request_rate`).
async fn counted(app: &TestApp, username: &str) -> u64 {
    let mut g = app.db.global_conn().await.expect("global");
    g.exec_first(
        "SELECT r.hits FROM user_request_rate r JOIN user u ON u.user_id = r.user_id \
         WHERE u.username = ?",
        (username,),
    )
    .await
    .expect("count")
    .unwrap_or(0)
}

#[tokio::test]
async fn ten_minutes_of_browsing_never_meet_the_limit() {
    let app = app().await;
    let plan = browsing(10);
    assert_eq!(plan.len(), 19 + 29, "refreshes and filter changes");

    // The batch: the page, then one request per refresh and filter change —
    // all ten minutes sent at once, so all of them fall in one or two
    // minutes of the limit: if they fit there, spread over ten minutes they
    // fit in each.
    let user = "browse.batch";
    let manager = token(&app, user, "manager").await;
    let minute = Utc::now().timestamp() / 60;
    let started = std::time::Instant::now();
    let page = app
        .call(
            "GET",
            &format!("/dashboard?{}", plan[0].1),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    let mut tag = board_config(&page.text())["etag"]
        .as_str()
        .expect("etag")
        .to_string();
    let mut sent = 1;
    for (second, filters) in &plan {
        let a = batch(&app, &manager, filters, &[("If-None-Match", &tag)]).await;
        sent += 1;
        assert!(
            a.status == 200 || a.status == 304,
            "at {second} s: {} {}",
            a.status,
            a.text()
        );
        if a.status == 200 {
            tag = etag(&a);
        }
    }
    let took = started.elapsed();
    assert_eq!(sent, 1 + plan.len());
    assert!(sent < LIMIT, "{sent} requests for ten minutes");
    if Utc::now().timestamp() / 60 == minute {
        assert_eq!(
            counted(&app, user).await,
            sent as u64,
            "every request counted"
        );
    }

    // The same browsing one request per widget, as the page loaded before:
    // fourteen per refresh and per filter change. It meets the limit, and
    // the limit answers how long to wait, on the batch too.
    let user = "browse.single";
    let manager = token(&app, user, "manager").await;
    let layout = dashboard::builtin_layout(shared::auth::Role::Manager);
    let types: Vec<String> = layout["widgets"]
        .as_array()
        .expect("widgets")
        .iter()
        .map(|w| w["widget_type"].as_str().expect("type").to_string())
        .collect();
    assert_eq!(types.len(), WIDGETS);
    let mut refused = None;
    let mut requests = 0;
    'browse: for (second, filters) in &plan {
        for (slot, t) in types.iter().enumerate() {
            let a = app
                .call(
                    "GET",
                    &format!("/api/v1/dashboard/widgets/{t}?slot={slot}&{filters}"),
                    Some(&manager),
                    None,
                )
                .await;
            requests += 1;
            if a.status == 429 {
                refused = Some((*second, requests, a));
                break 'browse;
            }
            assert_eq!(a.status, 200, "{t}: {}", a.text());
        }
    }
    let (second, requests, answer) = refused.expect("per widget, ten minutes meet the limit");
    eprintln!(
        "per widget: refused at widget request {requests}, {second} s into the browsing; \
         batched: {sent} requests in ten minutes, answered in {took:?} (a page and {} batches)",
        plan.len()
    );
    let wait: u64 = answer
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    let board = batch(&app, &manager, &plan[0].1, &[]).await;
    if board.status == 429 {
        let wait: u64 = board
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .expect("Retry-After on the batch");
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(board.json()["error"]["code"], "rate_limited");
    } else {
        // The minute ended between the two requests: a fresh count.
        assert_eq!(board.status, 200, "{}", board.text());
    }
}
