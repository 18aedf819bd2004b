//! `lumio run ACTION [JSON_ARGS]`: calls an action through the client plane, exactly as an
//! extension's browser code would (no token), and prints its JSON result.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

use super::Scoped;
use crate::cli::RunArgs;
use crate::error::{CliError, Failure};
use crate::output;

/// What stays literal in the `{action}` path segment: `functions:callExternalApi` as is,
/// while a `/` of a nested module (`lib/http:get`) is escaped so it stays one segment.
/// Error codes meaning the action ran and failed (exit status 7), as opposed to a call
/// that never reached it (not found, unavailable, bad token).
const ACTION_FAILURES: &[&str] = &[
    "action_error",
    "timeout",
    "out_of_memory",
    "stack_overflow",
    "limit_exceeded",
    "fetch_refused",
    "secret_leak",
];

const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b':');

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let action = check_action(&args.action)?;
    let call_args = parse_args(&args.json_args, action)?;
    let scope = Scoped::resolve_anonymous(&args.common)?;
    let path = scope.path(&format!(
        "/actions/{}",
        utf8_percent_encode(action, SEGMENT)
    ));
    let answer = scope.client.call(&path, &json!({ "args": call_args }))?;
    let error = &answer.body["error"];
    let failed = !answer.status.is_success() || error.is_object();
    if scope.json {
        output::json(&answer.body)?;
    } else if !failed {
        output::json(&answer.body["value"])?;
    }
    if !failed {
        return Ok(());
    }
    let code = error["code"].as_str().unwrap_or_default();
    let hint = error["hint"]
        .as_str()
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .or_else(|| hint_for(code, action, &scope.place()));
    Err(CliError {
        message: error["message"]
            .as_str()
            .unwrap_or("the action failed")
            .to_owned(),
        hint,
        code: Some(code.to_owned()).filter(|c| !c.is_empty()),
        failure: if answer.status.is_success() || ACTION_FAILURES.contains(&code) {
            Failure::Action
        } else {
            Failure::of_status(answer.status.as_u16())
        },
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
    Err(CliError::new(format!("{action:?} is not an action name"))
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
        CliError::new(format!("JSON_ARGS is not valid JSON: {err}")).with_hint(example.clone())
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(CliError::new(format!(
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
fn hint_for(code: &str, action: &str, place: &str) -> Option<String> {
    let hint = match code {
        "invalid_args" => {
            format!("check the arguments against the `v` validators in {action}'s `args`")
        }
        "not_found" => format!(
            "deploy first with `lumio deploy`, and check the action name (module:export, \
             e.g. functions:callExternalApi) and that {place} is the right extension and \
             environment"
        ),
        "secret_leak" => "return the API's result, not the key; `lumio audit` shows the \
                          blocked attempt"
            .to_owned(),
        "audit_unavailable" => "the audit log cannot be written right now, so secrets stay \
                                sealed; retry in a moment"
            .to_owned(),
        "unavailable" => {
            "the server cannot reach its database right now; retry in a moment".to_owned()
        }
        "overloaded" => "the server is running as many actions as it can queue; retry in a \
                         moment"
            .to_owned(),
        "action_error" => {
            "the action threw this error; `lumio logs` shows its console output".to_owned()
        }
        "timeout" | "out_of_memory" | "stack_overflow" | "limit_exceeded" => {
            "the action hit a runtime limit; `lumio logs` shows how far it got".to_owned()
        }
        "fetch_refused" => "ctx.fetch only reaches public addresses (a local server needs \
                            `lumio server --allow-private-fetch`)"
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
        let encoded = utf8_percent_encode("lib/http:get", SEGMENT).to_string();
        assert_eq!(encoded, "lib%2Fhttp:get");
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
        assert!(hint("invalid_args").contains("validators"));
        assert!(hint("not_found").contains("lumio deploy"));
        assert!(hint("secret_leak").contains("not the key"));
        assert!(hint("audit_unavailable").contains("retry"));
        assert!(hint_for("something_new", "a:b", "x/y").is_none());
    }
}
