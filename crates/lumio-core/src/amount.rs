//! A whole number and one unit as users type lengths of time (`30m`, `90d`): the part a
//! token lifetime and a due-date period share. Each keeps its own units, limits and words.

/// Why a number-and-unit was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AmountError {
    NoUnit,
    NoNumber,
    UnknownUnit,
    TooLarge,
    Zero,
}

/// Seconds in `text` (a whole number and one of `units`, each with its seconds), never zero.
pub(crate) fn seconds_in(text: &str, units: &[(&str, u64)]) -> Result<u64, AmountError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or(AmountError::NoUnit)?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(AmountError::NoNumber);
    }
    let per_unit = units
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, secs)| *secs)
        .ok_or(AmountError::UnknownUnit)?;
    let number: u64 = number.parse().map_err(|_| AmountError::TooLarge)?;
    if number == 0 {
        return Err(AmountError::Zero);
    }
    number.checked_mul(per_unit).ok_or(AmountError::TooLarge)
}
