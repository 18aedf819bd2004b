//! Managing secrets: set, import, list, delete, history, rollback. Each change is sealed
//! before it reaches the store and commits in one transaction with its audit record.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lumio_core::{
    AllowedHosts, AuditEvent, DueUpdate, Environment, ExtensionSlug, Period, Role, SecretName,
    SecretValue, MAX_SECRETS_PER_ENVIRONMENT,
};
use lumio_crypto::SecretPlace;
use lumio_store::{AuditRecord, Extension, NewVersion, SecretHead, StoreError, VersionInfo};

use crate::bindings::binding_record;
use crate::due_dates::{expiry_at, set_detail, DueOnSet};
use crate::extensions::change_record;
use crate::{RequestContext, SecretsService, ServiceError};

/// How often a write is retried when another writer bumped the same secret first.
const WRITE_ATTEMPTS: u32 = 8;
/// Longest pause before a retried write.
const MAX_RETRY_DELAY_MS: u64 = 64;

/// A random pause up to 2^attempt ms (at most [`MAX_RETRY_DELAY_MS`]): full jitter.
fn retry_delay(attempt: u32) -> std::time::Duration {
    let mut bytes = [0u8; 2];
    // Without randomness the pause is the bound: still a back-off, only not jittered.
    let random = getrandom::getrandom(&mut bytes).map_or(u16::MAX, |()| u16::from_le_bytes(bytes));
    let bound = (1u64 << attempt.min(16)).min(MAX_RETRY_DELAY_MS) * 1000;
    std::time::Duration::from_micros(bound * u64::from(random) / u64::from(u16::MAX))
}

/// A secret as a management caller sees it: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSummary {
    pub name: SecretName,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    /// The binding this change set; `None` when it left the binding alone.
    pub allowed_hosts: Option<AllowedHosts>,
    /// When the new version expires; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// The rotation period this change gave or cleared; `Keep` when it left it alone.
    pub rotate_every: DueUpdate<Period>,
    /// When the new version was written, by the service's clock (the rotation clock's start).
    pub set_at: DateTime<Utc>,
}

impl SecretSummary {
    /// When the secret is to be rotated by, if this change gave it a period.
    pub fn rotate_by(&self) -> Option<DateTime<Utc>> {
        match self.rotate_every {
            DueUpdate::Set(period) => period.after(self.set_at),
            _ => None,
        }
    }
}

/// What a set changes besides the value; the default changes nothing else (and gives the
/// new version no expiry).
#[derive(Debug, Clone, Default)]
pub struct SetOptions {
    /// Binds the secret to these hosts in the same transaction; `None`: binding unchanged.
    pub allowed_hosts: Option<AllowedHosts>,
    pub due: DueOnSet,
}

/// One name written by an import (or any write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedSecret {
    pub name: SecretName,
    pub version: i64,
    /// When it was written, by the service's clock.
    pub set_at: DateTime<Utc>,
}

/// The kept versions of one secret, newest first.
#[derive(Debug, Clone)]
pub struct SecretHistory {
    pub name: SecretName,
    pub current_version: Option<i64>,
    pub versions: Vec<VersionInfo>,
}

impl SecretsService {
    /// Resolves the extension and checks the caller's role and environment scope in one
    /// step, before anything in the environment is read.
    pub(crate) async fn authorized(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        needed: Role,
        action: &'static str,
    ) -> Result<Extension, ServiceError> {
        let extension = self.visible_extension(ctx, slug).await?;
        ctx.principal
            .require_in(&extension, environment, needed, action)?;
        Ok(extension)
    }

    /// Sets a secret, making a new version (its `secret.set` record in the same transaction).
    /// Its egress binding stays as it is.
    pub async fn set(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        name: &SecretName,
        value: &SecretValue,
    ) -> Result<SecretSummary, ServiceError> {
        self.set_bound(ctx, slug, environment, name, value, None)
            .await
    }

    /// [`Self::set`] that also binds the secret to `allowed_hosts` when given, in the same
    /// transaction (with a `secret.binding_changed` record too), so the new value is never
    /// stored unbound.
    #[tracing::instrument(skip_all, fields(extension = %slug, environment = %environment, name = %name))]
    pub async fn set_bound(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        name: &SecretName,
        value: &SecretValue,
        allowed_hosts: Option<&AllowedHosts>,
    ) -> Result<SecretSummary, ServiceError> {
        let options = SetOptions {
            allowed_hosts: allowed_hosts.cloned(),
            due: DueOnSet::default(),
        };
        self.set_with(ctx, slug, environment, name, value, &options)
            .await
    }

    /// [`Self::set_bound`] with due dates: the new version's expiry (refused unless in the
    /// future, before anything is written) and the secret's rotation period, all in the
    /// same transaction and said in the `secret.set` record's detail.
    #[tracing::instrument(skip_all, fields(extension = %slug, environment = %environment, name = %name))]
    pub async fn set_with(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        name: &SecretName,
        value: &SecretValue,
        options: &SetOptions,
    ) -> Result<SecretSummary, ServiceError> {
        let extension = self
            .authorized(ctx, slug, environment, Role::Developer, "set secrets")
            .await?;
        let now = self.now_micros();
        let expires_at = options
            .due
            .expires
            .map(|expires| expiry_at(expires, now))
            .transpose()?;
        let rotate_every = options.due.rotate_every;
        let written = self
            .write(
                ctx,
                &extension,
                environment,
                &[(name.clone(), value)],
                Written {
                    event: AuditEvent::SecretSet,
                    allowed_hosts: options.allowed_hosts.as_ref(),
                    per_pair: None,
                    expires_at,
                    rotate_every,
                },
                |w| {
                    let due = set_detail(w.expires_at, w.rotate_every);
                    format!("version {}{due}", w.version)
                },
            )
            .await?;
        let version = written[0].version;
        Ok(SecretSummary {
            name: name.clone(),
            version,
            updated_at: self.now(),
            updated_by: ctx.principal.actor(),
            allowed_hosts: options.allowed_hosts.clone(),
            expires_at,
            rotate_every,
            set_at: written[0].set_at,
        })
    }

    /// Sets every pair at once: all are checked first, then written in one transaction.
    #[tracing::instrument(skip_all, fields(extension = %slug, environment = %environment))]
    pub async fn import(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        pairs: Vec<(String, String)>,
    ) -> Result<Vec<ImportedSecret>, ServiceError> {
        let extension = self
            .authorized(ctx, slug, environment, Role::Developer, "import secrets")
            .await?;
        // Later duplicates win, as when a shell sources the file.
        let mut parsed = BTreeMap::new();
        for (name, value) in pairs {
            let name = SecretName::parse(&name)?;
            let value = SecretValue::new(value)
                .map_err(|err| ServiceError::InvalidValue(format!("{name}: {err}")))?;
            parsed.insert(name, value);
        }
        if parsed.is_empty() {
            return Err(ServiceError::InvalidValue(
                "the import holds no secrets; add NAME=value lines".to_owned(),
            ));
        }
        let pairs: Vec<_> = parsed.iter().map(|(n, v)| (n.clone(), v)).collect();
        self.write(
            ctx,
            &extension,
            environment,
            &pairs,
            Written::event(AuditEvent::SecretImport),
            |w| format!("version {}", w.version),
        )
        .await
    }

    /// Live secrets of an environment, by name.
    pub async fn list(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
    ) -> Result<Arc<Vec<SecretHead>>, ServiceError> {
        let extension = self
            .authorized(ctx, slug, environment, Role::Viewer, "list secrets")
            .await?;
        let key = (extension.id, environment);
        if let Some(hit) = self.inner.cache.lists.get(&key) {
            return Ok(hit);
        }
        let seen = self.inner.cache.begin_read();
        let list = Arc::new(
            self.inner
                .store
                .list_live(extension.id, environment)
                .await?,
        );
        self.inner.cache.fill_list(seen, key, Arc::clone(&list));
        Ok(list)
    }

    /// Makes a secret unreadable at once. Without `purge` its versions stay for rollback;
    /// with it (owners only) every version is destroyed.
    pub async fn delete(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        name: &SecretName,
        purge: bool,
    ) -> Result<(), ServiceError> {
        let (needed, action) = if purge {
            (Role::Owner, "purge secrets")
        } else {
            (Role::Developer, "delete secrets")
        };
        let extension = self
            .authorized(ctx, slug, environment, needed, action)
            .await?;
        let actor = &ctx.principal.actor();
        let detail = purge.then(|| "purged every version".to_owned());
        let audit = change_record(
            ctx,
            extension.id,
            Some(environment),
            AuditEvent::SecretDelete,
            Some(name.as_str()),
            detail,
        );
        let deleted = self
            .inner
            .store
            .delete_secret(extension.id, environment, name, actor, purge, &[audit])
            .await?;
        if !deleted {
            return Err(not_found(name, &extension, environment));
        }
        self.invalidate(&extension, environment, name);
        if purge {
            // The name starts again at version 1.
            self.inner.versions.forget(extension.id, environment, name);
        }
        Ok(())
    }

    /// The kept versions of a secret, newest first (deleted secrets too, until purged).
    pub async fn history(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        name: &SecretName,
    ) -> Result<SecretHistory, ServiceError> {
        let extension = self
            .authorized(ctx, slug, environment, Role::Viewer, "read history")
            .await?;
        let store = &self.inner.store;
        let head = store.head(extension.id, environment, name).await?;
        let head = head.ok_or_else(|| not_found(name, &extension, environment))?;
        let versions = store.history(extension.id, environment, name).await?;
        Ok(SecretHistory {
            name: name.clone(),
            current_version: head.current_version,
            versions,
        })
    }

    /// Makes a kept version's value current again, as a new version.
    pub async fn rollback(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        name: &SecretName,
        version: i64,
    ) -> Result<SecretSummary, ServiceError> {
        let extension = self
            .authorized(ctx, slug, environment, Role::Developer, "roll back secrets")
            .await?;
        let store = &self.inner.store;
        let old = store
            .version(extension.id, environment, name, version)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "version {version} of secret {name} in {}/{environment}",
                    extension.slug
                ))
            })?;
        let place = place(extension.id, environment, name, version);
        let value = self.open_sealed(&place, &old.sealed).await?;
        let written = self
            .write(
                ctx,
                &extension,
                environment,
                &[(name.clone(), &value)],
                Written::event(AuditEvent::SecretRollback),
                |w| format!("restored version {version} as version {}", w.version),
            )
            .await?;
        let new_version = written[0].version;
        Ok(SecretSummary {
            name: name.clone(),
            version: new_version,
            updated_at: self.now(),
            updated_by: ctx.principal.actor(),
            allowed_hosts: None,
            expires_at: None,
            rotate_every: DueUpdate::Keep,
            set_at: written[0].set_at,
        })
    }

    /// Seals each value as the next version of its name and writes all in one transaction
    /// with an audit record per name (`how.event`, its detail from `detail`, and a
    /// `secret.binding_changed` one if `how` binds), retrying when a concurrent writer got
    /// there first.
    pub(crate) async fn write(
        &self,
        ctx: &RequestContext,
        extension: &Extension,
        environment: Environment,
        pairs: &[(SecretName, &SecretValue)],
        how: Written<'_>,
        detail: impl Fn(&NewVersion) -> String,
    ) -> Result<Vec<ImportedSecret>, ServiceError> {
        let store = &self.inner.store;
        let names: Vec<SecretName> = pairs.iter().map(|(name, _)| name.clone()).collect();
        let hints = &self.inner.versions;
        let _turns = self
            .inner
            .turns
            .take(extension.id, environment, &names)
            .await;
        // The first attempt trusts the hints; a conflict means they were stale.
        let mut hinted = hints.get(extension.id, environment, &names);
        for attempt in 0..WRITE_ATTEMPTS {
            if attempt > 1 {
                // Writers racing on one name retry at random moments, not in lockstep.
                tokio::time::sleep(retry_delay(attempt)).await;
            }
            let latest: BTreeMap<SecretName, i64> = match hinted.take() {
                Some(latest) => latest,
                None => store
                    .heads(extension.id, environment, &names)
                    .await?
                    .into_iter()
                    .map(|head| (head.name, head.latest_version))
                    .collect(),
            };
            let keys = self.keys();
            // The rotation clock reads the service's clock, as the due state does.
            let set_at = self.now_micros();
            let writes: Vec<NewVersion> = pairs
                .iter()
                .enumerate()
                .map(|(i, (name, value))| {
                    let expected_latest = latest.get(name).copied().unwrap_or(0);
                    let version = expected_latest + 1;
                    let place = place(extension.id, environment, name, version);
                    NewVersion {
                        name: name.clone(),
                        expected_latest,
                        version,
                        sealed: lumio_crypto::seal(keys.current(), &place, value),
                        kek_id: keys.current().id().to_string(),
                        actor: ctx.principal.actor(),
                        allowed_hosts: how.binding_of(i).cloned(),
                        set_at,
                        expires_at: how.expires_at,
                        rotate_every: how.rotate_every,
                    }
                })
                .collect();
            let mut audit: Vec<AuditRecord> = writes
                .iter()
                .map(|w| {
                    let name = Some(w.name.as_str());
                    change_record(
                        ctx,
                        extension.id,
                        Some(environment),
                        how.event,
                        name,
                        Some(detail(w)),
                    )
                })
                .collect();
            audit.extend(names.iter().enumerate().filter_map(|(i, name)| {
                let hosts = how.binding_of(i)?;
                Some(binding_record(
                    ctx,
                    extension.id,
                    environment,
                    name,
                    Some(hosts),
                ))
            }));
            let result = store
                .write_versions(
                    extension.id,
                    environment,
                    &writes,
                    MAX_SECRETS_PER_ENVIRONMENT,
                    &audit,
                )
                .await;
            let result = match result {
                Err(err @ StoreError::Database(_)) => {
                    self.committed_anyway(extension, environment, &writes, err)
                        .await
                }
                other => other,
            };
            match result {
                Ok(()) => {
                    for name in &names {
                        self.invalidate(extension, environment, name);
                    }
                    let written = writes.iter().map(|w| (w.name.clone(), w.version));
                    hints.remember(extension.id, environment, written);
                    return Ok(writes
                        .into_iter()
                        .map(|w| ImportedSecret {
                            name: w.name,
                            version: w.version,
                            set_at: w.set_at,
                        })
                        .collect());
                }
                Err(StoreError::VersionConflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Conflict(format!(
            "other changes to the same secret won {WRITE_ATTEMPTS} times in a row; retry the write"
        )))
    }

    /// Drops cached copies at once, before the change feed gets round to it.
    pub(crate) fn invalidate(
        &self,
        extension: &Extension,
        environment: Environment,
        name: &SecretName,
    ) {
        self.inner.cache.apply(&lumio_store::Change::Secret {
            extension_id: extension.id,
            environment,
            name: name.as_str().to_owned(),
        });
    }

    /// After a write failed without an answer from the database (the connection broke,
    /// perhaps during COMMIT), whether it committed after all: the stored ciphertext of a
    /// version is unique (random nonce), so finding ours means the write is in, with its
    /// record. Otherwise the original error stands.
    async fn committed_anyway(
        &self,
        extension: &Extension,
        environment: Environment,
        writes: &[NewVersion],
        err: StoreError,
    ) -> Result<(), StoreError> {
        let Some(first) = writes.first() else {
            return Err(err);
        };
        // No connection was had, so nothing was sent: asking would only wait once more.
        if err.nothing_sent() {
            return Err(err);
        }
        let stored = self
            .inner
            .store
            .version(extension.id, environment, &first.name, first.version)
            .await;
        match stored {
            Ok(Some(stored)) if stored.sealed == first.sealed => {
                tracing::info!("a write whose answer was lost had committed");
                Ok(())
            }
            _ => Err(err),
        }
    }
}

/// What a write records (`secret.set`, …), whether it binds its secrets too, and the
/// due dates it gives them.
pub(crate) struct Written<'a> {
    event: AuditEvent,
    allowed_hosts: Option<&'a AllowedHosts>,
    /// A binding per pair written (`None`: that one's binding stays as it is), instead
    /// of `allowed_hosts` for all.
    per_pair: Option<&'a [Option<AllowedHosts>]>,
    /// The new versions' expiry: only a set gives one; import, rollback and copy write
    /// versions that never expire.
    expires_at: Option<DateTime<Utc>>,
    /// Only a set changes the rotation period; every other write keeps it.
    rotate_every: DueUpdate<Period>,
}

impl<'a> Written<'a> {
    pub(crate) fn event(event: AuditEvent) -> Self {
        Self {
            event,
            allowed_hosts: None,
            per_pair: None,
            expires_at: None,
            rotate_every: DueUpdate::Keep,
        }
    }

    /// A write that binds each pair to its own binding, parallel to the pairs.
    pub(crate) fn bound_per_pair(event: AuditEvent, bindings: &'a [Option<AllowedHosts>]) -> Self {
        Self {
            per_pair: Some(bindings),
            ..Self::event(event)
        }
    }

    /// The binding the `i`-th pair is written with, if any.
    fn binding_of(&self, i: usize) -> Option<&'a AllowedHosts> {
        match self.per_pair {
            Some(bindings) => bindings.get(i).and_then(Option::as_ref),
            None => self.allowed_hosts,
        }
    }
}

/// Where a version's ciphertext belongs; bound into its associated data.
pub(crate) fn place<'a>(
    extension_id: i64,
    environment: Environment,
    name: &'a SecretName,
    version: i64,
) -> SecretPlace<'a> {
    SecretPlace {
        extension_id,
        environment: environment.as_str(),
        name: name.as_str(),
        version,
    }
}

fn not_found(name: &SecretName, extension: &Extension, environment: Environment) -> ServiceError {
    ServiceError::NotFound(format!("secret {name} in {}/{environment}", extension.slug))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_with_jitter_within_the_bound() {
        let delays: Vec<_> = (0..50).map(|_| retry_delay(5)).collect();
        assert!(delays
            .iter()
            .all(|d| *d <= std::time::Duration::from_millis(32)));
        assert!(
            delays.windows(2).any(|w| w[0] != w[1]),
            "no jitter: {delays:?}"
        );
        assert!(retry_delay(30) <= std::time::Duration::from_millis(MAX_RETRY_DELAY_MS));
    }
}
