//! Egress bindings: which hosts a secret's value may be sent to by `ctx.fetch`. A binding
//! is metadata on the secret (no new version); each change commits with its own
//! `secret.binding_changed` record, and the runtime's refusals become `egress.blocked`.

use lumio_audit::Ticket;
use lumio_core::{
    AllowedHosts, AuditEvent, AuditOutcome, Environment, ExtensionSlug, Role, SecretName,
};
use lumio_store::AuditRecord;

use crate::extensions::change_record;
use crate::read::Reader;
use crate::{RequestContext, SecretsService, ServiceError};

impl SecretsService {
    /// Binds a live secret to `allowed_hosts`, or unbinds it (`None`), without touching
    /// its value. Running actions see the change with their next read of the secret.
    #[tracing::instrument(skip_all, fields(extension = %slug, environment = %environment, name = %name))]
    pub async fn bind(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        name: &SecretName,
        allowed_hosts: Option<&AllowedHosts>,
    ) -> Result<(), ServiceError> {
        let extension = self
            .authorized(
                ctx,
                slug,
                environment,
                Role::Developer,
                "change egress bindings",
            )
            .await?;
        let audit = binding_record(ctx, extension.id, environment, name, allowed_hosts);
        let bound = self
            .inner
            .store
            .set_binding(
                extension.id,
                environment,
                name,
                allowed_hosts,
                &ctx.principal.actor(),
                &[audit],
            )
            .await?;
        if !bound {
            return Err(ServiceError::NotFound(format!(
                "secret {name} in {}/{environment}",
                extension.slug
            )));
        }
        self.invalidate(&extension, environment, name);
        Ok(())
    }

    /// Queues an `egress.blocked` record: a `ctx.fetch` carrying the value of `name` to
    /// `host`, which its binding does not allow, was refused before anything was sent.
    pub fn record_egress_blocked(
        &self,
        reader: Reader<'_>,
        name: &SecretName,
        host: &str,
    ) -> Result<Ticket, ServiceError> {
        let record = AuditRecord {
            at: self.now(),
            extension_id: reader.extension_id,
            environment: Some(reader.environment),
            event: AuditEvent::EgressBlocked,
            secret_name: Some(name.as_str().to_owned()),
            actor: None,
            action: Some(reader.action.to_owned()),
            request_id: Some(reader.request_id.to_owned()),
            outcome: Some(AuditOutcome::Blocked.into()),
            detail: Some(format!("refused host {host}")),
        };
        Ok(self.inner.audit.try_enqueue(record)?)
    }
}

/// The `secret.binding_changed` record of a binding change; its detail is the new binding.
pub(crate) fn binding_record(
    ctx: &RequestContext,
    extension_id: i64,
    environment: Environment,
    name: &SecretName,
    allowed_hosts: Option<&AllowedHosts>,
) -> AuditRecord {
    let detail = match allowed_hosts {
        Some(hosts) => format!("allowed hosts: {hosts}"),
        None => "unbound: any host".to_owned(),
    };
    change_record(
        ctx,
        extension_id,
        Some(environment),
        AuditEvent::SecretBindingChanged,
        Some(name.as_str()),
        Some(detail),
    )
}
