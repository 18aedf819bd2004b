//! The [`Store`](crate::Store) impl, written once for both backends.
//!
//! The SQL both run is written once too, in macros that add inherent methods to a store
//! type (`sessions.rs`, `staff.rs`, `rotation.rs`, `secrets.rs`, `deployments.rs`,
//! `tokens.rs`, `audit.rs`, `chain_queries.rs`): the statements are the same, only the
//! pool and connection types differ, and timestamps are [`Stamp`](crate::stamp::Stamp)s
//! on both; where their SQL differs, [`Dialect`](crate::dialect::Dialect) says how.
//!
//! A backend's module keeps what truly differs. Besides [`Backend`] it provides `tell`
//! (the change feed; PostgreSQL also notifies other processes), `write` (the secret
//! write path), `insert_audit` (the audit writer's batches), `prune_audit_before`
//! (retention), the chain's `ensure_heads`, `lock_heads` and `seal_unsealed`, and the
//! trait methods of its own, given to [`impl_store!`].

/// The pools a backend's shared queries run on.
pub(crate) trait Backend {
    type Db: sqlx::Database + crate::dialect::Dialect;
    fn readers(&self) -> &sqlx::Pool<Self::Db>;
    /// Where writes go: the readers' pool unless the backend keeps writes apart
    /// (SQLite's one writer connection).
    fn writer(&self) -> &sqlx::Pool<Self::Db> {
        self.readers()
    }
}

/// Implements [`crate::Store`] for `$store` on database `$db`, named `$name` in logs,
/// with the trait methods given in braces written by the backend itself.
macro_rules! impl_store {
    ($store:ty, $db:ty, $name:literal, { $($own:tt)* }) => {
        $crate::sessions::session_queries!($store);
        $crate::staff::staff_queries!($store);
        $crate::rotation::rotation_queries!($store);
        $crate::secrets::secret_queries!($store, $db);
        $crate::deployments::deployment_queries!($store);
        $crate::tokens::token_queries!($store, $db);
        $crate::audit::audit_queries!($store, $db);
        $crate::chain_queries::chain_queries!($store, $db);
        $crate::invocation_logs::log_queries!($store, $db);
        $crate::webhooks::webhook_queries!($store, $db);

        impl $store {
            async fn begin_write(
                &self,
            ) -> Result<sqlx::Transaction<'static, $db>, $crate::StoreError> {
                use $crate::dialect::Dialect;
                Ok(self.writer().begin_with(<$db>::BEGIN_WRITE).await?)
            }

            async fn begin_snapshot(
                &self,
            ) -> Result<sqlx::Transaction<'static, $db>, $crate::StoreError> {
                use $crate::dialect::Dialect;
                Ok(self.readers().begin_with(<$db>::BEGIN_SNAPSHOT).await?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            $($own)*

            fn backend(&self) -> &'static str {
                $name
            }

            async fn append_audit(
                &self,
                batch: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                self.insert_audit(batch).await
            }

            async fn append_invocation_logs(
                &self,
                batch: &[$crate::NewInvocationLog],
            ) -> Result<(), $crate::StoreError> {
                self.insert_logs(batch).await
            }

            async fn invocation_logs(
                &self,
                query: &$crate::LogQuery<'_>,
            ) -> Result<$crate::LogPage, $crate::StoreError> {
                self.select_logs(query).await
            }

            async fn prune_invocation_logs(
                &self,
                cutoff: chrono::DateTime<chrono::Utc>,
                keep: i64,
            ) -> Result<$crate::LogsPruned, $crate::StoreError> {
                self.prune_logs(cutoff, keep).await
            }

            async fn insert_webhook(
                &self,
                hook: &$crate::WebhookRecord,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                self.webhook_insert(hook, audit).await
            }

            async fn webhooks(
                &self,
                extension_id: Option<i64>,
            ) -> Result<Vec<$crate::WebhookRecord>, $crate::StoreError> {
                self.webhook_rows(extension_id).await
            }

            async fn remove_webhook(
                &self,
                extension_id: i64,
                id: &str,
                at: chrono::DateTime<chrono::Utc>,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                self.webhook_remove(extension_id, id, at, audit).await
            }

            async fn reseal_webhook(
                &self,
                id: &str,
                old: &[u8],
                sealed: &[u8],
                kek_id: &str,
            ) -> Result<bool, $crate::StoreError> {
                self.webhook_reseal(id, old, sealed, kek_id).await
            }

            async fn prune_webhook_deliveries(
                &self,
                cutoff: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                self.deliveries_prune(cutoff).await
            }

            async fn record_notice(
                &self,
                notice: &$crate::DueNotice,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                self.notice_record(notice, audit).await
            }

            async fn take_lease(
                &self,
                name: &str,
                holder: &str,
                now: chrono::DateTime<chrono::Utc>,
                until: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                self.lease_take(name, holder, now, until).await
            }

            async fn release_lease(&self, name: &str, holder: &str) -> Result<(), $crate::StoreError> {
                self.lease_release(name, holder).await
            }

            async fn fan_out_events(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                self.events_fan_out(now).await
            }

            async fn due_deliveries(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: i64,
                webhook: Option<&str>,
            ) -> Result<Vec<$crate::DueDelivery>, $crate::StoreError> {
                self.deliveries_due(now, limit, webhook).await
            }

            async fn record_attempt(
                &self,
                result: &$crate::AttemptResult,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                self.attempt_record(result, audit).await
            }

            async fn deliveries(
                &self,
                extension_id: i64,
                failed_only: bool,
                limit: i64,
            ) -> Result<Vec<$crate::DeliveryRecord>, $crate::StoreError> {
                self.delivery_rows(extension_id, failed_only, limit).await
            }

            async fn redeliver(
                &self,
                extension_id: i64,
                delivery_id: i64,
                now: chrono::DateTime<chrono::Utc>,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                self.delivery_requeue(extension_id, delivery_id, now, audit).await
            }

            async fn prune_audit(
                &self,
                cutoff: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::AuditPruned, $crate::StoreError> {
                self.prune_audit_before(cutoff).await
            }

            async fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, $crate::StoreError> {
                let value = sqlx::query_scalar("SELECT value FROM lumio_meta WHERE key = $1")
                    .bind(key)
                    .fetch_optional(self.readers())
                    .await?;
                Ok(value)
            }

            async fn meta_put_if_absent(
                &self,
                key: &str,
                value: &[u8],
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO lumio_meta (key, value) VALUES ($1, $2) \
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(value)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn meta_replace(
                &self,
                key: &str,
                expected: &[u8],
                value: &[u8],
            ) -> Result<bool, $crate::StoreError> {
                self.replace_meta(key, expected, value).await
            }

            async fn insert_session(
                &self,
                session: &$crate::SessionRecord,
            ) -> Result<(), $crate::StoreError> {
                self.session_insert(session).await
            }

            async fn find_session(
                &self,
                id_hash: &[u8; 32],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::SessionRecord>, $crate::StoreError> {
                self.session_find(id_hash, now).await
            }

            async fn delete_session(&self, id_hash: &[u8; 32]) -> Result<(), $crate::StoreError> {
                self.session_delete(id_hash).await
            }

            async fn delete_expired_sessions(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                self.session_delete_expired(now).await
            }

            async fn set_session_flash(
                &self,
                id_hash: &[u8; 32],
                flash: &str,
            ) -> Result<(), $crate::StoreError> {
                self.session_flash(id_hash, flash, false).await.map(drop)
            }

            async fn take_session_flash(
                &self,
                id_hash: &[u8; 32],
                flash: &str,
            ) -> Result<bool, $crate::StoreError> {
                self.session_flash(id_hash, flash, true).await
            }

            async fn versions_not_under(
                &self,
                kek_id: &str,
                after: Option<&$crate::VersionKey>,
                limit: i64,
            ) -> Result<Vec<$crate::StoredVersion>, $crate::StoreError> {
                self.select_versions_not_under(kek_id, after, limit).await
            }

            async fn apply_reseals(
                &self,
                reseals: &[$crate::Resealed],
            ) -> Result<u64, $crate::StoreError> {
                self.swap_reseals(reseals).await
            }

            async fn create_extension(
                &self,
                slug: &lumio_core::ExtensionSlug,
                audit: $crate::RecordsOf<'_, $crate::Extension>,
            ) -> Result<$crate::Extension, $crate::StoreError> {
                self.extension_insert(slug, audit).await
            }

            async fn find_extension(
                &self,
                slug: &lumio_core::ExtensionSlug,
            ) -> Result<Option<$crate::Extension>, $crate::StoreError> {
                Ok(self.extension_rows(Some(slug), None).await?.pop())
            }

            async fn list_extensions(&self) -> Result<Vec<$crate::Extension>, $crate::StoreError> {
                self.extension_rows(None, None).await
            }

            async fn insert_claim(
                &self,
                claim: &$crate::ClaimRecord,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                self.claim_insert(claim, audit).await
            }

            async fn claim_extension_id(
                &self,
                code_hash: &[u8; 32],
            ) -> Result<Option<i64>, $crate::StoreError> {
                self.claim_target(code_hash).await
            }

            async fn redeem_claim(
                &self,
                code_hash: &[u8; 32],
                owner: &$crate::TokenRecord,
                audit: $crate::RecordsOf<'_, $crate::Extension>,
            ) -> Result<$crate::ClaimOutcome, $crate::StoreError> {
                self.claim_redeem(code_hash, owner, audit).await
            }

            async fn set_suspended(
                &self,
                extension_id: i64,
                at: Option<chrono::DateTime<chrono::Utc>>,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                self.suspension_set(extension_id, at, audit).await
            }

            async fn delete_extension(
                &self,
                extension_id: i64,
            ) -> Result<bool, $crate::StoreError> {
                self.extension_delete(extension_id).await
            }

            async fn insert_access_request(
                &self,
                request: &$crate::AccessRequest,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                self.access_insert(request, audit).await
            }

            async fn access_requests(
                &self,
                filter: $crate::AccessFilter<'_>,
            ) -> Result<Vec<$crate::AccessRequest>, $crate::StoreError> {
                self.access_select(filter).await
            }

            async fn change_access_request(
                &self,
                id: &str,
                change: &$crate::AccessChange,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                self.access_change(id, change, audit).await
            }

            async fn write_versions(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                writes: &[$crate::NewVersion],
                max_live: usize,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                $crate::rows::check_writes(writes)?;
                if writes.is_empty() {
                    return Ok(());
                }
                let batch = $crate::secrets::Batch {
                    extension_id,
                    environment,
                    writes,
                    max_live,
                    audit,
                };
                self.write(&batch).await?;
                let names: Vec<_> = writes.iter().map(|w| &w.name).collect();
                self.tell_secrets(extension_id, environment, names).await;
                Ok(())
            }

            async fn head(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
            ) -> Result<Option<$crate::SecretHead>, $crate::StoreError> {
                self.select_head(extension_id, environment, name).await
            }

            async fn heads(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                names: &[lumio_core::SecretName],
            ) -> Result<Vec<$crate::SecretHead>, $crate::StoreError> {
                self.select_heads(extension_id, environment, names).await
            }

            async fn current(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
            ) -> Result<Option<$crate::CurrentSecret>, $crate::StoreError> {
                self.select_current(extension_id, environment, name).await
            }

            async fn version(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
                version: i64,
            ) -> Result<Option<$crate::SealedVersion>, $crate::StoreError> {
                self.select_version(extension_id, environment, name, version)
                    .await
            }

            async fn list_live(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
            ) -> Result<Vec<$crate::SecretHead>, $crate::StoreError> {
                self.select_live(extension_id, environment).await
            }

            async fn history(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
            ) -> Result<Vec<$crate::VersionInfo>, $crate::StoreError> {
                self.select_history(extension_id, environment, name).await
            }

            async fn delete_secret(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
                actor: &str,
                purge: bool,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                self.delete(extension_id, environment, name, actor, purge, audit)
                    .await
            }

            async fn set_binding(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
                allowed_hosts: Option<&lumio_core::AllowedHosts>,
                actor: &str,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                self.bind(extension_id, environment, name, allowed_hosts, actor, audit)
                    .await
            }

            async fn set_due_dates(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                name: &lumio_core::SecretName,
                change: &$crate::DueDatesChange,
                actor: &str,
                audit: &[$crate::AuditRecord],
            ) -> Result<bool, $crate::StoreError> {
                self.change_due_dates(extension_id, environment, name, change, actor, audit)
                    .await
            }

            async fn due_dates_all(&self) -> Result<Vec<$crate::DueSecret>, $crate::StoreError> {
                self.select_due_all().await
            }

            async fn insert_deployment(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                files_json: &str,
                actions: &[String],
                actor: &str,
                audit: $crate::RecordsOf<'_, $crate::DeploymentRecord>,
            ) -> Result<$crate::DeploymentRecord, $crate::StoreError> {
                self.insert_deployment_row(
                    extension_id,
                    environment,
                    files_json,
                    actions,
                    actor,
                    audit,
                )
                .await
            }

            async fn list_deployments(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                limit: i64,
            ) -> Result<Vec<$crate::DeploymentRecord>, $crate::StoreError> {
                self.deployments(extension_id, environment, limit).await
            }

            async fn insert_token(
                &self,
                token: &$crate::TokenRecord,
                audit: &[$crate::AuditRecord],
            ) -> Result<(), $crate::StoreError> {
                self.insert_token_row(token, audit).await
            }

            async fn find_token(
                &self,
                id: &str,
            ) -> Result<Option<$crate::TokenRecord>, $crate::StoreError> {
                Ok(self.select_tokens(Some(id), None).await?.pop())
            }

            async fn count_tokens(&self) -> Result<i64, $crate::StoreError> {
                let count = sqlx::query_scalar("SELECT count(*) FROM tokens")
                    .fetch_one(self.readers())
                    .await?;
                Ok(count)
            }

            async fn list_tokens(
                &self,
                extension_id: Option<i64>,
            ) -> Result<Vec<$crate::TokenRecord>, $crate::StoreError> {
                self.select_tokens(None, extension_id).await
            }

            async fn revoke_token(
                &self,
                id: &str,
                by: &str,
                at: chrono::DateTime<chrono::Utc>,
                audit: &[$crate::AuditRecord],
            ) -> Result<$crate::Revocation, $crate::StoreError> {
                self.revoke_token_row(id, by, at, audit).await
            }

            async fn touch_token(
                &self,
                id: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::StoreError> {
                self.touch_token_row(id, at).await
            }

            async fn query_audit(
                &self,
                query: &$crate::AuditQuery,
            ) -> Result<Vec<$crate::AuditEntry>, $crate::StoreError> {
                self.select_audit(query).await
            }

            async fn seal_audit(
                &self,
                extension_id: Option<i64>,
            ) -> Result<u64, $crate::StoreError> {
                self.seal_pending(extension_id).await
            }

            fn set_audit_root(&self, root: lumio_core::AuditRootKey) {
                self.audit_root.set(root);
            }

            async fn key_audit_chains(
                &self,
                root: &lumio_core::AuditRootKey,
            ) -> Result<Vec<(i64, $crate::ChainVerdict)>, $crate::StoreError> {
                self.key_chains(root).await
            }

            async fn verify_audit(
                &self,
                extension_id: i64,
            ) -> Result<$crate::ChainVerdict, $crate::StoreError> {
                self.walk_chain(extension_id).await
            }

            async fn export_audit(
                &self,
                query: &$crate::ExportQuery,
            ) -> Result<Vec<$crate::ChainedEntry>, $crate::StoreError> {
                self.select_export(query).await
            }

            fn subscribe(&self) -> tokio::sync::broadcast::Receiver<$crate::Change> {
                self.feed.subscribe()
            }
        }
    };
}
pub(crate) use impl_store;
