//! The simulation: for each line and each shift occurrence, units leave the
//! line at a jittered speed a little slower than ideal, with micro-stops, long
//! stops (unplanned reasons, changeovers, weekly maintenance, Friday cleaning),
//! breaks, a late start, and about 2 % rejects. Each occurrence draws from its
//! own generator seeded by (seed, line, date, shift), so the data is the same
//! for the same seed and window.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc, Weekday};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::plant::{self, DemoLine, DemoShift};
use super::DemoSize;
use dash_core::timeutil::resolve_local;

/// One detection before it gets its id: UTC milliseconds, area, product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub at_ms: i64,
    pub area_id: i64,
    pub product_id: i64,
}

/// A long stop with its reason (written to the `incident` table).
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub line_id: i64,
    pub failure_id: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub description: String,
    pub reported_by: String,
}

/// Everything the simulation needs to know about the run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    pub size: DemoSize,
    pub tz: Tz,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

fn mix(seed: u64, line: i64, day: i32, shift: i64) -> u64 {
    // splitmix64 over the parts: different occurrences get unrelated streams.
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    for v in [line as u64, day as u64, shift as u64] {
        x = x.wrapping_add(v.wrapping_mul(0xBF58_476D_1CE4_E5B9));
        x ^= x >> 30;
        x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 27;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 31;
    }
    x
}

fn secs(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn local_instant(tz: Tz, date: NaiveDate, time: chrono::NaiveTime) -> f64 {
    secs(resolve_local(tz, NaiveDateTime::new(date, time)))
}

/// One occurrence of a shift: [start, end) and its breaks, in UTC seconds.
struct Occurrence<'a> {
    shift: &'a DemoShift,
    date: NaiveDate,
    start: f64,
    end: f64,
    breaks: Vec<(f64, f64)>,
}

fn occurrences(plan: &Plan) -> Vec<Occurrence<'static>> {
    let first = plan.start.with_timezone(&plan.tz).date_naive() - Duration::days(1);
    let last = plan.end.with_timezone(&plan.tz).date_naive();
    let (w0, w1) = (secs(plan.start), secs(plan.end));
    let mut out = Vec::new();
    let mut date = first;
    while date <= last {
        let iso = date.weekday().number_from_monday();
        for shift in plant::SHIFTS {
            if !shift.days.contains(&iso) {
                continue;
            }
            let end_date = if shift.end <= shift.start {
                date + Duration::days(1)
            } else {
                date
            };
            let start = local_instant(plan.tz, date, shift.start);
            let end = local_instant(plan.tz, end_date, shift.end);
            if end <= w0 || start >= w1 || end <= start {
                continue;
            }
            let breaks = shift
                .breaks
                .iter()
                .map(|(_, _, bs, be)| {
                    let bdate = if *bs >= shift.start {
                        date
                    } else {
                        date + Duration::days(1)
                    };
                    let edate = if be <= bs {
                        bdate + Duration::days(1)
                    } else {
                        bdate
                    };
                    (
                        local_instant(plan.tz, bdate, *bs),
                        local_instant(plan.tz, edate, *be),
                    )
                })
                .collect();
            out.push(Occurrence {
                shift,
                date,
                start,
                end,
                breaks,
            });
        }
        date += Duration::days(1);
    }
    out.sort_by(|a, b| a.start.total_cmp(&b.start));
    out
}

fn pick_unplanned(rng: &mut StdRng) -> (i64, f64) {
    let total: f64 = plant::UNPLANNED.iter().map(|u| u.1).sum();
    let mut x = rng.random::<f64>() * total;
    for (id, w, lo, hi) in plant::UNPLANNED {
        if x < *w {
            return (*id, rng.random_range(*lo..*hi));
        }
        x -= w;
    }
    let (id, _, lo, hi) = plant::UNPLANNED[0];
    (id, rng.random_range(lo..hi))
}

fn exp(rng: &mut StdRng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

fn ms(t: f64) -> i64 {
    (t * 1000.0).round() as i64
}

fn unplanned_text(failure_id: i64, line: &DemoLine) -> String {
    let process = line.areas[1].1;
    match failure_id {
        4 => format!("Atasco en {process}"),
        5 => "Falta de material en la entrada".to_string(),
        6 => format!("Avería mecánica en {process}"),
        7 => "Avería eléctrica: disparo del térmico".to_string(),
        8 => "Ajuste tras control de calidad".to_string(),
        _ => "Parada".to_string(),
    }
}

/// Simulates one line over the plan's window. Rows come to `sink` in
/// (`at_ms`, area) order, one occurrence at a time (occurrences never
/// overlap, so the whole stream is in time order); incidents are appended.
pub fn simulate_line(
    plan: &Plan,
    line: &DemoLine,
    mut sink: impl FnMut(&[Row]),
    incidents: &mut Vec<Incident>,
) {
    let scale = plan.size.speed_scale();
    let all_areas = plan.size == DemoSize::Large;
    let (threshold, micro) = line.thresholds(plan.size);
    let (threshold, micro) = (f64::from(threshold), f64::from(micro));
    let (w0, w1) = (secs(plan.start), secs(plan.end));
    let mut product = line.products[0];
    let mut rows: Vec<Row> = Vec::new();
    let operator = format!("operador.l{}", line.line_id);

    for occ in occurrences(plan) {
        let mut rng = StdRng::seed_from_u64(mix(
            plan.seed,
            line.line_id,
            occ.date.num_days_from_ce(),
            occ.shift.shift_id,
        ));
        rows.clear();
        let mut stops: Vec<(i64, f64, f64, String)> = Vec::new();
        let speed = rng.random_range(1.03..1.12);
        let reject_rate = 0.02 * rng.random_range(0.5..1.6);
        let weekday = occ.date.weekday();

        let mut t = occ.start + rng.random_range(150.0..480.0) * scale.sqrt();
        let mut prod_end = occ.end;
        if occ.shift.shift_id == 1 && weekday == Weekday::Sat {
            // Saturday morning, the last shift of the week, ends with the cleaning.
            let clean = rng.random_range(1500.0..2400.0);
            prod_end = occ.end - clean;
            stops.push((
                plant::FAILURE_LIMPIEZA,
                prod_end,
                occ.end,
                "Limpieza semanal de la línea".into(),
            ));
        }
        if line.products.len() > 1 && rng.random_bool(0.3) {
            let next = line.products[rng.random_range(0..line.products.len())];
            if next != product {
                product = next;
                let dur = rng.random_range(900.0..2100.0);
                stops.push((
                    plant::FAILURE_CAMBIO,
                    t,
                    t + dur,
                    format!(
                        "Cambio de formato a {}",
                        plant::product(product).product_name
                    ),
                ));
                t += dur;
            }
        }
        if occ.shift.shift_id == 1 && weekday == line.maintenance_day {
            let dur = rng.random_range(5400.0..9000.0);
            stops.push((
                plant::FAILURE_MANT,
                t,
                t + dur,
                "Mantenimiento preventivo semanal".into(),
            ));
            t += dur;
        }
        let mtbf = line.mtbf_minutes * 60.0;
        let mut next_failure = t + exp(&mut rng, mtbf);
        let mut mid_change = if line.products.len() > 1 && rng.random_bool(0.15) {
            Some(t + (prod_end - t) * rng.random_range(0.3..0.7))
        } else {
            None
        };
        let micro_mean = line.micro_every_minutes * 60.0;
        let mut last_unit = t;

        loop {
            if t >= prod_end {
                break;
            }
            if let Some((_, be)) = occ.breaks.iter().find(|(bs, be)| t >= *bs && t < *be) {
                t = be + rng.random_range(60.0..240.0);
                continue;
            }
            if t >= next_failure {
                let (failure_id, dur) = pick_unplanned(&mut rng);
                stops.push((
                    failure_id,
                    last_unit,
                    t + dur,
                    unplanned_text(failure_id, line),
                ));
                t += dur;
                next_failure = t + exp(&mut rng, mtbf);
                continue;
            }
            if let Some(at) = mid_change {
                if t >= at {
                    mid_change = None;
                    let choices: Vec<i64> = line
                        .products
                        .iter()
                        .copied()
                        .filter(|p| *p != product)
                        .collect();
                    product = choices[rng.random_range(0..choices.len())];
                    let dur = rng.random_range(900.0..2100.0);
                    stops.push((
                        plant::FAILURE_CAMBIO,
                        last_unit,
                        t + dur,
                        format!(
                            "Cambio de formato a {}",
                            plant::product(product).product_name
                        ),
                    ));
                    t += dur;
                    continue;
                }
            }
            let ideal = plant::product(product).nominal_cycle_time * scale;
            let cycle = ideal * speed * rng.random_range(0.92..1.10);
            if rng.random::<f64>() < cycle / micro_mean {
                t += rng.random_range((micro + 2.0)..(threshold - 5.0));
            }
            t += cycle;
            if t >= prod_end || occ.breaks.iter().any(|(bs, be)| t >= *bs && t < *be) {
                continue;
            }
            let reject = rng.random::<f64>() < reject_rate;
            let area = if reject {
                line.reject_area()
            } else {
                line.output_area()
            };
            rows.push(Row {
                at_ms: ms(t),
                area_id: area,
                product_id: product,
            });
            if all_areas {
                let ti = t - line.transit_input * rng.random_range(0.95..1.05);
                let tp = t - line.transit_process * rng.random_range(0.95..1.05);
                rows.push(Row {
                    at_ms: ms(ti),
                    area_id: line.input_area(),
                    product_id: product,
                });
                rows.push(Row {
                    at_ms: ms(tp),
                    area_id: line.process_area(),
                    product_id: product,
                });
            }
            last_unit = t;
        }

        let (lo, hi) = (ms(w0), ms(w1));
        rows.retain(|r| r.at_ms >= lo && r.at_ms < hi);
        rows.sort_unstable();
        if !rows.is_empty() {
            sink(&rows);
        }
        for (failure_id, s, e, description) in stops {
            let e = e.min(occ.end);
            if e <= w0 || s >= w1 || e - s < threshold {
                continue;
            }
            incidents.push(Incident {
                line_id: line.line_id,
                failure_id,
                start_ms: ms(s.max(w0)),
                end_ms: ms(e.min(w1)),
                description,
                reported_by: operator.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    fn plan(seed: u64, days: i64) -> Plan {
        let end = DateTime::parse_from_rfc3339("2026-03-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Plan {
            seed,
            size: DemoSize::Small,
            tz: chrono_tz::Europe::Madrid,
            start: end - Duration::days(days),
            end,
        }
    }

    fn run(p: &Plan, line: &DemoLine) -> (Vec<Row>, Vec<Incident>) {
        let mut all = Vec::new();
        let mut inc = Vec::new();
        simulate_line(p, line, |rows| all.extend_from_slice(rows), &mut inc);
        (all, inc)
    }

    #[test]
    fn deterministic_sorted_and_inside_the_window() {
        let p = plan(7, 10);
        let line = &plant::lines()[0];
        let (a, ia) = run(&p, line);
        let (b, ib) = run(&p, line);
        assert_eq!(a, b);
        assert_eq!(ia, ib);
        assert!(!a.is_empty());
        assert!(a.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        assert!(a
            .iter()
            .all(|r| r.at_ms >= p.start.timestamp_millis() && r.at_ms < p.end.timestamp_millis()));
        let (c, _) = run(&plan(8, 10), line);
        assert_ne!(a, c);
    }

    #[test]
    fn believable_plant() {
        let p = plan(1, 28);
        for line in plant::lines() {
            let (rows, incidents) = run(&p, &line);
            let good = rows
                .iter()
                .filter(|r| r.area_id == line.output_area())
                .count() as f64;
            let rejects = rows
                .iter()
                .filter(|r| r.area_id == line.reject_area())
                .count() as f64;
            let q = good / (good + rejects);
            assert!(
                (0.95..0.995).contains(&q),
                "line {} quality {q}",
                line.line_id
            );
            assert!(
                incidents.len() > 20,
                "line {} has {} incidents",
                line.line_id,
                incidents.len()
            );
            assert!(incidents
                .iter()
                .any(|i| i.failure_id == plant::FAILURE_MANT));
            // Nothing outside the shifts: Saturday after 14:00 and Sunday before 22:00 are idle.
            let idle = rows.iter().filter(|r| {
                let t = DateTime::from_timestamp_millis(r.at_ms)
                    .unwrap()
                    .with_timezone(&p.tz);
                let h = t.hour();
                (t.weekday() == Weekday::Sat && h >= 14) || (t.weekday() == Weekday::Sun && h < 22)
            });
            assert_eq!(idle.count(), 0);
            assert!(rows.iter().any(|r| {
                let t = DateTime::from_timestamp_millis(r.at_ms)
                    .unwrap()
                    .with_timezone(&p.tz);
                t.weekday() == Weekday::Sat && t.hour() < 14
            }));
            // Output gaps over the micro-stop threshold exist but are a minority.
            let (thr, micro) = line.thresholds(p.size);
            let out: Vec<i64> = rows
                .iter()
                .filter(|r| r.area_id == line.output_area())
                .map(|r| r.at_ms)
                .collect();
            let gaps: Vec<i64> = out.windows(2).map(|w| w[1] - w[0]).collect();
            let micros = gaps
                .iter()
                .filter(|g| **g > i64::from(micro) * 1000 && **g <= i64::from(thr) * 1000)
                .count();
            assert!(
                micros > 50 && micros < gaps.len() / 5,
                "line {} micro-stops {micros} of {}",
                line.line_id,
                gaps.len()
            );
        }
    }
}
