//! How many invocations of one extension and environment the log keeps: a token bucket
//! of [`KEPT_PER_SECOND`] with bursts of [`BURST`]. Past it invocations still run as
//! ever; only their log rows are skipped and counted
//! (`lumio_invocation_logs_sampled_out_total`). A developer's loop never comes near it;
//! an extension serving thousands of calls a second would otherwise write a row per call
//! into the database and leave the hourly retention pass millions of rows to delete.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use lumio_core::Environment;

pub(crate) const KEPT_PER_SECOND: f64 = 50.0;
pub(crate) const BURST: f64 = 500.0;

#[derive(Default)]
pub(crate) struct Sampler {
    buckets: Mutex<HashMap<(i64, Environment), Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Sampler {
    /// Whether this invocation's log row is kept.
    pub(crate) fn keep(&self, extension_id: i64, environment: Environment) -> bool {
        self.keep_at(extension_id, environment, Instant::now())
    }

    fn keep_at(&self, extension_id: i64, environment: Environment, now: Instant) -> bool {
        // Nothing panics while it is held; a poisoned map still holds good buckets.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets
            .entry((extension_id, environment))
            .or_insert(Bucket {
                tokens: BURST,
                at: now,
            });
        let earned = now.saturating_duration_since(bucket.at).as_secs_f64() * KEPT_PER_SECOND;
        bucket.tokens = (bucket.tokens + earned).min(BURST);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            metrics::counter!("lumio_invocation_logs_sampled_out_total").increment(1);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_is_kept_then_the_rate_and_other_places_are_apart() {
        let sampler = Sampler::default();
        let start = Instant::now();
        let kept = (0..1000)
            .filter(|_| sampler.keep_at(1, Environment::Production, start))
            .count();
        assert_eq!(kept, BURST as usize, "the burst, then nothing");
        assert!(
            sampler.keep_at(1, Environment::Staging, start),
            "staging has its own bucket"
        );
        assert!(
            sampler.keep_at(2, Environment::Production, start),
            "so has another extension"
        );
        let later = start + Duration::from_secs(1);
        let kept = (0..1000)
            .filter(|_| sampler.keep_at(1, Environment::Production, later))
            .count();
        assert_eq!(
            kept, KEPT_PER_SECOND as usize,
            "a second later, a second's worth"
        );
    }
}
