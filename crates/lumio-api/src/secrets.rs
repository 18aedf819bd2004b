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
    /// When the current version expires; absent: never. An expiry belongs to the version
    /// it was set with: a later version without one has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// How often the secret is to be rotated, in seconds; kept across versions until
    /// turned off. A set's answer carries it only when that set gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_every_secs: Option<i64>,
    /// When it is to be rotated by: the current version's set time plus the period (a
    /// new version restarts the clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_by: Option<DateTime<Utc>>,
    /// Where it stands by the server's clock (in a list, and after a due-date change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Due>,
}

/// Where a secret stands against its due dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Due {
    /// Nothing due within the window (14 days unless the list asked for another).
    Ok,
    /// It expires, or is to be rotated, within the window.
    Due,
    /// Its rotation date has passed.
    Overdue,
    /// Its current version's expiry has passed; actions still get the value, and each
    /// read is audited with outcome `expired`.
    Expired,
}

impl From<lumio_core::DueState> for Due {
    fn from(state: lumio_core::DueState) -> Self {
        match state {
            lumio_core::DueState::Ok => Self::Ok,
            lumio_core::DueState::Due => Self::Due,
            lumio_core::DueState::Overdue => Self::Overdue,
            lumio_core::DueState::Expired => Self::Expired,
        }
    }
}

impl Due {
    /// As the CLI and the dashboard print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Due => "due",
            Self::Overdue => "overdue",
            Self::Expired => "expired",
        }
    }

    /// Whether a date has passed (`lumio env due` exits 1).
    pub fn is_late(self) -> bool {
        matches!(self, Self::Overdue | Self::Expired)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretList {
    pub secrets: Vec<SecretView>,
}

/// The query of a list.
#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How far ahead a due date counts as `due`: a whole number (up to 6 digits) and a
    /// unit (s, m, h, d, w), e.g. `30d`; default `14d`; `0s` counts only what has passed.
    #[param(pattern = r"^[0-9]{1,6}[smhdw]$")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
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
    /// The new version expires at this time (RFC 3339; it must be in the future; a text
    /// that is no such time is a 422). Absent (with `expires_in_secs` absent too): the new
    /// version never expires; an expiry is never carried over from an earlier version.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The new version expires this many seconds from now by the server's clock; instead
    /// of `expires_at`.
    #[schema(minimum = 1, maximum = 100000000000.0)]
    #[serde(
        default,
        deserialize_with = "crate::integral::optional_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in_secs: Option<i64>,
    /// Rotate the secret every this many seconds (any length up to 10^11, over 3,000
    /// years); null turns rotation off;
    /// absent keeps the secret's period. A new version restarts the rotation clock.
    #[schema(value_type = Option<i64>, nullable, minimum = 1, maximum = 100000000000.0)]
    #[serde(
        default,
        deserialize_with = "crate::integral::nullable_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub rotate_every_secs: Option<Option<i64>>,
}

/// The body of a due-date change, which writes no version: each field absent stays as it
/// is, null clears it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ChangeDueDates {
    /// The current version expires at this time (RFC 3339, in the future; a text that is
    /// no such time is a 422); null: never.
    #[schema(value_type = Option<String>, format = DateTime, nullable)]
    #[serde(
        default,
        deserialize_with = "crate::integral::nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<Option<String>>,
    /// The current version expires this many seconds from now by the server's clock;
    /// instead of `expires_at`.
    #[schema(minimum = 1, maximum = 100000000000.0)]
    #[serde(
        default,
        deserialize_with = "crate::integral::optional_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_in_secs: Option<i64>,
    /// Rotate every this many seconds; null turns rotation off. The rotation clock keeps
    /// its start (the current version's set time).
    #[schema(value_type = Option<i64>, nullable, minimum = 1, maximum = 100000000000.0)]
    #[serde(
        default,
        deserialize_with = "crate::integral::nullable_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub rotate_every_secs: Option<Option<i64>>,
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
