//! scratch profiling (temporary)
use shared::metrics::{compute, Plant};
use shared::query::{self, CountSource, DetectionTable};
use shared::timeutil::Window;
use std::time::Instant;

#[tokio::test]
#[ignore]
async fn profile() {
    let env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), "mysql://root@127.0.0.1:3306".into()),
        ("DB_GLOBAL_NAME".into(), "bench8_global".into()),
        (
            "JWT_SECRET".into(),
            "bench-data-jwt-secret-0123456789abcdef0123".into(),
        ),
    ];
    let config = shared::config::Config::from_lookup(|k| {
        env.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    let state =
        shared::state::AppState::new("p", shared::state::HostKind::FastCgi, config).unwrap();
    let tenant = shared::tenancy::load_tenant(&state, 1)
        .await
        .unwrap()
        .unwrap();
    let meta = shared::metadata::for_tenant(&state, &tenant).await.unwrap();
    let plant = Plant::new(&tenant, &meta, state.now());
    let mut conn = state.db().client(&tenant.db_location()).await.unwrap();
    let line = meta.line(1).unwrap().clone();
    let table = DetectionTable::open(&mut conn, "bench8_client", &line, tenant.data_timezone())
        .await
        .unwrap();
    let w = Window::new(
        plant
            .cal
            .day_start(chrono::NaiveDate::from_ymd_opt(2026, 10, 29).unwrap()),
        plant
            .cal
            .day_start(chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()),
    )
    .unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        let m = shared::metrics::time_model(&mut conn, &plant, 1, &w)
            .await
            .unwrap();
        let t_model = t.elapsed();
        let t = Instant::now();
        let stops = shared::metrics::load_stops(&mut conn, &plant, &line.line_code, &w)
            .await
            .unwrap();
        let t_stops = t.elapsed();
        let t = Instant::now();
        let _ = shared::metrics::load_open_stop(&mut conn, &plant, 1)
            .await
            .unwrap();
        let t_open = t.elapsed();
        let t = Instant::now();
        let wm = query::rollup::watermark(&mut conn, &table).await.unwrap();
        let t_wm = t.elapsed();
        let t = Instant::now();
        let c = query::count_in_windows(
            &mut conn,
            &table,
            &[w],
            Some(&m.planned),
            &[3, 4],
            None,
            CountSource::Auto,
        )
        .await
        .unwrap();
        let t_count = t.elapsed();
        let t = Instant::now();
        let _ = compute(&mut conn, &plant, &[1], &w, &[], CountSource::Auto)
            .await
            .unwrap();
        let t_all = t.elapsed();
        let t = Instant::now();
        query::log_user_query(
            &state,
            1,
            Some(1),
            "x",
            &serde_json::json!({}),
            std::time::Duration::ZERO,
            0,
        )
        .await;
        let t_log = t.elapsed();
        println!("model {t_model:?} (stops {} in {t_stops:?}, open {t_open:?}), wm {wm:?} {t_wm:?}, count {t_count:?} ({} keys, planned spans {}), compute {t_all:?}, user_query {t_log:?}", stops.len(), c[0].len(), m.planned.len());
    }
}
