//! Path parameters as the OpenAPI document describes them: each with the pattern and
//! length `lumio_core` enforces (tests/api_document.rs checks they agree), so a client
//! generated from the document sends only names the server accepts.

use serde::Deserialize;
use utoipa::IntoParams;

/// The extension segment of every extension route.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExtPath {
    /// The extension: 1-63 lowercase letters, digits and '-', starting with a letter and
    /// not ending with '-'.
    #[param(
        pattern = r"^[a-z]([a-z0-9-]*[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    pub ext: String,
}

/// `{ext}/environments/{env}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ScopePath {
    /// The extension: 1-63 lowercase letters, digits and '-', starting with a letter and
    /// not ending with '-'.
    #[param(
        pattern = r"^[a-z]([a-z0-9-]*[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    pub ext: String,
    /// `staging` or `production`.
    #[param(pattern = r"^(staging|production)$")]
    pub env: String,
}

/// `{ext}/environments/{env}/secrets/{name}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SecretPath {
    /// The extension: 1-63 lowercase letters, digits and '-', starting with a letter and
    /// not ending with '-'.
    #[param(
        pattern = r"^[a-z]([a-z0-9-]*[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    pub ext: String,
    /// `staging` or `production`.
    #[param(pattern = r"^(staging|production)$")]
    pub env: String,
    /// The secret: letters, digits and '_', not starting with a digit, at most 256; the
    /// `LUMIO_` prefix (any case) is reserved.
    #[param(
        pattern = r"^(?![Ll][Uu][Mm][Ii][Oo]_)[A-Za-z_][A-Za-z0-9_]*$",
        min_length = 1,
        max_length = 256
    )]
    pub name: String,
}

/// `{ext}/environments/{env}/actions/{action}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ActionPath {
    /// The extension: 1-63 lowercase letters, digits and '-', starting with a letter and
    /// not ending with '-'.
    #[param(
        pattern = r"^[a-z]([a-z0-9-]*[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    pub ext: String,
    /// `staging` or `production`.
    #[param(pattern = r"^(staging|production)$")]
    pub env: String,
    /// `module:export`, e.g. `functions:charge` for `export const charge` in
    /// `server/functions.ts`; at most 256 characters.
    #[param(min_length = 1, max_length = 256)]
    pub action: String,
}

/// `/tokens/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenPath {
    /// The token's id, as `lumio tokens list` shows it (not the token itself).
    #[param(min_length = 1, max_length = 64)]
    pub id: String,
}
