//! Tokens on PostgreSQL.

use chrono::{DateTime, Utc};

use super::audit::insert_change_records;
use super::PgStore;
use crate::tokens::{self as sql, Row};
use crate::{rows, AuditRecord, Revocation, StoreError, TokenRecord};

impl PgStore {
    pub(super) async fn insert_token_row(
        &self,
        token: &TokenRecord,
        audit: &[AuditRecord],
    ) -> Result<(), StoreError> {
        let (is_admin, extension_id, role) = rows::grant_columns(&token.grant);
        let mut tx = self.pool.begin().await?;
        sqlx::query(sql::INSERT)
            .bind(&token.id)
            .bind(&token.secret_hash[..])
            .bind(is_admin)
            .bind(extension_id)
            .bind(role)
            .bind(token.environment.map(|e| e.as_str()))
            .bind(&token.label)
            .bind(token.created_at)
            .bind(&token.created_by)
            .bind(token.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| rows::conflict_or(e, || format!("token {}", token.id)))?;
        // The first owner token claims its extension (a hand-over; claim codes are the
        // other way): from then on admins stay out of it.
        let claimed = match rows::owned_extension(&token.grant) {
            Some(extension_id) => sqlx::query(crate::staff::MARK_CLAIMED)
                .bind(extension_id)
                .bind(token.created_at)
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
        let rows: Vec<Row<DateTime<Utc>>> = sqlx::query_as(&format!(
            "SELECT {} FROM tokens WHERE revoked_at IS NULL \
             AND ($1::text IS NULL OR id = $1) AND ($2::bigint IS NULL OR extension_id = $2) \
             ORDER BY created_at, id",
            sql::COLUMNS
        ))
        .bind(id)
        .bind(extension_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|row| sql::record(row, Ok)).collect()
    }

    /// Under READ COMMITTED two admins revoking each other at once would each still see
    /// the other live; locking the live admin rows first makes the second wait and then
    /// see the first's revocation.
    pub(super) async fn revoke_token_row(
        &self,
        id: &str,
        by: &str,
        at: DateTime<Utc>,
        audit: &[AuditRecord],
    ) -> Result<Revocation, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT id FROM tokens WHERE is_admin AND revoked_at IS NULL FOR UPDATE")
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(sql::REVOKE)
            .bind(id)
            .bind(at)
            .bind(by)
            .execute(&mut *tx)
            .await?;
        let outcome = if done.rows_affected() == 1 {
            insert_change_records(&mut tx, audit).await?;
            Revocation::Revoked
        } else {
            let live_is_admin = sqlx::query_scalar(sql::LIVE_IS_ADMIN)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            sql::unrevoked(live_is_admin)
        };
        tx.commit().await?;
        Ok(outcome)
    }

    pub(super) async fn touch_token_row(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(sql::TOUCH)
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
