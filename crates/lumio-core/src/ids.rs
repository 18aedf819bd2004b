//! Identifiers that reach Lumio from users, parsed before anything else sees them.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::limits::MAX_SECRET_NAME_LEN;

/// Why an identifier was refused. The message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    /// The secret name is empty.
    #[error("secret name is empty; use letters, digits and '_', e.g. MY_API_KEY")]
    EmptyName,
    /// The secret name is longer than the limit.
    #[error("secret name is {0} characters long; the limit is {MAX_SECRET_NAME_LEN}")]
    NameTooLong(usize),
    /// The secret name has a character outside `[A-Za-z0-9_]` or starts with a digit.
    #[error("secret name {0:?} is invalid; names match [A-Za-z_][A-Za-z0-9_]*, e.g. MY_API_KEY")]
    NameCharacters(String),
    /// The secret name uses the reserved `LUMIO_` prefix.
    #[error(
        "secret name {0:?} starts with LUMIO_, which is reserved for Lumio; pick another name"
    )]
    ReservedPrefix(String),
    /// The extension name is not a slug.
    #[error("extension name {0:?} is invalid; use 1-63 lowercase letters, digits and '-', starting with a letter")]
    ExtensionSlug(String),
    /// The environment is neither staging nor production.
    #[error("environment {0:?} is unknown; use staging or production")]
    Environment(String),
}

/// Shows at most 64 characters of user input in an error, so a huge name does not flood logs.
fn clip(input: &str) -> String {
    input.chars().take(64).collect()
}

/// A secret's name: `[A-Za-z_][A-Za-z0-9_]*`, at most 256 characters, no `LUMIO_` prefix.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretName(String);

impl SecretName {
    pub fn parse(input: &str) -> Result<Self, InvalidId> {
        if input.is_empty() {
            return Err(InvalidId::EmptyName);
        }
        if input.len() > MAX_SECRET_NAME_LEN {
            return Err(InvalidId::NameTooLong(input.chars().count()));
        }
        let mut chars = input.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(InvalidId::NameCharacters(clip(input)));
        }
        if input.to_ascii_uppercase().starts_with("LUMIO_") {
            return Err(InvalidId::ReservedPrefix(clip(input)));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An extension's name: a DNS-label-like slug, 1-63 of `[a-z0-9-]`, starting with a letter.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtensionSlug(String);

impl ExtensionSlug {
    pub fn parse(input: &str) -> Result<Self, InvalidId> {
        let ok = (1..=63).contains(&input.len())
            && input.starts_with(|c: char| c.is_ascii_lowercase())
            && !input.ends_with('-')
            && input
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(InvalidId::ExtensionSlug(clip(input)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an extension runs. Secrets never cross from one to the other.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Environment {
    Staging,
    Production,
}

impl Environment {
    pub const ALL: [Environment; 2] = [Environment::Staging, Environment::Production];

    pub fn parse(input: &str) -> Result<Self, InvalidId> {
        match input {
            "staging" => Ok(Self::Staging),
            "production" => Ok(Self::Production),
            other => Err(InvalidId::Environment(clip(other))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

macro_rules! display_as_str {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.as_str())
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(SecretName, ExtensionSlug, Environment);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_the_spec() {
        for good in ["MY_API_KEY", "_x", "a1", &"A".repeat(256)] {
            assert!(SecretName::parse(good).is_ok(), "{good}");
        }
        let bad = [
            "",
            "1ABC",
            "../etc",
            "MY KEY",
            "MY-KEY",
            "LUMIO_TOKEN",
            "lumio_token",
            "ΑPI_KEY", // Greek capital alpha, a look-alike
            "API_KEY\u{200b}",
            &"A".repeat(257),
        ];
        for name in bad {
            assert!(SecretName::parse(name).is_err(), "{name:?} was accepted");
        }
    }

    #[test]
    fn errors_say_what_to_do() {
        let err = SecretName::parse("1X").unwrap_err().to_string();
        assert!(err.contains("[A-Za-z_]"), "{err}");
        let err = Environment::parse("prod").unwrap_err().to_string();
        assert!(err.contains("staging or production"), "{err}");
    }

    #[test]
    fn extension_slugs() {
        assert!(ExtensionSlug::parse("espn-scores2").is_ok());
        for bad in ["", "Espn", "-a", "a-", "a_b", "1a", &"a".repeat(64)] {
            assert!(ExtensionSlug::parse(bad).is_err(), "{bad:?}");
        }
    }
}
