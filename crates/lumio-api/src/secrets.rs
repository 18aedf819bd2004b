//! `…/environments/{env}/secrets…`: names, versions and changes. No response here has a
//! field for a value.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretView {
    pub name: String,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    /// The id of the token that made the change.
    pub updated_by: String,
    /// The hosts `ctx.fetch` may send the value to (its egress binding); absent when
    /// unbound. A set's answer carries it only when that set bound the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_hosts: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretList {
    pub secrets: Vec<SecretView>,
}

/// The body of a set. Borrows the value on the client side, so no extra copy of it lingers.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct SetSecret<'a> {
    /// UTF-8, at most 64 KiB. Never returned by any endpoint.
    #[schema(value_type = String)]
    pub value: Cow<'a, str>,
    /// Binds the secret to these hosts in the same change (see `…/binding`); absent: the
    /// binding stays as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_hosts: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Destroy every version too (owners only); without it, rollback can restore the secret.
    #[serde(default)]
    pub purge: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    pub name: String,
    pub deleted: bool,
    pub purged: bool,
}

/// The body of an import: NAME → value; all are checked, then written in one transaction.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ImportSecrets<'a> {
    #[schema(value_type = BTreeMap<String, String>)]
    pub secrets: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportedView {
    pub name: String,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Imported {
    pub imported: Vec<ImportedView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionView {
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct History {
    pub name: String,
    /// Null when the secret is deleted (a rollback restores it).
    pub current_version: Option<i64>,
    /// Newest first.
    pub versions: Vec<VersionView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Rollback {
    /// A kept version (see `…/versions`).
    #[schema(minimum = 1)]
    pub version: i64,
}

/// The body of a binding change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SetBinding {
    /// Hosts (`api.stripe.com`) or subdomain wildcards (`*.example.com`), without scheme,
    /// port or path; 1 to 16. They replace the secret's current binding.
    pub allowed_hosts: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BindingView {
    pub name: String,
    /// The hosts the value may be sent to; null: any host (unbound).
    pub allowed_hosts: Option<Vec<String>>,
}
