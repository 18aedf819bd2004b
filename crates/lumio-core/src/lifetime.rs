//! How long a token lives: `--expires-in 30m`, `12h`, `7d`.

use std::fmt;
use std::time::Duration;

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
        let text = input.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| refuse("it has no unit"))?;
        let (number, unit) = text.split_at(split);
        if number.is_empty() {
            return Err(refuse("it does not start with a number"));
        }
        let seconds_per_unit = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(refuse("the unit is not s, m, h or d")),
        };
        let number: u64 = number
            .parse()
            .map_err(|_| refuse("the number is too large"))?;
        if number == 0 {
            return Err(refuse("it is zero"));
        }
        let seconds = number
            .checked_mul(seconds_per_unit)
            .ok_or_else(|| refuse("it is longer than a year"))?;
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
