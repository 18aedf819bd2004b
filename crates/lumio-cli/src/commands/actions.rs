//! `lumio run ACTION [JSON_ARGS]`: calls an action through the client plane, exactly as an
//! extension's browser code would (no token), and prints its JSON result.

use lumio_api::actions::Invoke;
use lumio_api::ErrorCode;
use serde_json::{Map, Value};

use super::Scoped;
use crate::cli::RunArgs;
use crate::client::Answer;
use crate::error::{CliError, Failure};
use crate::output;

/// Error codes meaning the action ran and failed (exit status 7), as opposed to a call
/// that never reached it (not found, unavailable, bad token).
const ACTION_FAILURES: &[ErrorCode] = &[
    ErrorCode::ActionError,
    ErrorCode::Timeout,
    ErrorCode::OutOfMemory,
    ErrorCode::StackOverflow,
    ErrorCode::LimitExceeded,
    ErrorCode::FetchRefused,
    ErrorCode::FetchFailed,
    ErrorCode::SecretLeak,
];

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let action = check_action(&args.action)?;
    let call_args = parse_args(&args.json_args, action)?;
    let scope = Scoped::resolve_anonymous(&args.common)?;
    let body = Invoke {
        args: Value::Object(call_args),
    };
    let (status, error) = match scope.client.call(&scope.api().action(action), &body)? {
        Answer::Value(answer) => {
            return if scope.json {
                output::json(&answer)
            } else {
                output::json(&answer.value)
            };
        }
        // With --json the server's error body is printed as sent (it may carry a code
        // newer than this CLI), and stands for the one JSON error object of a failure.
        Answer::Error(error) => {
            if scope.json {
                output::json(&error.body)?;
            }
            (error.status, error)
        }
    };
    let hint = error.hint.filter(|h| !h.is_empty()).or_else(|| {
        error
            .code
            .and_then(|code| hint_for(code, action, &scope.place()))
    });
    let failed_in_action = error
        .code
        .is_some_and(|code| ACTION_FAILURES.contains(&code));
    Err(CliError {
        message: error.message,
        hint,
        code: error.code,
        failure: if failed_in_action {
            Failure::Action
        } else {
            Failure::of_status(status.as_u16())
        },
        json_printed: scope.json,
    }
    .into())
}

/// `module:export`, checked only for shape: the server knows which actions exist.
fn check_action(action: &str) -> anyhow::Result<&str> {
    let well_formed = action
        .rsplit_once(':')
        .is_some_and(|(module, export)| !module.is_empty() && !export.is_empty())
        && !action.chars().any(|c| c.is_whitespace() || c.is_control());
    if well_formed {
        return Ok(action);
    }
    // `{:?}` escapes control characters, so the name cannot drive the terminal.
    Err(CliError::usage(format!("{action:?} is not an action name"))
        .with_hint(
            "name it module:export, e.g. functions:callExternalApi for `export const \
         callExternalApi` in server/functions.ts",
        )
        .into())
}

/// JSON_ARGS as the object the action's `args` validators check.
fn parse_args(text: &str, action: &str) -> anyhow::Result<Map<String, Value>> {
    let example = format!("quote it for the shell, e.g. lumio run {action} '{{\"query\":\"x\"}}'");
    // serde_json's message gives the position, not the input.
    let value: Value = serde_json::from_str(text).map_err(|err| {
        CliError::usage(format!("JSON_ARGS is not valid JSON: {err}")).with_hint(example.clone())
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(CliError::usage(format!(
            "JSON_ARGS must be a JSON object, not {}",
            kind(&other)
        ))
        .with_hint(example)
        .into()),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The next step for an action error the server sent without a hint.
fn hint_for(code: ErrorCode, action: &str, place: &str) -> Option<String> {
    let hint = match code {
        ErrorCode::InvalidArgs => {
            format!("check the arguments against the `v` validators in {action}'s `args`")
        }
        ErrorCode::NotFound => format!(
            "deploy first with `lumio deploy`, and check the action name (module:export, \
             e.g. functions:callExternalApi) and that {place} is the right extension and \
             environment"
        ),
        ErrorCode::SecretLeak => "return the API's result, not the key; `lumio audit` shows \
                                  the blocked attempt"
            .to_owned(),
        ErrorCode::AuditUnavailable => "the audit log cannot be written right now, so \
                                        secrets stay sealed; retry in a moment"
            .to_owned(),
        ErrorCode::Unavailable => {
            "the server cannot reach its database right now; retry in a moment".to_owned()
        }
        ErrorCode::Overloaded => "the server is running as many actions as it can queue; \
                                  retry in a moment"
            .to_owned(),
        ErrorCode::ActionError => {
            "the action threw this error; `lumio logs` shows its console output".to_owned()
        }
        ErrorCode::Timeout
        | ErrorCode::OutOfMemory
        | ErrorCode::StackOverflow
        | ErrorCode::LimitExceeded => {
            "the action hit a runtime limit; `lumio logs` shows how far it got".to_owned()
        }
        ErrorCode::FetchRefused => "ctx.fetch only reaches public addresses (a local server \
                                    needs `lumio server --allow-private-fetch`)"
            .to_owned(),
        _ => return None,
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names() {
        assert!(check_action("functions:callExternalApi").is_ok());
        assert!(check_action("lib/http:get").is_ok());
        for bad in ["functions", ":x", "functions:", "a b:c", ""] {
            assert!(check_action(bad).is_err(), "{bad:?}");
        }
        let ext = lumio_core::ExtensionSlug::parse("my-ext").unwrap();
        let scope = lumio_api::paths::Scope {
            extension: &ext,
            environment: lumio_core::Environment::Staging,
        };
        assert!(scope
            .action("lib/http:get")
            .ends_with("/actions/lib%2Fhttp:get"));
    }

    #[test]
    fn args_must_be_an_object() {
        assert_eq!(parse_args("{}", "a:b").unwrap().len(), 0);
        assert_eq!(parse_args(r#"{"query":"x"}"#, "a:b").unwrap()["query"], "x");
        let err = parse_args("[1]", "a:b").unwrap_err().to_string();
        assert!(err.contains("not an array"), "{err}");
        let err = parse_args("{query: x}", "a:b").unwrap_err().to_string();
        assert!(err.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn hints_per_code() {
        let hint = |code| hint_for(code, "functions:x", "my-ext/staging").unwrap_or_default();
        assert!(hint(ErrorCode::InvalidArgs).contains("validators"));
        assert!(hint(ErrorCode::NotFound).contains("lumio deploy"));
        assert!(hint(ErrorCode::SecretLeak).contains("not the key"));
        assert!(hint(ErrorCode::AuditUnavailable).contains("retry"));
        assert!(hint_for(ErrorCode::Conflict, "a:b", "x/y").is_none());
    }
}
