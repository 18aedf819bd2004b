//! JSON Schema's `integer` admits `3.0`; serde's `i64` does not. Fields documented as
//! integers accept both, so a client that writes whole numbers as floats is not refused.

use serde::{Deserialize, Deserializer};

pub(crate) fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Int(i64),
        Float(f64),
    }
    match Number::deserialize(deserializer)? {
        Number::Int(n) => Ok(n),
        Number::Float(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_991.0 => Ok(f as i64),
        Number::Float(_) => Err(serde::de::Error::custom(
            "expected a whole number (at most 2^53 - 1)",
        )),
    }
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
