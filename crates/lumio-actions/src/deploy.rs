//! Deploying action code, and finding the active deployment of an environment.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use std::collections::HashSet;

use lumio_core::{AuditEvent, Environment, ExtensionSlug, Role, SecretName};
use lumio_runtime::Deployment;
use lumio_secrets::{change_record, RequestContext};
use lumio_store::DeploymentRecord;

use crate::active::Lookup;
use crate::{ActionsError, ActionsService};

use lumio_core::{MAX_DEPLOY_FILES as MAX_FILES, MAX_DEPLOY_FILE_BYTES as MAX_FILE_BYTES};

/// A deployment as management callers see it.
#[derive(Debug, Clone)]
pub struct DeploymentSummary {
    pub version: i64,
    pub actions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub active: bool,
    /// Each action's grants; only known right after a deploy (`None` in listings).
    pub grants: Option<Vec<ActionGrants>>,
}

/// What one deployed action may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionGrants {
    /// `functions:charge`.
    pub action: String,
    /// The names it may read, or `None`: every secret of the extension and environment.
    pub secrets: Option<Vec<SecretName>>,
    /// Granted names not set in the environment deployed to (names only).
    pub missing: Vec<SecretName>,
}

impl DeploymentSummary {
    fn from(record: DeploymentRecord, active: bool) -> Self {
        Self {
            version: record.version,
            actions: record.actions,
            created_at: record.created_at,
            created_by: record.created_by,
            active,
            grants: None,
        }
    }
}

/// The grants of every action of `deployment`, with the granted names that `set` lacks.
fn grants_of(deployment: &Deployment, set: &HashSet<&str>) -> Vec<ActionGrants> {
    deployment
        .action_names()
        .filter_map(|name| deployment.action(name).map(|info| (name, info)))
        .map(|(name, info)| {
            let secrets = info.grants.as_deref().map(<[SecretName]>::to_vec);
            let missing = secrets
                .iter()
                .flatten()
                .filter(|n| !set.contains(n.as_str()))
                .cloned()
                .collect();
            ActionGrants {
                action: name.to_owned(),
                secrets,
                missing,
            }
        })
        .collect()
}

impl ActionsService {
    /// Compiles `files` and, if they compile, makes them the environment's active code.
    /// A compile error leaves the active deployment untouched.
    pub async fn deploy(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        files: BTreeMap<String, String>,
    ) -> Result<DeploymentSummary, ActionsError> {
        let secrets = &self.inner.secrets;
        let extension = secrets.visible_extension(ctx, slug).await?;
        ctx.principal
            .require(&extension, Role::Developer, "deploy")?;
        check_upload(&files)?;
        let files_json = serde_json::to_string(&files).expect("strings serialize");
        let deployment = compile(files).await?;
        let actions: Vec<String> = deployment.action_names().map(str::to_owned).collect();
        let key = (extension.id, environment);
        let (_, seen) = self.inner.active.lookup(key);
        let audit = |stored: &DeploymentRecord| {
            let detail = format!("version {}: {}", stored.version, actions.join(", "));
            let env = Some(environment);
            vec![change_record(
                ctx,
                extension.id,
                env,
                AuditEvent::Deploy,
                None,
                Some(detail),
            )]
        };
        // Names only, to warn about grants that nothing is set for yet.
        let heads = secrets.list(ctx, slug, environment).await?;
        let set: HashSet<&str> = heads
            .iter()
            .filter(|h| h.current_version.is_some())
            .map(|h| h.name.as_str())
            .collect();
        let grants = grants_of(&deployment, &set);
        let record = secrets
            .insert_deployment(
                extension.id,
                environment,
                &files_json,
                &actions,
                &ctx.principal.actor(),
                &audit,
            )
            .await?;
        self.inner
            .active
            .remember(key, record.version, Arc::new(deployment), seen);
        let mut summary = DeploymentSummary::from(record, true);
        summary.grants = Some(grants);
        Ok(summary)
    }

    /// Deployments of an environment, newest (active) first.
    pub async fn deployments(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
    ) -> Result<Vec<DeploymentSummary>, ActionsError> {
        let secrets = &self.inner.secrets;
        let extension = secrets.visible_extension(ctx, slug).await?;
        ctx.principal
            .require(&extension, Role::Viewer, "list deployments")?;
        let records = secrets
            .list_deployments(extension.id, environment, 50)
            .await?;
        Ok(records
            .into_iter()
            .enumerate()
            .map(|(i, record)| DeploymentSummary::from(record, i == 0))
            .collect())
    }

    /// The active deployment, from cache unless a change may have replaced it.
    pub(crate) async fn active(
        &self,
        extension_id: i64,
        environment: Environment,
    ) -> Result<Option<Arc<Deployment>>, ActionsError> {
        let key = (extension_id, environment);
        let (lookup, seen) = self.inner.active.lookup(key);
        let secrets = &self.inner.secrets;
        let known = match lookup {
            Lookup::Fresh(deployment) => return Ok(Some(deployment)),
            // The database looks unreachable: run what this process has (below) at once
            // rather than wait for a connection first.
            Lookup::Stale(Some((_, deployment))) if !secrets.feed_connected() => {
                return Ok(Some(deployment))
            }
            Lookup::Stale(known) => known,
        };
        let record = match secrets.active_deployment(extension_id, environment).await {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(None),
            // The database is unreachable: the compiled copy this process already runs is
            // the best answer (no deploy can commit meanwhile), so actions keep working.
            Err(err) => match known {
                Some((version, deployment)) => {
                    tracing::debug!(%err, version, "store unreachable; running the cached deployment");
                    return Ok(Some(deployment));
                }
                None => return Err(err.into()),
            },
        };
        let deployment = match known {
            Some((version, deployment)) if version == record.version => deployment,
            _ => {
                let files: BTreeMap<String, String> = serde_json::from_str(&record.files_json)
                    .map_err(|e| {
                        ActionsError::Runtime(format!("stored deployment is unreadable: {e}"))
                    })?;
                Arc::new(compile(files).await?)
            }
        };
        self.inner
            .active
            .remember(key, record.version, Arc::clone(&deployment), seen);
        Ok(Some(deployment))
    }
}

/// Compiling runs each module's top level once, under the runtime's limits: off the
/// async threads.
async fn compile(files: BTreeMap<String, String>) -> Result<Deployment, ActionsError> {
    tokio::task::spawn_blocking(move || lumio_runtime::compile(files))
        .await
        .map_err(|e| ActionsError::Runtime(e.to_string()))?
        .map_err(|e| ActionsError::Deploy(e.to_string()))
}

fn check_upload(files: &BTreeMap<String, String>) -> Result<(), ActionsError> {
    if files.len() > MAX_FILES {
        return Err(ActionsError::InvalidUpload(format!(
            "{} files uploaded; a deployment holds at most {MAX_FILES}",
            files.len()
        )));
    }
    if let Some((path, _)) = files
        .iter()
        .find(|(_, source)| source.len() > MAX_FILE_BYTES)
    {
        return Err(ActionsError::InvalidUpload(format!(
            "{path} is larger than 1 MiB; keep server code small and data elsewhere"
        )));
    }
    Ok(())
}
