//! The audit log's hash chain: the canonical encoding of one record and the SHA-256 that
//! links it to the record before it in its extension's chain (`docs/audit-chain.md`).
//!
//! `hash(n) = SHA-256(TAG ‖ hash(n-1) ‖ seq ‖ extension_id ‖ at ‖ fields…)`, with
//! `hash(0)` = 32 zero bytes. Integers are big-endian 8 bytes; `at` is microseconds since
//! the Unix epoch; each text field is a u32 big-endian length and its UTF-8 bytes, or
//! [`NULL_MARKER`] alone for a missing one. The record's id is not covered: its place in
//! the chain is its `seq`.

use sha2::{Digest, Sha256};

/// Names the encoding; a new encoding gets a new tag.
pub const CHAIN_TAG: &[u8] = b"lumio-audit-v1";

/// The previous hash of the first record of a chain.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Stands for a missing (NULL) text field: no real field is 4 GiB long.
pub const NULL_MARKER: [u8; 4] = [0xff; 4];

/// The fields of one audit record that the chain covers, in their hashed order.
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

/// The hash of the record at `seq` whose predecessor's hash is `previous`.
pub fn chain_hash(previous: &[u8; 32], seq: u64, record: &ChainFields<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(CHAIN_TAG);
    h.update(previous);
    h.update(seq.to_be_bytes());
    h.update(record.extension_id.to_be_bytes());
    h.update(record.at_micros.to_be_bytes());
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
            None => h.update(NULL_MARKER),
            Some(text) => {
                // Fields are length-capped far below 4 GiB upstream.
                let len = u32::try_from(text.len()).unwrap_or(u32::MAX - 1);
                h.update(len.to_be_bytes());
                h.update(text.as_bytes());
            }
        }
    }
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

    /// The vector `docs/audit-chain.md` quotes; its Python verifier must agree.
    #[test]
    fn known_vector() {
        let first = chain_hash(&GENESIS_HASH, 1, &record());
        assert_eq!(
            hex(&first),
            "dc5efe66cd12d496883c129be961cb3f57f98fcd89a8e8d44248ba4a965929da"
        );
    }

    #[test]
    fn every_field_and_null_counts() {
        let base = chain_hash(&GENESIS_HASH, 1, &record());
        assert_ne!(base, chain_hash(&GENESIS_HASH, 2, &record()));
        assert_ne!(base, chain_hash(&[1; 32], 1, &record()));
        let empty_not_null = ChainFields {
            actor: Some(""),
            ..record()
        };
        assert_ne!(base, chain_hash(&GENESIS_HASH, 1, &empty_not_null));
        // Moving bytes between adjacent fields changes the hash (length prefixes).
        let shifted = ChainFields {
            request_id: Some("req-1f"),
            outcome: Some("ound"),
            ..record()
        };
        assert_ne!(base, chain_hash(&GENESIS_HASH, 1, &shifted));
    }
}
