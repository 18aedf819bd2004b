//! Rows as the rest of Lumio sees them.

use chrono::{DateTime, Utc};
use lumio_core::{AllowedHosts, AuditEvent, Environment, ExtensionSlug, Role, SecretName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub id: i64,
    pub slug: ExtensionSlug,
    pub created_at: DateTime<Utc>,
    /// When it got its owner (a claim code redeemed, or an owner token made); from then on
    /// instance admins may no longer write or run code in it.
    pub claimed_at: Option<DateTime<Utc>>,
    /// The owner token the claim made (or the first owner token).
    pub claimed_by: Option<String>,
    /// While set, none of its actions run.
    pub suspended_at: Option<DateTime<Utc>>,
}

impl Extension {
    pub fn is_claimed(&self) -> bool {
        self.claimed_at.is_some()
    }
}

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
}

/// The state of one secret name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHead {
    pub name: SecretName,
    /// `None` once deleted.
    pub current_version: Option<i64>,
    pub latest_version: i64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    /// The hosts the value may be sent to by `ctx.fetch`; `None`: unbound (anywhere).
    pub allowed_hosts: Option<AllowedHosts>,
}

#[derive(Debug, Clone)]
pub struct SealedVersion {
    pub version: i64,
    pub sealed: Vec<u8>,
    pub kek_id: String,
}

/// What the runtime's read path needs of a live secret: its current version and binding.
#[derive(Debug, Clone)]
pub struct CurrentSecret {
    pub version: SealedVersion,
    pub allowed_hosts: Option<AllowedHosts>,
}

/// A dashboard sign-in. The browser holds the session id; the store only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: [u8; 32],
    /// The token the browser signed in with (its id, never the token).
    pub token_id: String,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
    /// A one-time notice for the next page ("Saved MY_KEY").
    pub flash: Option<String>,
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

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Everything, on every extension.
    Admin,
    /// One role on one extension.
    Extension { extension_id: i64, role: Role },
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

/// One audit record as written. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub extension_id: i64,
    pub environment: Option<Environment>,
    /// Stored as its wire name; a row with a name Lumio does not know reads as corrupt.
    pub event: AuditEvent,
    pub secret_name: Option<String>,
    /// Token id that acted, for management changes.
    pub actor: Option<String>,
    /// Action name, for reads by actions.
    pub action: Option<String>,
    pub request_id: Option<String>,
    /// An [`lumio_core::AuditOutcome`]'s name.
    pub outcome: Option<String>,
    /// Extra non-secret facts, e.g. the version written.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub record: AuditRecord,
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

/// What one retention pass removed from the audit log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditPruned {
    /// Whole days dropped at once (PostgreSQL's daily partitions).
    pub partitions_dropped: u64,
    /// Records deleted one batch at a time (SQLite; on PostgreSQL, the partition that
    /// straddles the cut-off).
    pub records_deleted: u64,
}

/// A change announced on the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Secret {
        extension_id: i64,
        environment: Environment,
        name: String,
    },
    /// A new deployment became the active one of this extension and environment.
    Deployment {
        extension_id: i64,
        environment: Environment,
    },
    /// A token was revoked: no process may accept it from now on.
    TokenRevoked { id: String },
    /// An extension was claimed, suspended, resumed or deleted: drop what is cached of it.
    Extension { extension_id: i64 },
    /// The feed may have missed changes: drop every cache.
    Everything,
    /// Every change committed before [`crate::Store::sync_marker`] returned this number
    /// has been delivered on this feed before this item.
    Synced(u64),
}

/// One deployment of an extension's action code to an environment. The newest is active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRecord {
    pub version: i64,
    /// The uploaded sources as a JSON object `{path: source}`.
    pub files_json: String,
    /// The exported actions (`module:export`) found at deploy.
    pub actions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// An audit record with its place in its extension's hash chain (docs/audit-chain.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEntry {
    pub entry: AuditEntry,
    /// `None` until the writer sealed it (management records, for well under a second).
    pub seq: Option<i64>,
    pub hash: Option<[u8; 32]>,
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

/// What walking an extension's audit chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    /// Every record after the anchor is in place and unchanged.
    Intact {
        /// Records walked (those after the anchor retention left).
        records: u64,
        /// The last record's seq and hash: keep them elsewhere to detect a rewritten chain.
        head_seq: i64,
        head_hash: [u8; 32],
    },
    /// The first record found out of place.
    Broken(ChainBreak),
}

/// The first problem in a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainBreak {
    /// The offending row's id; `None` when the record is missing (removed, truncated).
    pub id: Option<i64>,
    pub seq: i64,
    pub kind: Tamper,
}

/// How a chain was broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// The record's content no longer matches its hash.
    Changed,
    /// The record at this seq is missing: the chain has a gap.
    Removed,
    /// A record that is not part of the chain: a second row at a taken seq, one beyond
    /// the head, or one whose hash leads nowhere.
    Inserted,
    /// The records from this seq up to the head are missing.
    Truncated,
    /// The chain's own row (its head and anchor) was deleted while sealed records remain.
    ChainRemoved,
}

impl Tamper {
    /// The word used in answers and messages: `changed`, `removed`, `inserted`,
    /// `truncated`, `chain_removed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Removed => "removed",
            Self::Inserted => "inserted",
            Self::Truncated => "truncated",
            Self::ChainRemoved => "chain_removed",
        }
    }
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

/// A staff member's request for support access to one extension, and its approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    pub id: String,
    pub extension_id: i64,
    /// The admin token that asked; the grant is for it alone.
    pub token_id: String,
    /// How the requester is shown (`staff:<label>`).
    pub staff: String,
    pub reason: String,
    pub duration_secs: i64,
    pub created_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    /// When the approved grant ends: `approved_at` plus the duration asked for.
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

impl AccessRequest {
    /// Whether the grant is in force at `now`: approved, not revoked, not yet ended.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_some_and(|end| end > now)
    }

    /// `pending`, `active`, `ended` or `revoked`, at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.active_at(now) {
            "active"
        } else if self.approved_at.is_some() {
            "ended"
        } else {
            "pending"
        }
    }
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
