//! Tokens: `lumio_<id>_<secret>`. Only the SHA-256 of the secret part is stored; the id
//! finds the row and the hashes are compared in constant time. A token may be scoped to
//! one environment, may expire, and may be revoked (see `token_admin.rs`).
//!
//! Freshness: a revoked token must be refused by the very next request on every server,
//! so records are not cached: every check reads the row by primary key. A cache fed by
//! the change feed was tried and measured: the feed reaches another server a moment after
//! the revoke has returned, and under load that server still let the revoked token in
//! once. Closing that gap costs a round trip to the database per request either way (a
//! feed barrier, as invocations use, or the read), and the read is the cheaper of the two.

use chrono::{DateTime, Utc};
use lumio_store::{Grant, TokenRecord};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::access::Principal;
use crate::{Clock, SecretsService, ServiceError};

const PREFIX: &str = "lumio_";
/// Id used for a bootstrap token given in a free form by `LUMIO_BOOTSTRAP_TOKEN`.
pub(crate) const BOOTSTRAP_ID: &str = "bootstrap";
pub use lumio_core::{MAX_TOKEN_LEN, MIN_TOKEN_LEN};

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

/// Whether `token` could be a token at all: long enough, not too long, and printable
/// ASCII without spaces (so it survives an `Authorization` header and a form field).
fn well_formed(token: &str) -> bool {
    (MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_graphic())
}

/// Refuses a `LUMIO_BOOTSTRAP_TOKEN` that would make a guessable or unusable admin token.
pub fn check_bootstrap_token(token: &str) -> Result<(), ServiceError> {
    let why = if token.is_empty() {
        "it is set but empty".to_owned()
    } else if token.len() < MIN_TOKEN_LEN {
        format!(
            "it is {} characters long; at least {MIN_TOKEN_LEN} are needed",
            token.chars().count()
        )
    } else if token.len() > MAX_TOKEN_LEN {
        format!("it is longer than {MAX_TOKEN_LEN} characters")
    } else if !token.bytes().all(|b| b.is_ascii_graphic()) {
        "it holds spaces or characters other than printable ASCII".to_owned()
    } else {
        return Ok(());
    };
    Err(ServiceError::WeakBootstrapToken(why))
}

pub(crate) fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

pub(crate) fn random_hex(bytes: usize) -> Zeroizing<String> {
    let mut raw = Zeroizing::new(vec![0u8; bytes]);
    getrandom::getrandom(&mut raw).expect("the OS random number generator failed");
    Zeroizing::new(hex::encode(&*raw))
}

/// Makes a new unscoped, never-expiring token with `grant`; the caller may narrow it and
/// stores `record`.
pub(crate) fn mint(grant: Grant, label: String, created_by: Option<String>) -> IssuedToken {
    let id = random_hex(8);
    let secret = random_hex(32);
    IssuedToken {
        token: Zeroizing::new(format!("{PREFIX}{}_{}", *id, *secret)),
        record: TokenRecord {
            id: id.to_string(),
            secret_hash: hash_secret(&secret),
            grant,
            environment: None,
            label,
            created_at: Clock::system().now_micros(),
            created_by,
            expires_at: None,
            last_used_at: None,
        },
    }
}

/// The record for a bootstrap token chosen by the operator (`LUMIO_BOOTSTRAP_TOKEN`),
/// already checked by [`check_bootstrap_token`].
pub(crate) fn bootstrap_record(token: &str) -> TokenRecord {
    let (id, secret) = split(token);
    TokenRecord {
        id: id.to_owned(),
        secret_hash: hash_secret(secret),
        grant: Grant::Admin,
        environment: None,
        label: "bootstrap admin".to_owned(),
        created_at: Clock::system().now_micros(),
        created_by: None,
        expires_at: None,
        last_used_at: None,
    }
}

pub(crate) fn expired(record: &TokenRecord, now: DateTime<Utc>) -> bool {
    record.expires_at.is_some_and(|at| at <= now)
}

fn principal(record: TokenRecord) -> Principal {
    Principal {
        token_id: record.id,
        label: record.label,
        support: Vec::new(),
        grant: record.grant,
        environment: record.environment,
        expires_at: record.expires_at,
    }
}

impl SecretsService {
    /// Checks a bearer token. Every failure — malformed, unknown, wrong secret, revoked,
    /// expired — is the same `Unauthorized`.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, ServiceError> {
        // A bootstrap token made before tokens had a minimum length may be short or
        // empty in an old store; refusing such input here means it can never sign in.
        if !well_formed(token) {
            return Err(ServiceError::Unauthorized);
        }
        let (id, secret) = split(token);
        let record = self
            .token_record(id)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        let presented = hash_secret(secret);
        if !bool::from(presented.ct_eq(&record.secret_hash)) {
            return Err(ServiceError::Unauthorized);
        }
        let principal = self
            .live_principal(record)
            .ok_or(ServiceError::Unauthorized)?;
        self.with_support(principal).await
    }

    /// Who the token with this id is, for a session that signed in with it earlier;
    /// `None` if no such token exists any more, was revoked or has expired (so the
    /// session ends with it).
    pub async fn principal_of(&self, token_id: &str) -> Result<Option<Principal>, ServiceError> {
        let record = self.token_record(token_id).await?;
        match record.and_then(|record| self.live_principal(record)) {
            Some(principal) => Ok(Some(self.with_support(principal).await?)),
            None => Ok(None),
        }
    }

    /// The principal of a record whose token was just presented, unless it expired;
    /// notes the use for `last_used_at`.
    fn live_principal(&self, record: TokenRecord) -> Option<Principal> {
        let now = self.now();
        if expired(&record, now) {
            return None;
        }
        self.inner
            .last_used
            .seen(self.inner.store.clone(), &record.id, now);
        Some(principal(record))
    }

    /// A live token's record by id, read from the store every time (see the module doc).
    /// The live token `id`, from cache when that is safe: after a barrier through the
    /// change feed (PostgreSQL), every revocation committed anywhere before this call has
    /// reached the cache. Without a barrier — SQLite, whose feed does not reach other
    /// processes on the same file, or a feed that lost its connection — the store is asked.
    async fn token_record(&self, id: &str) -> Result<Option<TokenRecord>, ServiceError> {
        let store = &self.inner.store;
        let Some(marker) = store.sync_marker() else {
            return Ok(store.find_token(id).await?);
        };
        self.caught_up_to(marker).await;
        let cache = &self.inner.cache;
        if let Some(hit) = cache.tokens.get(id) {
            return Ok(Some(hit));
        }
        let seen = cache.begin_read();
        let found = store.find_token(id).await?;
        if let Some(record) = &found {
            cache.fill_token(seen, record.clone());
        }
        Ok(found)
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
        assert!(well_formed(&issued.token));
    }

    #[test]
    fn free_form_tokens_are_the_bootstrap_id() {
        assert_eq!(split("my-ci-token"), (BOOTSTRAP_ID, "my-ci-token"));
        assert_eq!(split("lumio_short_x"), (BOOTSTRAP_ID, "lumio_short_x"));
    }

    #[test]
    fn weak_bootstrap_tokens_are_refused_with_what_to_do() {
        for weak in [
            "",
            "short",
            "fifteen-chars!!",
            "sixteen chars ok",
            "tab\there-and-long",
        ] {
            let err = check_bootstrap_token(weak).unwrap_err();
            assert!(err
                .to_string()
                .starts_with("LUMIO_BOOTSTRAP_TOKEN is refused"));
            assert!(err.startup_hint().unwrap().contains("openssl rand -hex 32"));
            assert!(!well_formed(weak), "{weak:?}");
        }
        assert!(check_bootstrap_token("0123456789abcdef").is_ok());
        assert!(well_formed("0123456789abcdef"));
        let err = check_bootstrap_token("").unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
    }
}
