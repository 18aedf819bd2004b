//! The in-process change feed every store owns.

use lumio_core::Environment;
use tokio::sync::broadcast;

use crate::Change;

/// Room for one big import plus slack. A receiver that falls further behind gets
/// `RecvError::Lagged` and must treat it like [`Change::Everything`].
const CAPACITY: usize = 4096;

#[derive(Clone)]
pub(crate) struct Feed {
    sender: broadcast::Sender<Change>,
}

impl Feed {
    pub(crate) fn new() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    pub(crate) fn send(&self, change: Change) {
        // An error only means nobody is subscribed right now.
        let _ = self.sender.send(change);
    }

    pub(crate) fn deployment(&self, extension_id: i64, environment: Environment) {
        self.send(Change::Deployment {
            extension_id,
            environment,
        });
    }

    pub(crate) fn secret(&self, extension_id: i64, environment: Environment, name: &str) {
        self.send(Change::Secret {
            extension_id,
            environment,
            name: name.to_owned(),
        });
    }
}
