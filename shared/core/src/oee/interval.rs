//! Sets of half-open `[start, end)` instants: the algebra every OEE quantity
//! is built from (docs/oee.md#oee), at millisecond precision like `DATETIME(3)`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::timeutil::{ms_to_utc, Window};

/// One span of an [`IntervalSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    pub fn window(&self) -> Window {
        Window {
            start: self.start,
            end: self.end,
        }
    }
}

/// A normalized set of disjoint, non-touching, non-empty `[start, end)` spans
/// kept sorted, stored as epoch milliseconds so sums are exact integers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IntervalSet {
    spans: Vec<(i64, i64)>,
}

impl IntervalSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from arbitrary (overlapping, unsorted, empty) ms spans.
    pub fn from_ms(spans: impl IntoIterator<Item = (i64, i64)>) -> Self {
        let mut v: Vec<(i64, i64)> = spans.into_iter().filter(|(s, e)| e > s).collect();
        v.sort_unstable();
        let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
        for (s, e) in v {
            match out.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => out.push((s, e)),
            }
        }
        Self { spans: out }
    }

    /// Builds a set from arbitrary instant pairs (sub-millisecond parts dropped).
    pub fn from_spans(spans: impl IntoIterator<Item = (DateTime<Utc>, DateTime<Utc>)>) -> Self {
        Self::from_ms(
            spans
                .into_iter()
                .map(|(s, e)| (s.timestamp_millis(), e.timestamp_millis())),
        )
    }

    /// The whole window as a set (empty for an empty window).
    pub fn from_window(w: &Window) -> Self {
        Self::from_spans([(w.start, w.end)])
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Number of spans (e.g. to size a SQL query).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// The normalized spans as epoch milliseconds.
    pub fn spans_ms(&self) -> &[(i64, i64)] {
        &self.spans
    }

    /// The normalized spans as instants, in time order.
    pub fn spans(&self) -> impl Iterator<Item = Span> + '_ {
        self.spans.iter().map(|&(s, e)| Span {
            start: ms_to_utc(s),
            end: ms_to_utc(e),
        })
    }

    /// Total length in milliseconds.
    pub fn total_ms(&self) -> i64 {
        self.spans.iter().map(|(s, e)| e - s).sum()
    }

    /// Total length in real elapsed seconds.
    pub fn total_seconds(&self) -> f64 {
        self.total_ms() as f64 / 1000.0
    }

    /// `start <= t < end` for some span.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.contains_ms(t.timestamp_millis())
    }

    pub fn contains_ms(&self, t: i64) -> bool {
        // First span whose end is after t; t is inside iff that span starts at or before t.
        let i = self.spans.partition_point(|&(_, e)| e <= t);
        self.spans.get(i).is_some_and(|&(s, _)| s <= t)
    }

    pub fn union(&self, other: &IntervalSet) -> IntervalSet {
        Self::from_ms(self.spans.iter().chain(other.spans.iter()).copied())
    }

    pub fn intersect(&self, other: &IntervalSet) -> IntervalSet {
        let (a, b) = (&self.spans, &other.spans);
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < a.len() && j < b.len() {
            let s = a[i].0.max(b[j].0);
            let e = a[i].1.min(b[j].1);
            if e > s {
                out.push((s, e));
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        IntervalSet { spans: out }
    }

    pub fn subtract(&self, other: &IntervalSet) -> IntervalSet {
        let b = &other.spans;
        let mut out = Vec::new();
        let mut j = 0;
        for &(s, e) in &self.spans {
            let mut cur = s;
            while j < b.len() && b[j].1 <= cur {
                j += 1;
            }
            let mut k = j;
            while k < b.len() && b[k].0 < e {
                if b[k].0 > cur {
                    out.push((cur, b[k].0));
                }
                cur = cur.max(b[k].1);
                if cur >= e {
                    break;
                }
                k += 1;
            }
            if cur < e {
                out.push((cur, e));
            }
        }
        IntervalSet { spans: out }
    }

    /// The part of the set inside a window.
    pub fn clip(&self, w: &Window) -> IntervalSet {
        self.intersect(&IntervalSet::from_window(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(v: &[(i64, i64)]) -> IntervalSet {
        IntervalSet::from_ms(v.iter().copied())
    }

    #[test]
    fn normalize_merges_touching_and_drops_empty() {
        let s = set(&[(5, 7), (0, 2), (2, 3), (6, 9), (10, 10), (12, 11)]);
        assert_eq!(s.spans_ms(), &[(0, 3), (5, 9)]);
        assert_eq!(s.total_ms(), 7);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn operations() {
        let a = set(&[(0, 10), (20, 30)]);
        let b = set(&[(5, 25)]);
        assert_eq!(a.union(&b).spans_ms(), &[(0, 30)]);
        assert_eq!(a.intersect(&b).spans_ms(), &[(5, 10), (20, 25)]);
        assert_eq!(a.subtract(&b).spans_ms(), &[(0, 5), (25, 30)]);
        assert_eq!(b.subtract(&a).spans_ms(), &[(10, 20)]);
        assert!(a.subtract(&a).is_empty());
        assert_eq!(a.subtract(&IntervalSet::new()), a);
    }

    #[test]
    fn contains_is_half_open() {
        let a = set(&[(0, 10), (20, 30)]);
        assert!(a.contains_ms(0));
        assert!(a.contains_ms(9));
        assert!(!a.contains_ms(10));
        assert!(!a.contains_ms(-1));
        assert!(a.contains_ms(20));
        assert!(!a.contains_ms(30));
        let t = ms_to_utc(25);
        assert!(a.contains(t));
    }

    #[test]
    fn instants_round_trip() {
        let w = Window {
            start: ms_to_utc(1_775_000_000_000),
            end: ms_to_utc(1_775_000_003_500),
        };
        let s = IntervalSet::from_window(&w);
        assert_eq!(s.total_seconds(), 3.5);
        assert_eq!(s.spans().next().unwrap().window(), w);
        assert_eq!(
            s.clip(&Window {
                start: w.start,
                end: ms_to_utc(1_775_000_001_000)
            })
            .total_ms(),
            1000
        );
    }

    fn arb_set() -> impl Strategy<Value = Vec<(i64, i64)>> {
        prop::collection::vec((0i64..60, 0i64..8), 0..8)
            .prop_map(|v| v.into_iter().map(|(s, l)| (s, s + l)).collect())
    }

    fn members(v: &[(i64, i64)]) -> Vec<bool> {
        (0..70)
            .map(|t| v.iter().any(|&(s, e)| s <= t && t < e))
            .collect()
    }

    proptest! {
        #[test]
        fn matches_pointwise_model(a in arb_set(), b in arb_set()) {
            let (sa, sb) = (set(&a), set(&b));
            let (ma, mb) = (members(&a), members(&b));
            let check = |s: &IntervalSet, f: &dyn Fn(bool, bool) -> bool| {
                for t in 0..70 {
                    prop_assert_eq!(s.contains_ms(t), f(ma[t as usize], mb[t as usize]));
                }
                // normalized: sorted, disjoint, non-touching, non-empty
                for w in s.spans_ms().windows(2) {
                    prop_assert!(w[0].1 < w[1].0);
                }
                prop_assert!(s.spans_ms().iter().all(|(x, y)| x < y));
                let count = (0..70).filter(|&t| s.contains_ms(t)).count() as i64;
                prop_assert_eq!(s.total_ms(), count);
                Ok(())
            };
            check(&sa.union(&sb), &|x, y| x || y)?;
            check(&sa.intersect(&sb), &|x, y| x && y)?;
            check(&sa.subtract(&sb), &|x, y| x && !y)?;
            check(&sa, &|x, _| x)?;
        }
    }
}
