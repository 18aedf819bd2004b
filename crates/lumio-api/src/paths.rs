//! Paths of the API, built from parsed names. Extension, environment and secret names
//! are restricted to characters that need no escaping; action names and token ids are
//! percent-encoded.

use lumio_core::{Environment, ExtensionSlug, SecretName};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What a path segment keeps unencoded: RFC 3986 unreserved characters and ':'.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b':');

pub const OPENAPI: &str = "/api/v1/openapi.json";
pub const WHOAMI: &str = "/api/v1/whoami";
pub const TOKENS: &str = "/api/v1/tokens";
pub const EXTENSIONS: &str = "/api/v1/extensions";
/// The master keyring's state (GET).
pub const MASTER_KEY: &str = "/api/v1/admin/master-key";
/// Starts an online master-key rotation (POST).
pub const MASTER_KEY_ROTATIONS: &str = "/api/v1/admin/master-key/rotations";
/// Redeeming a claim code.
pub const CLAIMS: &str = "/api/v1/claims";

/// One extension (DELETE removes it).
pub fn extension(extension: &ExtensionSlug) -> String {
    format!("{EXTENSIONS}/{extension}")
}

/// A new claim code for an unclaimed extension.
pub fn claim_code(extension: &ExtensionSlug) -> String {
    format!("{EXTENSIONS}/{extension}/claim-code")
}

/// Suspending and resuming.
pub fn suspension(extension: &ExtensionSlug) -> String {
    format!("{EXTENSIONS}/{extension}/suspension")
}

/// Support requests of an extension.
pub fn access(extension: &ExtensionSlug) -> String {
    format!("{EXTENSIONS}/{extension}/access")
}

/// One support request's approval or revocation (`verb`: approve, revoke).
pub fn access_action(extension: &ExtensionSlug, id: &str, verb: &str) -> String {
    format!(
        "{EXTENSIONS}/{extension}/access/{}/{verb}",
        utf8_percent_encode(id, SEGMENT)
    )
}

pub fn token(id: &str) -> String {
    format!("{TOKENS}/{}", utf8_percent_encode(id, SEGMENT))
}

/// One extension's audit chain check.
pub fn audit_verify(extension: &ExtensionSlug) -> String {
    format!("{EXTENSIONS}/{extension}/audit/verify")
}

/// One extension's audit chain key (its owner only).
pub fn audit_key(extension: &ExtensionSlug) -> String {
    format!("{EXTENSIONS}/{extension}/audit/key")
}

/// One extension's audit export.
pub fn audit_export(extension: &ExtensionSlug) -> String {
    format!("{EXTENSIONS}/{extension}/audit/export")
}

/// An extension's webhook receivers.
pub fn webhooks(extension: &ExtensionSlug) -> String {
    format!("{EXTENSIONS}/{extension}/webhooks")
}

/// One receiver (DELETE removes it); `verb` `test` sends it a test event.
pub fn webhook(extension: &ExtensionSlug, id: &str, verb: Option<&str>) -> String {
    let base = format!(
        "{EXTENSIONS}/{extension}/webhooks/{}",
        utf8_percent_encode(id, SEGMENT)
    );
    match verb {
        Some(verb) => format!("{base}/{verb}"),
        None => base,
    }
}

/// An extension's webhook deliveries.
pub fn webhook_deliveries(extension: &ExtensionSlug) -> String {
    format!("{EXTENSIONS}/{extension}/webhook-deliveries")
}

/// Sends a finished delivery again.
pub fn redeliver(extension: &ExtensionSlug, delivery: i64) -> String {
    format!("{EXTENSIONS}/{extension}/webhook-deliveries/{delivery}/redeliver")
}

/// One extension in one environment: the prefix of most routes.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub extension: &'a ExtensionSlug,
    pub environment: Environment,
}

impl Scope<'_> {
    fn under(&self, rest: &str) -> String {
        format!(
            "{EXTENSIONS}/{}/environments/{}{rest}",
            self.extension, self.environment
        )
    }

    pub fn secrets(&self) -> String {
        self.under("/secrets")
    }

    pub fn secret(&self, name: &SecretName) -> String {
        self.under(&format!("/secrets/{name}"))
    }

    pub fn binding(&self, name: &SecretName) -> String {
        self.under(&format!("/secrets/{name}/binding"))
    }

    pub fn due_dates(&self, name: &SecretName) -> String {
        self.under(&format!("/secrets/{name}/due-dates"))
    }

    pub fn versions(&self, name: &SecretName) -> String {
        self.under(&format!("/secrets/{name}/versions"))
    }

    pub fn rollback(&self, name: &SecretName) -> String {
        self.under(&format!("/secrets/{name}/rollback"))
    }

    pub fn diff(&self) -> String {
        self.under("/diff")
    }

    pub fn copy(&self) -> String {
        self.under("/copy")
    }

    pub fn audit(&self) -> String {
        self.under("/audit")
    }

    pub fn deployments(&self) -> String {
        self.under("/deployments")
    }

    pub fn logs(&self) -> String {
        self.under("/logs")
    }

    pub fn action(&self, action: &str) -> String {
        self.under(&format!(
            "/actions/{}",
            utf8_percent_encode(action, SEGMENT)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_that_need_it_are_encoded() {
        let ext = ExtensionSlug::parse("my-ext").unwrap();
        let scope = Scope {
            extension: &ext,
            environment: Environment::Staging,
        };
        assert_eq!(
            scope.action("functions:charge"),
            "/api/v1/extensions/my-ext/environments/staging/actions/functions:charge"
        );
        assert_eq!(
            scope.action("sub/mod:x y"),
            "/api/v1/extensions/my-ext/environments/staging/actions/sub%2Fmod:x%20y"
        );
        assert_eq!(token("ab/c"), "/api/v1/tokens/ab%2Fc");
    }
}
