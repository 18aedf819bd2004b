//! Dashboard sessions, the same SQL on both backends (times as Unix microseconds).

pub(crate) const INSERT: &str = "INSERT INTO dashboard_sessions \
     (id_hash, token_id, csrf, expires_at, flash) VALUES ($1, $2, $3, $4, NULL)";
pub(crate) const FIND: &str = "SELECT token_id, csrf, expires_at, flash \
     FROM dashboard_sessions WHERE id_hash = $1 AND expires_at > $2";
pub(crate) const DELETE: &str = "DELETE FROM dashboard_sessions WHERE id_hash = $1";
pub(crate) const DELETE_EXPIRED: &str = "DELETE FROM dashboard_sessions WHERE expires_at <= $1";
pub(crate) const SET_FLASH: &str = "UPDATE dashboard_sessions SET flash = $2 WHERE id_hash = $1";
/// Clears the notice only if it is still the one read, so two pages cannot both show it.
pub(crate) const TAKE_FLASH: &str =
    "UPDATE dashboard_sessions SET flash = NULL WHERE id_hash = $1 AND flash = $2";

pub(crate) type Row = (String, String, i64, Option<String>);

/// The session methods as inherent methods of a store (see [`crate::store_impl`]).
macro_rules! session_queries {
    ($store:ty) => {
        impl $store {
            pub(crate) async fn session_insert(
                &self,
                session: &$crate::SessionRecord,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query($crate::sessions::INSERT)
                    .bind(&session.id_hash[..])
                    .bind(&session.token_id)
                    .bind(&session.csrf)
                    .bind(session.expires_at.timestamp_micros())
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            pub(crate) async fn session_find(
                &self,
                id_hash: &[u8; 32],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::SessionRecord>, $crate::StoreError> {
                let row: Option<$crate::sessions::Row> = sqlx::query_as($crate::sessions::FIND)
                    .bind(&id_hash[..])
                    .bind(now.timestamp_micros())
                    .fetch_optional(self.readers())
                    .await?;
                row.map(|(token_id, csrf, expires_at, flash)| {
                    let expires_at = chrono::DateTime::from_timestamp_micros(expires_at)
                        .ok_or_else(|| {
                            $crate::StoreError::Corrupt(format!("timestamp {expires_at}"))
                        })?;
                    Ok($crate::SessionRecord {
                        id_hash: *id_hash,
                        token_id,
                        csrf,
                        expires_at,
                        flash,
                    })
                })
                .transpose()
            }

            pub(crate) async fn session_delete(
                &self,
                id_hash: &[u8; 32],
            ) -> Result<(), $crate::StoreError> {
                sqlx::query($crate::sessions::DELETE)
                    .bind(&id_hash[..])
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            pub(crate) async fn session_delete_expired(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query($crate::sessions::DELETE_EXPIRED)
                    .bind(now.timestamp_micros())
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected())
            }

            pub(crate) async fn session_flash(
                &self,
                id_hash: &[u8; 32],
                flash: &str,
                take: bool,
            ) -> Result<bool, $crate::StoreError> {
                let sql = if take {
                    $crate::sessions::TAKE_FLASH
                } else {
                    $crate::sessions::SET_FLASH
                };
                let done = sqlx::query(sql)
                    .bind(&id_hash[..])
                    .bind(flash)
                    .execute(self.writer())
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
pub(crate) use session_queries;
