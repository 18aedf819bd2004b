//! Reading several secret heads at once on PostgreSQL: one array parameter.

use lumio_core::{Environment, SecretName};

use super::PgStore;
use crate::secrets::{select_heads, HeadRow};
use crate::{SecretHead, StoreError};

const HEADS_NAMED: &str = select_heads!("name = ANY($3::text[])");
/// `COLLATE "C"`: byte order, as SQLite sorts, whatever the database's locale.
const HEADS_LIVE: &str = select_heads!("current_version IS NOT NULL ORDER BY name COLLATE \"C\"");

impl PgStore {
    /// Heads of `names`, or all live heads ordered by name when `names` is `None`.
    pub(super) async fn select_heads(
        &self,
        extension_id: i64,
        environment: Environment,
        names: Option<&[SecretName]>,
    ) -> Result<Vec<SecretHead>, StoreError> {
        let rows: Vec<HeadRow> = match names {
            Some(names) => {
                let names: Vec<&str> = names.iter().map(SecretName::as_str).collect();
                sqlx::query_as(HEADS_NAMED)
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .bind(names)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query_as(HEADS_LIVE)
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.into_iter().map(HeadRow::head).collect()
    }
}
