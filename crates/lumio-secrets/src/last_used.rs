//! When each token was last used, kept cheaply: a server writes a token's `last_used_at`
//! on its first use and then at most once per [`WRITE_EVERY`], off the request path, so
//! a busy token costs one small UPDATE a minute per server instead of one per request.
//! The listed time may therefore be up to a minute behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lumio_store::Store;

/// Least time between two writes of one token's last use by one server.
pub const WRITE_EVERY: Duration = Duration::from_secs(60);

/// The uses this process has written, by token id.
#[derive(Default)]
pub(crate) struct LastUsed {
    written: Mutex<HashMap<String, Instant>>,
}

impl LastUsed {
    /// Whether a use of `id` at `now` is to be written, remembering that it will be.
    fn due(&self, id: &str, now: Instant) -> bool {
        // Nothing panics while it is held; a poisoned map is still a good map.
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        match written.get_mut(id) {
            Some(at) if now.duration_since(*at) < WRITE_EVERY => false,
            Some(at) => {
                *at = now;
                true
            }
            None => {
                written.insert(id.to_owned(), now);
                true
            }
        }
    }

    /// Notes a use of token `id` at `at`, writing it in the background when due. A failed
    /// write only costs accuracy of the listing, so it is logged, not returned.
    pub(crate) fn seen(&self, store: Arc<dyn Store>, id: &str, at: DateTime<Utc>) {
        if !self.due(id, Instant::now()) {
            return;
        }
        let id = id.to_owned();
        tokio::spawn(async move {
            if let Err(err) = store.touch_token(&id, at).await {
                tracing::warn!(token_id = %id, error = %err, "could not record a token's last use");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_written_at_most_once_a_minute() {
        let last_used = LastUsed::default();
        let start = Instant::now();
        assert!(last_used.due("a", start), "first use");
        assert!(!last_used.due("a", start + Duration::from_secs(1)));
        assert!(!last_used.due("a", start + Duration::from_secs(59)));
        assert!(
            last_used.due("b", start + Duration::from_secs(1)),
            "per token"
        );
        assert!(last_used.due("a", start + Duration::from_secs(61)));
        assert!(!last_used.due("a", start + Duration::from_secs(62)));
    }
}
