//! The audit log's hash chain, shared by both backends: sealing records in order and
//! walking a chain to find the first record that was changed, removed or inserted. The
//! encoding itself is `lumio_core::chain_hash` (docs/audit-chain.md).

use std::collections::BTreeMap;

use lumio_core::{chain_hash, ChainFields, GENESIS_HASH};

use crate::{AuditEntry, AuditRecord, ChainBreak, ChainVerdict, ChainedEntry, StoreError, Tamper};

/// Most unsealed records one transaction seals: a log from before the chain (millions of
/// records) is sealed a slice per batch and idle tick, never in one long transaction
/// that would hold up the writer's batches. Later records may then take earlier seqs
/// than older unsealed ones; the chain's order is its seq, not the id.
pub(crate) const SEAL_LIMIT: i64 = 10_000;

/// Rows read per page while verifying (keyset pages inside one snapshot).
pub(crate) const VERIFY_PAGE: i64 = 5000;

/// The chain fields of a record as stored (`at` at the database's microsecond precision).
pub(crate) fn fields(record: &AuditRecord) -> ChainFields<'_> {
    ChainFields {
        extension_id: record.extension_id,
        at_micros: record.at.timestamp_micros(),
        environment: record.environment.map(|e| e.as_str()),
        event: &record.event,
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

/// The last sealed record of each extension whose head is locked, as the sealing
/// transaction moves it forward.
#[derive(Debug, Default)]
pub(crate) struct Heads {
    heads: BTreeMap<i64, (i64, [u8; 32])>,
    moved: bool,
}

impl Heads {
    pub fn insert(&mut self, extension_id: i64, seq: i64, hash: [u8; 32]) {
        self.heads.insert(extension_id, (seq, hash));
    }

    pub fn contains(&self, extension_id: i64) -> bool {
        self.heads.contains_key(&extension_id)
    }

    /// Seals `record` as the next of its extension's chain: its seq and hash.
    pub fn seal(&mut self, record: &AuditRecord) -> (i64, [u8; 32]) {
        let (seq, hash) = self
            .heads
            .entry(record.extension_id)
            .or_insert((0, GENESIS_HASH));
        *seq += 1;
        *hash = chain_hash(hash, *seq as u64, &fields(record));
        self.moved = true;
        (*seq, *hash)
    }

    /// Whether any record was sealed (the heads need writing back).
    pub fn moved(&self) -> bool {
        self.moved
    }

    /// The heads as parallel columns: extension ids, seqs, hashes.
    pub fn columns(&self) -> (Vec<i64>, Vec<i64>, Vec<Vec<u8>>) {
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for (id, (seq, hash)) in &self.heads {
            out.0.push(*id);
            out.1.push(*seq);
            out.2.push(hash.to_vec());
        }
        out
    }
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

impl Ends {
    /// An extension that never had a sealed record.
    pub const EMPTY: Self = Self {
        anchor_seq: 0,
        anchor_hash: GENESIS_HASH,
        head_seq: 0,
        head_hash: GENESIS_HASH,
    };
}

/// Walks one extension's chain from its anchor. Rows come in (seq, id) order; a row is
/// judged once the next one is known, since "changed" and "inserted" differ only in
/// whether the chain goes on from the row's stored hash.
pub(crate) struct Walk {
    ends: Ends,
    expected: i64,
    previous: [u8; 32],
    last_id: Option<i64>,
    pending: Option<SealedRow>,
    count: u64,
    broken: Option<ChainBreak>,
}

impl Walk {
    pub fn new(ends: Ends) -> Self {
        Self {
            ends,
            expected: ends.anchor_seq + 1,
            previous: ends.anchor_hash,
            last_id: None,
            pending: None,
            count: 0,
            broken: None,
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
        let computed = chain_hash(&self.previous, row.seq as u64, &fields(&row.record));
        if computed == row.hash {
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
                    && chain_hash(&row.hash, next.seq as u64, &fields(&next.record)) == next.hash
            }
            None => row.hash == self.ends.head_hash,
        };
        let shares_seq = next.is_some_and(|next| next.seq == row.seq);
        self.broken = Some(bad(if genuine_hash && !shares_seq {
            Tamper::Changed
        } else {
            Tamper::Inserted
        }));
    }
}

/// The distinct extension ids of a batch, sorted: the order their heads are locked in.
pub(crate) fn extension_ids(batch: &[AuditRecord]) -> Vec<i64> {
    let mut ids: Vec<i64> = batch.iter().map(|r| r.extension_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
