//! Online master-key rotation (`lumio admin rotate-master-key`, issue 22 item 3).
//!
//! 1. A new keyring key is generated, wrapped under the unseal key (a KMS that is down
//!    refuses here, before anything changed) and stored; `keyring_current` moves to it by
//!    compare-and-swap, and `keyring_rotation` records `rewrapping <id>`.
//! 2. This server seals under it at once; every other server follows within
//!    [`FOLLOW_EVERY`](crate::keyring::FOLLOW_EVERY) (`keyring.rs`).
//! 3. After [`FOLLOW_GRACE`], every stored version not under the new key is resealed under
//!    it in batches, each swap a compare-and-swap on the stored bytes ([`rotate_paced`](crate::rotation::rotate_paced)), in
//!    passes until one finds none left; then what else the keyring sealed
//!    ([`reseal_meta_records`]), then the old keyring keys are dropped from `keyring_ids`,
//!    and the state becomes `done <id>`.
//!
//! The state is the progress: versions already under the new key are skipped by the next
//! pass, so a server killed mid-way — or any other server — resumes where it stopped
//! ([`SecretsService::resume_if_unfinished`], at start). Reads never fail meanwhile: every server holds every
//! key a version may be under until the end.

use lumio_crypto::MasterKey;
use lumio_store::Store;

use crate::keyring::FOLLOW_GRACE;
use crate::rotation::rotate_paced;
use crate::unseal::{entry, parse_ids, CURRENT, IDS};
use crate::{RequestContext, SecretsService, ServiceError};

/// `lumio_meta` key of the rotation state: `rewrapping <id>` or `done <id>`.
pub(crate) const STATE: &str = "keyring_rotation";
const KEY_CHECK: &str = "key_check";
/// How long the rewrap rests after each batch, in % of the time the batch took: it
/// trades rewrap rate for request latency while serving (docs/benchmarks.md).
/// `LUMIO_ROTATION_REST_PERCENT` overrides it (0: no rest, as fast as it goes).
const REST_PERCENT: u32 = 100;

fn rest_percent() -> u32 {
    std::env::var("LUMIO_ROTATION_REST_PERCENT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(REST_PERCENT)
}
const KEY_ID: &str = "kek_id";

/// What `GET /api/v1/admin/master-key` shows: ids only, never key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterKeyStatus {
    /// The key new versions are sealed under.
    pub current_key: String,
    /// Every key this server holds (the current one first).
    pub held_keys: Vec<String>,
    /// A rotation's rewrap is under way (here or on another server).
    pub rotating: bool,
    /// The key the last rotation moved to, if one ran.
    pub rotation_key: Option<String>,
}

impl SecretsService {
    /// Starts an online rotation and returns at once; the rewrap runs in a task.
    pub async fn rotate_master_key(
        &self,
        ctx: &RequestContext,
    ) -> Result<MasterKeyStatus, ServiceError> {
        ctx.principal.require_admin("rotate the master key")?;
        let Some(unseal) = self.unseal().cloned() else {
            return Err(ServiceError::Conflict(
                "this server was started without an unseal key, so it cannot rotate".into(),
            ));
        };
        let store = self.inner.store.clone();
        self.refresh_keyring().await?;
        if let Some(rotating) = rotating_to(store.as_ref()).await? {
            return Err(ServiceError::Conflict(format!(
                "a master-key rotation to key {rotating} is still rewrapping; wait for it \
                 (`lumio admin rotate-master-key --status`) before starting another"
            )));
        }
        let key = MasterKey::generate();
        let id = key.id().to_string();
        // First, so that a KMS that is down refuses before anything changed.
        let wrapped = unseal.wrap(&key).await?;
        store.meta_put_if_absent(&entry(&id), &wrapped).await?;
        add_id(store.as_ref(), &id).await?;
        let named = match store.meta_get(CURRENT).await? {
            None => store.meta_put_if_absent(CURRENT, id.as_bytes()).await?,
            Some(old) => store.meta_replace(CURRENT, &old, id.as_bytes()).await?,
        };
        if !named {
            return Err(ServiceError::Conflict(
                "another server rotated the master key at the same moment; check \
                 `lumio admin rotate-master-key --status`"
                    .into(),
            ));
        }
        set_state(store.as_ref(), &format!("rewrapping {id}")).await?;
        self.replace_keys(self.keys().with_current(key, Vec::new()));
        tracing::info!(
            key_id = %id,
            actor = %ctx.principal.token_id,
            request_id = %ctx.request_id,
            "master-key rotation started: new versions are sealed under the new key; rewrapping the stored ones"
        );
        self.spawn_rewrap(FOLLOW_GRACE);
        self.master_key_status().await
    }

    /// The keyring as this server holds it, and the rotation state in the database.
    pub async fn master_key_status(&self) -> Result<MasterKeyStatus, ServiceError> {
        let keys = self.keys();
        let state = self.inner.store.meta_get(STATE).await?;
        let state = state.map(|s| String::from_utf8_lossy(&s).into_owned());
        let (rotating, rotation_key) = match state.as_deref().and_then(|s| s.split_once(' ')) {
            Some(("rewrapping", id)) => (true, Some(id.to_owned())),
            Some((_, id)) => (false, Some(id.to_owned())),
            None => (false, None),
        };
        Ok(MasterKeyStatus {
            current_key: keys.current().id().to_string(),
            held_keys: keys.keys().map(|k| k.id().to_string()).collect(),
            rotating,
            rotation_key,
        })
    }

    /// At start, once [`SecretsService::set_unseal`] was called: a rotation left
    /// `rewrapping` (its server was killed or stopped) is carried on in the background.
    pub async fn resume_if_unfinished(&self) -> Result<(), ServiceError> {
        if let Some(id) = rotating_to(self.inner.store.as_ref()).await? {
            tracing::warn!(key_id = %id, "resuming an unfinished master-key rotation");
            self.spawn_rewrap(std::time::Duration::ZERO);
        }
        Ok(())
    }

    fn spawn_rewrap(&self, grace: std::time::Duration) {
        let service = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            // A failure (the database went away) leaves the state `rewrapping`: the next
            // start, here or on any server, resumes.
            if let Err(err) = service.rewrap().await {
                tracing::error!(%err, "master-key rotation stopped; it resumes at the next server start");
            }
        });
    }

    async fn rewrap(&self) -> Result<(), ServiceError> {
        let store = self.inner.store.clone();
        let mut moved = 0;
        let started = std::time::Instant::now();
        loop {
            let keys = self.keys();
            let report = rotate_paced(store.as_ref(), &keys, rest_percent()).await?;
            moved += report.moved;
            if report.unreadable > 0 {
                tracing::error!(
                    unreadable = report.unreadable,
                    "master-key rotation cannot finish: some versions open under no held key \
                     (see above); every old key is kept until they are purged or restored"
                );
                return Ok(());
            }
            let current = keys.current().id().to_string();
            // Versions sealed under an old key by a server that had not yet followed.
            if store
                .versions_not_under(&current, None, 1)
                .await?
                .is_empty()
            {
                break;
            }
        }
        let keys = self.keys();
        reseal_meta_records(store.as_ref(), &keys).await?;
        let current = keys.current().id().to_string();
        retire_old_keys(store.as_ref(), &current).await?;
        set_state(store.as_ref(), &format!("done {current}")).await?;
        tracing::info!(
            key_id = %current,
            moved,
            seconds = started.elapsed().as_secs_f64(),
            "master-key rotation finished: every secret version is sealed under the current key"
        );
        Ok(())
    }
}

/// Reseals what the keyring sealed outside `ext_secrets` under the current key. Today the
/// store's key check; **extend here** for any other record sealed with the `Keyring` in
/// `lumio_meta` (such as the audit chain's key): open it with `keys`, seal it with
/// `keys.current()`, and swap it with `meta_replace` so two servers cannot both win.
pub(crate) async fn reseal_meta_records(
    store: &dyn Store,
    keys: &lumio_crypto::Keyring,
) -> Result<(), ServiceError> {
    // The audit root key first, before the key check moves (as at start): a server that
    // starts from now on holds only the keys in `keyring_ids`.
    crate::audit_root::reseal_audit_root(store, keys).await?;
    crate::webhooks::reseal_signing_secrets(store, keys).await?;
    let current = keys.current();
    if let Some(old) = store.meta_get(KEY_CHECK).await? {
        if lumio_crypto::verify_key_check(current, &old).is_err() {
            let opens = keys
                .keys()
                .any(|key| lumio_crypto::verify_key_check(key, &old).is_ok());
            if opens {
                let new = lumio_crypto::seal_key_check(current);
                store.meta_replace(KEY_CHECK, &old, &new).await?;
            }
        }
    }
    if let Some(old_id) = store.meta_get(KEY_ID).await? {
        store
            .meta_replace(KEY_ID, &old_id, current.id().to_string().as_bytes())
            .await?;
    }
    Ok(())
}

/// Drops every id but the current one from `keyring_ids`: no stored version names them
/// any more, so a server starting from now on does not unwrap them. Their wrapped
/// entries stay (they are useless without the unseal key), so a version a straggling
/// server sealed under one of them in the last instant still opens everywhere
/// (`open_sealed` loads a key it meets by id).
async fn retire_old_keys(store: &dyn Store, current: &str) -> Result<(), ServiceError> {
    loop {
        let old = store.meta_get(IDS).await?.unwrap_or_default();
        let retired: Vec<String> = parse_ids(&old)
            .into_iter()
            .filter(|id| id != current)
            .collect();
        if retired.is_empty() {
            return Ok(());
        }
        if store.meta_replace(IDS, &old, current.as_bytes()).await? {
            return Ok(());
        }
    }
}

/// The key a rotation is rewrapping to, if one is under way.
async fn rotating_to(store: &dyn Store) -> Result<Option<String>, ServiceError> {
    let state = store.meta_get(STATE).await?.unwrap_or_default();
    Ok(String::from_utf8_lossy(&state)
        .strip_prefix("rewrapping ")
        .map(str::to_owned))
}

async fn set_state(store: &dyn Store, state: &str) -> Result<(), ServiceError> {
    loop {
        match store.meta_get(STATE).await? {
            None => {
                if store.meta_put_if_absent(STATE, state.as_bytes()).await? {
                    return Ok(());
                }
            }
            Some(old) => {
                if store.meta_replace(STATE, &old, state.as_bytes()).await? {
                    return Ok(());
                }
            }
        }
    }
}

/// Adds `id` to `keyring_ids` (compare-and-swap, retried on a concurrent change).
async fn add_id(store: &dyn Store, id: &str) -> Result<(), ServiceError> {
    loop {
        match store.meta_get(IDS).await? {
            None => {
                if store.meta_put_if_absent(IDS, id.as_bytes()).await? {
                    return Ok(());
                }
            }
            Some(old) => {
                let mut ids = parse_ids(&old);
                if ids.iter().any(|held| held == id) {
                    return Ok(());
                }
                ids.push(id.to_owned());
                if store
                    .meta_replace(IDS, &old, ids.join("\n").as_bytes())
                    .await?
                {
                    return Ok(());
                }
            }
        }
    }
}
