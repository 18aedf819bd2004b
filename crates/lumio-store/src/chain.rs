//! The audit log's chain, shared by both backends: sealing records in order and walking
//! a chain to find the first record that was changed, removed or inserted. The encoding
//! itself is `lumio_core::chain_link` (docs/audit-chain.md); the key comes from the
//! service ([`crate::Store::set_audit_root`]), never from the database.

use std::collections::BTreeMap;
use std::sync::RwLock;

use lumio_core::{
    chain_hash_v1, chain_link, parse_pruned_detail, AuditRootKey, ChainFields, ChainKey,
    AT_ALLOWANCE_MICROS, GENESIS_HASH,
};
use lumio_core::{AuditEvent, AuditOutcome};

use crate::{AuditEntry, AuditRecord, ChainBreak, ChainVerdict, ChainedEntry, StoreError, Tamper};

/// Most unsealed records one transaction seals: a log from before the chain (millions of
/// records) is sealed a slice per batch and idle tick, never in one long transaction
/// that would hold up the writer's batches. Later records may then take earlier seqs
/// than older unsealed ones; the chain's order is its seq, not the id.
pub(crate) const SEAL_LIMIT: i64 = 10_000;

/// Rows read per page while verifying (keyset pages inside one snapshot).
pub(crate) const VERIFY_PAGE: i64 = 5000;

/// The link the sealer gives a record only Lumio writes that it found unsealed (see
/// [`Heads::seal_found`]): it verifies for nothing, and verify names it `inserted`.
pub(crate) const FORGED_LINK: [u8; 32] = [0; 32];

/// The audit root key, once the service has loaded it. Until then nothing is sealed
/// (records stay unsealed, which loses nothing) and verify refuses.
#[derive(Default)]
pub(crate) struct RootSlot(RwLock<Option<AuditRootKey>>);

impl RootSlot {
    pub fn set(&self, root: AuditRootKey) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(root);
    }

    pub fn is_set(&self) -> bool {
        self.0.read().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    pub fn get(&self) -> Option<AuditRootKey> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The root, for verify: a server always loads it before serving.
    pub fn required(&self) -> Result<AuditRootKey, StoreError> {
        self.get().ok_or_else(|| {
            StoreError::Corrupt(
                "the audit chain key is not loaded yet; retry once the server has started".into(),
            )
        })
    }
}

/// How a chain's links are computed: the first, unkeyed encoding (only to check a chain
/// before it is upgraded) or keyed under the extension's chain key.
pub(crate) enum Links {
    V1,
    Keyed(ChainKey),
}

impl Links {
    pub fn link(&self, previous: &[u8; 32], seq: i64, record: &AuditRecord) -> [u8; 32] {
        match self {
            Self::V1 => chain_hash_v1(previous, seq as u64, &fields(record)),
            Self::Keyed(key) => chain_link(key, previous, seq as u64, &fields(record)),
        }
    }
}

/// The chain fields of a record as stored (`at` at the database's microsecond precision).
pub(crate) fn fields(record: &AuditRecord) -> ChainFields<'_> {
    ChainFields {
        extension_id: record.extension_id,
        at_micros: record.at.timestamp_micros(),
        environment: record.environment.map(|e| e.as_str()),
        event: record.event.as_str(),
        secret_name: record.secret_name.as_deref(),
        actor: record.actor.as_deref(),
        action: record.action.as_deref(),
        request_id: record.request_id.as_deref(),
        outcome: record.outcome.as_deref(),
        detail: record.detail.as_deref(),
    }
}

pub(crate) fn hash_column(column: Vec<u8>) -> Result<[u8; 32], StoreError> {
    column
        .try_into()
        .map_err(|_| StoreError::Corrupt("audit chain hash is not 32 bytes".into()))
}

/// A row read with its chain columns. A stored hash that is not 32 bytes is no hash:
/// verify then finds the record out of place.
pub(crate) fn chained(seq: Option<i64>, hash: Option<Vec<u8>>, entry: AuditEntry) -> ChainedEntry {
    ChainedEntry {
        entry,
        seq,
        hash: hash.and_then(|h| <[u8; 32]>::try_from(h).ok()),
    }
}

/// A chain row's head: extension id, head seq, head hash, keyed.
pub(crate) type ChainRow = (i64, i64, Vec<u8>, bool);

/// The last sealed record of each extension whose head is locked, as the sealing
/// transaction moves it forward. Only chains whose row exists and is keyed are held:
/// a record of any other extension stays unsealed (see [`Heads::seal`]).
pub(crate) struct Heads {
    root: AuditRootKey,
    heads: BTreeMap<i64, (i64, [u8; 32], ChainKey)>,
    moved: bool,
}

impl Heads {
    pub fn new(root: AuditRootKey) -> Self {
        Self {
            root,
            heads: BTreeMap::new(),
            moved: false,
        }
    }

    /// The heads of chain rows read under their lock: a chain not keyed yet (waiting
    /// for the upgrade at start) is not held, and its records wait unsealed.
    pub fn held(root: AuditRootKey, rows: Vec<ChainRow>) -> Result<Self, StoreError> {
        let mut heads = Self::new(root);
        for (extension_id, seq, hash, keyed) in rows {
            if keyed {
                heads.insert(extension_id, seq, hash_column(hash)?);
            }
        }
        Ok(heads)
    }

    pub fn insert(&mut self, extension_id: i64, seq: i64, hash: [u8; 32]) {
        let key = self.root.chain_key(extension_id);
        self.heads.insert(extension_id, (seq, hash, key));
    }

    /// The extensions whose heads are held, in id order.
    pub fn ids(&self) -> Vec<i64> {
        self.heads.keys().copied().collect()
    }

    /// Seals `record` as the next of its extension's chain: its seq and link. `None`
    /// when its chain is not held (its row is missing, which verify reports, or not yet
    /// keyed): the record stays unsealed.
    pub fn seal(&mut self, record: &AuditRecord) -> Option<(i64, [u8; 32])> {
        let (seq, hash, key) = self.heads.get_mut(&record.extension_id)?;
        *seq += 1;
        *hash = chain_link(key, hash, *seq as u64, &fields(record));
        self.moved = true;
        Some((*seq, *hash))
    }

    /// Seals a record found unsealed in the table. Lumio writes its own records
    /// ([`AuditEvent::AuditPruned`], [`AuditEvent::AuditChainKeyed`]) sealed, in the
    /// transaction that makes them, so one found unsealed was slipped in by hand (say, to make a hand-moved anchor look
    /// like retention's): it takes its place with [`FORGED_LINK`] instead of a link, and
    /// verify reports it as inserted.
    pub fn seal_found(&mut self, record: &AuditRecord) -> Option<(i64, [u8; 32])> {
        if !states_anchor(record.event) {
            return self.seal(record);
        }
        let (seq, hash, _) = self.heads.get_mut(&record.extension_id)?;
        *seq += 1;
        *hash = FORGED_LINK;
        self.moved = true;
        tracing::warn!(
            extension_id = record.extension_id,
            seq = *seq,
            event = %record.event,
            "found a record only Lumio writes, unsealed: someone wrote it into the audit \
             table by hand; it is chained as inserted and verify reports it"
        );
        Some((*seq, *hash))
    }

    /// Whether any record was sealed (the heads need writing back).
    pub fn moved(&self) -> bool {
        self.moved
    }

    /// The heads as parallel columns: extension ids, seqs, hashes.
    pub fn columns(&self) -> (Vec<i64>, Vec<i64>, Vec<Vec<u8>>) {
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for (id, (seq, hash, _)) in &self.heads {
            out.0.push(*id);
            out.1.push(*seq);
            out.2.push(hash.to_vec());
        }
        out
    }
}

/// A page of one chain linked again under its key (the upgrade from the unkeyed
/// encoding): its records' ids and their new links.
pub(crate) struct Relinked {
    pub extension_id: i64,
    pub ids: Vec<i64>,
    pub hashes: Vec<Vec<u8>>,
}

/// One sealed row as verify reads it, in (seq, id) order.
pub(crate) struct SealedRow {
    pub id: i64,
    pub seq: i64,
    pub hash: [u8; 32],
    pub record: AuditRecord,
}

/// A chain's ends as stored: the anchor (the last record retention removed; verify starts
/// after it) and the head (the last record sealed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ends {
    pub anchor_seq: i64,
    pub anchor_hash: [u8; 32],
    pub head_seq: i64,
    pub head_hash: [u8; 32],
}

/// The verdict on an extension with no chain row: if it has sealed records, the row was
/// deleted (its head and anchor with it); else it never had a sealed record.
pub(crate) fn without_chain_row(has_sealed: bool) -> ChainVerdict {
    if has_sealed {
        ChainVerdict::Broken(ChainBreak {
            id: None,
            seq: 0,
            kind: Tamper::ChainRemoved,
        })
    } else {
        ChainVerdict::Intact {
            records: 0,
            head_seq: 0,
            head_hash: GENESIS_HASH,
        }
    }
}

/// Walks one extension's chain from its anchor. Rows come in (seq, id) order; a row is
/// judged once the next one is known, since "changed" and "inserted" differ only in
/// whether the chain goes on from the row's stored hash.
pub(crate) struct Walk {
    ends: Ends,
    links: Links,
    expected: i64,
    previous: [u8; 32],
    last_id: Option<i64>,
    pending: Option<SealedRow>,
    count: u64,
    broken: Option<ChainBreak>,
    /// The latest `at` walked so far (microseconds): no record may lie further back.
    latest_at: i64,
    /// The anchor the newest anchor-stating record walked names.
    stated_anchor: Option<(i64, [u8; 32])>,
}

impl Walk {
    pub fn new(ends: Ends, links: Links) -> Self {
        Self {
            ends,
            links,
            expected: ends.anchor_seq + 1,
            previous: ends.anchor_hash,
            last_id: None,
            pending: None,
            count: 0,
            broken: None,
            latest_at: i64::MIN,
            stated_anchor: None,
        }
    }

    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// Pushes one keyset page read in (seq, id) order and moves `cursor` past it;
    /// false once there is nothing more to read (a short page, or a break found).
    pub fn push_page(&mut self, rows: Vec<ChainedEntry>, cursor: &mut (i64, i64)) -> bool {
        let full = rows.len() as i64 == VERIFY_PAGE;
        for row in rows {
            let seq = row.seq.unwrap_or_default();
            *cursor = (seq, row.entry.id);
            self.push(SealedRow {
                id: row.entry.id,
                seq,
                // A seq without a hash verifies for nothing.
                hash: row.hash.unwrap_or([0xff; 32]),
                record: row.entry.record,
            });
        }
        full && !self.is_broken()
    }

    pub fn push(&mut self, row: SealedRow) {
        if self.broken.is_some() {
            return;
        }
        if let Some(pending) = self.pending.take() {
            self.judge(pending, Some(&row));
        }
        if self.broken.is_none() {
            self.pending = Some(row);
        }
    }

    /// The verdict once every row was pushed.
    pub fn finish(mut self) -> ChainVerdict {
        if let Some(pending) = self.pending.take() {
            self.judge(pending, None);
        }
        if let Some(broken) = self.broken {
            return ChainVerdict::Broken(broken);
        }
        if self.expected - 1 < self.ends.head_seq {
            return ChainVerdict::Broken(ChainBreak {
                id: None,
                seq: self.expected,
                kind: Tamper::Truncated,
            });
        }
        if self.previous != self.ends.head_hash {
            // The last record verifies but is not the head the writer left: a record
            // forged after it with the encoding recomputed.
            return ChainVerdict::Broken(ChainBreak {
                id: self.last_id,
                seq: self.expected - 1,
                kind: Tamper::Inserted,
            });
        }
        if matches!(self.links, Links::Keyed(_)) {
            // Only retention moves an anchor, and it says so in a keyed record in the same
            // transaction: an anchor no such record names was moved by hand, and the
            // records before it were removed.
            let (seq, hash) = self.stated_anchor.unwrap_or((0, GENESIS_HASH));
            if (seq, hash) != (self.ends.anchor_seq, self.ends.anchor_hash) {
                return ChainVerdict::Broken(ChainBreak {
                    id: None,
                    seq: self.ends.anchor_seq.max(seq),
                    kind: Tamper::Removed,
                });
            }
        }
        ChainVerdict::Intact {
            records: self.count,
            head_seq: self.ends.head_seq,
            head_hash: self.ends.head_hash,
        }
    }

    fn judge(&mut self, row: SealedRow, next: Option<&SealedRow>) {
        let bad = |kind| ChainBreak {
            id: Some(row.id),
            seq: row.seq,
            kind,
        };
        if row.seq < self.expected || row.seq > self.ends.head_seq {
            // A second row at a seq already taken, or one beyond the head.
            self.broken = Some(bad(Tamper::Inserted));
            return;
        }
        if row.seq > self.expected {
            self.broken = Some(ChainBreak {
                id: None,
                seq: self.expected,
                kind: Tamper::Removed,
            });
            return;
        }
        let computed = self.links.link(&self.previous, row.seq, &row.record);
        if computed == row.hash {
            let at = row.record.at.timestamp_micros();
            if matches!(self.links, Links::Keyed(_))
                && at < self.latest_at.saturating_sub(AT_ALLOWANCE_MICROS)
            {
                // Sealed in its place, but stamped well before a record sealed ahead of
                // it: slipped into the table back-dated, then sealed by the sealer.
                self.broken = Some(bad(Tamper::Inserted));
                return;
            }
            self.latest_at = self.latest_at.max(at);
            if states_anchor(row.record.event) {
                let stated = row.record.detail.as_deref().and_then(parse_pruned_detail);
                self.stated_anchor = Some(stated.unwrap_or((-1, GENESIS_HASH)));
            }
            self.previous = computed;
            self.expected += 1;
            self.count += 1;
            self.last_id = Some(row.id);
            return;
        }
        // When only the row's content was edited its stored hash is still the genuine
        // one: the next record chains from it (or, for the last, the head is it). A
        // forged row's hash leads nowhere, and a forged row beside a genuine one shares
        // its seq.
        let genuine_hash = match next {
            Some(next) => {
                next.seq == row.seq + 1
                    && self.links.link(&row.hash, next.seq, &next.record) == next.hash
            }
            None => row.hash == self.ends.head_hash,
        };
        let shares_seq = next.is_some_and(|next| next.seq == row.seq);
        let forged = row.hash == FORGED_LINK;
        self.broken = Some(bad(if genuine_hash && !shares_seq && !forged {
            Tamper::Changed
        } else {
            Tamper::Inserted
        }));
    }
}

/// Whether records of this event state the chain's anchor in their detail.
fn states_anchor(event: AuditEvent) -> bool {
    matches!(event, AuditEvent::AuditPruned | AuditEvent::AuditChainKeyed)
}

/// A record Lumio adds to a chain itself: retention's [`AuditEvent::AuditPruned`] and the
/// upgrade's [`AuditEvent::AuditChainKeyed`], stamped now, in no environment.
pub(crate) fn system_record(extension_id: i64, event: AuditEvent, detail: String) -> AuditRecord {
    AuditRecord {
        at: chrono::Utc::now(),
        extension_id,
        environment: None,
        event,
        secret_name: None,
        actor: Some(lumio_core::SYSTEM_ACTOR.to_owned()),
        action: None,
        request_id: None,
        outcome: Some(AuditOutcome::Ok.into()),
        detail: Some(detail),
    }
}

/// The detail of the upgrade's [`AuditEvent::AuditChainKeyed`] record (the upgrade from
/// `lumio-audit-v1`): the anchor at that moment (so it reads like retention's
/// [`AuditEvent::AuditPruned`] detail), the encoding it came from and what checking it
/// found.
pub(crate) fn keyed_detail(ends: &Ends, v1: &ChainVerdict) -> String {
    let found = match v1 {
        ChainVerdict::Intact { .. } => "intact".to_owned(),
        ChainVerdict::Broken(b) => format!("{} at seq {}", b.kind.as_str(), b.seq),
    };
    let anchor = lumio_core::pruned_detail(ends.anchor_seq, &ends.anchor_hash, 0);
    format!(
        r#"{},"from":"lumio-audit-v1","v1":"{found}"}}"#,
        anchor.trim_end_matches('}')
    )
}

/// The distinct extension ids of a batch, sorted: the order their heads are locked in.
pub(crate) fn extension_ids(batch: &[AuditRecord]) -> Vec<i64> {
    let mut ids: Vec<i64> = batch.iter().map(|r| r.extension_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
