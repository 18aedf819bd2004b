//! Where the actions service keeps deployments. Its own access checks come first (in
//! `lumio-actions`); here the service only hands the store what it was given.

use lumio_core::Environment;
use lumio_store::{DeploymentRecord, RecordsOf};

use crate::{SecretsService, ServiceError};

impl SecretsService {
    /// Stores `files_json` as the next deployment of the environment, committed together
    /// with the records `audit` makes of it.
    pub async fn insert_deployment(
        &self,
        extension_id: i64,
        environment: Environment,
        files_json: &str,
        actions: &[String],
        actor: &str,
        audit: RecordsOf<'_, DeploymentRecord>,
    ) -> Result<DeploymentRecord, ServiceError> {
        let store = &self.inner.store;
        Ok(store
            .insert_deployment(extension_id, environment, files_json, actions, actor, audit)
            .await?)
    }

    /// The newest deployment of the environment, if any.
    pub async fn active_deployment(
        &self,
        extension_id: i64,
        environment: Environment,
    ) -> Result<Option<DeploymentRecord>, ServiceError> {
        let store = &self.inner.store;
        Ok(store.active_deployment(extension_id, environment).await?)
    }

    /// Up to `limit` deployments of the environment, newest first.
    pub async fn list_deployments(
        &self,
        extension_id: i64,
        environment: Environment,
        limit: i64,
    ) -> Result<Vec<DeploymentRecord>, ServiceError> {
        let store = &self.inner.store;
        Ok(store
            .list_deployments(extension_id, environment, limit)
            .await?)
    }
}
