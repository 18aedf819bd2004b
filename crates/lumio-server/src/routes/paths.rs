//! Path segments parsed into domain types before any handler runs.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use lumio_core::{Environment, ExtensionSlug, SecretName};
use serde::Deserialize;

use crate::api_error::AppError;

#[derive(Deserialize)]
struct RawScope {
    ext: String,
    env: String,
    name: Option<String>,
}

/// `{ext}/environments/{env}`, plus `{name}` where the route has one.
pub(crate) struct Scope {
    pub extension: ExtensionSlug,
    pub environment: Environment,
    pub name: Option<SecretName>,
}

impl Scope {
    pub fn name(&self) -> &SecretName {
        self.name.as_ref().expect("route has a {name} segment")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Scope {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Path(raw) = Path::<RawScope>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::invalid("malformed path"))?;
        let parse = |err: lumio_core::InvalidId| AppError::invalid(err.to_string());
        Ok(Self {
            extension: ExtensionSlug::parse(&raw.ext).map_err(parse)?,
            environment: Environment::parse(&raw.env).map_err(parse)?,
            name: raw
                .name
                .as_deref()
                .map(SecretName::parse)
                .transpose()
                .map_err(parse)?,
        })
    }
}
