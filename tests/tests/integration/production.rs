//! The `production` function through the real binary: every route, its
//! shapes, line scope, unknown ids, and who may call it.

use crate::auth_support as support;

use integration_tests::hosts::{RawResponse, TestRequest};
use serde_json::Value;
use support::*;

const ROUTES: [&str; 7] = [
    "/api/v1/production/lines",
    "/api/v1/production/lines/1",
    "/api/v1/production/areas",
    "/api/v1/production/lines/1/areas",
    "/api/v1/production/products",
    "/api/v1/production/products/1",
    "/api/v1/production/shifts",
];

fn get(w: &World, token: &str, uri: &str) -> RawResponse {
    w.production(&TestRequest::get(uri).bearer(token))
}

fn list(resp: &RawResponse, what: &str) -> Vec<Value> {
    assert_eq!(resp.status, 200, "{what}: {}", resp.text());
    let body = resp.json();
    assert!(
        body.get("next_cursor").is_some(),
        "{what}: lists carry next_cursor: {body}"
    );
    body["data"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{what}: not a list: {body}"))
}

fn ids(items: &[Value], key: &str) -> Vec<i64> {
    items.iter().filter_map(|i| i[key].as_i64()).collect()
}

#[tokio::test]
async fn every_route_serves_the_plant_metadata() {
    let w = world(&[]).await;
    let s = w.login("demo.manager");

    let lines = list(&get(&w, &s.access, "/api/v1/production/lines"), "lines");
    assert_eq!(ids(&lines, "line_id"), vec![1, 2, 3]);
    assert_eq!(lines[0]["line_name"], "Línea 1 – Envasado");
    assert_eq!(lines[0]["line_code"], "linea_1_envasado");
    assert!(lines[0]["is_active"].is_boolean());

    let one = get(&w, &s.access, "/api/v1/production/lines/2");
    assert_eq!(one.status, 200, "{}", one.text());
    let one = one.json();
    assert_eq!(one["data"]["line_id"], 2);
    assert_eq!(
        ids(one["data"]["areas"].as_array().expect("areas"), "area_id"),
        vec![5, 6, 7, 8]
    );

    let areas = list(&get(&w, &s.access, "/api/v1/production/areas"), "areas");
    assert_eq!(areas.len(), 12);
    let of_line = list(
        &get(&w, &s.access, "/api/v1/production/areas?line_id=3"),
        "areas of line 3",
    );
    assert_eq!(ids(&of_line, "area_id"), vec![9, 10, 11, 12]);
    let outputs = list(
        &get(&w, &s.access, "/api/v1/production/areas?area_type=output"),
        "outputs",
    );
    assert_eq!(ids(&outputs, "area_id"), vec![3, 7, 11]);
    let line_areas = list(
        &get(&w, &s.access, "/api/v1/production/lines/1/areas"),
        "lines/1/areas",
    );
    assert_eq!(ids(&line_areas, "area_id"), vec![1, 2, 3, 4]);
    assert!(line_areas.iter().all(|a| a["line_id"] == 1));

    let products = list(
        &get(&w, &s.access, "/api/v1/production/products"),
        "products",
    );
    assert_eq!(ids(&products, "product_id"), vec![1, 2, 3, 4, 5, 6]);
    let p = get(&w, &s.access, "/api/v1/production/products/3");
    assert_eq!(p.status, 200);
    assert_eq!(p.json()["data"]["product_id"], 3);

    let shifts = list(&get(&w, &s.access, "/api/v1/production/shifts"), "shifts");
    assert_eq!(shifts.len(), 3);
    for shift in &shifts {
        assert!(
            shift["start_time"].as_str().is_some_and(|t| t.len() == 5),
            "{shift}"
        );
        assert!(shift["breaks"].is_array(), "{shift}");
    }

    // Unknown ids and bad parameters.
    for uri in [
        "/api/v1/production/lines/99",
        "/api/v1/production/lines/abc",
        "/api/v1/production/lines/0",
        "/api/v1/production/lines/99/areas",
        "/api/v1/production/products/999",
        "/api/v1/production/products/-1",
        "/api/v1/production/areas?line_id=99",
        "/api/v1/production/nothing",
    ] {
        assert_error(&get(&w, &s.access, uri), 404, uri);
    }
    for (uri, field) in [
        ("/api/v1/production/areas?line_id=abc", "line_id"),
        (
            "/api/v1/production/areas?area_type=%3Cscript%3E",
            "area_type",
        ),
        ("/api/v1/production/lines?active=maybe", "active"),
    ] {
        assert_eq!(
            assert_error(&get(&w, &s.access, uri), 422, uri)["error"]["field"],
            field
        );
    }
    let r = w.production(
        &json_request("POST", "/api/v1/production/lines", &serde_json::json!({})).bearer(&s.access),
    );
    assert_error(&r, 405, "POST on a read-only route");
}

#[tokio::test]
async fn who_may_call_the_production_routes() {
    let w = world(&[]).await;
    for route in ROUTES {
        let r = w.production(&TestRequest::get(route));
        assert_error(&r, 401, &format!("anonymous {route}"));
        assert_no_demo_data(&r, route);
    }
    for user in ["demo.admin", "demo.manager", "demo.operator", "demo.viewer"] {
        let s = w.login(user);
        for route in ROUTES {
            let r = get(&w, &s.access, route);
            assert_eq!(r.status, 200, "{user} {route}: {}", r.text());
        }
    }
    // The SaaS operator has no plant.
    let root = w.login("root.op");
    for route in ROUTES {
        let r = get(&w, &root.access, route);
        assert_error(&r, 403, &format!("superadmin {route}"));
        assert_no_demo_data(&r, route);
    }
    // A user whose data.read was removed.
    {
        use mysql_async::prelude::Queryable;
        let mut g = w.global().await;
        g.exec_drop(
            "UPDATE `user` SET permissions = '{\"removed\": [\"data.read\"]}' WHERE username = 'demo.other'",
            (),
        )
        .await
        .expect("update");
    }
    let s = w.login("demo.other");
    for route in ROUTES {
        assert_error(
            &get(&w, &s.access, route),
            403,
            &format!("without data.read {route}"),
        );
    }
}

#[tokio::test]
async fn a_user_scoped_to_one_line_never_sees_another() {
    let w = world(&[]).await;
    let s = w.login("demo.scoped"); // lines: [2]
    let lines = list(&get(&w, &s.access, "/api/v1/production/lines"), "lines");
    assert_eq!(ids(&lines, "line_id"), vec![2]);
    let areas = list(&get(&w, &s.access, "/api/v1/production/areas"), "areas");
    assert_eq!(ids(&areas, "area_id"), vec![5, 6, 7, 8]);
    let outputs = list(
        &get(&w, &s.access, "/api/v1/production/areas?area_type=output"),
        "outputs",
    );
    assert_eq!(ids(&outputs, "area_id"), vec![7]);
    assert_eq!(get(&w, &s.access, "/api/v1/production/lines/2").status, 200);
    assert_eq!(
        get(&w, &s.access, "/api/v1/production/lines/2/areas").status,
        200
    );
    for uri in [
        "/api/v1/production/lines/1",
        "/api/v1/production/lines/3",
        "/api/v1/production/lines/1/areas",
        "/api/v1/production/lines/3/areas",
        "/api/v1/production/areas?line_id=1",
        "/api/v1/production/areas?line_id=3",
    ] {
        assert_error(&get(&w, &s.access, uri), 404, uri);
    }
    // Not a byte of lines 1 and 3 anywhere.
    for route in [
        "/api/v1/production/lines",
        "/api/v1/production/lines/2",
        "/api/v1/production/areas",
        "/api/v1/production/lines/2/areas",
        "/api/v1/production/lines/1",
        "/api/v1/production/areas?line_id=3",
        "/api/v1/production/shifts",
        "/api/v1/production/products",
    ] {
        let text = get(&w, &s.access, route).text();
        for other in [
            "Envasado",
            "Paletizado",
            "Llenadora",
            "Robot paletizador",
            "Entrada envases",
            "Salida flejado",
        ] {
            assert!(!text.contains(other), "{route} shows {other}: {text}");
        }
    }
    // Products are plant-wide, not per line.
    assert_eq!(
        list(
            &get(&w, &s.access, "/api/v1/production/products"),
            "products"
        )
        .len(),
        6
    );
}
