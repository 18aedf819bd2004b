//! Reading an extension's audit log.

use lumio_core::{Environment, ExtensionSlug, Role};
use lumio_store::{AuditEntry, AuditQuery};

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
