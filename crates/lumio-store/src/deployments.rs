//! Deployed action code, the same SQL on both backends.

use crate::stamp::Stamp;
use crate::{rows, DeploymentRecord};

/// Columns of a deployment row, in the order [`Row`] holds them.
pub(crate) const COLUMNS: &str = "version, files, actions, created_at, created_by";

pub(crate) type Row = (i64, String, String, Stamp, String);

pub(crate) fn record(
    (version, files_json, actions, created_at, created_by): Row,
) -> DeploymentRecord {
    DeploymentRecord {
        version,
        files_json,
        actions: rows::actions(&actions),
        created_at: created_at.0,
        created_by,
    }
}

/// The next version of extension `$1`'s deployment in environment `$2`.
pub(crate) fn insert() -> String {
    format!(
        "INSERT INTO ext_deployments \
         (extension_id, environment, version, files, actions, created_at, created_by) \
         SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5, $6 FROM ext_deployments \
         WHERE extension_id = $1 AND environment = $2 RETURNING {COLUMNS}"
    )
}

/// Newest first, `$3` at most.
pub(crate) fn select() -> String {
    format!(
        "SELECT {COLUMNS} FROM ext_deployments WHERE extension_id = $1 AND environment = $2 \
         ORDER BY version DESC LIMIT $3"
    )
}

/// The deployment methods as inherent methods of a store (see [`crate::store_impl`]).
macro_rules! deployment_queries {
    ($store:ty) => {
        impl $store {
            pub(crate) async fn insert_deployment_row(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                files_json: &str,
                actions: &[String],
                actor: &str,
                audit: $crate::RecordsOf<'_, $crate::DeploymentRecord>,
            ) -> Result<$crate::DeploymentRecord, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let row: $crate::deployments::Row = sqlx::query_as(&$crate::deployments::insert())
                    .bind(extension_id)
                    .bind(environment.as_str())
                    .bind(files_json)
                    .bind($crate::rows::actions_column(actions))
                    .bind($crate::stamp::Stamp($crate::rows::now()))
                    .bind(actor)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| {
                        let what = || "a deployment made at the same moment".to_owned();
                        $crate::rows::conflict_or(e, what)
                    })?;
                let deployment = $crate::deployments::record(row);
                Self::insert_change_records(&mut tx, &audit(&deployment)).await?;
                tx.commit().await?;
                self.tell([$crate::Change::Deployment {
                    extension_id,
                    environment,
                }])
                .await;
                Ok(deployment)
            }

            pub(crate) async fn deployments(
                &self,
                extension_id: i64,
                environment: lumio_core::Environment,
                limit: i64,
            ) -> Result<Vec<$crate::DeploymentRecord>, $crate::StoreError> {
                let found: Vec<$crate::deployments::Row> =
                    sqlx::query_as(&$crate::deployments::select())
                        .bind(extension_id)
                        .bind(environment.as_str())
                        .bind(limit)
                        .fetch_all(self.readers())
                        .await?;
                Ok(found.into_iter().map($crate::deployments::record).collect())
            }
        }
    };
}
pub(crate) use deployment_queries;
