//! Request body schemas that the derives cannot state: which names an import or a
//! deployment may hold (`propertyNames`), and bodies whose fields depend on each other
//! (`oneOf`). Each mirrors the server's own checks, so a client generated from the
//! document sends only bodies the server accepts (schemathesis checks this in CI).

use lumio_api::params::{extension_schema, secret_name_schema, ENVIRONMENT_PATTERN};
use serde_json::{json, Value};

/// `30m`, `12h`, `7d`: a lifetime of at most 366 days.
const LIFETIME: &str = r"^([1-9][0-9]{0,2}[smh]|([1-9][0-9]?|[12][0-9]{2}|3[0-5][0-9]|36[0-6])d)$";
/// A source file of a deployment: under `server/`, TypeScript or JavaScript.
const SOURCE_PATH: &str = r"^server/([A-Za-z0-9_-]+/)*[A-Za-z0-9_-]+\.(ts|mts|js|mjs)$";

pub(crate) fn refine(document: &mut Value) {
    let schemas = &mut document["components"]["schemas"];
    schemas["ImportSecrets"] = import_secrets();
    schemas["Deploy"] = deploy();
    schemas["CreateToken"] = create_token();
    schemas["CopySecrets"] = copy_secrets();
    for (schema, field) in [
        ("CreateExtension", "claim_expires_in"),
        ("IssueClaimCode", "claim_expires_in"),
        ("RequestAccess", "duration"),
    ] {
        schemas[schema]["properties"][field]["pattern"] = json!(LIFETIME);
    }
}

fn secret_name() -> Value {
    serde_json::to_value(secret_name_schema()).expect("a schema serializes")
}

fn import_secrets() -> Value {
    json!({
        "type": "object",
        "description": "NAME → value; all are checked, then written in one transaction.",
        "required": ["secrets"],
        "properties": {"secrets": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": lumio_core::MAX_SECRETS_PER_ENVIRONMENT,
            "propertyNames": secret_name(),
            "additionalProperties": {"type": "string",
                "description": "UTF-8, at most 65,536 bytes (larger values are a 400)."}
        }}
    })
}

fn deploy() -> Value {
    json!({
        "type": "object",
        "required": ["files"],
        "properties": {"files": {
            "type": "object",
            "description": "Path under the extension (e.g. `server/functions.ts`) → source. A \
                            file that does not compile is a 422 `deploy_error`.",
            "minProperties": 1,
            "maxProperties": lumio_core::MAX_DEPLOY_FILES,
            "propertyNames": {"type": "string", "pattern": SOURCE_PATH, "maxLength": 256},
            "additionalProperties": {"type": "string", "maxLength": 262144}
        }}
    })
}

/// An instance-admin token, or one role on one extension; either optionally scoped to
/// an environment and expiring.
fn create_token() -> Value {
    let common = |mut properties: Value| {
        let extra = json!({
            "env": {"type": ["string", "null"], "pattern": ENVIRONMENT_PATTERN,
                    "description": "The only environment the token may act in; omitted: both (or the creating token's, if it is scoped)."},
            "expires_in": {"type": ["string", "null"], "pattern": LIFETIME,
                           "description": "A whole number and a unit (s, m, h, d), at most 366d; omitted: never (or when the creating token expires)."},
            "label": {"type": ["string", "null"],
                      "description": "For people; kept to its first 128 characters."}
        });
        for (key, value) in extra.as_object().expect("object") {
            properties[key] = value.clone();
        }
        properties
    };
    json!({
        "description": "`admin: true` for an instance-admin token (admins only), or `extension` and `role` for a token of one extension (admins, and owners of it).",
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["admin"],
                "properties": common(json!({"admin": {"type": "boolean", "enum": [true]}}))
            },
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["extension", "role"],
                "properties": common(json!({
                    "admin": {"type": "boolean", "enum": [false]},
                    "extension": serde_json::to_value(extension_schema()).expect("a schema serializes"),
                    "role": {"type": "string", "enum": ["owner", "developer", "viewer"]}
                }))
            }
        ]
    })
}

/// Named secrets, or all of them, from the other environment.
fn copy_secrets() -> Value {
    let from = json!({"type": "string", "pattern": ENVIRONMENT_PATTERN,
                      "description": "The environment to copy from: the other one."});
    json!({
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["from", "names"],
                "properties": {
                    "from": from,
                    "names": {"type": "array", "items": secret_name(), "minItems": 1,
                              "description": "The names to copy; each must be set in `from`."},
                    "all": {"type": "boolean", "enum": [false]}
                }
            },
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["from", "all"],
                "properties": {
                    "from": from,
                    "names": {"type": "array", "maxItems": 0},
                    "all": {"type": "boolean", "enum": [true],
                            "description": "Copy every secret set in `from`."}
                }
            }
        ]
    })
}
