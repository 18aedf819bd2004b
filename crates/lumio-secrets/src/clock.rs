//! Where the service reads the time for what expires or ages out: tokens, claim codes,
//! support grants, dashboard sessions, and audit retention. The system clock, unless a
//! test gives one it can move ahead, so expiry is tested without waiting.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};

/// A source of the current time; [`Clock::system`] (the default) in every server.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(Utc::now))
    }

    /// A clock that reads `now` (a test's, set ahead by hand).
    pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }

    /// Now, at the microsecond precision both stores keep.
    pub fn now_micros(&self) -> DateTime<Utc> {
        self.now().trunc_subsecs(6)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_reads_what_it_is_given() {
        let at = DateTime::parse_from_rfc3339("2030-01-02T03:04:05.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::from_fn(move || at);
        assert_eq!(clock.now(), at);
        assert_eq!(clock.now_micros().timestamp_subsec_nanos(), 123_456_000);
        let before = Utc::now();
        assert!(Clock::default().now() >= before);
    }
}
