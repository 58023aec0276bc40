//! Tests of the statements and bounds (no database: `tests/` runs them
//! against MariaDB).

use super::counts::{count_statements, IdFilter};
use super::*;
use crate::metadata::Line;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono_tz::Europe::Madrid;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn naive(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

fn line(code: &str) -> Line {
    Line {
        line_id: 1,
        line_name: "L".into(),
        line_code: code.into(),
        is_active: true,
        downtime_threshold_seconds: None,
        micro_stop_seconds: None,
    }
}

#[test]
fn naive_bound_is_the_inverse_of_the_read_rule() {
    // UTC: identity.
    assert_eq!(
        naive_bound(utc("2026-04-01T06:00:00.123Z"), chrono_tz::UTC),
        naive("2026-04-01 06:00:00.123")
    );
    // Plain Madrid time.
    assert_eq!(
        naive_bound(utc("2026-04-01T04:00:00Z"), Madrid),
        naive("2026-04-01 06:00:00")
    );
    // Exhaustive around both DST changes, every 10 minutes (+7 ms): for
    // every stored value n near the bound, n >= bound <=> instant(n) >= t.
    for start in ["2026-03-28T22:00:00Z", "2026-10-24T22:00:00Z"] {
        let mut t = utc(start);
        for _ in 0..(6 * 30) {
            let b = naive_bound(t, Madrid);
            for delta_min in -130i64..=130 {
                let n = b
                    + chrono::Duration::minutes(delta_min)
                    + chrono::Duration::milliseconds(delta_min % 3);
                let inside = data_naive_to_utc(n, Madrid) >= t;
                assert_eq!(n >= b, inside, "t={t} bound={b} n={n}");
            }
            t += chrono::Duration::minutes(10) + chrono::Duration::milliseconds(7);
        }
    }
}

#[test]
fn cursors_round_trip_and_refuse_garbage() {
    let c = Cursor {
        at: naive("2026-04-01 06:00:00.042"),
        id: 99,
    };
    assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
    for bad in ["", "xyz", "MjAyNg", &URL_SAFE_NO_PAD.encode("2026-04-01|x")] {
        let e = Cursor::decode(bad).unwrap_err();
        assert_eq!(e.field(), Some("cursor"));
    }
}

#[test]
fn statements_bind_every_value_and_split_long_bound_lists() {
    let t = DetectionTable::unchecked("dashboard_client_1", &line("l1"), chrono_tz::UTC).unwrap();
    assert_eq!(t.sql_name(), "`dashboard_client_1`.`detection_line_l1`");
    let start = naive("2026-01-01 00:00:00");
    let bounds: Vec<NaiveDateTime> = (0..=9000)
        .map(|i| start + chrono::Duration::minutes(i))
        .collect();
    let ranges = [(bounds[0], bounds[9000])];
    let sts = count_statements(
        &t,
        &bounds,
        &ranges,
        &[3, 4],
        Some(&[7]),
        IdFilter::Above(5),
    );
    assert_eq!(sts.len(), 3);
    assert_eq!(sts[0].first_segment, 0);
    assert_eq!(sts[1].first_segment, 4000);
    assert_eq!(sts[2].first_segment, 8000);
    for s in &sts {
        assert!(!s.sql.contains("2026"), "values must be bound: {}", s.sql);
        assert_eq!(s.sql.matches('?').count(), s.params.len());
        assert!(s.sql.contains("area_id IN (?,?)") && s.sql.contains("product_id = ?"));
        assert!(s.sql.contains("detection_id > ?"));
    }
    // One segment needs no INTERVAL.
    let one = count_statements(
        &t,
        &bounds[..2],
        &[(bounds[0], bounds[1])],
        &[3],
        None,
        IdFilter::All,
    );
    assert!(one[0].sql.starts_with("SELECT 0 AS seg"));
}

#[test]
fn list_sql_merges_per_area_pages() {
    let t = DetectionTable::unchecked("db", &line("l1"), chrono_tz::UTC).unwrap();
    let req = ListRequest {
        ranges: vec![(naive("2026-01-01 00:00:00"), naive("2026-02-01 00:00:00"))],
        areas: &[1, 2],
        products: None,
        after: Some(Cursor {
            at: naive("2026-01-05 00:00:00"),
            id: 10,
        }),
        order: Order::Asc,
        limit: 50,
    };
    let (sql, params) = list_sql(&t, &req).unwrap();
    assert_eq!(sql.matches("UNION ALL").count(), 1);
    assert_eq!(sql.matches('?').count(), params.len());
    assert!(sql.ends_with("ORDER BY detected_at LIMIT 51)"), "{sql}");
    let single = ListRequest {
        areas: &[1],
        order: Order::Desc,
        ..req.clone()
    };
    let (sql, params) = list_sql(&t, &single).unwrap();
    assert!(!sql.contains("UNION") && sql.starts_with("SELECT"));
    assert!(sql.ends_with("ORDER BY detected_at DESC LIMIT 51"), "{sql}");
    assert!(sql.contains("detected_at <= ?") && sql.contains("detected_at < ?"));
    assert_eq!(sql.matches('?').count(), params.len());
}
