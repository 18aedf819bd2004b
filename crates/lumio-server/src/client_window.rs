//! Limits what one client address can make one extension's actions do per minute, where
//! a client that asks on purpose can learn or cost something:
//!
//! - **`secret_leak` answers.** Whether an answer is a leak says whether a value the
//!   caller could not know was in it; a client that sends guesses and watches for 200 or
//!   `secret_leak` is asking an oracle ([`MAX_LEAK_ANSWERS`]).
//! - **Refused reads.** An action that reads names its callers choose writes a
//!   `secret.denied` record per refused name (at most 17 per call); without a limit one
//!   client could grow the audit log by megabytes a second ([`MAX_DENIED_RECORDS`]).
//!
//! Past its share in a window, that address gets 429 from that extension's actions for the
//! rest of the window. The address is the TCP peer's: behind a reverse proxy every client
//! shares the proxy's, which makes the limit stricter, never looser.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `secret_leak` answers one address may get from one extension per window.
pub(crate) const MAX_LEAK_ANSWERS: u32 = 5;

/// `secret.denied` records one address may cause in one extension per window.
pub(crate) const MAX_DENIED_RECORDS: u32 = 300;

/// The window the events are counted in.
const WINDOW: Duration = Duration::from_secs(60);

/// More entries than this and the expired ones are dropped; if none has expired, new
/// addresses are not tracked (memory stays bounded; each address still gets its share).
const MAX_ENTRIES: usize = 10_000;

/// Counts one kind of event per (client address, extension) in a fixed window.
pub(crate) struct ClientWindowLimit {
    max: u32,
    windows: Mutex<HashMap<(IpAddr, String), Window>>,
}

struct Window {
    started: Instant,
    events: u32,
}

impl ClientWindowLimit {
    /// At most `max` events per address and extension a minute.
    pub fn new(max: u32) -> Self {
        Self {
            max,
            windows: Mutex::default(),
        }
    }

    /// `Err(wait)` while `client` has had its share of events in `extension` this window.
    pub fn check(&self, client: IpAddr, extension: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(&(client, extension.to_owned())) {
            Some(window) if window.events >= self.max => {
                match (window.started + WINDOW).checked_duration_since(now) {
                    Some(wait) if !wait.is_zero() => Err(wait),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Counts `events` caused by `client` in `extension`.
    pub fn note(&self, client: IpAddr, extension: &str, events: u32) {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let key = (client, extension.to_owned());
        if windows.len() >= MAX_ENTRIES && !windows.contains_key(&key) {
            windows.retain(|_, w| now.duration_since(w.started) < WINDOW);
            if windows.len() >= MAX_ENTRIES {
                return;
            }
        }
        let window = windows.entry(key).or_insert(Window {
            started: now,
            events: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                events: 0,
            };
        }
        window.events = window.events.saturating_add(events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_its_share_in_a_minute_an_address_is_refused_by_that_extension_only() {
        let limit = ClientWindowLimit::new(MAX_LEAK_ANSWERS);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..MAX_LEAK_ANSWERS {
            assert!(limit.check(a, "ext").is_ok());
            limit.note(a, "ext", 1);
        }
        let wait = limit.check(a, "ext").unwrap_err();
        assert!(wait > Duration::from_secs(58) && wait <= WINDOW, "{wait:?}");
        assert!(limit.check(b, "ext").is_ok(), "another address");
        assert!(limit.check(a, "other").is_ok(), "another extension");
    }

    #[test]
    fn events_are_counted_by_their_number() {
        let limit = ClientWindowLimit::new(MAX_DENIED_RECORDS);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        limit.note(client, "ext", MAX_DENIED_RECORDS - 1);
        assert!(limit.check(client, "ext").is_ok());
        limit.note(client, "ext", 17);
        assert!(limit.check(client, "ext").is_err());
    }
}
