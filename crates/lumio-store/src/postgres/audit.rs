//! The audit log on PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolCopyExt;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::copy_binary::CopyBinary;
use super::PgStore;
use crate::{rows, AuditEntry, AuditQuery, AuditRecord, StoreError};

/// One statement, so one implicit transaction and one WAL flush per batch, whatever its
/// size; binary COPY is the cheapest way into a table for the server and the client.
/// Records go in unsealed (`seq` and `hash` NULL): the audit writer's sealer chains them
/// within its interval, outside the path a waiting caller is on (sealing at insert took
/// six round trips under the head lock and cost the audited action a third of its rate).
const COPY: &str = "COPY ext_audit_log \
    (at, extension_id, environment, event, secret_name, actor, action, request_id, outcome, detail) \
    FROM STDIN (FORMAT binary)";
const COPY_FIELDS: i16 = 10;

pub(super) type AuditRow = (
    i64,
    DateTime<Utc>,
    i64,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

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

/// Writes a change's records inside the change's transaction. Any failure here means the
/// change must not commit, so it is reported as [`StoreError::AuditRefused`].
pub(super) async fn insert_change_records(
    conn: &mut PgConnection,
    records: &[AuditRecord],
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let mut sql = QueryBuilder::<Postgres>::new(
        "INSERT INTO ext_audit_log (at, extension_id, environment, event, secret_name, \
         actor, action, request_id, outcome, detail) ",
    );
    sql.push_values(records, |mut row, r| {
        row.push_bind(r.at)
            .push_bind(r.extension_id)
            .push_bind(r.environment.map(|e| e.as_str()))
            .push_bind(&r.event)
            .push_bind(&r.secret_name)
            .push_bind(&r.actor)
            .push_bind(&r.action)
            .push_bind(&r.request_id)
            .push_bind(&r.outcome)
            .push_bind(&r.detail);
    });
    sql.build()
        .execute(conn)
        .await
        .map_err(|e| StoreError::AuditRefused(e.to_string()))?;
    Ok(())
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
            copy.field_text(Some(&record.event));
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

    pub(super) async fn select_audit(
        &self,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT id, at, extension_id, environment, event, secret_name, actor, action, \
             request_id, outcome, detail FROM ext_audit_log WHERE extension_id = ",
        );
        sql.push_bind(query.extension_id);
        if let Some(environment) = query.environment {
            // Extension-wide records (token and extension creation) belong to every environment.
            sql.push(" AND (environment IS NULL OR environment = ")
                .push_bind(environment.as_str())
                .push(")");
        }
        if let Some(name) = &query.secret_name {
            sql.push(" AND secret_name = ").push_bind(name);
        }
        if let Some(event) = &query.event {
            sql.push(" AND event = ").push_bind(event);
        }
        if let Some(before) = query.before_id {
            sql.push(" AND id < ").push_bind(before);
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(query.limit.max(0));
        let rows: Vec<AuditRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(entry).collect()
    }
}

pub(super) fn entry(row: AuditRow) -> Result<AuditEntry, StoreError> {
    let (
        id,
        at,
        extension_id,
        environment,
        event,
        secret_name,
        actor,
        action,
        request_id,
        outcome,
        detail,
    ) = row;
    Ok(AuditEntry {
        id,
        record: AuditRecord {
            at,
            extension_id,
            environment: environment.as_deref().map(rows::environment).transpose()?,
            event,
            secret_name,
            actor,
            action,
            request_id,
            outcome,
            detail,
        },
    })
}
