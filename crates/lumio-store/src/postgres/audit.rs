//! The audit log on PostgreSQL: the writer's batches as one binary COPY each, and a
//! change's records as arrays for the change's own statement.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolCopyExt;

use super::copy_binary::CopyBinary;
use super::PgStore;
use crate::{AuditRecord, StoreError};

/// One statement, so one implicit transaction and one WAL flush per batch, whatever its
/// size; binary COPY is the cheapest way into a table for the server and the client.
/// Records go in unsealed (`seq` and `hash` NULL): the audit writer's sealer chains them
/// within its interval, outside the path a waiting caller is on (sealing at insert took
/// six round trips under the head lock and cost the audited action a third of its rate).
const COPY: &str = "COPY ext_audit_log \
    (at, extension_id, environment, event, secret_name, actor, action, request_id, outcome, detail) \
    FROM STDIN (FORMAT binary)";
const COPY_FIELDS: i16 = 10;

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
        let mut copy = CopyBinary::with_capacity(batch.len() * 160);
        for record in batch {
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
        }
        let mut stream = self.pool.copy_in_raw(COPY).await?;
        stream.send(copy.finish()).await?;
        stream.finish().await?;
        Ok(())
    }
}
