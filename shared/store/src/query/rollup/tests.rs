//! Tests of the day documents, both readers and the partial minutes (no
//! database: `tests/` runs the rollup against MariaDB).

use chrono::{NaiveDate, NaiveDateTime};

use super::document::{day_entry, decode_day, encode_day, parse_day_entry, AreaDay};
use super::refresh::lock_name;
use super::*;

fn naive(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

#[test]
fn day_docs_round_trip_in_runs() {
    let mut day = AreaDay::new();
    let m = day.entry(Some(1)).or_default();
    m.insert(0, 5);
    m.insert(1, 6);
    m.insert(7, 1);
    day.entry(None).or_default().insert(1439, 2);
    let text = encode_day(&day);
    assert!(text.contains("\"1\":[[0,5,6],[7,1]]"), "{text}");
    assert!(text.contains("\"\":[[1439,2]]"), "{text}");
    assert!(text.contains("\"rows\":14"), "{text}");
    assert_eq!(decode_day(&text).unwrap(), day);
    assert!(decode_day("{\"v\":1,\"rows\":0,\"c\":{\"x\":[]}}").is_err());
    let metric = day_entry(NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(), 12);
    assert_eq!(metric, "rollup_min:2026-04-01:12");
    assert_eq!(
        parse_day_entry(&metric),
        Some((NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(), 12))
    );
    assert_eq!(parse_day_entry("rollup_min_watermark"), None);
}

/// Collects what the streaming reader hands out.
#[derive(Default)]
struct Collect {
    day: AreaDay,
    product: Option<i64>,
    minute: u32,
    skip: Option<Option<i64>>,
}

impl Collect {
    /// A collector that skips the runs of `product`.
    fn skipping(product: Option<i64>) -> Self {
        Collect {
            skip: Some(product),
            ..Collect::default()
        }
    }
}

/// A day of `(product, minute, count)`.
fn day_of(counts: &[(Option<i64>, u32, u64)]) -> AreaDay {
    let mut day = AreaDay::new();
    for &(product, minute, n) in counts {
        day.entry(product).or_default().insert(minute, n);
    }
    day
}

impl stream::RunSink for Collect {
    fn product(&mut self, product: Option<i64>) -> bool {
        self.product = product;
        Some(product) != self.skip
    }
    fn start_run(&mut self, first: u64) {
        self.minute = first as u32;
    }
    fn count(&mut self, n: u64) {
        *self
            .day
            .entry(self.product)
            .or_default()
            .entry(self.minute)
            .or_insert(0) += n;
        self.minute += 1;
    }
    fn end_run(&mut self) {}
}

#[test]
fn the_streaming_reader_reads_what_encode_writes() {
    let mut day = day_of(&[
        (Some(1), 0, 5),
        (Some(1), 1, 6),
        (Some(1), 7, 1),
        (Some(22), 600, 3),
        (None, 1439, 2),
    ]);
    let text = encode_day(&day);
    let mut c = Collect::default();
    stream::read_doc(&text, &mut c).unwrap();
    assert_eq!(c.day, day);
    assert_eq!(c.day, decode_day(&text).unwrap());
    // MySQL 8 returns JSON re-ordered and spaced; a product can be skipped.
    let spaced = r#"{"c": {"": [[1439, 2]], "1": [[0, 5, 6], [7, 1]], "22": [[600, 3]]}, "v": 1, "rows": 17}"#;
    let mut c = Collect::skipping(Some(22));
    stream::read_doc(spaced, &mut c).unwrap();
    day.remove(&Some(22));
    assert_eq!(c.day, day);
    // The fast reader reads the same, and leaves what it does not know
    // to the streaming reader.
    for doc in [
        text.as_str(),
        spaced,
        "{}",
        r#"{"c":{}}"#,
        r#"{"v":1,"rows":0,"c":{"7":[]}}"#,
        r#"{"c":{"3":[[5],[],[9,1,0,2]]},"rows":3}"#,
    ] {
        let (mut runs, mut counts) = (Vec::new(), Vec::new());
        assert_eq!(
            fast::scan(doc.as_bytes(), &mut runs, &mut counts, fast::Want::Minutes),
            fast::Scan::Minutes,
            "{doc}"
        );
        let mut a = Collect::skipping(Some(22));
        fast::feed(&runs, &counts, &mut a);
        let mut b = Collect::skipping(Some(22));
        stream::read_doc(doc, &mut b).unwrap();
        assert_eq!(a.day, b.day, "{doc}");
    }
    // Totals, asked for and written before the runs, are read alone.
    let mut day = day_of(&[
        (Some(1), 0, 5),
        (Some(1), 1, 6),
        (Some(1), 7, 1),
        (None, 1439, 2),
    ]);
    let text = encode_day(&day);
    assert!(text.contains("\"t\":{\"\":2,\"1\":12},\"h\":{"), "{text}");
    assert!(
        text.contains("\"1\":[12,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"),
        "{text}"
    );
    let (mut runs, mut counts, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    assert_eq!(
        fast::scan(
            text.as_bytes(),
            &mut runs,
            &mut counts,
            fast::Want::DayTotals(&mut totals)
        ),
        fast::Scan::Totals
    );
    assert_eq!(totals, vec![(None, 2), (Some(1), 12)]);
    assert_eq!(
        fast::scan(text.as_bytes(), &mut runs, &mut counts, fast::Want::Minutes),
        fast::Scan::Minutes
    );
    // After the runs (MySQL 8 re-orders keys) they are read too.
    let late = r#"{"c": {"1": [[0, 5]]}, "t": {"1": 5}, "v": 1, "rows": 5}"#;
    assert_eq!(
        fast::scan(
            late.as_bytes(),
            &mut runs,
            &mut counts,
            fast::Want::DayTotals(&mut totals)
        ),
        fast::Scan::Totals
    );
    assert_eq!(totals, vec![(Some(1), 5)]);
    // Hour totals, asked for, are read alone too (after the day's).
    let mut hours = Vec::new();
    assert_eq!(
        fast::scan(
            text.as_bytes(),
            &mut runs,
            &mut counts,
            fast::Want::HourTotals(&mut hours)
        ),
        fast::Scan::Hours
    );
    let mut last_hour = [0u64; 24];
    last_hour[23] = 2;
    let mut first_hour = [0u64; 24];
    first_hour[0] = 12;
    assert_eq!(hours, vec![(None, last_hour), (Some(1), first_hour)]);
    // A document without them (written before they existed) is read minute by minute.
    let old = r#"{"v":1,"rows":5,"t":{"1":5},"c":{"1":[[0,5]]}}"#;
    assert_eq!(
        fast::scan(
            old.as_bytes(),
            &mut runs,
            &mut counts,
            fast::Want::HourTotals(&mut hours)
        ),
        fast::Scan::Minutes
    );
    assert_eq!(counts, vec![5]);
    // Not 24 hours: left to the streaming reader, which reads the runs.
    let short = r#"{"h":{"1":[1,2]},"c":{"1":[[0,3]]}}"#;
    assert_eq!(
        fast::scan(
            short.as_bytes(),
            &mut runs,
            &mut counts,
            fast::Want::HourTotals(&mut hours)
        ),
        fast::Scan::Unknown
    );
    // A minute that is not one of the day: no totals are written.
    day.entry(Some(1)).or_default().insert(1500, 1);
    assert!(!encode_day(&day).contains("\"t\""));
    assert!(!encode_day(&day).contains("\"h\""));
    for odd in [
        "",
        "[]",
        r#"{"c": {"x": [[1, 2]]}}"#,
        r#"{"c": {"1": [[1, -2]]}}"#,
        r#"{"c": {"1": [[1, 2.0]]}}"#,
        r#"{"c": {"1": [[01, 2]]}}"#,
        r#"{"c": {"1": [[1, 99999999999999999999999]]}}"#,
        r#"{"c": {"\u0031": [[1, 2]]}}"#,
        r#"{"c": {}} x"#,
        r#"{"c": {}"#,
        r#"{"v": "1", "c": {}}"#,
    ] {
        let (mut runs, mut counts) = (Vec::new(), Vec::new());
        assert_eq!(
            fast::scan(odd.as_bytes(), &mut runs, &mut counts, fast::Want::Minutes),
            fast::Scan::Unknown,
            "{odd}"
        );
    }
    for bad in [
        "",
        "[]",
        r#"{"c": {"x": [[1, 2]]}}"#,
        r#"{"c": {"1": [[1, -2]]}}"#,
        r#"{"c": {}} x"#,
    ] {
        assert!(
            stream::read_doc(bad, &mut Collect::default()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn partial_minutes_are_the_cut_ones_inside_wanted_ranges() {
    let b = [
        naive("2026-01-01 06:00:00"),
        naive("2026-01-01 06:10:30.5"),
        naive("2026-01-01 07:00:00"),
        naive("2026-01-01 07:00:59"),
    ];
    let ranges = [(b[0], b[3])];
    let p = partial_minute_ranges(&b, &ranges);
    assert_eq!(
        p,
        vec![
            (naive("2026-01-01 06:10:00"), naive("2026-01-01 06:11:00")),
            (naive("2026-01-01 07:00:00"), naive("2026-01-01 07:00:59")),
        ]
    );
    // A cut minute outside every wanted range needs nothing.
    let p = partial_minute_ranges(&b, &[(b[2], b[3])]);
    assert_eq!(
        p,
        vec![(naive("2026-01-01 07:00:00"), naive("2026-01-01 07:00:59"))]
    );
}

#[test]
fn lock_names_fit() {
    assert!(lock_name(&"x".repeat(64), 1).len() <= 64);
    assert_eq!(lock_name("db", 3), "dash:rollup:db:3");
}
