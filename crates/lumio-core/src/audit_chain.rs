//! The audit log's chain: the canonical encoding of one record and the keyed MAC that
//! links it to the record before it in its extension's chain (`docs/audit-chain.md`).
//!
//! `link(n) = HMAC-SHA256(chain key, TAG ‖ link(n-1) ‖ seq ‖ extension_id ‖ at ‖ fields…)`,
//! with `link(0)` = 32 zero bytes. Integers are big-endian 8 bytes; `at` is microseconds
//! since the Unix epoch; each text field is a u32 big-endian length and its UTF-8 bytes,
//! or [`NULL_MARKER`] alone for a missing one. The record's id is not covered: its place
//! in the chain is its `seq`.
//!
//! Why keyed: with a public encoding, whoever can write the database can rewrite the
//! chain from any point and recompute every hash. The chain key of an extension is
//! derived from the instance's audit root key, which the database holds only sealed under
//! the master key, so a database writer cannot forge a link.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Names the keyed encoding (HMAC-SHA256 under the extension's chain key).
pub const CHAIN_TAG: &[u8] = b"lumio-audit-v2";

/// Names the first, unkeyed encoding (plain SHA-256), read only to upgrade a chain
/// written by an older server (see [`chain_hash_v1`]).
pub const CHAIN_TAG_V1: &[u8] = b"lumio-audit-v1";

/// The label an extension's chain key is derived with: `HMAC-SHA256(root, LABEL ‖ id)`.
pub const CHAIN_KEY_LABEL: &[u8] = b"lumio-audit-chain";

/// The previous link of the first record of a chain.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Stands for a missing (NULL) text field: no real field is 4 GiB long.
pub const NULL_MARKER: [u8; 4] = [0xff; 4];

/// How far a record's `at` may lie before the latest `at` sealed ahead of it in its chain
/// (two minutes, in microseconds). Records are stamped when they are made and sealed in
/// the order they were committed; a management change's transaction or a writer's
/// batch can commit a little after a record stamped later. A record further back than
/// this was back-dated (slipped into the table by hand) and verify reports it `inserted`.
pub const AT_ALLOWANCE_MICROS: i64 = 120_000_000;

/// The actor of records Lumio itself adds to a chain (retention, the chain upgrade).
pub const SYSTEM_ACTOR: &str = "lumio";

/// The `detail` of an [`crate::AuditEvent::AuditPruned`] record, which retention adds to a
/// chain when it moves the chain's anchor: the anchor it moved to and how many sealed
/// records it stopped covering. Verify checks that the chain's stored anchor is
/// the one the newest such record names, so moving the anchor by hand shows.
pub fn pruned_detail(anchor_seq: i64, anchor_hash: &[u8; 32], removed: i64) -> String {
    let hash: String = anchor_hash.iter().map(|b| format!("{b:02x}")).collect();
    format!(r#"{{"anchor_seq":{anchor_seq},"anchor_hash":"{hash}","removed":{removed}}}"#)
}

/// The anchor an [`crate::AuditEvent::AuditPruned`] record's `detail` names; `None` if it
/// is not one that [`pruned_detail`] wrote.
pub fn parse_pruned_detail(detail: &str) -> Option<(i64, [u8; 32])> {
    let rest = detail.strip_prefix(r#"{"anchor_seq":"#)?;
    let (seq, rest) = rest.split_once(r#","anchor_hash":""#)?;
    let (hash, _) = rest.split_once('"')?;
    if hash.len() != 64 {
        return None;
    }
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hash.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some((seq.parse().ok()?, out))
}

/// The instance's audit root key: 32 random bytes made at first start and kept in the
/// database only sealed under the master key. Wiped on drop; `Debug` shows nothing.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AuditRootKey([u8; 32]);

impl AuditRootKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes, to seal them. Every use is greppable.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key of one extension's chain: `HMAC-SHA256(root, CHAIN_KEY_LABEL ‖ id)`, so an
    /// owner can be given their own extension's key and learn nothing of another's.
    pub fn chain_key(&self, extension_id: i64) -> ChainKey {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        mac.update(CHAIN_KEY_LABEL);
        mac.update(&extension_id.to_be_bytes());
        ChainKey(mac.finalize().into_bytes().into())
    }
}

impl std::fmt::Debug for AuditRootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditRootKey([REDACTED])")
    }
}

/// The key one extension's chain is linked with. Wiped on drop; `Debug` shows nothing.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ChainKey([u8; 32]);

impl ChainKey {
    /// A key as `lumio audit export-key` gave it, for tools that check an export.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes, for `lumio audit export-key` only.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey([REDACTED])")
    }
}

/// The fields of one audit record that the chain covers, in their encoded order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainFields<'a> {
    pub extension_id: i64,
    /// Microseconds since 1970-01-01 UTC.
    pub at_micros: i64,
    pub environment: Option<&'a str>,
    pub event: &'a str,
    pub secret_name: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub action: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub outcome: Option<&'a str>,
    pub detail: Option<&'a str>,
}

/// Feeds the canonical encoding (after the tag) to `update`.
fn encode(mut update: impl FnMut(&[u8]), previous: &[u8; 32], seq: u64, record: &ChainFields<'_>) {
    update(previous);
    update(&seq.to_be_bytes());
    update(&record.extension_id.to_be_bytes());
    update(&record.at_micros.to_be_bytes());
    for text in [
        record.environment,
        Some(record.event),
        record.secret_name,
        record.actor,
        record.action,
        record.request_id,
        record.outcome,
        record.detail,
    ] {
        match text {
            None => update(&NULL_MARKER),
            Some(text) => {
                // Fields are length-capped far below 4 GiB upstream.
                let len = u32::try_from(text.len()).unwrap_or(u32::MAX - 1);
                update(&len.to_be_bytes());
                update(text.as_bytes());
            }
        }
    }
}

/// The link of the record at `seq` whose predecessor's link is `previous`, under its
/// extension's chain key.
pub fn chain_link(
    key: &ChainKey,
    previous: &[u8; 32],
    seq: u64,
    record: &ChainFields<'_>,
) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("any key length");
    mac.update(CHAIN_TAG);
    encode(|bytes| mac.update(bytes), previous, seq, record);
    mac.finalize().into_bytes().into()
}

/// The unkeyed SHA-256 link of the first encoding (`lumio-audit-v1`): only to check a
/// chain an older server wrote before it is linked again under its key.
pub fn chain_hash_v1(previous: &[u8; 32], seq: u64, record: &ChainFields<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(CHAIN_TAG_V1);
    encode(|bytes| h.update(bytes), previous, seq, record);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ChainFields<'static> {
        ChainFields {
            extension_id: 7,
            at_micros: 1_767_225_600_000_000, // 2026-01-01T00:00:00Z
            environment: Some("staging"),
            event: "secret.get",
            secret_name: Some("MY_API_KEY"),
            actor: None,
            action: Some("functions:callExternalApi"),
            request_id: Some("req-1"),
            outcome: Some("found"),
            detail: None,
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn key() -> ChainKey {
        AuditRootKey::from_bytes([0x11; 32]).chain_key(7)
    }

    /// The vectors `docs/audit-chain.md` quotes; its Python verifier must agree.
    #[test]
    fn known_vectors() {
        assert_eq!(
            hex(key().expose()),
            "7874e00e2a7aa05d6dfaf3df70e4a0e2b51b432f83b00e64c48084bff7f7b88c"
        );
        assert_eq!(
            hex(&chain_link(&key(), &GENESIS_HASH, 1, &record())),
            "1c41e9216356a0d6d4358693a92bc4eaf09314fac3209de442cb292f79e8cff6"
        );
        // The first encoding is unchanged, so old chains can be checked before upgrade.
        assert_eq!(
            hex(&chain_hash_v1(&GENESIS_HASH, 1, &record())),
            "dc5efe66cd12d496883c129be961cb3f57f98fcd89a8e8d44248ba4a965929da"
        );
    }

    #[test]
    fn every_field_null_and_key_counts() {
        let base = chain_link(&key(), &GENESIS_HASH, 1, &record());
        assert_ne!(base, chain_link(&key(), &GENESIS_HASH, 2, &record()));
        assert_ne!(base, chain_link(&key(), &[1; 32], 1, &record()));
        let other = AuditRootKey::from_bytes([0x11; 32]).chain_key(8);
        assert_ne!(base, chain_link(&other, &GENESIS_HASH, 1, &record()));
        let empty_not_null = ChainFields {
            actor: Some(""),
            ..record()
        };
        assert_ne!(base, chain_link(&key(), &GENESIS_HASH, 1, &empty_not_null));
        // Moving bytes between adjacent fields changes the link (length prefixes).
        let shifted = ChainFields {
            request_id: Some("req-1f"),
            outcome: Some("ound"),
            ..record()
        };
        assert_ne!(base, chain_link(&key(), &GENESIS_HASH, 1, &shifted));
    }

    #[test]
    fn pruned_detail_round_trips() {
        let detail = pruned_detail(41, &[0xab; 32], 41);
        assert_eq!(parse_pruned_detail(&detail), Some((41, [0xab; 32])));
        assert_eq!(parse_pruned_detail("{}"), None);
    }

    #[test]
    fn keys_never_show_in_debug() {
        let root = AuditRootKey::from_bytes([0x42; 32]);
        assert_eq!(format!("{root:?}"), "AuditRootKey([REDACTED])");
        assert_eq!(format!("{:?}", root.chain_key(1)), "ChainKey([REDACTED])");
    }
}
