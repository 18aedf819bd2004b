//! Deployments, invocation logs and the client plane's action calls.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Deploy {
    /// Path under the extension (e.g. `server/functions.ts`) → TypeScript source.
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeploymentView {
    pub version: i64,
    pub actions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub active: bool,
    /// Each action's grants: only in the answer to a deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<GrantsView>>,
}

/// What one deployed action may read.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantsView {
    /// `functions:charge`.
    pub action: String,
    /// The secret names it may read; `null`: every secret of the extension and environment.
    pub secrets: Option<Vec<String>>,
    /// Granted names not set in the environment deployed to.
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeploymentList {
    pub deployments: Vec<DeploymentView>,
}

#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// How many invocations, newest first; default 20, at most 200.
    #[param(minimum = 1, maximum = 200)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// Which `console` method wrote a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsoleLineView {
    pub level: LogLevel,
    /// The text, every secret read in the invocation replaced by `[REDACTED:NAME]`.
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvocationView {
    pub at: DateTime<Utc>,
    pub action: String,
    pub request_id: String,
    /// `ok`, or the error code.
    pub outcome: String,
    pub duration_ms: f64,
    pub console: Vec<ConsoleLineView>,
    /// The error message given to the caller, if any.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Logs {
    pub invocations: Vec<InvocationView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Invoke {
    /// The action's arguments, checked against its `v` validators.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub args: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvokeValue {
    /// What the action returned, as JSON (any type).
    #[schema(value_type = Value)]
    pub value: serde_json::Value,
}
