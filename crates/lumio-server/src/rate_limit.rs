//! The client plane's rate limit: calls per second per extension, as a token bucket (a
//! burst of one second's worth). The client plane needs no token, so without it one
//! caller could keep an extension's actions — and its audit log — as busy as it liked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// More buckets than this and the full ones (idle extensions) are dropped: unknown
/// extension names in URLs must not grow memory.
const MAX_BUCKETS: usize = 10_000;

/// Calls per second per extension when the operator sets nothing.
pub const DEFAULT_PER_SECOND: u32 = 10_000;

pub(crate) struct ClientRateLimit {
    per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl ClientRateLimit {
    /// `per_second` 0 turns the limit off.
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            buckets: Mutex::default(),
        }
    }

    /// Takes one call from `extension`'s bucket; `Err(wait)` when it is empty.
    pub fn check(&self, extension: &str) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(extension) {
            let per_second = self.per_second;
            buckets.retain(|_, b| b.refilled(now, per_second) < per_second);
        }
        let bucket = buckets.entry(extension.to_owned()).or_insert(Bucket {
            tokens: self.per_second,
            at: now,
        });
        bucket.tokens = bucket.refilled(now, self.per_second);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64(
            (1.0 - bucket.tokens) / self.per_second,
        ))
    }
}

impl Bucket {
    fn refilled(&self, now: Instant, per_second: f64) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * per_second).min(per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_rate_waits_and_other_extensions_are_not_affected() {
        let limit = ClientRateLimit::new(5);
        for _ in 0..5 {
            assert!(limit.check("a").is_ok());
        }
        let wait = limit.check("a").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        assert!(limit.check("b").is_ok(), "a bucket per extension");
        std::thread::sleep(Duration::from_millis(250));
        assert!(limit.check("a").is_ok(), "refilled");
        let off = ClientRateLimit::new(0);
        assert!((0..100).all(|_| off.check("a").is_ok()));
    }
}
