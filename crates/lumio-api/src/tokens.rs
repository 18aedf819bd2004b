//! Tokens. No answer carries a token's secret or hash, except the one creating it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    pub token_id: String,
    pub admin: bool,
    pub extension: Option<String>,
    pub role: Option<String>,
    /// The one environment the token may act in; null: both.
    pub env: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// The extension; omit it (and `role`) with `admin: true` for an instance-admin token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// owner, developer or viewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// An instance-admin token (admins only).
    #[serde(default)]
    pub admin: bool,
    /// staging or production: the only environment the token may act in. Omitted: both
    /// (or the creating token's, if it is scoped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// A whole number and a unit, e.g. `30m`, `12h`, `7d` (at most `366d`). Omitted: never
    /// (or when the creating token expires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A new token. Deliberately not `Debug`: it holds the token.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The token; shown this once and never again.
    pub token: String,
    pub id: String,
    /// Null for an admin token.
    pub extension: Option<String>,
    /// `admin` or the role on the extension.
    pub role: String,
    pub env: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenListQuery {
    /// Only this extension's tokens. Owners without it get their extension's.
    #[param(
        pattern = r"^[a-z]([a-z0-9-]*[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
}

/// A live token, without its secret or hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    /// Null for an admin token.
    pub extension: Option<String>,
    /// `admin` or the role on the extension.
    pub role: String,
    /// The one environment it may act in; null: both.
    pub env: Option<String>,
    pub label: String,
    pub created_at: DateTime<Utc>,
    /// The id of the token that created it.
    pub created_by: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Written at most once a minute per server, so up to a minute behind.
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}
