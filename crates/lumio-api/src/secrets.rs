//! `…/environments/{env}/secrets…`: names, versions and changes. No response here has a
//! field for a value.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
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
    /// UTF-8, at most 65,536 bytes (a limit in bytes, which JSON Schema cannot state:
    /// larger values are a 400). Never returned by any endpoint.
    #[schema(value_type = String)]
    pub value: Cow<'a, str>,
    /// Binds the secret to these hosts in the same change (see `…/binding`); absent: the
    /// binding stays as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 16, inline, value_type = Option<Vec<HostPattern>>)]
    pub allowed_hosts: Option<Vec<String>>,
}

/// A host (`api.stripe.com`) or a subdomain wildcard (`*.example.com`), without scheme,
/// port or path, or a dotted IPv4 address: the schema of one `allowed_hosts` item. The
/// server also takes upper case and IPv6 literals (`[::1]`).
pub struct HostPattern;

impl utoipa::PartialSchema for HostPattern {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^(\*\.([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?|([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?|((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))$"))
            .max_length(Some(253))
            .into()
    }
}

impl ToSchema for HostPattern {}

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
    #[schema(minimum = 1, maximum = 9007199254740991.0)]
    #[serde(deserialize_with = "crate::integral::whole_number")]
    pub version: i64,
}

/// The body of a binding change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SetBinding {
    /// Hosts (`api.stripe.com`) or subdomain wildcards (`*.example.com`), without scheme,
    /// port or path; 1 to 16. They replace the secret's current binding.
    #[schema(min_items = 1, max_items = 16, value_type = Vec<HostPattern>)]
    pub allowed_hosts: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BindingView {
    pub name: String,
    /// The hosts the value may be sent to; null: any host (unbound).
    pub allowed_hosts: Option<Vec<String>>,
}
