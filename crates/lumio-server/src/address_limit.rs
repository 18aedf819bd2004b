//! Answers that help a guesser, counted per client address: after `max` of them in a
//! minute, that address is refused (429) for the rest of the minute. Two uses:
//!
//! - `secret_leak` answers per address and extension ([`MAX_LEAK_ANSWERS`]): whether an
//!   action's answer is a leak says whether a value the caller could not know was in it;
//!   a client that sends guesses and watches for 200 or `secret_leak` asks an oracle.
//! - failed sign-ins and bad tokens per address ([`MAX_AUTH_FAILURES`], `auth_throttle.rs`).
//! - `secret.denied` records per address and extension ([`MAX_DENIED_RECORDS`]): an action
//!   that reads names its callers choose writes a record per refused name (at most 17 per
//!   call); without a limit one client could grow the audit log by megabytes a second.
//!
//! The address is the TCP peer's: behind a reverse proxy every client shares the proxy's,
//! which makes the limit stricter, never looser.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `secret_leak` answers one address may get from one extension per window.
pub(crate) const MAX_LEAK_ANSWERS: u32 = 5;
/// Refused tokens and sign-ins one address may have per window without a good one in
/// between (a good one starts the count again, see `auth_throttle.rs`).
pub(crate) const MAX_AUTH_FAILURES: u32 = 10;

/// `secret.denied` records one address may cause in one extension per window.
pub(crate) const MAX_DENIED_RECORDS: u32 = 300;

/// The window the answers are counted in.
const WINDOW: Duration = Duration::from_secs(60);

/// More entries than this and the expired ones are dropped; if none has expired, new
/// addresses are not tracked (memory stays bounded; each address still gets its share).
const MAX_ENTRIES: usize = 10_000;

/// Counts per (address, scope); the scope is an extension, or empty for the whole server.
pub(crate) struct AddressLimit {
    max: u32,
    windows: Mutex<HashMap<(IpAddr, String), Window>>,
}

struct Window {
    started: Instant,
    answers: u32,
}

impl AddressLimit {
    /// At most `max` counted answers per address and scope a minute.
    pub fn new(max: u32) -> Self {
        Self {
            max,
            windows: Mutex::default(),
        }
    }

    /// How many counted answers an address may have per window.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// `Err(wait)` while `client` has had its share of answers in `scope` this window.
    pub fn check(&self, client: IpAddr, scope: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(&(client, scope.to_owned())) {
            Some(window) if window.answers >= self.max => {
                match (window.started + WINDOW).checked_duration_since(now) {
                    Some(wait) if !wait.is_zero() => Err(wait),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Forgets the answers counted for `client` in `scope`.
    pub fn clear(&self, client: IpAddr, scope: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows.remove(&(client, scope.to_owned()));
    }

    /// Counts an answer to `client` in `scope`.
    pub fn note(&self, client: IpAddr, scope: &str) {
        self.note_many(client, scope, 1);
    }

    /// Counts `count` answers (or records) at once.
    pub fn note_many(&self, client: IpAddr, scope: &str, count: u32) {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let key = (client, scope.to_owned());
        if windows.len() >= MAX_ENTRIES && !windows.contains_key(&key) {
            windows.retain(|_, w| now.duration_since(w.started) < WINDOW);
            if windows.len() >= MAX_ENTRIES {
                return;
            }
        }
        let window = windows.entry(key).or_insert(Window {
            started: now,
            answers: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                answers: 0,
            };
        }
        window.answers = window.answers.saturating_add(count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_after_the_share_in_a_minute_is_refused_for_that_address_and_scope() {
        let limit = AddressLimit::new(MAX_LEAK_ANSWERS);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..MAX_LEAK_ANSWERS {
            assert!(limit.check(a, "ext").is_ok());
            limit.note(a, "ext");
        }
        let wait = limit.check(a, "ext").unwrap_err();
        assert!(wait > Duration::from_secs(58) && wait <= WINDOW, "{wait:?}");
        assert!(limit.check(b, "ext").is_ok(), "another address");
        assert!(limit.check(a, "other").is_ok(), "another scope");
        limit.clear(a, "ext");
        assert!(limit.check(a, "ext").is_ok(), "cleared");
    }

    #[test]
    fn records_are_counted_by_their_number() {
        let limit = AddressLimit::new(MAX_DENIED_RECORDS);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        limit.note_many(client, "ext", MAX_DENIED_RECORDS - 1);
        assert!(limit.check(client, "ext").is_ok());
        limit.note_many(client, "ext", 17);
        assert!(limit.check(client, "ext").is_err());
    }
}
