//! Deployed action code on PostgreSQL.

use chrono::{DateTime, Utc};
use lumio_core::Environment;

use super::audit::insert_change_records;
use super::PgStore;
use crate::{rows, DeploymentRecord, RecordsOf, StoreError};

type Row = (i64, String, String, DateTime<Utc>, String);

const COLUMNS: &str = "version, files, actions, created_at, created_by";

fn record(
    (version, files_json, actions, created_at, created_by): Row,
) -> Result<DeploymentRecord, StoreError> {
    Ok(DeploymentRecord {
        version,
        files_json,
        actions: rows::actions(&actions),
        created_at,
        created_by,
    })
}

impl PgStore {
    pub(super) async fn insert_deployment_row(
        &self,
        extension_id: i64,
        environment: Environment,
        files_json: &str,
        actions: &[String],
        actor: &str,
        audit: RecordsOf<'_, DeploymentRecord>,
    ) -> Result<DeploymentRecord, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row: Row = sqlx::query_as(&format!(
            "INSERT INTO ext_deployments (extension_id, environment, version, files, actions, created_at, created_by) \
             SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5, $6 FROM ext_deployments \
             WHERE extension_id = $1 AND environment = $2 RETURNING {COLUMNS}"
        ))
        .bind(extension_id)
        .bind(environment.as_str())
        .bind(files_json)
        .bind(rows::actions_column(actions))
        .bind(rows::now())
        .bind(actor)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| rows::conflict_or(e, || "a deployment made at the same moment".to_owned()))?;
        let deployment = record(row)?;
        insert_change_records(&mut tx, &audit(&deployment)).await?;
        tx.commit().await?;
        Ok(deployment)
    }

    pub(super) async fn deployments(
        &self,
        extension_id: i64,
        environment: Environment,
        limit: i64,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        let found: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM ext_deployments WHERE extension_id = $1 AND environment = $2 \
             ORDER BY version DESC LIMIT $3"
        ))
        .bind(extension_id)
        .bind(environment.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        found.into_iter().map(record).collect()
    }
}
