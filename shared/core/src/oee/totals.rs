//! Summable OEE totals and the result shape of docs/api.md#shapes. Ratios are computed
//! only from summed times and counts, never by averaging ratios (docs/oee.md#oee).

use std::collections::BTreeMap;
use std::iter::Sum;
use std::ops::{Add, AddAssign};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::IntervalSet;
use crate::timeutil::{format_instant, Bucket, Window};

/// Which count a detection feeds, from its area's `area_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AreaKind {
    Good,
    Reject,
}

impl AreaKind {
    /// `output` areas count good units, `reject` areas rejects; `input` and
    /// `process` areas do not enter OEE.
    pub fn from_area_type(area_type: &str) -> Option<Self> {
        match area_type.trim().to_ascii_lowercase().as_str() {
            "output" => Some(Self::Good),
            "reject" => Some(Self::Reject),
            _ => None,
        }
    }
}

/// Detections of one product inside planned time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProductCounts {
    pub good: u64,
    pub rejects: u64,
}

impl ProductCounts {
    pub fn total(&self) -> u64 {
        self.good.saturating_add(self.rejects)
    }
}

/// Detections inside planned time per product — what the data layer counts
/// (e.g. `GROUP BY product_id, area_type` over the planned spans).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    per_product: BTreeMap<i64, ProductCounts>,
}

impl Counts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, product_id: i64, kind: AreaKind, n: u64) {
        let c = self.per_product.entry(product_id).or_default();
        match kind {
            AreaKind::Good => c.good = c.good.saturating_add(n),
            AreaKind::Reject => c.rejects = c.rejects.saturating_add(n),
        }
    }

    /// Counts in-memory detections `(detected_at, product_id, kind)` that lie
    /// in `planned` — for callers that stream rows instead of counting in SQL.
    pub fn tally(
        &mut self,
        planned: &IntervalSet,
        detections: impl IntoIterator<Item = (DateTime<Utc>, i64, AreaKind)>,
    ) {
        for (t, product, kind) in detections {
            if planned.contains(t) {
                self.add(product, kind, 1);
            }
        }
    }

    pub fn get(&self, product_id: i64) -> ProductCounts {
        self.per_product
            .get(&product_id)
            .copied()
            .unwrap_or_default()
    }

    pub fn iter(&self) -> impl Iterator<Item = (i64, ProductCounts)> + '_ {
        self.per_product.iter().map(|(k, v)| (*k, *v))
    }

    pub fn good(&self) -> u64 {
        self.per_product.values().map(|c| c.good).sum()
    }

    pub fn rejects(&self) -> u64 {
        self.per_product.values().map(|c| c.rejects).sum()
    }
}

/// Ideal cycle times in seconds per unit: `product.ideal_cycle_time_seconds`,
/// else `system_config.default_ideal_cycle_time_seconds`. Names only make the
/// missing-cycle-time warning readable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CycleTimes {
    pub per_product: BTreeMap<i64, f64>,
    pub default_seconds: Option<f64>,
    pub names: BTreeMap<i64, String>,
}

impl CycleTimes {
    /// The ideal cycle time that applies to a product; zero, negative or
    /// non-finite values count as missing so they cannot fake a performance.
    pub fn get(&self, product_id: i64) -> Option<f64> {
        let valid = |v: f64| (v.is_finite() && v > 0.0).then_some(v);
        self.per_product
            .get(&product_id)
            .copied()
            .and_then(valid)
            .or_else(|| self.default_seconds.and_then(valid))
    }
}

/// Times and counts that add up across lines, buckets and sub-windows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub planned_ms: i64,
    pub downtime_ms: i64,
    pub run_ms: i64,
    pub micro_stop_ms: i64,
    pub good: u64,
    pub rejects: u64,
    /// Σ ideal cycle time × (good + rejects) over products that have one.
    pub ideal_total_seconds: f64,
    /// Σ ideal cycle time × rejects over products that have one.
    pub ideal_reject_seconds: f64,
    /// Products with units counted but no ideal cycle time (id → name if known).
    pub missing_cycle_time: BTreeMap<i64, Option<String>>,
    pub downtime_by_reason_ms: BTreeMap<Option<i64>, i64>,
}

const PERFORMANCE_WARNING: &str = "performance_above_100";
const MISSING_CYCLE_WARNING: &str = "missing_ideal_cycle_time";

impl Totals {
    /// Adds per-product counts and their ideal time.
    pub fn add_counts(&mut self, counts: &Counts, cycle_times: &CycleTimes) {
        for (product, c) in counts.iter() {
            self.good = self.good.saturating_add(c.good);
            self.rejects = self.rejects.saturating_add(c.rejects);
            if c.total() == 0 {
                continue;
            }
            match cycle_times.get(product) {
                Some(ict) => {
                    self.ideal_total_seconds += ict * c.total() as f64;
                    self.ideal_reject_seconds += ict * c.rejects as f64;
                }
                None => {
                    self.missing_cycle_time
                        .insert(product, cycle_times.names.get(&product).cloned());
                }
            }
        }
    }

    pub fn total_units(&self) -> u64 {
        self.good.saturating_add(self.rejects)
    }

    fn seconds(ms: i64) -> f64 {
        ms as f64 / 1000.0
    }

    fn performance_known(&self) -> bool {
        self.missing_cycle_time.is_empty()
    }

    /// `RT / PT`; null without planned time.
    pub fn availability(&self) -> Option<f64> {
        (self.planned_ms > 0).then(|| self.run_ms as f64 / self.planned_ms as f64)
    }

    /// `ideal time of total / RT`; null without run time or when a counted
    /// product has no ideal cycle time. Values above 1 are kept.
    pub fn performance(&self) -> Option<f64> {
        (self.run_ms > 0 && self.performance_known())
            .then(|| self.ideal_total_seconds / Self::seconds(self.run_ms))
    }

    /// `good / total`; null when nothing was counted.
    pub fn quality(&self) -> Option<f64> {
        let total = self.total_units();
        (total > 0).then(|| self.good as f64 / total as f64)
    }

    /// `A × P × Q`. Null when performance is unknown for lack of cycle times.
    /// A line that did not run (A = 0) or ran without producing (P = 0) has
    /// OEE 0 even though P or Q has no denominator: nothing good was made in
    /// planned time.
    pub fn oee(&self) -> Option<f64> {
        if !self.performance_known() {
            return None;
        }
        let a = self.availability()?;
        if a == 0.0 {
            return Some(0.0);
        }
        let p = self.performance()?;
        if p == 0.0 {
            return Some(0.0);
        }
        Some(a * p * self.quality()?)
    }

    /// The six-big-losses breakdown in seconds; speed and quality loss are null
    /// when some counted product has no ideal cycle time.
    pub fn losses(&self) -> Losses {
        let mut by_reason: Vec<ReasonLoss> = self
            .downtime_by_reason_ms
            .iter()
            .filter(|(_, ms)| **ms > 0)
            .map(|(id, ms)| ReasonLoss {
                failure_id: *id,
                seconds: Self::seconds(*ms),
            })
            .collect();
        // Pareto order: longest first; ties by reason id, unjustified last.
        by_reason.sort_by(|a, b| {
            b.seconds
                .total_cmp(&a.seconds)
                .then_with(|| a.failure_id.is_none().cmp(&b.failure_id.is_none()))
                .then_with(|| a.failure_id.cmp(&b.failure_id))
        });
        let known = self.performance_known();
        Losses {
            downtime_by_reason: by_reason,
            micro_stop_seconds: Self::seconds(self.micro_stop_ms),
            speed_loss_seconds: known.then(|| {
                Self::seconds(self.run_ms)
                    - self.ideal_total_seconds
                    - Self::seconds(self.micro_stop_ms)
            }),
            quality_loss_seconds: known.then_some(self.ideal_reject_seconds),
        }
    }

    /// Warnings for figures the user must not take at face value.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut out = Vec::new();
        if !self.missing_cycle_time.is_empty() {
            let named: Vec<String> = self
                .missing_cycle_time
                .iter()
                .map(|(id, name)| match name {
                    Some(n) => format!("{n} (#{id})"),
                    None => format!("#{id}"),
                })
                .collect();
            out.push(Warning {
                code: MISSING_CYCLE_WARNING.to_string(),
                message: format!(
                    "performance and OEE are not available: no ideal cycle time for {}; set the \
                     product's ideal_cycle_time_seconds or default_ideal_cycle_time_seconds",
                    named.join(", ")
                ),
                products: Some(self.missing_cycle_time.keys().copied().collect()),
            });
        }
        if let Some(p) = self.performance().filter(|p| *p > 1.0) {
            out.push(Warning {
                code: PERFORMANCE_WARNING.to_string(),
                message: format!(
                    "performance is {:.1} %, above 100 %: the ideal cycle times are longer than \
                     the line's real pace and should be corrected",
                    p * 100.0
                ),
                products: None,
            });
        }
        out
    }

    /// The docs/api.md#shapes result for these totals over `window`, times formatted in
    /// the plant's offset.
    pub fn to_result(&self, line_ids: &[i64], window: &Window, tz: Tz) -> OeeResult {
        OeeResult {
            line_ids: line_ids.to_vec(),
            label: None,
            start: format_instant(window.start, tz),
            end: format_instant(window.end, tz),
            planned_seconds: Self::seconds(self.planned_ms),
            downtime_seconds: Self::seconds(self.downtime_ms),
            run_seconds: Self::seconds(self.run_ms),
            good: self.good,
            rejects: self.rejects,
            availability: self.availability(),
            performance: self.performance(),
            quality: self.quality(),
            oee: self.oee(),
            losses: self.losses(),
            warnings: self.warnings(),
            buckets: None,
        }
    }

    /// [`Totals::to_result`] for one bucket, carrying its label.
    pub fn to_bucket_result(&self, line_ids: &[i64], bucket: &Bucket, tz: Tz) -> OeeResult {
        let mut r = self.to_result(line_ids, &bucket.window(), tz);
        r.label = Some(bucket.label.clone());
        r
    }
}

impl AddAssign<&Totals> for Totals {
    fn add_assign(&mut self, o: &Totals) {
        self.planned_ms += o.planned_ms;
        self.downtime_ms += o.downtime_ms;
        self.run_ms += o.run_ms;
        self.micro_stop_ms += o.micro_stop_ms;
        self.good = self.good.saturating_add(o.good);
        self.rejects = self.rejects.saturating_add(o.rejects);
        self.ideal_total_seconds += o.ideal_total_seconds;
        self.ideal_reject_seconds += o.ideal_reject_seconds;
        for (id, name) in &o.missing_cycle_time {
            let entry = self.missing_cycle_time.entry(*id).or_insert(None);
            if entry.is_none() {
                entry.clone_from(name);
            }
        }
        for (reason, ms) in &o.downtime_by_reason_ms {
            *self.downtime_by_reason_ms.entry(*reason).or_insert(0) += ms;
        }
    }
}

impl AddAssign for Totals {
    fn add_assign(&mut self, o: Totals) {
        *self += &o;
    }
}

impl Add for Totals {
    type Output = Totals;
    fn add(mut self, o: Totals) -> Totals {
        self += &o;
        self
    }
}

impl<'a> Sum<&'a Totals> for Totals {
    fn sum<I: Iterator<Item = &'a Totals>>(iter: I) -> Totals {
        iter.fold(Totals::default(), |mut acc, t| {
            acc += t;
            acc
        })
    }
}

impl Sum for Totals {
    fn sum<I: Iterator<Item = Totals>>(iter: I) -> Totals {
        iter.fold(Totals::default(), |mut acc, t| {
            acc += &t;
            acc
        })
    }
}

/// Downtime of one reason (`failure_id` null = not justified yet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonLoss {
    pub failure_id: Option<i64>,
    pub seconds: f64,
}

/// The loss breakdown of docs/oee.md#oee, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Losses {
    pub downtime_by_reason: Vec<ReasonLoss>,
    pub micro_stop_seconds: f64,
    /// `RT − ideal time of total − micro-stop time`; negative when P > 100 %.
    pub speed_loss_seconds: Option<f64>,
    /// Ideal time of the rejects.
    pub quality_loss_seconds: Option<f64>,
}

/// A caveat attached to a result; `products` lists the product ids concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<i64>>,
}

/// An OEE result (docs/api.md#shapes). Buckets carry the same fields plus `label`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OeeResult {
    pub line_ids: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub start: String,
    pub end: String,
    pub planned_seconds: f64,
    pub downtime_seconds: f64,
    pub run_seconds: f64,
    pub good: u64,
    pub rejects: u64,
    pub availability: Option<f64>,
    pub performance: Option<f64>,
    pub quality: Option<f64>,
    pub oee: Option<f64>,
    pub losses: Losses,
    pub warnings: Vec<Warning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<OeeResult>>,
}

impl OeeResult {
    pub fn with_buckets(mut self, buckets: Vec<OeeResult>) -> Self {
        self.buckets = Some(buckets);
        self
    }
}
