//! The records the service answers with: plain data the store fills and the server, the
//! dashboard and the actions read. They live below both the store and the service, so
//! nothing above the service names a store type, and none of them leads back into it.

use chrono::{DateTime, Utc};

use crate::{
    AllowedHosts, AuditEvent, DueDates, Environment, ExtensionSlug, Period, Role, SecretName,
};

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
    /// When the current version expires (set with that version); `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// How often the secret is to be rotated; kept across versions until cleared.
    pub rotate_every: Option<Period>,
    /// When the current version was written (by the service's clock): the rotation
    /// clock's start. A binding or due-date change leaves it alone.
    pub current_set_at: Option<DateTime<Utc>>,
}

impl SecretHead {
    /// The expiry and the rotation date of the current version.
    pub fn due_dates(&self) -> DueDates {
        DueDates {
            expires_at: self.expires_at,
            rotate_by: rotate_by(self.current_set_at, self.rotate_every),
        }
    }
}

/// When a version set at `set_at` is to be rotated by, with a period.
pub fn rotate_by(set_at: Option<DateTime<Utc>>, every: Option<Period>) -> Option<DateTime<Utc>> {
    every?.after(set_at?)
}

/// A live secret with an expiry or a rotation period, anywhere on the instance: what
/// reminders are sent from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSecret {
    pub extension_id: i64,
    pub slug: ExtensionSlug,
    pub environment: Environment,
    pub name: SecretName,
    /// The current version, the one the dates are of.
    pub version: i64,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotate_by: Option<DateTime<Utc>>,
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

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Everything, on every extension.
    Admin,
    /// One role on one extension.
    Extension { extension_id: i64, role: Role },
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

/// Connections of a store's pool (a reading, for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Open connections, idle or in use.
    pub open: u32,
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}
