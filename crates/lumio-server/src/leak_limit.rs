//! Repeated `secret_leak` answers from one client address to one extension are limited.
//! Whether an action's answer is a leak says whether a value the caller could not know
//! was in it; a client that sends guesses and watches for 200 or `secret_leak` is asking
//! an oracle. After [`MAX_LEAK_ANSWERS`] such answers in a minute, that address gets 429
//! from that extension's actions for the rest of the minute.
//!
//! The address is the TCP peer's: behind a reverse proxy every client shares the proxy's,
//! which makes the limit stricter, never looser.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `secret_leak` answers one address may get from one extension per window.
pub(crate) const MAX_LEAK_ANSWERS: u32 = 5;

/// The window the answers are counted in.
const WINDOW: Duration = Duration::from_secs(60);

/// More entries than this and the expired ones are dropped; if none has expired, new
/// addresses are not tracked (memory stays bounded; each address still gets its five).
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub(crate) struct LeakAnswerLimit {
    windows: Mutex<HashMap<(IpAddr, String), Window>>,
}

struct Window {
    started: Instant,
    answers: u32,
}

impl LeakAnswerLimit {
    /// `Err(wait)` while `client` has had its share of `secret_leak` answers from
    /// `extension` this window.
    pub fn check(&self, client: IpAddr, extension: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(&(client, extension.to_owned())) {
            Some(window) if window.answers >= MAX_LEAK_ANSWERS => {
                match (window.started + WINDOW).checked_duration_since(now) {
                    Some(wait) if !wait.is_zero() => Err(wait),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Counts a `secret_leak` answer to `client` from `extension`.
    pub fn note_leak(&self, client: IpAddr, extension: &str) {
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
            answers: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                answers: 0,
            };
        }
        window.answers = window.answers.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_leak_answer_in_a_minute_is_refused_for_that_address_and_extension() {
        let limit = LeakAnswerLimit::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..MAX_LEAK_ANSWERS {
            assert!(limit.check(a, "ext").is_ok());
            limit.note_leak(a, "ext");
        }
        let wait = limit.check(a, "ext").unwrap_err();
        assert!(wait > Duration::from_secs(58) && wait <= WINDOW, "{wait:?}");
        assert!(limit.check(b, "ext").is_ok(), "another address");
        assert!(limit.check(a, "other").is_ok(), "another extension");
    }
}
