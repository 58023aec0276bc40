//! The OEE engine over a tenant's client database (docs/oee.md#oee): the one entry
//! point every metrics route, report and dashboard widget calls, so a KPI
//! card, a shift report and a comparison chart always agree for the same
//! window.
//!
//! # Using it
//! ```ignore
//! // In a handler, after `auth::require(..)` and `ctx.resolve_lines(..)`:
//! let meta = metadata::for_tenant(&state, &tenant).await?;
//! let plant = Plant::new(&tenant, &meta, state.now());
//! let window = plant.resolve_window(&WindowQuery { range: Some("today"), ..Default::default() }, None)
//!     .map_err(AppError::from)?;
//! let result = metrics::oee(&state, &tenant, &meta, &line_ids, &window, Some(Interval::Hour)).await?;
//! ```
//! [`oee`] answers the docs/api.md#shapes shape for one or several lines (times and
//! counts summed over the lines first, divided last), with `buckets` when an
//! interval is given. [`compute`] returns the summable [`Totals`] per line
//! and per bucket for callers that need more than one view of the same
//! window (comparisons, shift reports).
//!
//! # What it does, per line
//! 1. shifts and breaks from the warm metadata, stops overlapping the window
//!    from `downtime_events_<code>` (micro-stops included, reasons'
//!    categories from `failure`), and the "stopped since" gap after the
//!    newest output detection ([`crate::downtime::open_stop`]);
//! 2. [`TimeModel::build`]: planned time (shift occurrences − breaks −
//!    planned-reason stops), downtime, run time, micro-stops — cut at `now`;
//! 3. detections of the output and reject areas counted inside planned time,
//!    per product, once for the window and each bucket in one pass
//!    ([`query::count_in_windows`], served by the exact minute rollup where
//!    it exists);
//! 4. [`TimeModel::totals`] per window and bucket; lines are summed as
//!    [`Totals`], then [`Totals::to_result`] divides.
//!
//! Buckets are the plant calendar's (`timeutil::buckets`): hours (23 or 25 on
//! DST days), shift occurrences, production days from `production_day_start`,
//! ISO weeks, months.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use mysql_async::Conn;

use crate::downtime::clock::DataClock;
use crate::downtime::events::{EventsTable, StopRow};
use crate::downtime::window::{self, EventFilter, Order};
use crate::downtime::LineSpec;
use crate::error::{AppError, AppResult};
use crate::metadata::TenantMetadata;
use crate::query::{self, CountSource, DetectionTable, KeyCounts};
use crate::store::Store;
use crate::tenancy::Tenant;
use dash_core::oee::{
    AreaKind, Counts, CycleTimes, LineInputs, OeeResult, OpenStop, ReasonCategory, Shift,
    ShiftBreak, Stop, TimeModel, Totals,
};
use dash_core::timeutil::{
    buckets as calendar_buckets, resolve_window, Bucket, Interval, PlantCalendar, Window,
    WindowError, WindowQuery,
};

/// `max_query_days` when `system_config` does not say (docs/operations.md#configuration).
pub const DEFAULT_MAX_QUERY_DAYS: u32 = 366;
/// Most buckets one answer may hold (an hourly year is 8 784).
pub const MAX_BUCKETS: usize = 10_000;
/// The product id counts of detections without a product are filed under.
pub const NO_PRODUCT: i64 = 0;

/// A tenant's plant as the engine sees it: calendar, shifts, ideal cycle
/// times and the clock. Cheap to build from the warm metadata.
#[derive(Debug, Clone)]
pub struct Plant<'a> {
    pub tenant: &'a Tenant,
    pub meta: &'a TenantMetadata,
    pub cal: PlantCalendar,
    pub shifts: Vec<Shift>,
    pub breaks: Vec<ShiftBreak>,
    pub cycle_times: CycleTimes,
    pub now: DateTime<Utc>,
}

impl<'a> Plant<'a> {
    pub fn new(tenant: &'a Tenant, meta: &'a TenantMetadata, now: DateTime<Utc>) -> Plant<'a> {
        let shifts = meta
            .shifts
            .iter()
            .map(|s| Shift {
                id: s.shift_id,
                name: s.shift_name.clone(),
                start_time: s.start_time,
                end_time: s.end_time,
                days_of_week: s.days_of_week.clone(),
                is_active: s.is_active,
            })
            .collect();
        let breaks = meta
            .breaks
            .iter()
            .map(|b| ShiftBreak {
                shift_id: b.shift_id,
                start_time: b.start_time,
                end_time: b.end_time,
            })
            .collect();
        let mut cycle_times = CycleTimes {
            per_product: meta
                .products
                .iter()
                .filter_map(|p| p.ideal_cycle_time_seconds.map(|c| (p.product_id, c)))
                .collect(),
            default_seconds: meta.config_number("default_ideal_cycle_time_seconds"),
            names: meta
                .products
                .iter()
                .map(|p| (p.product_id, p.product_name.clone()))
                .collect(),
        };
        cycle_times
            .names
            .entry(NO_PRODUCT)
            .or_insert_with(|| "(no product)".to_string());
        Plant {
            tenant,
            meta,
            cal: PlantCalendar::new(tenant.timezone(), tenant.production_day_start()),
            shifts,
            breaks,
            cycle_times,
            now,
        }
    }

    pub fn tz(&self) -> Tz {
        self.cal.tz
    }

    /// `system_config.max_query_days` (default 366).
    pub fn max_query_days(&self) -> u32 {
        self.meta
            .config_number("max_query_days")
            .filter(|d| d.is_finite() && *d >= 1.0)
            .map(|d| d.min(36_600.0) as u32)
            .unwrap_or(DEFAULT_MAX_QUERY_DAYS)
    }

    /// The window of a request. Relative ranges are resolved in the plant's
    /// calendar; explicit dates without an offset are read in `input_tz`
    /// (default: the plant's zone). Longer than `max_query_days` is refused.
    pub fn resolve_window(
        &self,
        q: &WindowQuery<'_>,
        input_tz: Option<Tz>,
    ) -> Result<Window, WindowError> {
        let has_range = q.range.is_some_and(|r| !r.trim().is_empty());
        let cal = match input_tz {
            Some(tz) if !has_range => PlantCalendar::new(tz, self.cal.production_day_start),
            _ => self.cal,
        };
        resolve_window(q, &cal, &self.shifts, self.now, self.max_query_days())
    }

    /// The buckets of `window` in the plant calendar, refused (on `interval`)
    /// beyond [`MAX_BUCKETS`].
    pub fn buckets(&self, window: &Window, interval: Interval) -> Result<Vec<Bucket>, WindowError> {
        let b = calendar_buckets(window, interval, &self.cal, &self.shifts);
        if b.len() > MAX_BUCKETS {
            return Err(WindowError::new(
                "interval",
                "too_many_buckets",
                format!(
                    "{} {} buckets are more than the {MAX_BUCKETS} one answer may hold; choose a longer interval",
                    b.len(),
                    interval
                ),
            ));
        }
        Ok(b)
    }

    /// The client database's name.
    pub fn db_name(&self) -> String {
        self.tenant.db_location().db_name
    }

    /// Output and reject areas of a line.
    pub fn oee_areas(&self, line_id: i64) -> (Vec<i64>, Vec<i64>) {
        let mut good = Vec::new();
        let mut rejects = Vec::new();
        for a in self.meta.areas_of_line(line_id) {
            match AreaKind::from_area_type(&a.area_type) {
                Some(AreaKind::Good) => good.push(a.area_id),
                Some(AreaKind::Reject) => rejects.push(a.area_id),
                None => {}
            }
        }
        (good, rejects)
    }
}

/// The summable figures of one line: the whole window and each bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct LineTotals {
    pub line_id: i64,
    pub overall: Totals,
    /// One per bucket, in the buckets' order.
    pub buckets: Vec<Totals>,
}

/// The engine's answer before division: per line, and summed over lines.
#[derive(Debug, Clone)]
pub struct Computed {
    pub window: Window,
    pub buckets: Vec<Bucket>,
    pub per_line: Vec<LineTotals>,
    pub total: Totals,
    pub total_buckets: Vec<Totals>,
}

impl Computed {
    /// The docs/api.md#shapes result over all the lines, times shown in `tz`.
    pub fn to_result(&self, tz: Tz, with_buckets: bool) -> OeeResult {
        let ids: Vec<i64> = self.per_line.iter().map(|l| l.line_id).collect();
        result_of(
            &ids,
            &self.window,
            &self.total,
            &self.buckets,
            &self.total_buckets,
            tz,
            with_buckets,
        )
    }

    /// The result of one line of the computation.
    pub fn line_result(&self, line_id: i64, tz: Tz, with_buckets: bool) -> Option<OeeResult> {
        let l = self.per_line.iter().find(|l| l.line_id == line_id)?;
        Some(result_of(
            &[line_id],
            &self.window,
            &l.overall,
            &self.buckets,
            &l.buckets,
            tz,
            with_buckets,
        ))
    }
}

fn result_of(
    line_ids: &[i64],
    window: &Window,
    total: &Totals,
    buckets: &[Bucket],
    bucket_totals: &[Totals],
    tz: Tz,
    with_buckets: bool,
) -> OeeResult {
    let r = total.to_result(line_ids, window, tz);
    if !with_buckets {
        return r;
    }
    let b = buckets
        .iter()
        .zip(bucket_totals)
        .map(|(b, t)| t.to_bucket_result(line_ids, b, tz))
        .collect();
    r.with_buckets(b)
}

/// OEE of `line_ids` over `window` (docs/api.md#shapes shape), bucketed by `interval`
/// when given, times in the plant's zone. The caller has checked the user
/// may see these lines (`TenantContext::resolve_lines`); an id the metadata
/// does not know is a 404.
pub async fn oee(
    store: &Store,
    tenant: &Tenant,
    meta: &TenantMetadata,
    line_ids: &[i64],
    window: &Window,
    interval: Option<Interval>,
) -> AppResult<OeeResult> {
    let plant = Plant::new(tenant, meta, store.now());
    let buckets = match interval {
        Some(i) => plant.buckets(window, i).map_err(AppError::from)?,
        None => Vec::new(),
    };
    let mut conn = query::read_conn(store, tenant).await?;
    let c = compute(
        &mut conn,
        &plant,
        line_ids,
        window,
        &buckets,
        CountSource::Auto,
    )
    .await?;
    Ok(c.to_result(plant.tz(), interval.is_some()))
}

/// Computes the totals of every line over `window` and `buckets` (buckets of
/// the same window, from [`Plant::buckets`]), and their sum.
pub async fn compute(
    conn: &mut Conn,
    plant: &Plant<'_>,
    line_ids: &[i64],
    window: &Window,
    buckets: &[Bucket],
    source: CountSource,
) -> AppResult<Computed> {
    let mut per_line = Vec::with_capacity(line_ids.len());
    for &id in line_ids {
        per_line.push(line_totals(conn, plant, id, window, buckets, source).await?);
    }
    let total: Totals = per_line.iter().map(|l| &l.overall).sum();
    let total_buckets = (0..buckets.len())
        .map(|i| per_line.iter().map(|l| &l.buckets[i]).sum())
        .collect();
    Ok(Computed {
        window: *window,
        buckets: buckets.to_vec(),
        per_line,
        total,
        total_buckets,
    })
}

/// The time model of one line over `window` (stops and the open stop loaded).
pub async fn time_model(
    conn: &mut Conn,
    plant: &Plant<'_>,
    line_id: i64,
    window: &Window,
) -> AppResult<TimeModel> {
    let line = plant.meta.line(line_id).ok_or(AppError::NotFound)?;
    let stops = load_stops(conn, plant, &line.line_code, window).await?;
    let open_stop = load_open_stop(conn, plant, line_id).await?;
    Ok(TimeModel::build(&LineInputs {
        window: *window,
        now: plant.now,
        tz: plant.tz(),
        shifts: &plant.shifts,
        breaks: &plant.breaks,
        stops: &stops,
        open_stop,
    }))
}

/// One line's [`Totals`] for the window and each bucket.
pub async fn line_totals(
    conn: &mut Conn,
    plant: &Plant<'_>,
    line_id: i64,
    window: &Window,
    buckets: &[Bucket],
    source: CountSource,
) -> AppResult<LineTotals> {
    let model = time_model(conn, plant, line_id, window).await?;
    let (good, rejects) = plant.oee_areas(line_id);
    let mut windows = Vec::with_capacity(buckets.len() + 1);
    windows.push(*window);
    windows.extend(buckets.iter().map(Bucket::window));
    let counted: Vec<KeyCounts> =
        if model.planned.is_empty() || (good.is_empty() && rejects.is_empty()) {
            vec![KeyCounts::new(); windows.len()]
        } else {
            let line = plant.meta.line(line_id).ok_or(AppError::NotFound)?;
            let table =
                DetectionTable::open(conn, &plant.db_name(), line, plant.tenant.data_timezone())
                    .await?;
            let areas: Vec<i64> = good.iter().chain(rejects.iter()).copied().collect();
            query::count_in_windows(
                conn,
                &table,
                &windows,
                Some(&model.planned),
                &areas,
                None,
                source,
            )
            .await?
        };
    let to_counts = |kc: &KeyCounts| {
        let mut c = Counts::new();
        for (key, n) in kc {
            let kind = if good.contains(&key.area_id) {
                AreaKind::Good
            } else if rejects.contains(&key.area_id) {
                AreaKind::Reject
            } else {
                continue;
            };
            c.add(key.product_id.unwrap_or(NO_PRODUCT), kind, *n);
        }
        c
    };
    let overall = model.totals(&to_counts(&counted[0]), &plant.cycle_times);
    let bucket_totals = buckets
        .iter()
        .zip(counted.iter().skip(1))
        .map(|(b, kc)| {
            model
                .restrict(&b.window())
                .totals(&to_counts(kc), &plant.cycle_times)
        })
        .collect();
    Ok(LineTotals {
        line_id,
        overall,
        buckets: bucket_totals,
    })
}

/// The statement [`load_stops`] runs for a line (the benchmarks run it bare).
pub async fn stops_sql(
    conn: &mut Conn,
    plant: &Plant<'_>,
    line_code: &str,
    window: &Window,
) -> AppResult<(String, Vec<mysql_async::Value>)> {
    let table = EventsTable::open(conn, &plant.db_name(), line_code).await?;
    Ok(window::statement(
        &table,
        window,
        plant.tenant.data_timezone(),
        &EventFilter::default(),
        &Order::Any,
    ))
}

/// Stops of a line overlapping `window` (micro-stops included), read by the
/// one reader ([`window::in_window`]), with their reasons' categories.
pub async fn load_stops(
    conn: &mut Conn,
    plant: &Plant<'_>,
    line_code: &str,
    window: &Window,
) -> AppResult<Vec<Stop>> {
    let data_tz = plant.tenant.data_timezone();
    let table = EventsTable::open(conn, &plant.db_name(), line_code).await?;
    let rows = window::in_window(
        conn,
        &table,
        window,
        data_tz,
        &EventFilter::default(),
        &Order::Any,
    )
    .await?;
    let mut clock = DataClock::new(data_tz);
    Ok(rows
        .iter()
        .map(|r| engine_stop(plant, &mut clock, r))
        .collect())
}

/// A stored stop as the OEE engine (and the downtime summary, which builds
/// the same model) sees it: instants, and its reason's category.
pub fn engine_stop(plant: &Plant<'_>, clock: &mut DataClock, r: &StopRow) -> Stop {
    Stop {
        start: clock.to_utc(&r.start),
        end: clock.to_utc(&r.end),
        is_micro: r.is_micro,
        reason_category: r
            .failure_id
            .and_then(|id| plant.meta.failure(id))
            .and_then(|f| ReasonCategory::parse(&f.failure_category)),
        failure_id: r.failure_id,
    }
}

/// The "stopped since" gap after the line's newest output detection, if it
/// exceeds the line's threshold now.
pub async fn load_open_stop(
    conn: &mut Conn,
    plant: &Plant<'_>,
    line_id: i64,
) -> AppResult<Option<OpenStop>> {
    let spec = LineSpec::from_metadata(plant.meta, plant.tenant, line_id)?;
    if spec.output_areas.is_empty() {
        return Ok(None);
    }
    let open = crate::downtime::open_stop(conn, &plant.db_name(), &spec, plant.now).await?;
    // The downtime engine has already applied the threshold at `now`.
    Ok(open.map(|o| OpenStop {
        last_detection: o.since,
        threshold_seconds: 0,
    }))
}

/// The window just before `window` with the same plant-local length (the
/// "previous period" of a comparison): a week of local days stays a week of
/// local days across a DST change.
pub fn previous_window(plant: &Plant<'_>, window: &Window) -> Option<Window> {
    let ls = plant.cal.local(window.start);
    let le = plant.cal.local(window.end);
    let len = le - ls;
    if len <= chrono::Duration::zero() {
        let real = window.end - window.start;
        return Window::new(window.start - real, window.start).ok();
    }
    let start = plant.cal.resolve(ls - len);
    Window::new(start, window.start).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{Product, Shift as MetaShift};
    use crate::tenancy::TenantConfig;
    use chrono::NaiveTime;

    fn tenant() -> Tenant {
        Tenant {
            tenant_id: 1,
            company_name: "t".into(),
            is_active: true,
            config: TenantConfig {
                timezone: Some("Europe/Madrid".into()),
                production_day_start: Some("06:00".into()),
                ..TenantConfig::default()
            },
        }
    }

    fn meta() -> TenantMetadata {
        let mut m = TenantMetadata::default();
        m.products.push(Product {
            product_id: 1,
            product_name: "A".into(),
            product_code: "A".into(),
            ideal_cycle_time_seconds: Some(2.0),
        });
        m.shifts.push(MetaShift {
            shift_id: 1,
            shift_name: "Day".into(),
            start_time: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
            end_time: NaiveTime::from_hms_opt(14, 0, 0).unwrap(),
            days_of_week: None,
            is_active: true,
        });
        m.system_config.insert("max_query_days".into(), "31".into());
        m
    }

    #[test]
    fn plant_reads_the_metadata() {
        let (t, m) = (tenant(), meta());
        let now = DateTime::parse_from_rfc3339("2026-04-15T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let p = Plant::new(&t, &m, now);
        assert_eq!(p.max_query_days(), 31);
        assert_eq!(p.cycle_times.get(1), Some(2.0));
        assert_eq!(p.shifts.len(), 1);
        let w = p
            .resolve_window(
                &WindowQuery {
                    range: Some("today"),
                    ..WindowQuery::default()
                },
                None,
            )
            .unwrap();
        // Production day from 06:00 local.
        assert_eq!(
            dash_core::timeutil::format_instant(w.start, p.tz()),
            "2026-04-15T06:00:00.000+02:00"
        );
        let e = p
            .resolve_window(
                &WindowQuery {
                    start_date: Some("2026-01-01"),
                    end_date: Some("2026-03-01"),
                    range: None,
                },
                None,
            )
            .unwrap_err();
        assert_eq!(e.field(), "end_date");
        // Offset-less dates in another zone when asked.
        let w = p
            .resolve_window(
                &WindowQuery {
                    start_date: Some("2026-04-01"),
                    end_date: Some("2026-04-02"),
                    range: None,
                },
                Some(chrono_tz::UTC),
            )
            .unwrap();
        assert_eq!(w.start.to_rfc3339(), "2026-04-01T00:00:00+00:00");
        let prev = previous_window(&p, &w).unwrap();
        assert_eq!(prev.end, w.start);
        assert_eq!(prev.seconds(), 86_400.0);
        // Hourly buckets over a long window are refused on `interval`.
        let long = Window::new(w.start, w.start + chrono::Duration::days(500)).unwrap();
        assert_eq!(
            p.buckets(&long, Interval::Hour).unwrap_err().field(),
            "interval"
        );
    }
}
