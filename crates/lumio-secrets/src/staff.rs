//! Staff operate the platform; they do not enter extensions. An instance admin creates an
//! extension and gets a one-time claim code, the customer redeems it for the owner token
//! (so staff never hold it), and from then on staff may list names and read the audit log
//! but not write or run code there — unless an owner approves a support request, which
//! makes the admin token a developer there until the grant ends.

use chrono::{DateTime, Duration, Utc};
use lumio_core::{AuditEvent, AuditOutcome, ExtensionSlug, Role, TokenLifetime};
use lumio_store::{
    AccessChange, AccessFilter, AccessRequest, ClaimOutcome, ClaimRecord, Extension, Grant,
};
use zeroize::Zeroizing;

use crate::extensions::change_record;
use crate::tokens::{hash_secret, mint, random_hex, IssuedToken};
use crate::{Principal, RequestContext, SecretsService, ServiceError};

/// How long a claim code lives unless the admin says otherwise.
pub const DEFAULT_CLAIM_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// Claim codes start with this, so one pasted in the wrong place is recognisable.
const CLAIM_PREFIX: &str = "lumio_claim_";
/// Longest support grant an admin may ask for.
pub const MAX_SUPPORT: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
/// Longest reason kept with a support request.
pub const MAX_REASON: usize = 500;

/// A claim code, shown once to the admin who made it; only its hash is stored.
pub struct ClaimCode {
    pub code: Zeroizing<String>,
    pub extension: Extension,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for ClaimCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimCode")
            .field("code", &"[REDACTED]")
            .field("extension", &self.extension.slug)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A redeemed claim: the extension and its new owner token (shown once).
#[derive(Debug)]
pub struct Claimed {
    pub extension: Extension,
    pub token: IssuedToken,
}

impl SecretsService {
    /// Creates an extension and its first claim code. Instance admins only.
    pub async fn create_extension(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        claim_lifetime: Option<TokenLifetime>,
    ) -> Result<ClaimCode, ServiceError> {
        ctx.principal.require_admin("create extensions")?;
        let audit = |created: &Extension| {
            vec![change_record(
                ctx,
                created.id,
                None,
                AuditEvent::ExtensionCreate,
                None,
                None,
            )]
        };
        let extension = self.inner.store.create_extension(slug, &audit).await?;
        self.new_claim_code(ctx, extension, claim_lifetime).await
    }

    /// A fresh claim code for an extension nobody has claimed yet (the first one expired
    /// or was lost). Earlier codes stay valid until they expire.
    pub async fn issue_claim_code(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        lifetime: Option<TokenLifetime>,
    ) -> Result<ClaimCode, ServiceError> {
        ctx.principal.require_admin("issue claim codes")?;
        let extension = self.visible_extension(ctx, slug).await?;
        if extension.is_claimed() {
            return Err(ServiceError::ClaimRefused(format!(
                "extension {slug} has an owner already (claimed {}); staff cannot issue a claim code for it",
                when(extension.claimed_at)
            )));
        }
        self.new_claim_code(ctx, extension, lifetime).await
    }

    async fn new_claim_code(
        &self,
        ctx: &RequestContext,
        extension: Extension,
        lifetime: Option<TokenLifetime>,
    ) -> Result<ClaimCode, ServiceError> {
        let code = Zeroizing::new(format!("{CLAIM_PREFIX}{}", *random_hex(16)));
        let created_at = self.now_micros();
        let lifetime = lifetime.map_or(DEFAULT_CLAIM_LIFETIME, |l| l.duration());
        let expires_at = created_at + to_chrono(lifetime);
        let claim = ClaimRecord {
            code_hash: hash_secret(&code),
            extension_id: extension.id,
            created_at,
            created_by: ctx.principal.actor(),
            expires_at,
        };
        let detail = format!("expires {}", expires_at.to_rfc3339());
        let audit = change_record(
            ctx,
            extension.id,
            None,
            AuditEvent::ExtensionClaimCode,
            None,
            Some(detail),
        );
        self.inner.store.insert_claim(&claim, &[audit]).await?;
        Ok(ClaimCode {
            code,
            extension,
            expires_at,
        })
    }

    /// Redeems a claim code for the extension's owner token. Needs no token: the code is
    /// the credential. A code works once; a second try says when and by which token it
    /// was used, so a customer learns if someone redeemed it first.
    pub async fn claim_extension(
        &self,
        request_id: &str,
        code: &str,
        label: Option<String>,
    ) -> Result<Claimed, ServiceError> {
        let code = code.trim();
        if !code.starts_with(CLAIM_PREFIX) || code.len() > 128 {
            return Err(ServiceError::NotFound("claim code".into()));
        }
        let code_hash = hash_secret(code);
        let Some(extension_id) = self.inner.store.claim_extension_id(&code_hash).await? else {
            return Err(ServiceError::NotFound("claim code".into()));
        };
        let grant = Grant::Extension {
            extension_id,
            role: Role::Owner,
        };
        let label = label.unwrap_or_else(|| "owner (claimed)".to_owned());
        let mut token = mint(grant, label, Some("claim".to_owned()));
        // The code is used at this moment: it counts as expired by the service's clock.
        token.record.created_at = self.now_micros();
        let owner_id = token.record.id.clone();
        let audit = |extension: &Extension| {
            vec![lumio_store::AuditRecord {
                at: self.now(),
                extension_id: extension.id,
                environment: None,
                event: AuditEvent::ExtensionClaim,
                secret_name: None,
                actor: Some(owner_id.clone()),
                action: None,
                request_id: Some(request_id.to_owned()),
                outcome: Some(AuditOutcome::Ok.into()),
                detail: Some(format!("owner token {owner_id}")),
            }]
        };
        let outcome = self
            .inner
            .store
            .redeem_claim(&code_hash, &token.record, &audit)
            .await?;
        match outcome {
            ClaimOutcome::Claimed(extension) => {
                self.inner.cache.apply(&lumio_store::Change::Extension {
                    extension_id: extension.id,
                });
                Ok(Claimed { extension, token })
            }
            ClaimOutcome::Missing => Err(ServiceError::NotFound("claim code".into())),
            ClaimOutcome::Used { at, by } => Err(ServiceError::ClaimRefused(format!(
                "this claim code was used already, at {} by token {by}; if that was not you, tell the Lumio admin at once",
                at.to_rfc3339()
            ))),
            ClaimOutcome::Expired { at } => Err(ServiceError::ClaimRefused(format!(
                "this claim code expired at {} unused",
                at.to_rfc3339()
            ))),
            ClaimOutcome::AlreadyClaimed { at, by } => Err(ServiceError::ClaimRefused(format!(
                "the extension has an owner already (claimed {} by token {})",
                when(at),
                by.as_deref().unwrap_or("unknown")
            ))),
        }
    }

    /// Suspends (`true`) or resumes an extension. Instance admins only; a suspended
    /// extension's actions answer `extension_suspended` on every server.
    pub async fn set_suspended(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        suspend: bool,
    ) -> Result<Extension, ServiceError> {
        ctx.principal
            .require_admin("suspend or resume extensions")?;
        let mut extension = self.visible_extension(ctx, slug).await?;
        let (event, at) = if suspend {
            (AuditEvent::ExtensionSuspend, Some(self.now_micros()))
        } else {
            (AuditEvent::ExtensionResume, None)
        };
        let audit = change_record(ctx, extension.id, None, event, None, None);
        self.inner
            .store
            .set_suspended(extension.id, at, &[audit])
            .await?;
        self.forget_extension(extension.id);
        extension.suspended_at = at;
        Ok(extension)
    }

    /// Deletes an extension with every secret version, deployment, token and audit
    /// record: nothing of it can be read afterwards, by anyone. Instance admins only.
    pub async fn delete_extension(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
    ) -> Result<(), ServiceError> {
        ctx.principal.require_admin("delete extensions")?;
        let extension = self.visible_extension(ctx, slug).await?;
        if !self.inner.store.delete_extension(extension.id).await? {
            return Err(ServiceError::NotFound(format!("extension {slug:?}")));
        }
        self.forget_extension(extension.id);
        tracing::warn!(
            extension = %slug,
            actor = %ctx.principal.actor(),
            request_id = %ctx.request_id,
            "extension deleted with every secret, deployment, token and audit record"
        );
        Ok(())
    }

    fn forget_extension(&self, extension_id: i64) {
        self.inner
            .cache
            .apply(&lumio_store::Change::Extension { extension_id });
    }

    /// An admin asks the owner for support access: a developer role on the extension for
    /// `duration` from the owner's approval.
    pub async fn request_access(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        reason: &str,
        duration: TokenLifetime,
    ) -> Result<AccessRequest, ServiceError> {
        ctx.principal.require_admin("request support access")?;
        let extension = self.visible_extension(ctx, slug).await?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            return Err(ServiceError::InvalidValue(format!(
                "give a reason of 1 to {MAX_REASON} characters: the owner reads it before approving"
            )));
        }
        if duration.duration() > MAX_SUPPORT {
            return Err(ServiceError::Limit(
                "support access lasts at most 7d; ask again when it ends".into(),
            ));
        }
        let request = AccessRequest {
            id: random_hex(8).to_string(),
            extension_id: extension.id,
            token_id: ctx.principal.token_id.clone(),
            staff: ctx.principal.actor(),
            reason: reason.to_owned(),
            duration_secs: i64::try_from(duration.duration().as_secs()).unwrap_or(i64::MAX),
            created_at: self.now_micros(),
            approved_at: None,
            approved_by: None,
            expires_at: None,
            revoked_at: None,
            revoked_by: None,
        };
        let detail = format!(
            "request {} for {}s: {}",
            request.id, request.duration_secs, request.reason
        );
        let audit = change_record(
            ctx,
            extension.id,
            None,
            AuditEvent::AccessRequest,
            None,
            Some(detail),
        );
        self.inner
            .store
            .insert_access_request(&request, &[audit])
            .await?;
        Ok(request)
    }

    /// Support requests of an extension, newest first: for its owners and for staff.
    pub async fn list_access(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
    ) -> Result<(Extension, Vec<AccessRequest>), ServiceError> {
        let extension = self.visible_extension(ctx, slug).await?;
        if !ctx.principal.is_admin() {
            ctx.principal
                .require(&extension, Role::Owner, "list support requests")?;
        }
        let filter = AccessFilter {
            extension_id: Some(extension.id),
            ..AccessFilter::default()
        };
        let requests = self.inner.store.access_requests(filter).await?;
        Ok((extension, requests))
    }

    /// The owner approves a pending request; the grant runs from now for the duration
    /// asked.
    pub async fn approve_access(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        id: &str,
    ) -> Result<AccessRequest, ServiceError> {
        let (extension, request) = self.access_request(ctx, slug, id).await?;
        if ctx.principal.is_admin() {
            return Err(ServiceError::StaffNotMember {
                extension: slug.to_string(),
                action: "approve support access",
            });
        }
        ctx.principal
            .require(&extension, Role::Owner, "approve support access")?;
        let at = self.now_micros();
        let expires_at = at + Duration::seconds(request.duration_secs);
        let change = AccessChange::Approve {
            at,
            by: ctx.principal.actor(),
            expires_at,
        };
        let detail = format!(
            "request {id} by {} until {}",
            request.staff,
            expires_at.to_rfc3339()
        );
        let refused = "is not pending any more (approved or withdrawn already)";
        self.decide_access(
            ctx,
            slug,
            &extension,
            id,
            change,
            AuditEvent::AccessApprove,
            detail,
            refused,
        )
        .await
    }

    /// Ends a request or grant: the owner, or the admin token that asked.
    pub async fn revoke_access(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        id: &str,
    ) -> Result<AccessRequest, ServiceError> {
        let (extension, request) = self.access_request(ctx, slug, id).await?;
        let principal = &ctx.principal;
        if principal.token_id != request.token_id {
            principal.require_member(&extension, Role::Owner, "revoke support access")?;
        }
        let change = AccessChange::Revoke {
            at: self.now_micros(),
            by: principal.actor(),
        };
        let detail = format!("request {id} by {}", request.staff);
        let refused = "was revoked already";
        self.decide_access(
            ctx,
            slug,
            &extension,
            id,
            change,
            AuditEvent::AccessRevoke,
            detail,
            refused,
        )
        .await
    }

    /// Applies an owner's (or the asking admin's) decision with its audit record; a
    /// request no longer in the state the decision needs is a conflict.
    #[allow(clippy::too_many_arguments)]
    async fn decide_access(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        extension: &Extension,
        id: &str,
        change: AccessChange,
        event: AuditEvent,
        detail: String,
        refused: &str,
    ) -> Result<AccessRequest, ServiceError> {
        let audit = change_record(ctx, extension.id, None, event, None, Some(detail));
        let store = &self.inner.store;
        if !store.change_access_request(id, &change, &[audit]).await? {
            return Err(ServiceError::Conflict(format!(
                "support request {id} {refused}"
            )));
        }
        Ok(self.access_request(ctx, slug, id).await?.1)
    }

    /// One request of an extension the caller may see; another extension's look missing.
    async fn access_request(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        id: &str,
    ) -> Result<(Extension, AccessRequest), ServiceError> {
        let extension = self.visible_extension(ctx, slug).await?;
        let filter = AccessFilter {
            extension_id: Some(extension.id),
            id: Some(id),
            ..AccessFilter::default()
        };
        let missing = || ServiceError::NotFound(format!("support request {:?}", clip(id)));
        let request = self
            .inner
            .store
            .access_requests(filter)
            .await?
            .pop()
            .ok_or_else(missing)?;
        Ok((extension, request))
    }

    /// An admin principal with the support grants in force now.
    pub(crate) async fn with_support(
        &self,
        mut principal: Principal,
    ) -> Result<Principal, ServiceError> {
        if !principal.is_admin() {
            return Ok(principal);
        }
        let filter = AccessFilter {
            token_id: Some(&principal.token_id),
            ..AccessFilter::default()
        };
        let now = self.now();
        principal.support = self
            .inner
            .store
            .access_requests(filter)
            .await?
            .into_iter()
            .filter(|request| request.active_at(now))
            .filter_map(|request| Some((request.extension_id, request.expires_at?)))
            .collect();
        Ok(principal)
    }
}

fn to_chrono(duration: std::time::Duration) -> Duration {
    Duration::from_std(duration).unwrap_or(Duration::days(366))
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "earlier".to_owned(), |at| at.to_rfc3339())
}

fn clip(id: &str) -> String {
    id.chars().take(64).collect()
}
