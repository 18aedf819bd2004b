//! Tokens on SQLite. SQLite runs one write statement at a time across every process on
//! the file, so the last-admin check inside the revoking UPDATE cannot race.

use chrono::{DateTime, Utc};

use super::audit::insert_change_records;
use super::{from_micros, micros, SqliteStore};
use crate::tokens::{self as sql, Row};
use crate::{rows, AuditRecord, Revocation, StoreError, TokenRecord};

impl SqliteStore {
    pub(super) async fn insert_token_row(
        &self,
        token: &TokenRecord,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError> {
        let (is_admin, extension_id, role) = rows::grant_columns(&token.grant);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(sql::INSERT)
            .bind(&token.id)
            .bind(&token.secret_hash[..])
            .bind(is_admin)
            .bind(extension_id)
            .bind(role)
            .bind(token.environment.map(|e| e.as_str()))
            .bind(&token.label)
            .bind(micros(token.created_at))
            .bind(&token.created_by)
            .bind(token.expires_at.map(micros))
            .execute(&mut *tx)
            .await
            .map_err(|e| rows::conflict_or(e, || format!("token {}", token.id)))?;
        // The first owner token claims its extension (a hand-over; claim codes are the
        // other way): from then on admins stay out of it.
        let claimed = match rows::owned_extension(&token.grant) {
            Some(extension_id) => sqlx::query(crate::staff::MARK_CLAIMED)
                .bind(extension_id)
                .bind(micros(token.created_at))
                .bind(&token.id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                .eq(&1)
                .then_some(extension_id),
            None => None,
        };
        insert_change_records(&mut tx, audit).await?;
        tx.commit().await?;
        if let Some(extension_id) = claimed {
            self.announce_extension(extension_id).await;
        }
        Ok(())
    }

    pub(super) async fn select_tokens(
        &self,
        id: Option<&str>,
        extension_id: Option<i64>,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let rows: Vec<Row<i64>> = sqlx::query_as(&format!(
            "SELECT {} FROM tokens WHERE revoked_at IS NULL \
             AND ($1 IS NULL OR id = $1) AND ($2 IS NULL OR extension_id = $2) \
             ORDER BY created_at, id",
            sql::COLUMNS
        ))
        .bind(id)
        .bind(extension_id)
        .fetch_all(&self.readers)
        .await?;
        rows.into_iter()
            .map(|row| sql::record(row, from_micros))
            .collect()
    }

    pub(super) async fn revoke_token_row(
        &self,
        id: &str,
        by: &str,
        at: DateTime<Utc>,
        audit: &[AuditRecord],
    ) -> Result<Revocation, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(sql::REVOKE)
            .bind(id)
            .bind(micros(at))
            .bind(by)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            insert_change_records(&mut tx, audit).await?;
            tx.commit().await?;
            return Ok(Revocation::Revoked);
        }
        let live_is_admin = sqlx::query_scalar(sql::LIVE_IS_ADMIN)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        tx.rollback().await?;
        Ok(sql::unrevoked(live_is_admin))
    }

    pub(super) async fn touch_token_row(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(sql::TOUCH)
            .bind(id)
            .bind(micros(at))
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
