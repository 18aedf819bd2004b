//! Reading an extension's audit log.

use lumio_core::{AuditEvent, ChainKey, Environment, ExtensionSlug, Role};
use lumio_store::{AuditEntry, AuditQuery, ChainVerdict, ChainedEntry, ExportQuery, Grant};

use crate::{RequestContext, SecretsService, ServiceError};

pub use lumio_core::MAX_AUDIT_PAGE;

/// Filters for [`SecretsService::audit_log`].
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub secret_name: Option<String>,
    pub event: Option<String>,
    pub before_id: Option<i64>,
    pub limit: Option<i64>,
}

impl SecretsService {
    /// Newest first, for one environment (with the extension-wide records, such as token
    /// creation, that belong to no environment).
    pub async fn audit_log(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        filter: AuditFilter,
    ) -> Result<Vec<AuditEntry>, ServiceError> {
        let extension = self.visible_extension(ctx, slug).await?;
        ctx.principal
            .require_in(&extension, environment, Role::Viewer, "read the audit log")?;
        let query = AuditQuery {
            extension_id: extension.id,
            environment: Some(environment),
            secret_name: filter.secret_name,
            event: filter.event,
            before_id: filter.before_id,
            limit: filter.limit.unwrap_or(50).clamp(1, MAX_AUDIT_PAGE),
        };
        Ok(self.inner.store.query_audit(&query).await?)
    }
}

/// Most records one export page may hold.
pub const MAX_EXPORT_PAGE: i64 = 1000;

/// A page of [`SecretsService::export_audit`].
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only records with an id above this (the previous page's cursor).
    pub after_id: Option<i64>,
    pub limit: Option<i64>,
}

impl SecretsService {
    /// Walks the extension's audit hash chain (sealing what is pending first). The chain
    /// covers both environments, so the token must reach both.
    pub async fn verify_audit(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
    ) -> Result<ChainVerdict, ServiceError> {
        let extension = self.chain_reader(ctx, slug, "verify the audit log").await?;
        Ok(self.inner.store.verify_audit(extension).await?)
    }

    /// The extension's records with their seq and hash, oldest first, for a SIEM. The
    /// first page seals what is pending, so it carries hashes.
    pub async fn export_audit(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        filter: ExportFilter,
    ) -> Result<Vec<ChainedEntry>, ServiceError> {
        let extension = self.chain_reader(ctx, slug, "export the audit log").await?;
        if filter.after_id.is_none() {
            self.inner.store.seal_audit(Some(extension)).await?;
        }
        let query = ExportQuery {
            extension_id: extension,
            since: filter.since,
            after_id: filter.after_id,
            limit: filter.limit.unwrap_or(500).clamp(1, MAX_EXPORT_PAGE),
        };
        Ok(self.inner.store.export_audit(&query).await?)
    }

    /// The extension's audit chain key, for its owner's offline verifier. Only a token
    /// with the owner role on this extension (both environments) gets it: an instance
    /// admin does not, as staff have no business verifying a customer's log with the
    /// customer's key. The export is recorded (`audit.key_exported`) and durable before
    /// the key is returned.
    #[tracing::instrument(skip_all)]
    pub async fn export_chain_key(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
    ) -> Result<(i64, ChainKey), ServiceError> {
        const ACTION: &str = "export the audit chain key";
        let extension = self.chain_reader(ctx, slug, ACTION).await?;
        let owner = matches!(
            ctx.principal.grant,
            Grant::Extension { extension_id, role: Role::Owner } if extension_id == extension
        );
        if !owner {
            return Err(ServiceError::Forbidden {
                role: match ctx.principal.grant {
                    Grant::Extension { role, .. } => role.as_str(),
                    Grant::Admin => "admin",
                },
                action: ACTION,
                needed: "an owner token of this extension (instance admins do not get it)",
            });
        }
        let root = self
            .inner
            .audit_root
            .get()
            .ok_or(ServiceError::AuditRootUnreadable)?;
        let record = crate::change_record(
            ctx,
            extension,
            None,
            AuditEvent::AuditKeyExported,
            None,
            None,
        );
        self.inner.audit.record(record).await?;
        Ok((extension, root.chain_key(extension)))
    }

    /// The extension's id, for a viewer (or more) whose token reaches both environments.
    async fn chain_reader(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        action: &'static str,
    ) -> Result<i64, ServiceError> {
        let extension = self.visible_extension(ctx, slug).await?;
        for environment in [Environment::Staging, Environment::Production] {
            ctx.principal
                .require_in(&extension, environment, Role::Viewer, action)?;
        }
        Ok(extension.id)
    }
}
