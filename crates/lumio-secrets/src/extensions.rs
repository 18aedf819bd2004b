//! Extensions: create (admins), list (what the token may see), and resolve a slug for
//! every other operation.

use chrono::Utc;
use lumio_api::AuditEvent;
use lumio_core::{Environment, ExtensionSlug};
use lumio_store::{AuditRecord, Extension};

use crate::{RequestContext, SecretsService, ServiceError};

impl SecretsService {
    /// Creates an extension. Instance admins only.
    pub async fn create_extension(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
    ) -> Result<Extension, ServiceError> {
        ctx.principal.require_admin("create extensions")?;
        let audit = |created: &Extension| {
            vec![change_record(
                ctx,
                created.id,
                None,
                AuditEvent::ExtensionCreate.as_str(),
                None,
                None,
            )]
        };
        Ok(self.inner.store.create_extension(slug, &audit).await?)
    }

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

    /// Finds an extension the caller may see; a hidden one is reported as missing.
    pub async fn visible_extension(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
    ) -> Result<Extension, ServiceError> {
        let extension = self.find_extension(slug).await?;
        match extension {
            Some(extension) if ctx.principal.can_see(&extension) => Ok(extension),
            _ => Err(ServiceError::NotFound(format!(
                "extension {:?}",
                slug.as_str()
            ))),
        }
    }

    /// Looks an extension up by slug, from cache when possible (extensions never change).
    pub async fn find_extension(
        &self,
        slug: &ExtensionSlug,
    ) -> Result<Option<Extension>, ServiceError> {
        if let Some(hit) = self.inner.cache.extensions.get(slug.as_str()) {
            return Ok(Some(hit));
        }
        let found = self.inner.store.find_extension(slug).await?;
        if let Some(extension) = &found {
            self.inner.cache.fill_extension(extension.clone());
        }
        Ok(found)
    }
}

/// An audit record of a management change made by `ctx`'s token.
pub fn change_record(
    ctx: &RequestContext,
    extension_id: i64,
    environment: Option<Environment>,
    event: &str,
    secret_name: Option<&str>,
    detail: Option<String>,
) -> AuditRecord {
    AuditRecord {
        at: Utc::now(),
        extension_id,
        environment,
        event: event.to_owned(),
        secret_name: secret_name.map(str::to_owned),
        actor: Some(ctx.principal.token_id.clone()),
        action: None,
        request_id: Some(ctx.request_id.clone()),
        outcome: Some("ok".to_owned()),
        detail,
    }
}
