//! What the pages' forms and query strings carry. Every field defaults to empty, so a
//! form missing its CSRF token reaches the handler and is refused with 403, not a
//! rejection of its shape.
//!
//! None of these types derives `Debug`: a submitted value must not reach a log line.

use lumio_core::{Environment, SecretValue, ValueError};
use serde::Deserialize;
use zeroize::Zeroizing;

/// `?env=staging|production` (default staging).
#[derive(Deserialize, Default)]
pub(crate) struct EnvQuery {
    #[serde(default)]
    pub env: Option<String>,
}

impl EnvQuery {
    /// The environment asked for; with none, the token's own if it is scoped to one (so a
    /// production-only token does not land on a page it may not see), else staging.
    pub fn environment_for(
        &self,
        principal: &lumio_secrets::Principal,
    ) -> Result<Environment, lumio_core::InvalidId> {
        match self.env.as_deref() {
            None | Some("") => Ok(home_environment(principal)),
            Some(env) => Environment::parse(env),
        }
    }
}

/// Where a token's pages open: its scope, else staging.
pub(crate) fn home_environment(principal: &lumio_secrets::Principal) -> Environment {
    principal.environment.unwrap_or(Environment::Staging)
}

/// Staging unless told otherwise.
pub(crate) fn parse_env(env: Option<&str>) -> Result<Environment, lumio_core::InvalidId> {
    match env {
        None | Some("") => Ok(Environment::Staging),
        Some(env) => Environment::parse(env),
    }
}

/// A form whose only field is the CSRF token (sign-out).
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub token: String,
}

/// Add secret: a name and a value.
#[derive(Deserialize)]
pub(crate) struct AddForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// Replace a value, delete, or anything else acting on one named secret.
#[derive(Deserialize)]
pub(crate) struct SecretForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub version: Option<i64>,
    /// Allowed hosts, separated by spaces, commas or lines; empty: unbound.
    #[serde(default)]
    pub hosts: String,
}

/// Takes a submitted value out of its form field, leaving the field empty. Browsers send
/// a textarea's line breaks as CRLF; they become LF, as in a PEM file or a `.env` line.
pub(crate) fn take_value(field: &mut String) -> Result<SecretValue, ValueError> {
    let raw = Zeroizing::new(std::mem::take(field));
    SecretValue::new(raw.replace("\r\n", "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_lose_crlf_and_leave_the_field_empty() {
        let mut field = "-----BEGIN-----\r\nabc\r\n-----END-----".to_owned();
        let value = take_value(&mut field).unwrap();
        assert_eq!(value.expose(), "-----BEGIN-----\nabc\n-----END-----");
        assert!(field.is_empty());
    }

    #[test]
    fn environment_defaults_to_staging() {
        assert_eq!(parse_env(None).unwrap(), Environment::Staging);
        assert_eq!(
            parse_env(Some("production")).unwrap(),
            Environment::Production
        );
        assert!(parse_env(Some("prod")).is_err());
    }
}
