//! Secret values: wiped from memory on drop, `[REDACTED]` when printed, never `Serialize`.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::limits::MAX_SECRET_VALUE_BYTES;

/// Why a value was refused. Never includes the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The value is larger than 64 KiB.
    #[error("secret value is {0} bytes; the limit is 65536 bytes (64 KiB). Store large files elsewhere and keep only a key here")]
    TooLarge(usize),
    /// The value is not valid UTF-8.
    #[error("secret value is not valid UTF-8; encode binary values as base64 first")]
    NotUtf8,
}

/// A secret's plaintext. The only way to see it is [`SecretValue::expose`], which
/// makes every use easy to find in review.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretValue(String);

impl SecretValue {
    /// Accepts a value within the limits of SPEC §7.
    pub fn new(value: String) -> Result<Self, ValueError> {
        let value = Self(value);
        if value.0.len() > MAX_SECRET_VALUE_BYTES {
            return Err(ValueError::TooLarge(value.0.len()));
        }
        Ok(value)
    }

    /// Accepts bytes that must be UTF-8 within the limits. The input is wiped either way.
    pub fn from_bytes(mut bytes: Vec<u8>) -> Result<Self, ValueError> {
        match String::from_utf8(std::mem::take(&mut bytes)) {
            Ok(text) => Self::new(text),
            Err(err) => {
                err.into_bytes().zeroize();
                Err(ValueError::NotUtf8)
            }
        }
    }

    /// The plaintext. Call only where the value must leave Lumio's types:
    /// encryption, the action sandbox.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let value = SecretValue::new("sk-canary-debug".into()).unwrap();
        assert_eq!(format!("{value:?}"), "[REDACTED]");
        assert_eq!(format!("{:?}", Some(&value)), "Some([REDACTED])");
    }

    #[test]
    fn limits() {
        assert!(SecretValue::new("x".repeat(MAX_SECRET_VALUE_BYTES)).is_ok());
        assert_eq!(
            SecretValue::new("x".repeat(MAX_SECRET_VALUE_BYTES + 1)).unwrap_err(),
            ValueError::TooLarge(MAX_SECRET_VALUE_BYTES + 1)
        );
        assert_eq!(
            SecretValue::from_bytes(vec![0xff, 0xfe]).unwrap_err(),
            ValueError::NotUtf8
        );
    }
}
