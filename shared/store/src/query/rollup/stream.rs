//! Streaming reader of a day document (`{"v":1,"rows":n,"c":{"<product>":
//! [[first_minute, n, n, …], …]}}`, in any key order and spacing, as MySQL 8
//! returns JSON): the runs go to a [`RunSink`] as they are parsed.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::{AppError, AppResult};

pub(super) trait RunSink {
    /// The runs of `product` follow; `false` skips them.
    fn product(&mut self, product: Option<i64>) -> bool;
    /// A run starting at minute `first` of the day.
    fn start_run(&mut self, first: u64);
    /// The count of the run's next minute.
    fn count(&mut self, n: u64);
    fn end_run(&mut self);
}

pub(super) fn read_doc<S: RunSink>(text: &str, sink: &mut S) -> AppResult<()> {
    let mut de = serde_json::Deserializer::from_str(text);
    Doc(sink)
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| AppError::internal(format!("unreadable rollup row: {e}")))
}

/// Each of these visitors of the document's parts is its own seed: it holds
/// the sink and deserializes as a map or a sequence.
macro_rules! seed_of_itself {
    ($($part:ident: $deserialize:ident),* $(,)?) => {$(
        impl<'de, S: RunSink> DeserializeSeed<'de> for $part<'_, S> {
            type Value = ();
            fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.$deserialize(self)
            }
        }
    )*};
}

seed_of_itself!(
    Doc: deserialize_map,
    Products: deserialize_map,
    Runs: deserialize_seq,
    Run: deserialize_seq,
);

struct Doc<'a, S>(&'a mut S);

impl<'de, S: RunSink> Visitor<'de> for Doc<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a rollup day document")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let sink = self.0;
        while let Some(is_counts) = map.next_key_seed(KeyIs("c"))? {
            if is_counts {
                map.next_value_seed(Products(&mut *sink))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// A map key, compared with a name.
struct KeyIs(&'static str);

impl<'de> DeserializeSeed<'de> for KeyIs {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

/// A product key: `""` for none, else its id.
struct ProductKey;

impl<'de> DeserializeSeed<'de> for ProductKey {
    type Value = Option<i64>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for ProductKey {
    type Value = Option<i64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a product id")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<i64>, E> {
        if v.is_empty() {
            return Ok(None);
        }
        v.parse()
            .map(Some)
            .map_err(|_| E::custom("unreadable rollup product key"))
    }
}

struct Products<'a, S>(&'a mut S);

impl<'de, S: RunSink> Visitor<'de> for Products<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("counts by product")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let sink = self.0;
        while let Some(product) = map.next_key_seed(ProductKey)? {
            if sink.product(product) {
                map.next_value_seed(Runs(&mut *sink))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Runs<'a, S>(&'a mut S);

impl<'de, S: RunSink> Visitor<'de> for Runs<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("runs of minutes")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let sink = self.0;
        while seq.next_element_seed(Run(&mut *sink))?.is_some() {}
        Ok(())
    }
}

struct Run<'a, S>(&'a mut S);

impl<'de, S: RunSink> Visitor<'de> for Run<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a run [first_minute, n, …]")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let sink = self.0;
        let Some(first) = seq.next_element::<u64>()? else {
            return Ok(());
        };
        sink.start_run(first);
        while let Some(n) = seq.next_element::<u64>()? {
            sink.count(n);
        }
        sink.end_run();
        Ok(())
    }
}
