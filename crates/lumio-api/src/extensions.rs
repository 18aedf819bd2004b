//! `/api/v1/extensions`, claim codes (`/api/v1/claims`) and staff support access.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExtensionView {
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// When it got its owner; from then on staff cannot write or run code in it.
    #[serde(default)]
    pub claimed_at: Option<DateTime<Utc>>,
    /// The owner token the claim made (its id, never the token).
    #[serde(default)]
    pub claimed_by: Option<String>,
    /// When staff suspended it; its actions do not run meanwhile.
    #[serde(default)]
    pub suspended_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExtensionList {
    pub extensions: Vec<ExtensionView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateExtension {
    /// 1-63 lowercase letters, digits and '-', starting with a letter and not ending
    /// with '-'.
    #[schema(
        pattern = r"^[a-z]([a-z0-9-]*[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    pub name: String,
    /// How long the claim code works: a whole number and s, m, h or d (default 24h).
    #[serde(default)]
    #[schema(pattern = r"^[0-9]{1,9}[smhd]$")]
    pub claim_expires_in: Option<String>,
}

/// What a deletion removed: the extension, with everything of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExtensionDeleted {
    pub deleted: String,
}

/// A new claim code for an unclaimed extension.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssueClaimCode {
    #[serde(default)]
    #[schema(pattern = r"^[0-9]{1,9}[smhd]$")]
    pub claim_expires_in: Option<String>,
}

/// A claim code, shown once: the customer redeems it with `lumio extensions claim CODE`.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimCodeView {
    pub extension: ExtensionView,
    pub claim_code: String,
    pub claim_expires_at: DateTime<Utc>,
}

/// Redeems a claim code (no token needed: the code is the credential).
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct RedeemClaim {
    #[schema(min_length = 1, max_length = 128)]
    pub code: String,
    /// A label for the owner token it makes.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub label: Option<String>,
}

/// The claimed extension and its owner token, shown once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct Claimed {
    pub extension: ExtensionView,
    pub token: String,
    pub token_id: String,
}

/// A staff member asks an extension's owner for support access.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestAccess {
    /// Why; the owner reads it before approving (1 to 500 characters, not only spaces).
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
    /// How long the grant lasts once approved: a whole number and s, m, h or d (at most 7d).
    #[schema(pattern = r"^[0-9]{1,9}[smhd]$")]
    pub duration: String,
}

/// One support request and where it stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessView {
    pub id: String,
    /// Who asked: `staff:<label>`.
    pub staff: String,
    pub reason: String,
    pub duration_secs: i64,
    /// `pending`, `active`, `ended` or `revoked`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessList {
    pub requests: Vec<AccessView>,
}
