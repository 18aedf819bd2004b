//! Every dashboard URL in one place, so links, redirects and routes agree. Slugs and
//! secret names are parsed types whose characters need no escaping in a path.

use lumio_core::{Environment, ExtensionSlug, SecretName};

use crate::BASE;

pub(crate) fn sign_in() -> String {
    format!("{BASE}/sign-in")
}

pub(crate) fn sign_out() -> String {
    format!("{BASE}/sign-out")
}

pub(crate) fn stylesheet() -> String {
    format!("{BASE}/assets/dashboard.css")
}

pub(crate) fn extensions() -> String {
    format!("{BASE}/extensions")
}

pub(crate) fn extension(ext: &ExtensionSlug) -> String {
    format!("{BASE}/extensions/{ext}")
}

/// Settings: leads to Secrets in the token's home environment.
pub(crate) fn settings(ext: &ExtensionSlug) -> String {
    format!("{BASE}/extensions/{ext}/settings")
}

/// The Secrets page's path, without the environment (forms post there with `env`).
pub(crate) fn secrets_path(ext: &ExtensionSlug) -> String {
    format!("{BASE}/extensions/{ext}/settings/secrets")
}

pub(crate) fn secrets(ext: &ExtensionSlug, env: Environment) -> String {
    format!("{}?env={env}", secrets_path(ext))
}

pub(crate) fn secret_path(ext: &ExtensionSlug, name: &SecretName) -> String {
    format!("{}/{name}", secrets_path(ext))
}

pub(crate) fn secret(ext: &ExtensionSlug, name: &SecretName, env: Environment) -> String {
    format!("{}?env={env}", secret_path(ext, name))
}

pub(crate) fn binding_path(ext: &ExtensionSlug, name: &SecretName) -> String {
    format!("{}/binding", secret_path(ext, name))
}

pub(crate) fn delete_path(ext: &ExtensionSlug, name: &SecretName) -> String {
    format!("{}/delete", secret_path(ext, name))
}

pub(crate) fn delete(ext: &ExtensionSlug, name: &SecretName, env: Environment) -> String {
    format!("{}?env={env}", delete_path(ext, name))
}

pub(crate) fn rollback_path(ext: &ExtensionSlug, name: &SecretName) -> String {
    format!("{}/rollback", secret_path(ext, name))
}

pub(crate) fn audit_path(ext: &ExtensionSlug) -> String {
    format!("{BASE}/extensions/{ext}/audit")
}

pub(crate) fn audit(ext: &ExtensionSlug, env: Environment) -> String {
    format!("{}?env={env}", audit_path(ext))
}

pub(crate) fn compare(ext: &ExtensionSlug) -> String {
    format!("{BASE}/extensions/{ext}/settings/compare")
}

/// Where a support request's approve or revoke form posts (`verb`).
pub(crate) fn access_decision(ext: &ExtensionSlug, id: &str, verb: &str) -> String {
    // Request ids are hex, so nothing needs escaping.
    format!("{BASE}/extensions/{ext}/access/{id}/{verb}")
}
