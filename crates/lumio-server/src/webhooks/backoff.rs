//! When a failed delivery is tried again: exponential back-off with "equal jitter" (half
//! the delay fixed, half random), so the delays grow at every attempt yet receivers that
//! failed together are not all tried at the same instant.

use std::time::Duration;

/// Longest pause between two attempts.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(60 * 60);

/// The pause after the `attempt`-th failure (1-based).
pub(crate) fn delay(base: Duration, attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    let full = base.saturating_mul(1u32 << doublings).min(MAX_DELAY);
    let half = full / 2;
    half + half.mul_f64(random_fraction())
}

fn random_fraction() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stop_growing_at_the_cap() {
        let base = Duration::from_secs(5);
        let mut previous_max = Duration::ZERO;
        for attempt in 1..=20 {
            let full = base
                .saturating_mul(1 << (attempt - 1).min(30))
                .min(MAX_DELAY);
            let d = delay(base, attempt);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
            // The least delay of an attempt is at least the most of the one before it.
            assert!(full / 2 >= previous_max / 2);
            previous_max = full;
        }
        assert!(delay(base, 1000) <= MAX_DELAY);
    }
}
