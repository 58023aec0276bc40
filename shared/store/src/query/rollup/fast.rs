//! The fast reader of a day document: a byte scanner for exactly what
//! [`encode_day`](super::document::encode_day) writes (unsigned integers, a `c` object of product keys
//! holding runs), whitespace and key order free. It reads the whole document
//! into reusable buffers first, so anything else — which it leaves to
//! [`stream`](super::stream), the complete JSON reader, and its errors — is refused before a
//! single count is handed out.

use super::stream::RunSink;

/// A run: its product, first minute and counts (`counts[start..end]`).
pub(super) struct RunRef {
    product: Option<i64>,
    first: u64,
    start: usize,
    end: usize,
}

/// What [`scan`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scan {
    /// The runs, in the buffers.
    Minutes,
    /// The day's totals per product (asked for, and found).
    Totals,
    /// The day's 24 hour totals per product (asked for, and found).
    Hours,
    /// Not a document this reader knows: the buffers mean nothing.
    Unknown,
}

/// What the caller needs of a document: its runs, or — when the
/// document has them — the totals of its day or of its hours.
pub(super) enum Want<'a> {
    Minutes,
    DayTotals(&'a mut Vec<(Option<i64>, u64)>),
    HourTotals(&'a mut Vec<(Option<i64>, [u64; 24])>),
}

/// Reads `text` into `runs` and `counts`, or the totals `want` asks for
/// when the document has them (with [`super::document::encode_day`]'s order, before the
/// runs, which are then not read).
pub(super) fn scan(
    text: &[u8],
    runs: &mut Vec<RunRef>,
    counts: &mut Vec<u64>,
    mut want: Want<'_>,
) -> Scan {
    runs.clear();
    counts.clear();
    match &mut want {
        Want::Minutes => {}
        Want::DayTotals(t) => t.clear(),
        Want::HourTotals(h) => h.clear(),
    }
    let mut p = Parser { b: text, i: 0 };
    match p.doc(runs, counts, want) {
        Some(Scan::Minutes) => {
            p.ws();
            if p.i == p.b.len() {
                Scan::Minutes
            } else {
                Scan::Unknown
            }
        }
        Some(found @ (Scan::Totals | Scan::Hours)) => found,
        _ => Scan::Unknown,
    }
}

/// Hands what [`scan`] read to `sink`, as [`super::stream`] would.
pub(super) fn feed<S: RunSink>(runs: &[RunRef], counts: &[u64], sink: &mut S) {
    let mut current: Option<Option<i64>> = None;
    let mut wanted = false;
    for r in runs {
        if current != Some(r.product) {
            current = Some(r.product);
            wanted = sink.product(r.product);
        }
        if !wanted {
            continue;
        }
        sink.start_run(r.first);
        for &n in &counts[r.start..r.end] {
            sink.count(n);
        }
        sink.end_run();
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// `,` (true) or the closing `end` (false).
    fn next_or_end(&mut self, end: u8) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.i += 1;
                Some(true)
            }
            c if c == end => {
                self.i += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// A JSON unsigned integer (no sign, fraction, exponent or leading zero).
    fn uint(&mut self) -> Option<u64> {
        self.ws();
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        let len = self.i - start;
        if len == 0
            || (len > 1 && self.b[start] == b'0')
            || matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        Some(v)
    }

    /// A string without escapes.
    fn key(&mut self) -> Option<&[u8]> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match *self.b.get(self.i)? {
                b'"' => break,
                b'\\' => return None,
                c if c < 0x20 => return None,
                _ => self.i += 1,
            }
        }
        let key = &self.b[start..self.i];
        self.i += 1;
        Some(key)
    }

    fn doc(
        &mut self,
        runs: &mut Vec<RunRef>,
        counts: &mut Vec<u64>,
        mut want: Want<'_>,
    ) -> Option<Scan> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(Scan::Minutes);
        }
        loop {
            let key = match self.key()? {
                [k @ (b'c' | b't' | b'h')] => *k,
                _ => 0,
            };
            self.eat(b':')?;
            // The totals asked for are all we need (written before the runs).
            match (key, &mut want) {
                (b'c', _) => self.products(runs, counts)?,
                (b't', Want::DayTotals(t)) => {
                    self.totals(t)?;
                    return Some(Scan::Totals);
                }
                (b't', _) => self.totals(&mut Vec::new())?,
                (b'h', Want::HourTotals(h)) => {
                    self.hours(h)?;
                    return Some(Scan::Hours);
                }
                (b'h', _) => self.hours(&mut Vec::new())?,
                _ => {
                    self.uint()?;
                }
            }
            if !self.next_or_end(b'}')? {
                return Some(Scan::Minutes);
            }
        }
    }

    fn product_key(&mut self) -> Option<Option<i64>> {
        let key = self.key()?;
        if key.is_empty() {
            return Some(None);
        }
        Some(Some(std::str::from_utf8(key).ok()?.parse::<i64>().ok()?))
    }

    /// `{"<product>": value, …}`, each value read by `value`.
    fn per_product(
        &mut self,
        mut value: impl FnMut(&mut Self, Option<i64>) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let product = self.product_key()?;
            self.eat(b':')?;
            value(self, product)?;
            if !self.next_or_end(b'}')? {
                return Some(());
            }
        }
    }

    /// `{"<product>": total, …}`
    fn totals(&mut self, out: &mut Vec<(Option<i64>, u64)>) -> Option<()> {
        self.per_product(|p, product| {
            out.push((product, p.uint()?));
            Some(())
        })
    }

    /// `{"<product>": [n0, …, n23], …}`
    fn hours(&mut self, out: &mut Vec<(Option<i64>, [u64; 24])>) -> Option<()> {
        self.per_product(|p, product| {
            p.eat(b'[')?;
            let mut per_hour = [0u64; 24];
            for (h, slot) in per_hour.iter_mut().enumerate() {
                if h > 0 {
                    p.eat(b',')?;
                }
                *slot = p.uint()?;
            }
            p.eat(b']')?;
            out.push((product, per_hour));
            Some(())
        })
    }

    /// `{"<product>": [run, …], …}`
    fn products(&mut self, runs: &mut Vec<RunRef>, counts: &mut Vec<u64>) -> Option<()> {
        self.per_product(|p, product| {
            p.eat(b'[')?;
            if p.peek()? == b']' {
                p.i += 1;
                return Some(());
            }
            loop {
                p.run(product, runs, counts)?;
                if !p.next_or_end(b']')? {
                    return Some(());
                }
            }
        })
    }

    fn run(
        &mut self,
        product: Option<i64>,
        runs: &mut Vec<RunRef>,
        counts: &mut Vec<u64>,
    ) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        let first = self.uint()?;
        let start = counts.len();
        while self.next_or_end(b']')? {
            counts.push(self.uint()?);
        }
        runs.push(RunRef {
            product,
            first,
            start,
            end: counts.len(),
        });
        Some(())
    }
}
