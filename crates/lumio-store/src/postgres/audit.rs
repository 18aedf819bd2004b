//! The audit log on PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use super::PgStore;
use crate::{rows, AuditEntry, AuditQuery, AuditRecord, StoreError};

/// One statement, so one implicit transaction and one WAL flush per batch, whatever
/// its size; UNNEST keeps the statement text (and its cached plan) the same for every batch.
const INSERT: &str = "INSERT INTO ext_audit_log \
    (at, extension_id, environment, event, secret_name, actor, action, request_id, outcome, detail) \
    SELECT * FROM UNNEST($1::timestamptz[], $2::int8[], $3::text[], $4::text[], $5::text[], \
                         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])";

type AuditRow = (
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

fn column<'a, T: ?Sized + 'a>(
    batch: &'a [AuditRecord],
    get: impl Fn(&'a AuditRecord) -> Option<&'a T>,
) -> Vec<Option<&'a T>> {
    batch.iter().map(get).collect()
}

impl PgStore {
    pub(super) async fn insert_audit(&self, batch: &[AuditRecord]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let at: Vec<DateTime<Utc>> = batch.iter().map(|r| r.at).collect();
        let extension_ids: Vec<i64> = batch.iter().map(|r| r.extension_id).collect();
        let environments: Vec<Option<&str>> = batch
            .iter()
            .map(|r| r.environment.map(|e| e.as_str()))
            .collect();
        let events: Vec<&str> = batch.iter().map(|r| r.event.as_str()).collect();
        sqlx::query(INSERT)
            .bind(at)
            .bind(extension_ids)
            .bind(environments)
            .bind(events)
            .bind(column(batch, |r| r.secret_name.as_deref()))
            .bind(column(batch, |r| r.actor.as_deref()))
            .bind(column(batch, |r| r.action.as_deref()))
            .bind(column(batch, |r| r.request_id.as_deref()))
            .bind(column(batch, |r| r.outcome.as_deref()))
            .bind(column(batch, |r| r.detail.as_deref()))
            .execute(&self.pool)
            .await?;
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

fn entry(row: AuditRow) -> Result<AuditEntry, StoreError> {
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
