//! A secret's due dates (issue 28): when its current version expires and how often it
//! should be rotated. As in Azure Key Vault, the expiry belongs to the version it was set
//! with (a new version without one has none), and the rotation period to the secret (it
//! stays across versions until cleared); a new version restarts the rotation clock, so
//! the secret is to be rotated by its current version's set time plus the period.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::amount::{seconds_in, AmountError};

/// How far ahead a due date counts as `due` unless a caller says otherwise: 14 days.
pub const DEFAULT_DUE_WITHIN_SECS: i64 = 14 * 86_400;

/// The longest period: 10^11 seconds, over 3,000 years. Not a policy (any practical
/// length is allowed) but what keeps every date it makes within years 0–9999, which
/// RFC 3339 and both stores can write.
pub const MAX_PERIOD_SECS: i64 = 100_000_000_000;

/// A length of time a user typed: a whole number and one unit (`s`, `m`, `h`, `d`, `w`),
/// e.g. `90d` or `6w`. Any length that fits in seconds; never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    secs: i64,
}

/// Why a period was refused; says what a good one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("duration {given:?} is invalid: {why}; use a whole number and a unit (s, m, h, d or w), e.g. 90d, 12h or 6w")]
pub struct InvalidPeriod {
    given: String,
    why: &'static str,
}

impl Period {
    pub fn parse(input: &str) -> Result<Self, InvalidPeriod> {
        let refuse = |why| InvalidPeriod {
            given: input.chars().take(32).collect(),
            why,
        };
        let units = [
            ("s", 1),
            ("m", 60),
            ("h", 3600),
            ("d", 86_400),
            ("w", 7 * 86_400),
        ];
        let secs = seconds_in(input, &units).map_err(|err| {
            refuse(match err {
                AmountError::NoUnit => "it has no unit",
                AmountError::NoNumber => "it does not start with a number",
                AmountError::UnknownUnit => "the unit is not s, m, h, d or w",
                AmountError::Zero => "it is zero",
                AmountError::TooLarge => "it is longer than 3,000 years",
            })
        })?;
        let secs = i64::try_from(secs).map_err(|_| refuse("it is longer than 3,000 years"))?;
        Self::from_secs(secs).ok_or_else(|| refuse("it is longer than 3,000 years"))
    }

    /// A period of `secs` seconds: positive and at most [`MAX_PERIOD_SECS`].
    pub fn from_secs(secs: i64) -> Option<Self> {
        (1..=MAX_PERIOD_SECS)
            .contains(&secs)
            .then_some(Self { secs })
    }

    pub fn secs(self) -> i64 {
        self.secs
    }

    /// `at` plus this period; `None` past the last date chrono can hold (never, in effect).
    pub fn after(self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        at.checked_add_signed(TimeDelta::try_seconds(self.secs)?)
    }
}

/// In the largest unit that divides it: `30d`, `6w`, `90m`.
impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.secs;
        for (unit, per) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
            if s % per == 0 {
                return write!(f, "{}{unit}", s / per);
            }
        }
        write!(f, "{s}s")
    }
}

/// A change to one due date: leave it, set it, or remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DueUpdate<T> {
    #[default]
    Keep,
    Set(T),
    Clear,
}

impl<T> DueUpdate<T> {
    /// `None`: keep; `Some(None)`: clear; `Some(Some(v))`: set (a JSON field that is
    /// absent, null or a value).
    pub fn from_option(given: Option<Option<T>>) -> Self {
        match given {
            None => Self::Keep,
            Some(None) => Self::Clear,
            Some(Some(value)) => Self::Set(value),
        }
    }

    pub fn is_keep(&self) -> bool {
        matches!(self, Self::Keep)
    }
}

/// Where a secret stands against its due dates at a moment.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum DueState {
    /// Nothing due within the window (or no due dates).
    #[default]
    Ok,
    /// It expires, or is to be rotated, within the window.
    Due,
    /// Its rotation date has passed.
    Overdue,
    /// Its current version's expiry has passed (actions still get the value).
    Expired,
}

impl DueState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Due => "due",
            Self::Overdue => "overdue",
            Self::Expired => "expired",
        }
    }

    /// Whether a date has passed (what `lumio env due` fails CI on).
    pub fn is_late(self) -> bool {
        matches!(self, Self::Overdue | Self::Expired)
    }
}

impl fmt::Display for DueState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A live secret's two dates, as computed from its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DueDates {
    /// When the current version expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it is to be rotated by: its current version's set time plus the period.
    pub rotate_by: Option<DateTime<Utc>>,
}

impl DueDates {
    /// The state at `now`, counting as `due` what falls within `within_secs` of it. An
    /// expiry that passed outranks an overdue rotation, which outranks anything due.
    pub fn state(&self, now: DateTime<Utc>, within_secs: i64) -> DueState {
        let passed = |at: Option<DateTime<Utc>>| at.is_some_and(|at| at <= now);
        if passed(self.expires_at) {
            return DueState::Expired;
        }
        if passed(self.rotate_by) {
            return DueState::Overdue;
        }
        let horizon = TimeDelta::try_seconds(within_secs.max(0))
            .and_then(|within| now.checked_add_signed(within))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let soon = |at: Option<DateTime<Utc>>| at.is_some_and(|at| at <= horizon);
        if soon(self.expires_at) || soon(self.rotate_by) {
            DueState::Due
        } else {
            DueState::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn periods_of_any_length_parse() {
        let secs = |s: &str| Period::parse(s).unwrap().secs();
        assert_eq!(secs("45s"), 45);
        assert_eq!(secs("90m"), 5400);
        assert_eq!(secs("12h"), 43_200);
        assert_eq!(secs("30d"), 2_592_000);
        assert_eq!(secs("2w"), 1_209_600);
        assert_eq!(secs("3650d"), 315_360_000);
        assert_eq!(Period::parse("14d").unwrap().to_string(), "2w");
        assert_eq!(Period::parse("30d").unwrap().to_string(), "30d");
        assert_eq!(Period::parse("61s").unwrap().to_string(), "61s");
    }

    #[test]
    fn bad_periods_are_refused_with_an_example() {
        for bad in [
            "",
            "7",
            "d",
            "-1d",
            "1.5h",
            "0d",
            "7 days",
            "1y",
            "off",
            "99999999999999999999d",
        ] {
            let err = Period::parse(bad).unwrap_err().to_string();
            assert!(err.contains("e.g. 90d, 12h or 6w"), "{bad}: {err}");
        }
        assert_eq!(Period::from_secs(0), None);
        assert_eq!(Period::from_secs(-5), None);
        assert_eq!(Period::from_secs(MAX_PERIOD_SECS + 1), None);
        assert!(Period::parse("99999999w").is_err());
    }

    #[test]
    fn states_follow_the_dates() {
        let now = at("2030-01-01T00:00:00Z");
        let within = DEFAULT_DUE_WITHIN_SECS;
        let dates = |expires: Option<&str>, rotate: Option<&str>| DueDates {
            expires_at: expires.map(at),
            rotate_by: rotate.map(at),
        };
        assert_eq!(dates(None, None).state(now, within), DueState::Ok);
        let far = Some("2030-03-01T00:00:00Z");
        let soon = Some("2030-01-10T00:00:00Z");
        let past = Some("2029-12-31T00:00:00Z");
        assert_eq!(dates(far, far).state(now, within), DueState::Ok);
        assert_eq!(dates(soon, None).state(now, within), DueState::Due);
        assert_eq!(dates(None, soon).state(now, within), DueState::Due);
        assert_eq!(dates(soon, None).state(now, 86_400), DueState::Ok);
        assert_eq!(dates(None, past).state(now, within), DueState::Overdue);
        assert_eq!(dates(past, past).state(now, within), DueState::Expired);
        // The very moment counts as passed.
        assert_eq!(
            dates(Some("2030-01-01T00:00:00Z"), None).state(now, within),
            DueState::Expired
        );
    }
}
