//! Golden cases worked out by hand (docs/oee.md#oee). All in Europe/Madrid:
//! CET = UTC+1 in winter, CEST = UTC+2 in summer; 2026-03-29 02:00 CET jumps
//! to 03:00 CEST (01:00Z), 2026-10-25 03:00 CEST falls back to 02:00 CET (01:00Z).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Europe::Madrid;

use super::*;
use crate::timeutil::{buckets, tests::utc, Interval, PlantCalendar, Window};

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn local_day(date: &str) -> Window {
    let cal = PlantCalendar::midnight(Madrid);
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    Window::new(cal.day_start(d), cal.day_start(d.succ_opt().unwrap())).unwrap()
}

fn win(a: &str, b: &str) -> Window {
    Window::new(utc(a), utc(b)).unwrap()
}

fn stop(a: &str, b: &str, cat: Option<ReasonCategory>, failure: Option<i64>) -> Stop {
    Stop {
        start: utc(a),
        end: utc(b),
        is_micro: false,
        reason_category: cat,
        failure_id: failure,
    }
}

/// A stop with reason (failure) `failure_id` and no reason category.
fn stop_with_reason(a: &str, b: &str, failure_id: i64) -> Stop {
    stop(a, b, None, Some(failure_id))
}

fn micro(a: &str, b: &str) -> Stop {
    Stop {
        is_micro: true,
        ..stop(a, b, None, None)
    }
}

const LATER: &str = "2027-01-01T00:00:00Z";

fn model(
    window: Window,
    now: DateTime<Utc>,
    shifts: &[Shift],
    breaks: &[ShiftBreak],
    stops: &[Stop],
    open_stop: Option<OpenStop>,
) -> TimeModel {
    TimeModel::build(&LineInputs {
        window,
        now,
        tz: Madrid,
        shifts,
        breaks,
        stops,
        open_stop,
    })
}

/// [`model`] of the [`morning`] shift, without breaks.
fn morning_model(
    window: Window,
    now: DateTime<Utc>,
    stops: &[Stop],
    open_stop: Option<OpenStop>,
) -> TimeModel {
    model(window, now, &morning(), &[], stops, open_stop)
}

fn cycle(pairs: &[(i64, f64)], default: Option<f64>) -> CycleTimes {
    CycleTimes {
        per_product: pairs.iter().copied().collect(),
        default_seconds: default,
        names: Default::default(),
    }
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-12)
}

fn morning() -> Vec<Shift> {
    vec![Shift::new(1, "Morning", hm(6, 0), hm(14, 0))]
}

/// The night shift 22:00–06:00 (id 3) with its 02:00–02:30 break.
fn night_with_break() -> ([Shift; 1], [ShiftBreak; 1]) {
    let shifts = [Shift::new(3, "Night", hm(22, 0), hm(6, 0))];
    let breaks = [ShiftBreak {
        shift_id: 3,
        start_time: hm(2, 0),
        end_time: hm(2, 30),
    }];
    (shifts, breaks)
}

/// Day shift 06:00–14:00 with a 10:00–10:30 break, Wednesday 2026-04-15 (CEST).
/// PT = 8 h − 0.5 h = 27 000 s.
/// Stops: 08:00–08:20 reason 5 (1 200 s), 12:00–12:05 unjustified (300 s), and
/// 15:00–16:00 outside the shift (0 s) → DT = 1 500 s, RT = 25 500 s.
/// Micro-stops 3 × 30 s = 90 s.
/// Product 1, ideal 2 s: good 11 000, rejects 200 → total 11 200, ideal time 22 400 s.
/// A = 25 500/27 000 = 17/18; P = 22 400/25 500 = 224/255; Q = 11 000/11 200 = 55/56;
/// OEE = 22 400/27 000 × 55/56 = 22/27.
/// Losses: speed = 25 500 − 22 400 − 90 = 3 010 s; quality = 200 × 2 = 400 s.
#[test]
fn day_shift() {
    let breaks = [ShiftBreak {
        shift_id: 1,
        start_time: hm(10, 0),
        end_time: hm(10, 30),
    }];
    let stops = [
        stop(
            "2026-04-15T06:00:00Z",
            "2026-04-15T06:20:00Z",
            Some(ReasonCategory::Unplanned),
            Some(5),
        ),
        stop("2026-04-15T10:00:00Z", "2026-04-15T10:05:00Z", None, None),
        stop(
            "2026-04-15T13:00:00Z",
            "2026-04-15T14:00:00Z",
            None,
            Some(9),
        ),
        micro("2026-04-15T05:00:00Z", "2026-04-15T05:00:30Z"),
        micro("2026-04-15T07:00:00Z", "2026-04-15T07:00:30Z"),
        micro("2026-04-15T09:00:00Z", "2026-04-15T09:00:30Z"),
    ];
    let m = model(
        local_day("2026-04-15"),
        utc(LATER),
        &morning(),
        &breaks,
        &stops,
        None,
    );
    assert_eq!(m.planned.total_ms(), 27_000_000);
    assert_eq!(m.downtime.total_ms(), 1_500_000);
    assert_eq!(m.run.total_ms(), 25_500_000);
    assert_eq!(m.micro_stops.total_ms(), 90_000);

    let mut counts = Counts::new();
    counts.add(1, AreaKind::Good, 11_000);
    counts.add(1, AreaKind::Reject, 200);
    let t = m.totals(&counts, &cycle(&[(1, 2.0)], None));
    assert!(close(t.availability(), 17.0 / 18.0));
    assert!(close(t.performance(), 224.0 / 255.0));
    assert!(close(t.quality(), 55.0 / 56.0));
    assert!(close(t.oee(), 22.0 / 27.0));

    let r = t.to_result(&[1], &local_day("2026-04-15"), Madrid);
    assert_eq!(r.start, "2026-04-15T00:00:00.000+02:00");
    assert_eq!(r.end, "2026-04-16T00:00:00.000+02:00");
    assert_eq!(
        (r.planned_seconds, r.downtime_seconds, r.run_seconds),
        (27_000.0, 1_500.0, 25_500.0)
    );
    assert_eq!((r.good, r.rejects), (11_000, 200));
    assert_eq!(
        r.losses.downtime_by_reason,
        vec![
            ReasonLoss {
                failure_id: Some(5),
                seconds: 1_200.0
            },
            ReasonLoss {
                failure_id: None,
                seconds: 300.0
            },
        ]
    );
    assert_eq!(r.losses.micro_stop_seconds, 90.0);
    assert_eq!(r.losses.speed_loss_seconds, Some(3_010.0));
    assert_eq!(r.losses.quality_loss_seconds, Some(400.0));
    assert!(r.warnings.is_empty());
}

/// Night shift 22:00–06:00 with a 02:00–02:30 break, local day 2026-04-15.
/// In the day: 00:00–06:00 of the night started on the 14th (6 h − 0.5 h) plus
/// 22:00–24:00 of the night starting on the 15th (its break is on the 16th):
/// PT = 5.5 h + 2 h = 27 000 s.
/// A stop 23:00 (14th) → 00:30 (15th) counts 00:00–00:30 in the day = 1 800 s.
/// Over the whole occurrence 14th 22:00 → 15th 06:00: PT = 7.5 h = 27 000 s,
/// DT = 1.5 h = 5 400 s, A = 21 600/27 000 = 0.8.
#[test]
fn night_shift_across_midnight() {
    let (shifts, breaks) = night_with_break();
    let stops = [stop_with_reason(
        "2026-04-14T21:00:00Z",
        "2026-04-14T22:30:00Z",
        4,
    )];
    let m = model(
        local_day("2026-04-15"),
        utc(LATER),
        &shifts,
        &breaks,
        &stops,
        None,
    );
    assert_eq!(m.planned.total_ms(), 27_000_000);
    assert_eq!(m.downtime.total_ms(), 1_800_000);

    let occurrence = win("2026-04-14T20:00:00Z", "2026-04-15T04:00:00Z");
    let m = model(occurrence, utc(LATER), &shifts, &breaks, &stops, None);
    assert_eq!(m.planned.total_ms(), 27_000_000);
    assert_eq!(m.downtime.total_ms(), 5_400_000);
    let t = m.totals(&Counts::new(), &CycleTimes::default());
    assert!(close(t.availability(), 0.8));
}

/// Spring forward, 2026-03-29: the local day lasts 23 h.
/// Shifts 06–14, 14–22, 22–06 cover it all: night from the 28th 00:00–06:00 = 5 h
/// real (02:00–03:00 does not exist), morning 8 h, afternoon 8 h, night of the
/// 29th 22:00–24:00 2 h → PT = 23 h = 82 800 s = the day.
/// The night occurrence 28th 22:00 CET (21:00Z) → 29th 06:00 CEST (04:00Z) lasts
/// 7 h = 25 200 s. A stop 01:30 CET (00:30Z) → 03:30 CEST (01:30Z) reads as 2 h
/// on the wall but is 1 h = 3 600 s. RT = 21 600 s.
/// Product 1 ideal 1 s, good 19 440: P = 19 440/21 600 = 0.9, Q = 1,
/// A = 21 600/25 200 = 6/7, OEE = 0.9 × 6/7 = 27/35.
#[test]
fn dst_spring_forward_day() {
    let shifts = [
        Shift::new(1, "Morning", hm(6, 0), hm(14, 0)),
        Shift::new(2, "Afternoon", hm(14, 0), hm(22, 0)),
        Shift::new(3, "Night", hm(22, 0), hm(6, 0)),
    ];
    let day = local_day("2026-03-29");
    assert_eq!(day.seconds(), 82_800.0);
    let m = model(day, utc(LATER), &shifts, &[], &[], None);
    assert_eq!(m.planned.total_ms(), 82_800_000);
    // No shifts configured: the whole (23 h) window is planned.
    let m = model(day, utc(LATER), &[], &[], &[], None);
    assert_eq!(m.planned.total_ms(), 82_800_000);

    let night = win("2026-03-28T21:00:00Z", "2026-03-29T04:00:00Z");
    let stops = [stop_with_reason(
        "2026-03-29T00:30:00Z",
        "2026-03-29T01:30:00Z",
        2,
    )];
    let m = model(night, utc(LATER), &shifts, &[], &stops, None);
    assert_eq!(m.planned.total_ms(), 25_200_000);
    assert_eq!(m.downtime.total_ms(), 3_600_000);
    let mut counts = Counts::new();
    counts.add(1, AreaKind::Good, 19_440);
    let t = m.totals(&counts, &cycle(&[(1, 1.0)], None));
    assert!(close(t.availability(), 6.0 / 7.0));
    assert!(close(t.performance(), 0.9));
    assert!(close(t.quality(), 1.0));
    assert!(close(t.oee(), 27.0 / 35.0));

    // The shift bucket of that night says 7 h.
    let cal = PlantCalendar::midnight(Madrid);
    let b = buckets(&night, Interval::Shift, &cal, &shifts);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].label, "Night 2026-03-28");
    assert_eq!(b[0].seconds, 25_200.0);
}

/// Fall back, 2026-10-25: the local day lasts 25 h = 90 000 s.
/// Night 24th 22:00 CEST (20:00Z) → 25th 06:00 CET (05:00Z) = 9 h = 32 400 s.
/// Its 02:00–02:30 break is ambiguous and takes the first pass (CEST):
/// 00:00Z–00:30Z → PT = 32 400 − 1 800 = 30 600 s.
/// A stop 01:30 CEST (23:30Z) → 02:30 CET (01:30Z) lasts 2 h real, minus the
/// 30 min of break inside it → DT = 5 400 s; A = 25 200/30 600 = 14/17.
/// Hour buckets of the day: 25, each 3 600 s, summing to the day's figures.
#[test]
fn dst_fall_back_day() {
    let (shifts, breaks) = night_with_break();
    let day = local_day("2026-10-25");
    assert_eq!(day.seconds(), 90_000.0);
    let m = model(day, utc(LATER), &[], &[], &[], None);
    assert_eq!(m.planned.total_ms(), 90_000_000);

    let night = win("2026-10-24T20:00:00Z", "2026-10-25T05:00:00Z");
    let stops = [stop(
        "2026-10-24T23:30:00Z",
        "2026-10-25T01:30:00Z",
        None,
        None,
    )];
    let m = model(night, utc(LATER), &shifts, &breaks, &stops, None);
    assert_eq!(m.elapsed.total_ms(), 32_400_000);
    assert_eq!(m.planned.total_ms(), 30_600_000);
    assert_eq!(m.downtime.total_ms(), 5_400_000);
    let t = m.totals(&Counts::new(), &CycleTimes::default());
    assert!(close(t.availability(), 14.0 / 17.0));

    let cal = PlantCalendar::midnight(Madrid);
    let whole = model(day, utc(LATER), &shifts, &breaks, &stops, None);
    let hours = buckets(&day, Interval::Hour, &cal, &shifts);
    assert_eq!(hours.len(), 25);
    let parts: Totals = hours
        .iter()
        .map(|b| {
            whole
                .restrict(&b.window())
                .totals(&Counts::new(), &CycleTimes::default())
        })
        .sum();
    let all = whole.totals(&Counts::new(), &CycleTimes::default());
    assert_eq!(parts.planned_ms, all.planned_ms);
    assert_eq!(parts.downtime_ms, all.downtime_ms);
    assert_eq!(parts.run_ms, all.run_ms);
}

/// Morning 06–14 (8 h). A 09:00–10:00 stop justified with a planned reason
/// leaves planned time: PT = 7 h = 25 200 s, and is no downtime. An unplanned
/// 11:00–11:30 stop: DT = 1 800 s; A = 23 400/25 200 = 13/14.
#[test]
fn planned_stop() {
    let stops = [
        stop(
            "2026-04-15T07:00:00Z",
            "2026-04-15T08:00:00Z",
            Some(ReasonCategory::Planned),
            Some(7),
        ),
        stop(
            "2026-04-15T09:00:00Z",
            "2026-04-15T09:30:00Z",
            Some(ReasonCategory::Unplanned),
            Some(3),
        ),
    ];
    let m = morning_model(local_day("2026-04-15"), utc(LATER), &stops, None);
    assert_eq!(m.planned.total_ms(), 25_200_000);
    assert_eq!(m.downtime.total_ms(), 1_800_000);
    let t = m.totals(&Counts::new(), &CycleTimes::default());
    assert!(close(t.availability(), 13.0 / 14.0));
    assert_eq!(t.downtime_by_reason_ms.len(), 1);
    assert_eq!(t.downtime_by_reason_ms[&Some(3)], 1_800_000);
    // Detections during the planned stop are outside PT and must not be counted.
    assert!(!m.planned.contains(utc("2026-04-15T07:30:00Z")));
    assert!(m.planned.contains(utc("2026-04-15T08:00:00Z")));
}

/// Morning 06–14; a stop 05:30–06:45 (a late start) counts from 06:00:
/// DT = 45 min = 2 700 s; A = 26 100/28 800 = 0.90625.
#[test]
fn stop_that_began_before_the_shift() {
    let stops = [stop_with_reason(
        "2026-04-15T03:30:00Z",
        "2026-04-15T04:45:00Z",
        2,
    )];
    let m = morning_model(local_day("2026-04-15"), utc(LATER), &stops, None);
    assert_eq!(m.downtime.total_ms(), 2_700_000);
    let t = m.totals(&Counts::new(), &CycleTimes::default());
    assert!(close(t.availability(), 0.90625));
}

/// Morning 06–14, no stops (RT = 28 800 s). Product 1 (ideal 2 s) good 5 000;
/// product 2 "Tapa 50mm" (no ideal time) good 3 000, rejects 10; product 3 has
/// no ideal time but no units either.
/// Without a default: P and OEE null, a warning naming product 2 only;
/// A = 1, Q = 8 000/8 010.
/// With default 3 s: P = (2 × 5 000 + 3 × 3 010)/28 800 = 19 030/28 800.
#[test]
fn product_without_ideal_cycle_time() {
    let m = morning_model(local_day("2026-04-15"), utc(LATER), &[], None);
    let mut counts = Counts::new();
    counts.add(1, AreaKind::Good, 5_000);
    counts.add(2, AreaKind::Good, 3_000);
    counts.add(2, AreaKind::Reject, 10);
    counts.add(3, AreaKind::Good, 0);
    let mut ct = cycle(&[(1, 2.0)], None);
    ct.names.insert(2, "Tapa 50mm".to_string());
    let t = m.totals(&counts, &ct);
    assert_eq!(t.performance(), None);
    assert_eq!(t.oee(), None);
    assert!(close(t.availability(), 1.0));
    assert!(close(t.quality(), 8_000.0 / 8_010.0));
    let w = t.warnings();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].code, "missing_ideal_cycle_time");
    assert_eq!(w[0].products, Some(vec![2]));
    assert!(w[0].message.contains("Tapa 50mm (#2)"), "{}", w[0].message);
    let l = t.losses();
    assert_eq!((l.speed_loss_seconds, l.quality_loss_seconds), (None, None));

    let t = m.totals(&counts, &cycle(&[(1, 2.0)], Some(3.0)));
    assert!(close(t.performance(), 19_030.0 / 28_800.0));
    assert!(t.warnings().is_empty());
    // A zero or negative ideal time is as good as none.
    let t = m.totals(&counts, &cycle(&[(1, 2.0), (2, 0.0)], None));
    assert_eq!(t.performance(), None);
}

/// A 1 h shift 06:00–07:00, ideal 2 s, 2 000 good: ideal time 4 000 s > RT
/// 3 600 s → P = 10/9 ≈ 111.1 %, reported as is with a warning; OEE = 10/9;
/// speed loss = 3 600 − 4 000 = −400 s.
#[test]
fn performance_over_100_percent() {
    let shifts = [Shift::new(1, "Short", hm(6, 0), hm(7, 0))];
    let m = model(local_day("2026-04-15"), utc(LATER), &shifts, &[], &[], None);
    let mut counts = Counts::new();
    counts.add(1, AreaKind::Good, 2_000);
    let t = m.totals(&counts, &cycle(&[(1, 2.0)], None));
    assert!(close(t.performance(), 10.0 / 9.0));
    assert!(close(t.oee(), 10.0 / 9.0));
    let w = t.warnings();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].code, "performance_above_100");
    assert!(w[0].message.contains("111.1 %"), "{}", w[0].message);
    assert_eq!(t.losses().speed_loss_seconds, Some(-400.0));
}

/// Morning 06–14, "today" asked at 12:30 (10:30Z): the window is cut at now,
/// PT = 06:00–12:30 = 23 400 s. The newest detection was at 12:00 and the
/// threshold is 120 s, so the line is stopped since 12:00: DT = 1 800 s
/// (unjustified). At 12:01, only 60 s after, it is not stopped yet.
#[test]
fn open_stop_and_now() {
    let open = OpenStop {
        last_detection: utc("2026-04-15T10:00:00Z"),
        threshold_seconds: 120,
    };
    let now = utc("2026-04-15T10:30:00Z");
    let m = morning_model(local_day("2026-04-15"), now, &[], Some(open));
    assert_eq!(m.planned.total_ms(), 23_400_000);
    assert_eq!(m.downtime.total_ms(), 1_800_000);
    assert_eq!(
        m.downtime_by_reason.keys().copied().collect::<Vec<_>>(),
        vec![None]
    );
    assert_eq!(open.since(now), Some(open.last_detection));

    let now = utc("2026-04-15T10:01:00Z");
    let m = morning_model(local_day("2026-04-15"), now, &[], Some(open));
    assert_eq!(m.downtime.total_ms(), 0);
    assert_eq!(open.since(now), None);

    // A window that ended before now stops the open stop at its end.
    let now = utc("2026-04-15T15:00:00Z");
    let m = morning_model(
        win("2026-04-15T04:00:00Z", "2026-04-15T11:00:00Z"),
        now,
        &[],
        Some(open),
    );
    assert_eq!(m.downtime.total_ms(), 3_600_000);
    // A window wholly in the future has nothing planned yet.
    let m = morning_model(local_day("2026-04-16"), now, &[], Some(open));
    assert_eq!(m, TimeModel::default());
}

/// Line 1: PT 8 h, no stops (A = 1). Line 2: a 1 h shift stopped throughout
/// (A = 0, OEE 0). Together A = 28 800/32 400 = 8/9, not the 0.5 an average of
/// ratios would give; counts add up and OEE is computed from the sums.
#[test]
fn aggregation_sums_before_dividing() {
    let day = local_day("2026-04-15");
    let line1 = morning_model(day, utc(LATER), &[], None);
    let short = [Shift::new(2, "Short", hm(6, 0), hm(7, 0))];
    let stops = [stop_with_reason(
        "2026-04-15T03:00:00Z",
        "2026-04-15T06:00:00Z",
        1,
    )];
    let line2 = model(day, utc(LATER), &short, &[], &stops, None);
    let mut c1 = Counts::new();
    c1.add(1, AreaKind::Good, 9_000);
    c1.add(1, AreaKind::Reject, 600);
    let ct = cycle(&[(1, 2.0)], None);
    let t1 = line1.totals(&c1, &ct);
    let t2 = line2.totals(&Counts::new(), &ct);
    assert_eq!(t2.availability(), Some(0.0));
    assert_eq!(t2.performance(), None);
    assert_eq!(t2.quality(), None);
    assert_eq!(t2.oee(), Some(0.0));

    let both = t1.clone() + t2.clone();
    assert!(close(both.availability(), 8.0 / 9.0));
    // P = 2 × 9 600 / 28 800 = 2/3; Q = 9 000/9 600 = 15/16; OEE = 8/9 × 2/3 × 15/16 = 5/9.
    assert!(close(both.performance(), 2.0 / 3.0));
    assert!(close(both.quality(), 15.0 / 16.0));
    assert!(close(both.oee(), 5.0 / 9.0));
    assert_eq!([t1, t2].iter().sum::<Totals>(), both);
    let r = both.to_result(&[1, 2], &day, Madrid);
    assert_eq!(r.line_ids, vec![1, 2]);
    assert_eq!(
        r.losses.downtime_by_reason,
        vec![ReasonLoss {
            failure_id: Some(1),
            seconds: 3_600.0
        }]
    );
}

/// A line with shifts that ran but made nothing: P = 0, Q null, OEE 0.
/// A window without any planned time: every ratio null.
#[test]
fn degenerate_ratios() {
    let m = morning_model(local_day("2026-04-15"), utc(LATER), &[], None);
    let t = m.totals(&Counts::new(), &CycleTimes::default());
    assert_eq!(t.performance(), Some(0.0));
    assert_eq!(t.quality(), None);
    assert_eq!(t.oee(), Some(0.0));
    let night_only = win("2026-04-15T18:00:00Z", "2026-04-15T20:00:00Z");
    let t = morning_model(night_only, utc(LATER), &[], None)
        .totals(&Counts::new(), &CycleTimes::default());
    assert_eq!(
        (t.availability(), t.performance(), t.quality(), t.oee()),
        (None, None, None, None)
    );
}

/// The JSON shape of docs/api.md#shapes, buckets included.
#[test]
fn result_json_shape() {
    let cal = PlantCalendar::midnight(Madrid);
    let day = local_day("2026-04-15");
    let shifts = [
        Shift::new(1, "Morning", hm(6, 0), hm(14, 0)),
        Shift::new(2, "Afternoon", hm(14, 0), hm(22, 0)),
    ];
    let m = model(day, utc(LATER), &shifts, &[], &[], None);
    let ct = CycleTimes::default();
    let bucket_results: Vec<OeeResult> = buckets(&day, Interval::Shift, &cal, &shifts)
        .iter()
        .map(|b| {
            m.restrict(&b.window())
                .totals(&Counts::new(), &ct)
                .to_bucket_result(&[4], b, Madrid)
        })
        .collect();
    let r = m
        .totals(&Counts::new(), &ct)
        .to_result(&[4], &day, Madrid)
        .with_buckets(bucket_results);
    let v = serde_json::to_value(&r).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "line_ids",
        "start",
        "end",
        "planned_seconds",
        "downtime_seconds",
        "run_seconds",
        "good",
        "rejects",
        "availability",
        "performance",
        "quality",
        "oee",
        "losses",
        "warnings",
        "buckets",
    ] {
        assert!(keys.contains(&k), "missing {k}");
    }
    assert!(!keys.contains(&"label"));
    assert_eq!(v["quality"], serde_json::Value::Null);
    assert_eq!(v["availability"], 1.0);
    assert_eq!(v["planned_seconds"], 57_600.0);
    assert_eq!(v["losses"]["downtime_by_reason"], serde_json::json!([]));
    assert_eq!(v["losses"]["micro_stop_seconds"], 0.0);
    assert_eq!(v["buckets"][0]["label"], "Morning 2026-04-15");
    assert_eq!(v["buckets"][0]["start"], "2026-04-15T06:00:00.000+02:00");
    assert_eq!(v["buckets"][1]["planned_seconds"], 28_800.0);
    assert!(v["buckets"][0].get("buckets").is_none());
    let w = Warning {
        code: "x".into(),
        message: "y".into(),
        products: None,
    };
    assert_eq!(
        serde_json::to_value(&w).unwrap(),
        serde_json::json!({"code": "x", "message": "y"})
    );
}

#[test]
fn small_helpers() {
    assert_eq!(AreaKind::from_area_type("output"), Some(AreaKind::Good));
    assert_eq!(AreaKind::from_area_type(" REJECT "), Some(AreaKind::Reject));
    assert_eq!(AreaKind::from_area_type("process"), None);
    assert_eq!(
        ReasonCategory::parse("Planned"),
        Some(ReasonCategory::Planned)
    );
    assert_eq!(
        ReasonCategory::parse("unplanned"),
        Some(ReasonCategory::Unplanned)
    );
    assert_eq!(ReasonCategory::parse("other"), None);
    let ct = cycle(&[(1, f64::NAN), (2, -1.0), (3, 1.5)], Some(2.5));
    assert_eq!(
        (ct.get(1), ct.get(2), ct.get(3), ct.get(4)),
        (Some(2.5), Some(2.5), Some(1.5), Some(2.5))
    );

    let planned =
        IntervalSet::from_spans([(utc("2026-04-15T04:00:00Z"), utc("2026-04-15T05:00:00Z"))]);
    let mut c = Counts::new();
    c.tally(
        &planned,
        [
            (utc("2026-04-15T04:00:00Z"), 1, AreaKind::Good),
            (utc("2026-04-15T04:59:59.999Z"), 1, AreaKind::Reject),
            (utc("2026-04-15T05:00:00Z"), 1, AreaKind::Good),
            (utc("2026-04-15T03:59:59.999Z"), 2, AreaKind::Good),
        ],
    );
    assert_eq!(
        c.get(1),
        ProductCounts {
            good: 1,
            rejects: 1
        }
    );
    assert_eq!(c.get(2), ProductCounts::default());
    assert_eq!((c.good(), c.rejects()), (1, 1));
}
