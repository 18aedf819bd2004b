//! The audit log on PostgreSQL: the writer's batches as one statement each (an `INSERT`
//! of arrays or a binary COPY, on the writer's kept connection), and a change's records
//! as arrays for the change's own statement.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres};

use super::copy_binary::CopyBinary;
use super::PgStore;
use crate::chain::{self, Heads, SEAL_LIMIT};
use crate::{AuditRecord, StoreError};

/// One statement for the records, whatever the batch's size; binary COPY is the cheapest
/// way into a table for the server and the client. `seq` and `hash` are NULL for records
/// that go in unsealed (see [`SEAL_AT_INSERT`]).
const COPY: &str = "COPY ext_audit_log \
    (at, extension_id, environment, event, secret_name, actor, action, request_id, outcome, \
     detail, seq, hash) FROM STDIN (FORMAT binary)";
const COPY_FIELDS: i16 = 12;

/// A batch up to this size goes in unsealed as one `INSERT` of arrays: with its prepared
/// statement that is one round trip, where COPY takes two (its start, then its data). A
/// batch's waiters wait for every round trip, and under load each costs a wait for a core;
/// bigger batches come only under load and take COPY's cheaper per-row path.
const INSERT_UP_TO: usize = 64;
const INSERT: &str = "INSERT INTO ext_audit_log \
    (at, extension_id, environment, event, secret_name, actor, action, request_id, outcome, detail) \
    SELECT * FROM UNNEST($1::timestamptz[], $2::int8[], $3::text[], $4::text[], $5::text[], \
        $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])";

/// Binds an [`AuditColumns`]' ten arrays in order: after a change's own parameters for
/// `audit_rows!` (`write.rs`), or alone for [`INSERT`].
macro_rules! bind_audit {
    ($query:expr, $audit:expr) => {{
        let audit = $audit;
        $query
            .bind(&audit.at)
            .bind(&audit.extension_id)
            .bind(&audit.environment)
            .bind(&audit.event)
            .bind(&audit.secret_name)
            .bind(&audit.actor)
            .bind(&audit.action)
            .bind(&audit.request_id)
            .bind(&audit.outcome)
            .bind(&audit.detail)
    }};
}

/// The audit writer's connection, kept between batches: taking one from the pool pings
/// it first, one more round trip before each batch. It is given back to the pool after a
/// failure, after [`KEEP_IDLE`] unused (so a connection that died while the writer was
/// idle, in a database restart say, is found by the pool's ping rather than by a batch
/// whose waiters would be told the audit log failed), and once the primary moved since it
/// was taken.
pub(super) struct Held {
    conn: PoolConnection<Postgres>,
    taken: Instant,
    used: Instant,
}

const KEEP_IDLE: Duration = Duration::from_secs(1);

impl Held {
    /// The connection, out of the pool's accounting (no task spawned to give it back).
    pub(super) fn detach(self) -> PgConnection {
        self.conn.detach()
    }
}

/// A batch this big is sealed as it is written, in one transaction under its chains'
/// head locks. A smaller one goes in unsealed, as one statement and nothing else, and the
/// writer's sealer chains it within its interval: small batches are the waiting
/// callers' (sealing at insert costs five more round trips, and cost the audited action
/// a third of its rate in `bench/load.sh`), while big ones come only under load, where
/// sealing afterwards would rewrite every row a second time (a non-HOT UPDATE through
/// every index) and fall behind the writer.
pub(crate) const SEAL_AT_INSERT: usize = 256;

/// The records of a change as parallel arrays, for the `UNNEST` insert that
/// [`audit_rows!`](super::write) puts into the change's own statement.
pub(super) struct AuditColumns<'a> {
    pub at: Vec<DateTime<Utc>>,
    pub extension_id: Vec<i64>,
    pub environment: Vec<Option<&'a str>>,
    pub event: Vec<&'a str>,
    pub secret_name: Vec<Option<&'a str>>,
    pub actor: Vec<Option<&'a str>>,
    pub action: Vec<Option<&'a str>>,
    pub request_id: Vec<Option<&'a str>>,
    pub outcome: Vec<Option<&'a str>>,
    pub detail: Vec<Option<&'a str>>,
}

impl<'a> AuditColumns<'a> {
    pub fn new(records: &'a [AuditRecord]) -> Self {
        let text = |pick: fn(&'a AuditRecord) -> &'a Option<String>| {
            records.iter().map(|r| pick(r).as_deref()).collect()
        };
        Self {
            at: records.iter().map(|r| r.at).collect(),
            extension_id: records.iter().map(|r| r.extension_id).collect(),
            environment: records
                .iter()
                .map(|r| r.environment.map(|e| e.as_str()))
                .collect(),
            event: records.iter().map(|r| r.event.as_str()).collect(),
            secret_name: text(|r| &r.secret_name),
            actor: text(|r| &r.actor),
            action: text(|r| &r.action),
            request_id: text(|r| &r.request_id),
            outcome: text(|r| &r.outcome),
            detail: text(|r| &r.detail),
        }
    }
}

/// Whether a failed statement failed on the audit table (a change's own record): the
/// table itself (no partition for the record's day) or one of its partitions.
pub(super) fn is_audit_refusal(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db
            .table()
            .is_some_and(|table| table.starts_with("ext_audit_log")),
        _ => false,
    }
}

impl PgStore {
    pub(super) async fn insert_audit(&self, batch: &[AuditRecord]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        match self.audit_root.get() {
            Some(root) if batch.len() >= SEAL_AT_INSERT => {
                self.insert_audit_sealed(batch, root).await
            }
            // Before start-up loaded the key every record waits unsealed.
            _ => self.insert_audit_unsealed(batch).await,
        }
    }

    /// One statement on the writer's kept connection. If that connection turns out lost
    /// (closed by the server, reset), the batch goes once more on one from the pool, whose
    /// ping has checked it: a connection that died between two batches is not a failed
    /// batch, whose waiters would be told the audit log is down. (Whether a lost statement
    /// committed is as unknown as for any batch the writer retries.)
    async fn insert_audit_unsealed(&self, batch: &[AuditRecord]) -> Result<(), StoreError> {
        // Only the writer task calls this, one batch at a time: the lock is never waited on.
        let mut kept = self.audit_conn.lock().await;
        let reusable = kept.take().filter(|held| {
            held.used.elapsed() < KEEP_IDLE && self.primary.opened_since_move(held.taken.elapsed())
        });
        if let Some(mut held) = reusable {
            match write_unsealed(&mut held.conn, batch).await {
                Ok(()) => {
                    held.used = Instant::now();
                    *kept = Some(held);
                    return Ok(());
                }
                Err(err) if !connection_lost(&err) => return Err(err),
                Err(_) => {} // dropped: the pool checks it before handing it out again
            }
        }
        let mut held = Held {
            conn: self.pool.acquire().await?,
            taken: Instant::now(),
            used: Instant::now(),
        };
        write_unsealed(&mut held.conn, batch).await?;
        held.used = Instant::now();
        *kept = Some(held);
        Ok(())
    }

    /// Seals what is pending in the batch's chains, then the batch after it, so each
    /// chain stays in the order its records were made.
    async fn insert_audit_sealed(
        &self,
        batch: &[AuditRecord],
        root: lumio_core::AuditRootKey,
    ) -> Result<(), StoreError> {
        let ids = chain::extension_ids(batch);
        self.ensure_heads(&ids).await?;
        let mut tx = self.begin_write().await?;
        let mut heads = Self::lock_heads(&mut tx, &ids, root).await?;
        let pending = Self::seal_unsealed(&mut tx, &mut heads).await?;
        // A full slice means older records may still wait: the batch waits behind them,
        // unsealed, for the sealer to chain in time order.
        let sealing = (pending < SEAL_LIMIT as u64).then_some(&mut heads);
        copy_records(&mut tx, batch, sealing).await?;
        Self::store_heads(&mut tx, &heads).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Writes `batch` unsealed: one `INSERT` of arrays, or one COPY for a bigger batch.
async fn write_unsealed(conn: &mut PgConnection, batch: &[AuditRecord]) -> Result<(), StoreError> {
    if batch.len() <= INSERT_UP_TO {
        insert_records(conn, batch).await
    } else {
        copy_records(conn, batch, None).await
    }
}

/// Whether `err` says the connection itself is gone (reset, closed, or ended by the
/// server: SQLSTATE class 57, operator intervention), not that the statement was refused.
fn connection_lost(err: &StoreError) -> bool {
    match err {
        StoreError::Database(sqlx::Error::Io(_) | sqlx::Error::Protocol(_)) => true,
        StoreError::Database(sqlx::Error::Database(db)) => {
            db.code().is_some_and(|code| code.starts_with("57"))
        }
        _ => false,
    }
}

/// Writes `batch` unsealed as one `INSERT` of arrays on `conn`.
async fn insert_records(conn: &mut PgConnection, batch: &[AuditRecord]) -> Result<(), StoreError> {
    let audit = AuditColumns::new(batch);
    bind_audit!(sqlx::query(INSERT), &audit)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes `batch` as one COPY on `conn`: sealed under `heads` when given (a record whose
/// chain is not held stays unsealed), else unsealed.
async fn copy_records(
    conn: &mut PgConnection,
    batch: &[AuditRecord],
    mut heads: Option<&mut Heads>,
) -> Result<(), StoreError> {
    let mut copy = CopyBinary::with_capacity(batch.len() * 200);
    for record in batch {
        let sealed = heads.as_deref_mut().and_then(|heads| heads.seal(record));
        copy.row(COPY_FIELDS);
        copy.field_timestamptz(record.at);
        copy.field_i64(record.extension_id);
        copy.field_text(record.environment.map(|e| e.as_str()));
        copy.field_text(Some(record.event.as_str()));
        for text in [
            &record.secret_name,
            &record.actor,
            &record.action,
            &record.request_id,
            &record.outcome,
            &record.detail,
        ] {
            copy.field_text(text.as_deref());
        }
        copy.field_i64_or_null(sealed.map(|(seq, _)| seq));
        copy.field_bytes(sealed.as_ref().map(|(_, hash)| &hash[..]));
    }
    let mut stream = conn.copy_in_raw(COPY).await?;
    stream.send(copy.finish()).await?;
    stream.finish().await?;
    Ok(())
}
