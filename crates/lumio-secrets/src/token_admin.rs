//! Managing tokens: create (scoped to an environment, expiring), list (never a secret or
//! its hash), revoke (at once on every server). Admins manage every token; owners the
//! tokens of their extension; a token can never make or revoke one that reaches further
//! than itself.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lumio_core::{AuditEvent, Environment, ExtensionSlug, Role, TokenLifetime};
use lumio_store::{AuditRecord, Extension, Grant, Revocation, TokenRecord};

use crate::access::Principal;
use crate::extensions::change_record;
use crate::tokens::{mint, IssuedToken};
use crate::{RequestContext, SecretsService, ServiceError};

/// Whom a new token is for.
#[derive(Debug, Clone)]
pub enum TokenFor {
    /// An instance admin (admins only).
    Admin,
    /// One role on one extension (admins, and owners of that extension).
    Extension { slug: ExtensionSlug, role: Role },
}

/// What [`SecretsService::create_token`] makes.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub target: TokenFor,
    /// Limit the token to one environment. A scoped creator's tokens get its scope.
    pub environment: Option<Environment>,
    /// Let the token expire; never later than the creating token does.
    pub expires_in: Option<TokenLifetime>,
    pub label: Option<String>,
}

/// A live token as management callers see it: never the token or its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSummary {
    pub id: String,
    /// `None` for instance-admin tokens.
    pub extension: Option<ExtensionSlug>,
    /// `None` for instance-admin tokens.
    pub role: Option<Role>,
    pub environment: Option<Environment>,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Up to a minute behind (see `last_used.rs`).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl SecretsService {
    /// Creates a token. Extension tokens: admins and owners of the extension; admin tokens:
    /// admins. The new token reaches no environment the creator cannot, and expires no
    /// later than the creator does.
    pub async fn create_token(
        &self,
        ctx: &RequestContext,
        request: TokenRequest,
    ) -> Result<IssuedToken, ServiceError> {
        let principal = &ctx.principal;
        let (grant, extension) = match &request.target {
            TokenFor::Admin => {
                principal.require_admin("create admin tokens")?;
                (Grant::Admin, None)
            }
            TokenFor::Extension { slug, role } => {
                let extension = self.visible_extension(ctx, slug).await?;
                principal.require(&extension, Role::Owner, "create tokens")?;
                let grant = Grant::Extension {
                    extension_id: extension.id,
                    role: *role,
                };
                (grant, Some(extension))
            }
        };
        let environment = request.environment.or(principal.environment);
        if let Some(wanted) = environment {
            principal.require_environment(wanted, "create tokens")?;
        }
        let label = request
            .label
            .unwrap_or_else(|| default_label(&request.target));
        let mut issued = mint(grant, label, Some(principal.actor()));
        issued.record.environment = environment;
        let now = self.now_micros();
        issued.record.created_at = now;
        issued.record.expires_at = expiry(principal, request.expires_in, now);
        let audit = token_records(
            ctx,
            extension.as_ref(),
            AuditEvent::TokenCreate,
            &issued.record,
        );
        self.inner
            .store
            .insert_token(&issued.record, &audit)
            .await?;
        log_admin_token_event(
            ctx,
            extension.as_ref(),
            AuditEvent::TokenCreate,
            &issued.record,
        );
        Ok(issued)
    }

    /// Live tokens: of `extension`, or with `None` every token the caller may manage
    /// (admins: all, owners: their extension's). Developers and viewers may not list.
    pub async fn list_tokens(
        &self,
        ctx: &RequestContext,
        extension: Option<&ExtensionSlug>,
    ) -> Result<Vec<TokenSummary>, ServiceError> {
        let principal = &ctx.principal;
        let extension_id = match (extension, &principal.grant) {
            (Some(slug), _) => {
                let extension = self.visible_extension(ctx, slug).await?;
                // Staff manage tokens instance-wide; a listing holds no token.
                if !principal.is_admin() {
                    principal.require(&extension, Role::Owner, "list tokens")?;
                }
                Some(extension.id)
            }
            (None, Grant::Admin) => None,
            (None, Grant::Extension { extension_id, role }) => {
                owner_only(*role, "list tokens")?;
                Some(*extension_id)
            }
        };
        let records = self.inner.store.list_tokens(extension_id).await?;
        let extensions = self.inner.store.list_extensions().await?;
        Ok(records
            .into_iter()
            .map(|record| summary(record, &extensions))
            .collect())
    }

    /// The labels of `slug`'s live tokens by id, for anyone who may see the extension:
    /// pages name who changed a secret by label ("ci-deploy"), not by token id. A
    /// revoked token is not in it; callers show its id.
    pub async fn token_labels(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
    ) -> Result<HashMap<String, String>, ServiceError> {
        let extension = self.visible_extension(ctx, slug).await?;
        let records = self.inner.store.list_tokens(Some(extension.id)).await?;
        Ok(records
            .into_iter()
            .map(|record| (record.id, record.label))
            .collect())
    }

    /// Revokes a token at once, here and on every server sharing the database. Admins:
    /// any token but the last admin one; owners: their extension's tokens. Any other id
    /// answers exactly like one that does not exist.
    pub async fn revoke_token(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<TokenSummary, ServiceError> {
        let principal = &ctx.principal;
        // Checked before the lookup, so a developer learns nothing about which ids exist.
        if let Grant::Extension { role, .. } = principal.grant {
            owner_only(role, "revoke tokens")?;
        }
        let missing = || ServiceError::NotFound(format!("token {:?}", clip(id)));
        let target = self.inner.store.find_token(id).await?.ok_or_else(missing)?;
        let extension = match target.grant {
            Grant::Admin => {
                principal
                    .require_admin("revoke tokens")
                    .map_err(|_| missing())?;
                None
            }
            Grant::Extension { extension_id, .. } => {
                if !principal.reaches(extension_id) {
                    return Err(missing());
                }
                let extensions = self.inner.store.list_extensions().await?;
                extensions.into_iter().find(|e| e.id == extension_id)
            }
        };
        if !principal.covers_environment(target.environment) {
            let scope = principal.environment.expect("a scoped principal");
            return Err(ServiceError::OutOfScope {
                scope,
                environment: other(scope),
                action: "revoke tokens usable",
            });
        }
        let audit = token_records(ctx, extension.as_ref(), AuditEvent::TokenRevoke, &target);
        match self
            .inner
            .store
            .revoke_token(id, &principal.actor(), self.now(), &audit)
            .await?
        {
            // At once here; other processes hear it through the change feed.
            Revocation::Revoked => self
                .inner
                .cache
                .apply(&lumio_store::Change::TokenRevoked { id: id.to_owned() }),
            Revocation::Missing => return Err(missing()),
            Revocation::LastAdmin => return Err(ServiceError::LastAdminToken(id.to_owned())),
        }
        log_admin_token_event(ctx, extension.as_ref(), AuditEvent::TokenRevoke, &target);
        let extensions: Vec<Extension> = extension.into_iter().collect();
        Ok(summary(target, &extensions))
    }
}

/// Extension tokens are recorded in their extension's audit log, in the transaction that
/// changes the token; admin tokens belong to no extension (see [`log_admin_token_event`]).
fn token_records(
    ctx: &RequestContext,
    extension: Option<&Extension>,
    event: AuditEvent,
    token: &TokenRecord,
) -> Vec<AuditRecord> {
    extension
        .map(|extension| change_record(ctx, extension.id, None, event, None, Some(describe(token))))
        .into_iter()
        .collect()
}

/// Admin token changes go to the server log, once made.
fn log_admin_token_event(
    ctx: &RequestContext,
    extension: Option<&Extension>,
    event: AuditEvent,
    token: &TokenRecord,
) {
    if extension.is_none() {
        tracing::info!(
            event = event.as_str(),
            actor = %ctx.principal.actor(),
            request_id = %ctx.request_id,
            detail = describe(token),
            "admin token change"
        );
    }
}

fn owner_only(role: Role, action: &'static str) -> Result<(), ServiceError> {
    if role >= Role::Owner {
        return Ok(());
    }
    Err(ServiceError::Forbidden {
        role: role.as_str(),
        action,
        needed: Role::Owner.as_str(),
    })
}

/// When a new token expires: when asked, but never after the token creating it.
fn expiry(
    creator: &Principal,
    lifetime: Option<TokenLifetime>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let asked = lifetime.map(|l| {
        now + chrono::Duration::from_std(l.duration()).unwrap_or(chrono::Duration::days(366))
    });
    match (asked, creator.expires_at) {
        (Some(asked), Some(cap)) => Some(asked.min(cap)),
        (asked, cap) => asked.or(cap),
    }
}

fn other(environment: Environment) -> Environment {
    match environment {
        Environment::Staging => Environment::Production,
        Environment::Production => Environment::Staging,
    }
}

fn default_label(target: &TokenFor) -> String {
    match target {
        TokenFor::Admin => "admin".to_owned(),
        TokenFor::Extension { slug, role } => format!("{slug} {role}"),
    }
}

/// The audit detail of a token: id, role, scope and expiry; never the secret.
fn describe(token: &TokenRecord) -> String {
    let role = match token.grant {
        Grant::Admin => "admin",
        Grant::Extension { role, .. } => role.as_str(),
    };
    let env = token.environment.map_or("both", |e| e.as_str());
    let mut detail = format!("token {} role {role} env {env}", token.id);
    if let Some(at) = token.expires_at {
        detail.push_str(&format!(" expires {}", at.to_rfc3339()));
    }
    detail
}

fn summary(record: TokenRecord, extensions: &[Extension]) -> TokenSummary {
    let (extension, role) = match record.grant {
        Grant::Admin => (None, None),
        Grant::Extension { extension_id, role } => {
            let slug = extensions
                .iter()
                .find(|e| e.id == extension_id)
                .map(|e| e.slug.clone());
            (slug, Some(role))
        }
    };
    TokenSummary {
        id: record.id,
        extension,
        role,
        environment: record.environment,
        label: record.label,
        created_at: record.created_at,
        created_by: record.created_by,
        expires_at: record.expires_at,
        last_used_at: record.last_used_at,
    }
}

/// At most 64 characters of a user-given id in a message.
fn clip(id: &str) -> String {
    id.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creator(expires_at: Option<DateTime<Utc>>) -> Principal {
        Principal {
            token_id: "t".into(),
            label: "t".into(),
            grant: Grant::Admin,
            environment: None,
            expires_at,
            support: Vec::new(),
        }
    }

    #[test]
    fn a_new_token_never_outlives_its_creator() {
        let now = Utc::now();
        let week = Some(TokenLifetime::parse("7d").unwrap());
        let hour = now + chrono::Duration::hours(1);
        assert_eq!(expiry(&creator(None), None, now), None);
        assert_eq!(
            expiry(&creator(None), week, now),
            Some(now + chrono::Duration::days(7))
        );
        assert_eq!(expiry(&creator(Some(hour)), week, now), Some(hour));
        assert_eq!(expiry(&creator(Some(hour)), None, now), Some(hour));
    }
}
