//! Path parameters as the OpenAPI document describes them: each with the pattern and
//! length `lumio_core` enforces (lumio-server's tests/api/api_document.rs checks they agree), so a client
//! generated from the document sends only names the server accepts.

use lumio_core::MAX_SECRET_NAME_LEN;
use serde::Deserialize;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::IntoParams;

/// An extension's name, as `ExtensionSlug::parse` accepts it.
pub const EXTENSION_PATTERN: &str = r"^[a-z]([a-z0-9-]*[a-z0-9])?$";
/// An environment, as `Environment::parse` accepts it.
pub const ENVIRONMENT_PATTERN: &str = r"^(staging|production)$";
/// A secret's name, as `SecretName::parse` accepts it (the `LUMIO_` prefix, in any case,
/// is reserved).
pub const SECRET_NAME_PATTERN: &str = r"^(?![Ll][Uu][Mm][Ii][Oo]_)[A-Za-z_][A-Za-z0-9_]*$";

fn pattern_string(pattern: &str, max_length: Option<usize>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .min_length(max_length.map(|_| 1))
        .max_length(max_length)
        .build()
}

/// The schema of an extension's name in a request body.
pub fn extension_schema() -> Object {
    pattern_string(EXTENSION_PATTERN, Some(63))
}

/// The schema of a secret's name in a request body.
pub fn secret_name_schema() -> Object {
    pattern_string(SECRET_NAME_PATTERN, Some(MAX_SECRET_NAME_LEN))
}

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

/// `{ext}/access/{id}/…`: one support request.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AccessPath {
    /// The extension: 1-63 lowercase letters, digits and '-', starting with a letter and
    /// not ending with '-'.
    #[param(
        pattern = r"^[a-z]([a-z0-9-]*[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    pub ext: String,
    /// The request's id, as `lumio access list` shows it.
    #[param(min_length = 1, max_length = 64)]
    pub id: String,
}

/// `{ext}/webhooks/{id}`: one receiver.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WebhookPath {
    /// The extension: 1-63 lowercase letters, digits and '-', starting with a letter and
    /// not ending with '-'.
    #[param(
        pattern = r"^[a-z]([a-z0-9-]*[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    pub ext: String,
    /// The receiver's id, as `lumio webhooks list` shows it.
    #[param(min_length = 1, max_length = 64)]
    pub id: String,
}

/// `{ext}/webhook-deliveries/{id}`: one delivery.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeliveryPath {
    /// The extension: 1-63 lowercase letters, digits and '-', starting with a letter and
    /// not ending with '-'.
    #[param(
        pattern = r"^[a-z]([a-z0-9-]*[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    pub ext: String,
    /// The delivery's id, as `lumio webhooks deliveries` shows it.
    #[param(minimum = 1, maximum = 9007199254740991.0)]
    pub id: i64,
}

/// `/tokens/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenPath {
    /// The token's id, as `lumio tokens list` shows it (not the token itself).
    #[param(min_length = 1, max_length = 64)]
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::Parameter;

    /// The attributes above must spell the patterns as literals; they are the constants.
    #[test]
    fn documented_patterns_are_the_constants() {
        let params: Vec<Parameter> = SecretPath::into_params(|| None);
        let schema = |name: &str| {
            let param = params.iter().find(|p| p.name == name).unwrap();
            serde_json::to_value(param.schema.as_ref().unwrap()).unwrap()
        };
        assert_eq!(
            schema("ext"),
            serde_json::to_value(extension_schema()).unwrap()
        );
        assert_eq!(schema("env")["pattern"], ENVIRONMENT_PATTERN);
        assert_eq!(
            schema("name"),
            serde_json::to_value(secret_name_schema()).unwrap()
        );
        for other in [
            ExtPath::into_params(|| None),
            ScopePath::into_params(|| None),
            AccessPath::into_params(|| None),
            WebhookPath::into_params(|| None),
            DeliveryPath::into_params(|| None),
        ] {
            let ext = other.iter().find(|p| p.name == "ext").unwrap();
            assert_eq!(
                serde_json::to_value(ext.schema.as_ref().unwrap()).unwrap(),
                serde_json::to_value(extension_schema()).unwrap()
            );
        }
    }
}
