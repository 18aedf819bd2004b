//! What the store takes and gives that only the service handles: versions to write, sealed
//! bytes, token hashes, queries. The records callers see are `lumio_core::records`.

use chrono::{DateTime, Utc};
use lumio_core::records::{Extension, Grant};
use lumio_core::{AllowedHosts, DueUpdate, Environment, Period, SecretName};

/// One version to write; `sealed` was made for exactly this (extension, environment, name, version).
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub name: SecretName,
    /// The head's `latest_version` the caller saw (0 if the name was never set).
    pub expected_latest: i64,
    /// Must be `expected_latest + 1`.
    pub version: i64,
    pub sealed: Vec<u8>,
    /// Hex key id of the master key that sealed it.
    pub kek_id: String,
    /// Token id (or `dashboard:<token id>`) that made the change.
    pub actor: String,
    /// `Some`: the secret is bound to these hosts from this write on (same transaction);
    /// `None`: its binding stays as it is.
    pub allowed_hosts: Option<AllowedHosts>,
    /// When the service wrote it, by its clock: the rotation clock starts again here.
    pub set_at: DateTime<Utc>,
    /// When this version expires; `None`: never. It belongs to this version only, so a
    /// later version without one has none.
    pub expires_at: Option<DateTime<Utc>>,
    /// The secret's rotation period from this write on; it belongs to the secret, so
    /// `Keep` leaves the one it has.
    pub rotate_every: DueUpdate<Period>,
}

/// A change to a live secret's due dates without a new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DueDatesChange {
    pub expires_at: DueUpdate<DateTime<Utc>>,
    pub rotate_every: DueUpdate<Period>,
}

#[derive(Debug, Clone)]
pub struct SealedVersion {
    pub version: i64,
    pub sealed: Vec<u8>,
    pub kek_id: String,
}

/// What the runtime's read path needs of a live secret: its current version, binding and
/// the version's expiry.
#[derive(Debug, Clone)]
pub struct CurrentSecret {
    pub version: SealedVersion,
    pub allowed_hosts: Option<AllowedHosts>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Where a stored version sits; ordered as the primary key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionKey {
    pub extension_id: i64,
    pub environment: Environment,
    pub name: SecretName,
    pub version: i64,
}

/// One stored version's sealed bytes and where they belong: a unit of master-key rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    pub key: VersionKey,
    pub sealed: Vec<u8>,
}

/// A version sealed again under another master key; applied only if the stored bytes are
/// still `previous`, so a concurrent change or a second rotating server is never clobbered.
#[derive(Debug, Clone)]
pub struct Resealed {
    pub version: StoredVersion,
    pub previous: Vec<u8>,
    pub kek_id: String,
}

/// A kept version, without its ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub current: bool,
}

/// A live (not revoked) token at rest: its public id and the SHA-256 of its secret part.
/// `Debug` leaves the hash out: it is no secret, but it has no business in a log line.
#[derive(Clone)]
pub struct TokenRecord {
    pub id: String,
    pub secret_hash: [u8; 32],
    pub grant: Grant,
    /// The one environment the token may act in; `None`: both.
    pub environment: Option<Environment>,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
    /// After this the token is refused; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Written at most once a minute per server, so it may be that much behind.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("secret_hash", &"[REDACTED]")
            .field("grant", &self.grant)
            .field("environment", &self.environment)
            .field("label", &self.label)
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("expires_at", &self.expires_at)
            .field("last_used_at", &self.last_used_at)
            .finish()
    }
}

/// What [`crate::Store::revoke_token`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Revoked,
    /// No live token has this id.
    Missing,
    /// The token is the last live admin token with neither environment scope nor expiry;
    /// revoking it would lock every admin out.
    LastAdmin,
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub extension_id: i64,
    /// This environment's records plus the extension-wide ones (no environment).
    pub environment: Option<Environment>,
    pub secret_name: Option<String>,
    pub event: Option<String>,
    /// Only entries with id below this (for paging).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Pages of [`crate::Store::export_audit`]: an extension's records in id order.
#[derive(Debug, Clone)]
pub struct ExportQuery {
    pub extension_id: i64,
    /// Only records stamped at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Only records with an id above this (the previous page's last).
    pub after_id: Option<i64>,
    pub limit: i64,
}

/// A one-time claim code of an extension, as stored: only the code's SHA-256.
#[derive(Clone)]
pub struct ClaimRecord {
    pub code_hash: [u8; 32],
    pub extension_id: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expires_at: DateTime<Utc>,
}

/// What redeeming a claim code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The extension is now owned through the new owner token.
    Claimed(Extension),
    /// No such code.
    Missing,
    /// The code was redeemed before, at `at` by the token `by`.
    Used { at: DateTime<Utc>, by: String },
    /// The code expired at `at` unused.
    Expired { at: DateTime<Utc> },
    /// The extension got an owner another way first.
    AlreadyClaimed {
        at: Option<DateTime<Utc>>,
        by: Option<String>,
    },
}

/// Which access requests to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessFilter<'a> {
    pub extension_id: Option<i64>,
    pub token_id: Option<&'a str>,
    pub id: Option<&'a str>,
}

/// A change to an access request; applied only from the state it names.
#[derive(Debug, Clone)]
pub enum AccessChange {
    /// Pending (neither approved nor revoked) → approved until `expires_at`.
    Approve {
        at: DateTime<Utc>,
        by: String,
        expires_at: DateTime<Utc>,
    },
    /// Not yet revoked → revoked (a pending request is withdrawn, a grant ends).
    Revoke { at: DateTime<Utc>, by: String },
}
