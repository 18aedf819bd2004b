//! Environment parity: compare one extension's two environments, and copy values from
//! one to the other. Both read plaintexts here, in memory; no value and no hash of one
//! ever leaves this module, and the CLI never sees what is copied.

use std::collections::BTreeSet;
use std::sync::Arc;

use lumio_core::{
    AllowedHosts, AuditEvent, CurrentValue, Environment, ExtensionSlug, Role, SecretName,
    SecretValue,
};
use lumio_store::Extension;
use subtle::ConstantTimeEq;

use crate::extensions::change_record;
use crate::secrets::{ImportedSecret, Written};
use crate::{RequestContext, SecretsService, ServiceError};

/// How two environments differ, by name only; every list is sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentDiff {
    pub only_in_first: Vec<SecretName>,
    pub only_in_second: Vec<SecretName>,
    /// Set in both, with different values.
    pub differ: Vec<SecretName>,
    /// Set in both, with the same value.
    pub equal: Vec<SecretName>,
}

impl EnvironmentDiff {
    pub fn is_equal(&self) -> bool {
        self.only_in_first.is_empty() && self.only_in_second.is_empty() && self.differ.is_empty()
    }
}

/// Which names a copy takes from the source.
#[derive(Debug, Clone)]
pub enum CopySelection {
    /// These names; each must be set in the source.
    Names(Vec<SecretName>),
    /// Every name set in the source.
    All,
}

/// What a copy did.
#[derive(Debug, Clone, Default)]
pub struct CopyReport {
    /// Names written in the target, each as a new version.
    pub copied: Vec<ImportedSecret>,
    /// Names whose value in the target was already the source's: no new version.
    pub unchanged: Vec<SecretName>,
}

impl SecretsService {
    /// Compares the live secrets of `first` and `second`. The caller needs a viewer role
    /// and a token that reaches both environments. Recorded once, as `secret.compared`,
    /// before the answer is given.
    #[tracing::instrument(skip_all, fields(extension = %slug, first = %first, second = %second))]
    pub async fn compare(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        first: Environment,
        second: Environment,
    ) -> Result<EnvironmentDiff, ServiceError> {
        let action = "compare environments";
        let extension = self
            .authorized_in_both(ctx, slug, [first, second], Role::Viewer, action)
            .await?;
        let first_names = self.live_names(&extension, first).await?;
        let second_names = self.live_names(&extension, second).await?;
        let mut diff = EnvironmentDiff {
            only_in_first: first_names.difference(&second_names).cloned().collect(),
            only_in_second: second_names.difference(&first_names).cloned().collect(),
            ..EnvironmentDiff::default()
        };
        for name in first_names.intersection(&second_names) {
            let a = self.current_value(&extension, first, name).await?;
            let b = self.current_value(&extension, second, name).await?;
            if same_value(
                a.as_ref().map(|a| a.value.as_ref()),
                b.as_ref().map(|b| b.value.as_ref()),
            ) {
                diff.equal.push(name.clone());
            } else {
                diff.differ.push(name.clone());
            }
        }
        let detail = format!(
            "compared {first} with {second}: {} only in {first}, {} only in {second}, {} differ, {} equal",
            diff.only_in_first.len(),
            diff.only_in_second.len(),
            diff.differ.len(),
            diff.equal.len()
        );
        let record = change_record(
            ctx,
            extension.id,
            None,
            AuditEvent::SecretCompared,
            None,
            Some(detail),
        );
        self.inner.audit.record(record).await?;
        Ok(diff)
    }

    /// Copies the current values of `selection` from `from` to `to`, server-side, in one
    /// transaction with a `secret.copy` record per name written. A value goes with its
    /// egress binding: a name bound in `from` is bound to the same hosts in `to` (with a
    /// `secret.binding_changed` record), or a production-bound value would be sendable
    /// anywhere from staging; an unbound one leaves the target's binding as it is (a copy
    /// never loosens one). A name whose value and binding in `to` are already the same is
    /// skipped (no new version). A name not set in `from` fails the whole copy before
    /// anything is written.
    #[tracing::instrument(skip_all, fields(extension = %slug, from = %from, to = %to))]
    pub async fn copy(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        from: Environment,
        to: Environment,
        selection: CopySelection,
    ) -> Result<CopyReport, ServiceError> {
        let action = "copy secrets";
        let extension = self
            .authorized_in_both(ctx, slug, [from, to], Role::Developer, action)
            .await?;
        let source = self.live_names(&extension, from).await?;
        let names: BTreeSet<SecretName> = match selection {
            CopySelection::All => source,
            CopySelection::Names(names) => {
                if names.is_empty() {
                    return Err(ServiceError::InvalidValue(
                        "name at least one secret to copy, or ask for all of them".to_owned(),
                    ));
                }
                let names: BTreeSet<SecretName> = names.into_iter().collect();
                let missing: Vec<&str> =
                    names.difference(&source).map(SecretName::as_str).collect();
                if !missing.is_empty() {
                    return Err(ServiceError::NotInSource {
                        extension: extension.slug.as_str().to_owned(),
                        environment: from,
                        names: missing.join(", "),
                    });
                }
                names
            }
        };
        let mut report = CopyReport::default();
        let mut values: Vec<(SecretName, Arc<SecretValue>)> = Vec::new();
        let mut bindings: Vec<Option<AllowedHosts>> = Vec::new();
        for name in names {
            let Some(source) = self.current_value(&extension, from, &name).await? else {
                // Deleted between the listing and this read.
                return Err(ServiceError::Conflict(format!(
                    "secret {name} was deleted from {}/{from} during the copy; nothing was copied",
                    extension.slug
                )));
            };
            let target = self.current_value(&extension, to, &name).await?;
            let binding = source.allowed_hosts.as_deref().cloned();
            let same_binding = binding.is_none()
                || target.as_ref().and_then(|t| t.allowed_hosts.as_deref()) == binding.as_ref();
            let value = source.value;
            if same_binding
                && same_value(
                    Some(value.as_ref()),
                    target.as_ref().map(|t| t.value.as_ref()),
                )
            {
                report.unchanged.push(name);
            } else {
                values.push((name, value));
                bindings.push(binding);
            }
        }
        if values.is_empty() {
            return Ok(report);
        }
        let pairs: Vec<(SecretName, &SecretValue)> = values
            .iter()
            .map(|(n, v)| (n.clone(), v.as_ref()))
            .collect();
        report.copied = self
            .write(
                ctx,
                &extension,
                to,
                &pairs,
                Written::bound_per_pair(AuditEvent::SecretCopy, &bindings),
                |w| format!("copied from {from} as version {}", w.version),
            )
            .await?;
        Ok(report)
    }

    /// The extension, once the caller holds `needed` and its token reaches both
    /// environments (a token scoped to one is refused before anything is read).
    async fn authorized_in_both(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        [first, second]: [Environment; 2],
        needed: Role,
        action: &'static str,
    ) -> Result<Extension, ServiceError> {
        if first == second {
            return Err(ServiceError::SameEnvironment(first));
        }
        let extension = self.visible_extension(ctx, slug).await?;
        ctx.principal
            .require_in(&extension, first, needed, action)?;
        ctx.principal.require_environment(second, action)?;
        Ok(extension)
    }

    async fn live_names(
        &self,
        extension: &Extension,
        environment: Environment,
    ) -> Result<BTreeSet<SecretName>, ServiceError> {
        let heads = self
            .inner
            .store
            .list_live(extension.id, environment)
            .await?;
        Ok(heads.into_iter().map(|head| head.name).collect())
    }

    /// The current value and binding, from this process's cache when it holds them.
    async fn current_value(
        &self,
        extension: &Extension,
        environment: Environment,
        name: &SecretName,
    ) -> Result<Option<CurrentValue>, ServiceError> {
        match self.cached(extension.id, environment, name) {
            Some(current) => Ok(current),
            None => self.load(extension.id, environment, name).await,
        }
    }
}

/// Whether both are set and hold the same bytes; constant-time in the contents, so the
/// comparison says nothing about where two values first differ.
fn same_value(a: Option<&SecretValue>, b: Option<&SecretValue>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => bool::from(a.expose().as_bytes().ct_eq(b.expose().as_bytes())),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> SecretValue {
        SecretValue::new(text.to_owned()).unwrap()
    }

    #[test]
    fn values_are_the_same_only_when_both_are_set_and_equal() {
        let (a, b) = (value("sk-1"), value("sk-2"));
        assert!(same_value(Some(&a), Some(&value("sk-1"))));
        assert!(!same_value(Some(&a), Some(&b)));
        assert!(!same_value(Some(&a), Some(&value("sk-10"))));
        assert!(!same_value(Some(&a), None));
        assert!(!same_value(None, None));
    }
}
