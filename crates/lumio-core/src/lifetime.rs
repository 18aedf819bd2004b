//! How long a token lives: `--expires-in 30m`, `12h`, `7d`.

use std::fmt;
use std::time::Duration;

use crate::amount::{seconds_in, AmountError};

/// The longest lifetime a token may be given; longer-lived tokens are made without one.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// A token lifetime: a whole number and one unit (`s`, `m`, `h`, `d`), at most a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetime(Duration);

/// Why a lifetime was refused; says what a good one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expiry {given:?} is invalid: {why}; use a whole number and a unit, e.g. 30m, 12h or 7d (at most 366d)")]
pub struct InvalidLifetime {
    given: String,
    why: &'static str,
}

impl TokenLifetime {
    pub fn parse(input: &str) -> Result<Self, InvalidLifetime> {
        let refuse = |why| InvalidLifetime {
            given: input.chars().take(32).collect(),
            why,
        };
        let seconds = seconds_in(input, &[("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)])
            .map_err(|err| {
                refuse(match err {
                    AmountError::NoUnit => "it has no unit",
                    AmountError::NoNumber => "it does not start with a number",
                    AmountError::UnknownUnit => "the unit is not s, m, h or d",
                    AmountError::Zero => "it is zero",
                    AmountError::TooLarge => "it is longer than a year",
                })
            })?;
        let duration = Duration::from_secs(seconds);
        if duration > MAX_TOKEN_LIFETIME {
            return Err(refuse("it is longer than a year"));
        }
        Ok(Self(duration))
    }

    pub fn duration(self) -> Duration {
        self.0
    }
}

impl fmt::Display for TokenLifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        match secs {
            s if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse() {
        let secs = |s: &str| TokenLifetime::parse(s).unwrap().duration().as_secs();
        assert_eq!(secs("30m"), 1800);
        assert_eq!(secs("12h"), 43_200);
        assert_eq!(secs("7d"), 604_800);
        assert_eq!(secs("45s"), 45);
        assert_eq!(TokenLifetime::parse("90m").unwrap().to_string(), "90m");
    }

    #[test]
    fn nonsense_is_refused_with_an_example() {
        for bad in [
            "",
            "7",
            "d",
            "-1d",
            "1.5h",
            "0m",
            "7 days",
            "1y",
            "367d",
            "99999999999999999999d",
        ] {
            let err = TokenLifetime::parse(bad).unwrap_err().to_string();
            assert!(err.contains("e.g. 30m, 12h or 7d"), "{bad}: {err}");
        }
    }
}
