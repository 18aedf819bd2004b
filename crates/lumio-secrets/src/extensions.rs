//! Extensions: list (what the token may see), and resolve a slug for every other
//! operation. Creating, claiming, suspending and deleting are in `staff.rs`.

use chrono::Utc;
use lumio_core::{AuditEvent, AuditOutcome, Environment, ExtensionSlug};
use lumio_store::{AuditRecord, Extension};

use crate::{RequestContext, SecretsService, ServiceError};

impl SecretsService {
    /// The extensions this token may see, by name.
    pub async fn list_extensions(
        &self,
        ctx: &RequestContext,
    ) -> Result<Vec<Extension>, ServiceError> {
        let mut all = self.inner.store.list_extensions().await?;
        all.retain(|extension| ctx.principal.can_see(extension));
        all.sort_by(|a, b| a.slug.cmp(&b.slug));
        Ok(all)
    }

    /// Finds an extension the caller may see; a hidden one is reported as missing. Staff
    /// read it from the store, so a claim made on another server a moment ago holds.
    pub async fn visible_extension(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
    ) -> Result<Extension, ServiceError> {
        let extension = if ctx.principal.is_admin() {
            self.inner.store.find_extension(slug).await?
        } else {
            self.find_extension(slug).await?
        };
        match extension {
            Some(extension) if ctx.principal.can_see(&extension) => Ok(extension),
            _ => Err(ServiceError::NotFound(format!(
                "extension {:?}",
                slug.as_str()
            ))),
        }
    }

    /// Looks an extension up by slug, from cache when possible. While the database is
    /// unreachable, the last version this process read is used (a database outage is not
    /// an action outage); an extension deleted or changed since is never among those.
    pub async fn find_extension(
        &self,
        slug: &ExtensionSlug,
    ) -> Result<Option<Extension>, ServiceError> {
        let cache = &self.inner.cache;
        if let Some(hit) = cache.extensions.get(slug.as_str()) {
            return Ok(Some(hit));
        }
        // The feed is down or silent, so the database likely is too: what this process
        // last knew answers at once rather than after the database's timeout.
        if !self.feed_connected() {
            if let Some(known) = cache.last_known_extension(slug.as_str()) {
                return Ok(Some(known));
            }
        }
        let seen = cache.begin_read();
        let found = match self.inner.store.find_extension(slug).await {
            Ok(found) => found,
            Err(err) => match cache.last_known_extension(slug.as_str()) {
                Some(known) => return Ok(Some(known)),
                None => return Err(err.into()),
            },
        };
        if let Some(extension) = &found {
            cache.fill_extension(seen, extension.clone());
        }
        Ok(found)
    }
}

/// An audit record of a management change made by `ctx`'s token.
pub fn change_record(
    ctx: &RequestContext,
    extension_id: i64,
    environment: Option<Environment>,
    event: AuditEvent,
    secret_name: Option<&str>,
    detail: Option<String>,
) -> AuditRecord {
    AuditRecord {
        at: Utc::now(),
        extension_id,
        environment,
        event,
        secret_name: secret_name.map(str::to_owned),
        actor: Some(ctx.principal.actor()),
        action: None,
        request_id: Some(ctx.request_id.clone()),
        outcome: Some(AuditOutcome::Ok.into()),
        detail,
    }
}
