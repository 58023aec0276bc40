//! Range queries read only the monthly partitions they need: `EXPLAIN
//! PARTITIONS` (MariaDB) / `EXPLAIN` (MySQL 8) of the statements the query
//! builder sends, with their bound parameters, on the golden plant's
//! detection table (partitions p202601 … pmax).

use crate::metrics_support as support;

use dash_store::metadata::Line;
use dash_store::query::{self, Cursor, DetectionTable, ListRequest, Order};
use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};
use support::*;

async fn partitions_read(
    c: &mut mysql_async::Conn,
    mariadb: bool,
    sql: &str,
    params: Vec<Value>,
) -> Vec<String> {
    let explain = if mariadb {
        "EXPLAIN PARTITIONS "
    } else {
        "EXPLAIN "
    };
    let rows: Vec<Row> = c
        .exec(format!("{explain}{sql}"), params)
        .await
        .expect("explain");
    let mut out: Vec<String> = Vec::new();
    for row in rows {
        let table: Option<String> = row.get_opt("table").and_then(Result::ok).flatten();
        if !table.is_some_and(|t| t.starts_with("detection_line")) {
            continue; // UNION RESULT and derived rows
        }
        let parts: Option<String> = row.get_opt("partitions").and_then(Result::ok).flatten();
        for p in parts
            .unwrap_or_default()
            .split(',')
            .filter(|p| !p.is_empty())
        {
            if !out.iter().any(|o| o == p) {
                out.push(p.to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn range_queries_prune_months() {
    let g = golden().await;
    let mut c = g.db.client_conn(g.tenant_id).await.expect("client");
    let version: String = c
        .query_first("SELECT VERSION()")
        .await
        .expect("version")
        .expect("row");
    let mariadb = version.to_ascii_lowercase().contains("mariadb");
    let line = Line {
        line_id: 1,
        line_name: "Golden A".into(),
        line_code: "golden_a".into(),
        is_active: true,
        downtime_threshold_seconds: None,
        micro_stop_seconds: None,
    };
    let table = DetectionTable::open(
        &mut c,
        &g.client_db,
        &line,
        dash_core::timeutil::parse_timezone("UTC").expect("UTC"),
    )
    .await
    .expect("table");
    let all: Vec<String> = c
        .exec(
            "SELECT PARTITION_NAME FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY PARTITION_ORDINAL_POSITION",
            (&g.client_db, "detection_line_golden_a"),
        )
        .await
        .expect("partitions");
    assert!(all.len() > 4, "the table has monthly partitions: {all:?}");

    // Counting inside March (with a bucket cut) reads March only.
    let bounds = [
        utc("2026-03-05T00:00:00Z"),
        utc("2026-03-10T12:34:56.789Z"),
        utc("2026-03-20T00:00:00Z"),
    ];
    for (sql, params) in query::raw_count_sql(&table, &bounds, &[12, 13], None) {
        assert_eq!(
            partitions_read(&mut c, mariadb, &sql, params).await,
            ["p202603"],
            "{sql}"
        );
    }
    // Across a month end: March and April, nothing else.
    let bounds = [utc("2026-03-20T00:00:00Z"), utc("2026-04-10T00:00:00Z")];
    for (sql, params) in query::raw_count_sql(&table, &bounds, &[12], Some(&[1])) {
        assert_eq!(
            partitions_read(&mut c, mariadb, &sql, params).await,
            ["p202603", "p202604"],
            "{sql}"
        );
    }
    // A keyset page over several areas, after a cursor, inside February–March.
    let req = ListRequest {
        ranges: vec![(
            table.bound(utc("2026-02-15T00:00:00Z")),
            table.bound(utc("2026-03-15T00:00:00Z")),
        )],
        areas: &[11, 12, 13],
        products: Some(&[1]),
        after: Some(Cursor {
            at: table.bound(utc("2026-03-01T00:00:00Z")),
            id: 1,
        }),
        order: Order::Asc,
        limit: 100,
    };
    let (sql, params) = query::list_sql(&table, &req).expect("sql");
    let read = partitions_read(&mut c, mariadb, &sql, params).await;
    assert!(
        read.iter().all(|p| p == "p202602" || p == "p202603"),
        "{read:?}"
    );
    assert!(read.contains(&"p202603".to_string()));
    // …and the answer is right: March 1–15 holds all of D1 (567 rows).
    let rows = query::list_detections(
        &mut c,
        &table,
        &ListRequest {
            limit: 1000,
            ..req.clone()
        },
    )
    .await
    .expect("rows");
    assert_eq!(rows.len(), 567);
}
