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
    /// How many invocations; default 20, at most 200.
    #[param(minimum = 1, maximum = 200)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// A `cursor` from an earlier answer: the invocations after it, oldest first. Without
    /// it, the newest invocations, newest first.
    #[param(pattern = "^[0-9]{1,18}-[0-9]{1,18}$")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Only this action (`module:export`).
    #[param(max_length = 256)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only invocations at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// With `after`: when there is nothing after the cursor yet, hold the answer up to
    /// this many seconds until something arrives (0–30; default 0).
    #[param(minimum = 0, maximum = 30)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<u32>,
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

/// One `ctx.secrets.get` name an invocation asked for, and what it got (never a value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretReadView {
    pub name: String,
    /// `found`, `not set`, `denied` (outside the action's grants) or `egress blocked` (a
    /// `ctx.fetch` carrying its value to a host its binding does not allow was refused).
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvocationView {
    /// Opaque; unique within the environment's log.
    pub id: String,
    pub at: DateTime<Utc>,
    pub action: String,
    pub request_id: String,
    /// `ok`, or the error code.
    pub outcome: String,
    pub duration_ms: f64,
    pub console: Vec<ConsoleLineView>,
    /// The error message given to the caller, if any.
    pub error: Option<String>,
    /// The secrets it asked for, each once per outcome, in the order first asked.
    #[serde(default)]
    pub reads: Vec<SecretReadView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Logs {
    pub invocations: Vec<InvocationView>,
    /// Pass as `after` to get the invocations that come after this answer's (without
    /// `after`: after the newest one).
    pub cursor: String,
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
