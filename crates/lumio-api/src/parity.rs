//! Environment parity: compare two environments, copy values between them on the server.
//! Neither answer carries a value or a hash of one.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::secrets::ImportedView;

#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The environment to compare `{env}` with: the other one.
    #[param(required = true, pattern = r"^(staging|production)$")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
}

/// Names by how they compare; every list sorted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DiffView {
    /// `{env}`.
    pub environment: String,
    /// The `with` environment.
    pub other: String,
    /// True when no name is in only one and none differs.
    pub equal: bool,
    pub only_in_environment: Vec<String>,
    pub only_in_other: Vec<String>,
    /// Set in both with different values.
    pub differ: Vec<String>,
    /// Set in both with the same value.
    pub same: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopySecrets {
    /// The environment to copy from.
    pub from: String,
    /// The names to copy; each must be set in `from`. Leave out with `all`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Copy every secret set in `from`.
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CopiedView {
    pub from: String,
    pub to: String,
    /// Names written in `{env}`, each as a new version.
    pub copied: Vec<ImportedView>,
    /// Names whose value in `{env}` already was the source's: no new version was made.
    pub unchanged: Vec<String>,
}
