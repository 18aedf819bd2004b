//! Tokens: `lumio_<id>_<secret>`. Only the SHA-256 of the secret part is stored; the id
//! finds the row and the hashes are compared in constant time.

use chrono::Utc;
use lumio_core::{ExtensionSlug, Role};
use lumio_store::{Grant, TokenRecord};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::access::Principal;
use crate::extensions::change_record;
use crate::{RequestContext, SecretsService, ServiceError};

const PREFIX: &str = "lumio_";
/// Id used for a bootstrap token given in a free form by `LUMIO_BOOTSTRAP_TOKEN`.
pub(crate) const BOOTSTRAP_ID: &str = "bootstrap";

/// A freshly created token. The full token is shown once and never stored.
pub struct IssuedToken {
    pub token: Zeroizing<String>,
    pub record: TokenRecord,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[REDACTED]")
            .field("id", &self.record.id)
            .finish()
    }
}

/// Splits a presented token into (id, secret part). Tokens not in Lumio's own format can
/// only be the free-form bootstrap token.
fn split(token: &str) -> (&str, &str) {
    token
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .filter(|(id, _)| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or((BOOTSTRAP_ID, token))
}

pub(crate) fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn random_hex(bytes: usize) -> Zeroizing<String> {
    let mut raw = Zeroizing::new(vec![0u8; bytes]);
    getrandom::getrandom(&mut raw).expect("the OS random number generator failed");
    Zeroizing::new(hex::encode(&*raw))
}

/// Makes a new token with `grant`; the caller stores `record`.
pub(crate) fn mint(grant: Grant, label: String, created_by: Option<String>) -> IssuedToken {
    let id = random_hex(8);
    let secret = random_hex(32);
    IssuedToken {
        token: Zeroizing::new(format!("{PREFIX}{}_{}", *id, *secret)),
        record: TokenRecord {
            id: id.to_string(),
            secret_hash: hash_secret(&secret),
            grant,
            label,
            created_at: Utc::now(),
            created_by,
        },
    }
}

/// The record for a bootstrap token chosen by the operator (`LUMIO_BOOTSTRAP_TOKEN`).
pub(crate) fn bootstrap_record(token: &str) -> TokenRecord {
    let (id, secret) = split(token);
    TokenRecord {
        id: id.to_owned(),
        secret_hash: hash_secret(secret),
        grant: Grant::Admin,
        label: "bootstrap admin".to_owned(),
        created_at: Utc::now(),
        created_by: None,
    }
}

impl SecretsService {
    /// Checks a bearer token. Every failure is the same `Unauthorized`.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, ServiceError> {
        let (id, secret) = split(token);
        let record = self
            .token_record(id)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        let presented = hash_secret(secret);
        if bool::from(presented.ct_eq(&record.secret_hash)) {
            Ok(Principal {
                token_id: record.id,
                grant: record.grant,
            })
        } else {
            Err(ServiceError::Unauthorized)
        }
    }

    /// Who the token with this id is, for a session that signed in with it earlier;
    /// `None` if no such token exists (any more).
    pub async fn principal_of(&self, token_id: &str) -> Result<Option<Principal>, ServiceError> {
        let record = self.token_record(token_id).await?;
        Ok(record.map(|record| Principal {
            token_id: record.id,
            grant: record.grant,
        }))
    }

    /// A token's record by id, from cache when possible (records never change).
    async fn token_record(&self, id: &str) -> Result<Option<TokenRecord>, ServiceError> {
        if let Some(hit) = self.inner.cache.tokens.get(&id.to_owned()) {
            return Ok(Some(hit));
        }
        let found = self.inner.store.find_token(id).await?;
        if let Some(record) = &found {
            self.inner.cache.fill_token(record.clone());
        }
        Ok(found)
    }

    /// Creates a token with `role` on `extension`. Admins, and owners of that extension.
    pub async fn create_token(
        &self,
        ctx: &RequestContext,
        extension: &ExtensionSlug,
        role: Role,
        label: Option<String>,
    ) -> Result<IssuedToken, ServiceError> {
        let extension = self.visible_extension(ctx, extension).await?;
        ctx.principal
            .require(&extension, Role::Owner, "create tokens")?;
        let label = label.unwrap_or_else(|| format!("{} {}", extension.slug, role));
        let issued = mint(
            Grant::Extension {
                extension_id: extension.id,
                role,
            },
            label,
            Some(ctx.principal.token_id.clone()),
        );
        self.inner.store.insert_token(&issued.record).await?;
        let detail = format!("token {} role {}", issued.record.id, role);
        self.inner
            .audit
            .record(change_record(
                ctx,
                extension.id,
                None,
                "token.create",
                None,
                Some(detail),
            ))
            .await?;
        Ok(issued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_split_back_to_their_id() {
        let issued = mint(Grant::Admin, "x".into(), None);
        let (id, secret) = split(&issued.token);
        assert_eq!(id, issued.record.id);
        assert_eq!(hash_secret(secret), issued.record.secret_hash);
        assert!(!format!("{issued:?}").contains(secret));
    }

    #[test]
    fn free_form_tokens_are_the_bootstrap_id() {
        assert_eq!(split("my-ci-token"), (BOOTSTRAP_ID, "my-ci-token"));
        assert_eq!(split("lumio_short_x"), (BOOTSTRAP_ID, "lumio_short_x"));
    }
}
