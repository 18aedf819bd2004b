//! Master-key rotation: every stored version sealed under a previous key is sealed again
//! under the current one. Run at start by a server given previous keys; safe to repeat,
//! to interrupt, and to run on several servers at once (each swap is a compare-and-swap
//! on the stored bytes).

use lumio_crypto::{CryptoError, Keyring};
use lumio_store::{Resealed, Store, StoredVersion, VersionKey};

use crate::secrets::place;
use crate::ServiceError;

/// Versions read and swapped per transaction.
const BATCH: i64 = 500;

/// What a rotation pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Versions now sealed under the current key.
    pub moved: u64,
    /// Versions no held key opens (tampered, or under a key this server was not given);
    /// they stay as they are, and the previous keys stay needed.
    pub unreadable: u64,
}

/// Moves every version not under the current key to it.
pub async fn rotate(store: &dyn Store, keys: &Keyring) -> Result<RotationReport, ServiceError> {
    rotate_paced(store, keys, 0).await
}

/// [`rotate`] for a server that is serving meanwhile: after each batch it rests
/// `rest_percent` % of the time the batch took, so the rewrap leaves the cores and the
/// database to requests (an online rotation's `get` latency, docs/benchmarks.md).
pub async fn rotate_paced(
    store: &dyn Store,
    keys: &Keyring,
    rest_percent: u32,
) -> Result<RotationReport, ServiceError> {
    let current = keys.current().id().to_string();
    let mut report = RotationReport::default();
    let mut after: Option<VersionKey> = None;
    loop {
        let batch = store
            .versions_not_under(&current, after.as_ref(), BATCH)
            .await?;
        let Some(last) = batch.last() else {
            return Ok(report);
        };
        let started = std::time::Instant::now();
        after = Some(last.key.clone());
        let mut reseals = Vec::with_capacity(batch.len());
        for stored in batch {
            match reseal(keys, &stored) {
                Ok(sealed) => reseals.push(Resealed {
                    version: StoredVersion {
                        key: stored.key,
                        sealed,
                    },
                    previous: stored.sealed,
                    kek_id: current.clone(),
                }),
                Err(err) => {
                    report.unreadable += 1;
                    let key = &stored.key;
                    tracing::error!(
                        extension_id = key.extension_id,
                        environment = %key.environment,
                        name = %key.name,
                        version = key.version,
                        %err,
                        "a stored secret version could not be moved to the new master key"
                    );
                }
            }
        }
        report.moved += store.apply_reseals(&reseals).await?;
        if rest_percent > 0 {
            tokio::time::sleep(started.elapsed() * rest_percent / 100).await;
        }
    }
}

fn reseal(keys: &Keyring, stored: &StoredVersion) -> Result<Vec<u8>, CryptoError> {
    let key = &stored.key;
    let place = place(key.extension_id, key.environment, &key.name, key.version);
    keys.reseal(&place, &stored.sealed)
}
