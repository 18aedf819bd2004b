//! The audit log: a page of one environment's records, the chain check, the export.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit_event::AuditEventName;
use crate::AuditEvent;

#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Page size, default 50, at most 1000.
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Only entries older than this id (the previous page's `next_before`).
    #[param(minimum = 0, maximum = 9007199254740991.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    /// Only this secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Only this event.
    #[param(inline, value_type = Option<AuditEventName>)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<AuditEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub environment: Option<String>,
    /// One of the `AuditEvent` names, e.g. `secret.get`.
    pub event: String,
    pub secret: Option<String>,
    /// The token id that acted, for management changes.
    pub actor: Option<String>,
    /// The action, for reads by actions.
    pub action: Option<String>,
    pub request_id: Option<String>,
    /// e.g. `found`, `not_set`, `expired` (a read past the value's expiry), `ok`, `blocked`.
    pub outcome: Option<String>,
    /// Extra facts, never a value, e.g. the version written.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `before` for the next page; null on the last page.
    pub next_before: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChainBreakView {
    /// The offending record's id; null when the record is missing.
    pub id: Option<i64>,
    pub seq: i64,
    /// `changed`, `removed`, `inserted`, `truncated` or `chain_removed` (the chain's own
    /// row, with its head and anchor, was deleted).
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VerifyAnswer {
    /// Whether every record after the retention anchor is in place and unchanged.
    pub ok: bool,
    /// Records walked (when ok).
    pub records: Option<u64>,
    /// The chain's last record (when ok): keep these elsewhere to detect a chain
    /// rewritten as a whole.
    pub head_seq: Option<i64>,
    /// Hex HMAC-SHA256 link of the last record.
    pub head_hash: Option<String>,
    /// The first record found changed, removed or inserted (when not ok).
    pub first_bad: Option<ChainBreakView>,
}

#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Only records stamped at or after this (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// The previous page's `next_cursor`.
    #[param(minimum = 0, maximum = 9007199254740991.0)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<i64>,
    /// Page size, default 500, at most 1000.
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// One record as exported: every field the hash covers (docs/audit-chain.md).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChainedRecordView {
    pub id: i64,
    /// Its place in the extension's chain; null until sealed (well under a second).
    pub seq: Option<i64>,
    /// Hex HMAC-SHA256 (under the extension's chain key) over the previous record's link
    /// and this record; null until sealed.
    pub hash: Option<String>,
    pub extension_id: i64,
    /// RFC 3339 with microseconds, the precision the hash covers.
    pub at: String,
    pub environment: Option<String>,
    pub event: String,
    pub secret: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub request_id: Option<String>,
    pub outcome: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExportPage {
    pub records: Vec<ChainedRecordView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<i64>,
}

/// `POST /api/v1/extensions/{ext}/audit/key`: the extension's chain key, for the owner's
/// offline verifier (docs/audit-chain.md). Shown once per request and audited. No
/// `Debug`: it holds a key.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditKeyAnswer {
    /// The extension's numeric id (`extension_id` in an export).
    pub extension_id: i64,
    /// Hex, 32 bytes: `HMAC-SHA256(audit root key, "lumio-audit-chain" ‖ extension_id)`.
    pub key: String,
    /// The encoding the key links: `lumio-audit-v2`.
    pub encoding: String,
}
