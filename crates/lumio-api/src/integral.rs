//! JSON Schema's `integer` admits `3.0`; serde's `i64` does not. Fields documented as
//! integers accept both, so a client that writes whole numbers as floats is not refused.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// Whole numbers up to 2^53 - 1 (the integers every JSON client reads exactly).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

pub(crate) fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    deserializer.deserialize_any(WholeNumber)
}

struct WholeNumber;

impl Visitor<'_> for WholeNumber {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<i64, E> {
        Ok(n)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<i64, E> {
        i64::try_from(n).map_err(|_| E::custom("the number is too large"))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<i64, E> {
        if f.fract() == 0.0 && f.abs() <= MAX_SAFE {
            Ok(f as i64)
        } else {
            Err(E::custom("expected a whole number (at most 2^53 - 1)"))
        }
    }
}

/// A whole number as [`whole_number`] reads it, for use inside `Option`.
struct Whole(i64);

impl<'de> serde::Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        whole_number(deserializer).map(Whole)
    }
}

/// An optional whole number (absent or null: `None`).
pub(crate) fn optional_whole_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    Ok(<Option<Whole> as serde::Deserialize>::deserialize(deserializer)?.map(|w| w.0))
}

/// A field that may be absent (`None`, with `#[serde(default)]`), null (`Some(None)`) or
/// a whole number.
pub(crate) fn nullable_whole_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<i64>>, D::Error> {
    optional_whole_number(deserializer).map(Some)
}

/// A field that may be absent (`None`, with `#[serde(default)]`), null (`Some(None)`) or
/// a value.
pub(crate) fn nullable<'de, T: serde::Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use crate::secrets::Rollback;

    #[test]
    fn whole_floats_are_whole_numbers() {
        let r: Rollback = serde_json::from_str(r#"{"version": 3.0}"#).unwrap();
        assert_eq!(r.version, 3);
        let r: Rollback = serde_json::from_str(r#"{"version": 7}"#).unwrap();
        assert_eq!(r.version, 7);
        assert!(serde_json::from_str::<Rollback>(r#"{"version": 2.5}"#).is_err());
        assert!(serde_json::from_str::<Rollback>(r#"{"version": "1"}"#).is_err());
    }
}
