//! Turns what JavaScript threw into an [`ActionError`] and a TypeScript-positioned stack.

use std::collections::BTreeMap;

use rquickjs::{Object, Value};

use crate::compile::CompiledModule;
use crate::invocation::{ActionError, ErrorCode};

/// Longest error message passed on to the caller (cut only after the leak guard has read
/// the whole message: a cut could split a secret's value so the guard misses it).
const MAX_MESSAGE: usize = 4096;

/// A thrown value, read out of the context.
pub struct Thrown {
    pub error: ActionError,
    pub stack: Option<String>,
}

impl Thrown {
    /// Whether `null` itself was thrown, which is also what QuickJS throws when it runs
    /// out of memory building an error.
    pub fn is_bare_null(&self) -> bool {
        self.stack.is_none()
            && self.error.code == ErrorCode::ActionError
            && self.error.message == "null"
    }
}

/// Reads a thrown value: its message for the caller, its stack for the server log.
pub fn read_thrown(value: &Value<'_>, modules: &BTreeMap<String, CompiledModule>) -> Thrown {
    let Some(obj) = value.as_object() else {
        return Thrown {
            error: ActionError::new(ErrorCode::ActionError, describe_primitive(value)),
            stack: None,
        };
    };
    let message = get_string(obj, "message");
    let name = get_string(obj, "name");
    let stack = get_string(obj, "stack").map(|frames| {
        // QuickJS's `stack` holds only the frames; the log wants the error line too.
        let head = get_string(obj, "name").unwrap_or_else(|| "Error".into());
        let message = get_string(obj, "message").unwrap_or_default();
        format!("{head}: {message}\n{}", map_stack(&frames, modules))
    });
    let code = get_string(obj, "code");
    let Some(message) = message else {
        let text = value
            .ctx()
            .json_stringify(value.clone())
            .ok()
            .flatten()
            .and_then(|s| s.to_string().ok())
            .unwrap_or_else(|| "a non-Error value was thrown".into());
        return Thrown {
            error: ActionError::new(ErrorCode::ActionError, text),
            stack,
        };
    };
    let code = match (name.as_deref(), message.as_str()) {
        (Some("InternalError"), "out of memory") => ErrorCode::OutOfMemory,
        (_, m)
            if m.contains("stack overflow") || m.contains("Maximum call stack size exceeded") =>
        {
            ErrorCode::StackOverflow
        }
        _ => code
            .as_deref()
            .and_then(crate::invocation::code_from_js)
            .unwrap_or(ErrorCode::ActionError),
    };
    let message = match code {
        ErrorCode::OutOfMemory => "the action used more memory than its limit allows".to_owned(),
        ErrorCode::StackOverflow => {
            "Maximum call stack size exceeded: the action recursed too deeply".to_owned()
        }
        _ => message,
    };
    Thrown {
        error: ActionError::new(code, message),
        stack,
    }
}

fn get_string(obj: &Object<'_>, key: &str) -> Option<String> {
    obj.get::<_, Option<rquickjs::Coerced<String>>>(key)
        .ok()
        .flatten()
        .map(|c| c.0)
}

fn describe_primitive(value: &Value<'_>) -> String {
    if let Some(s) = value.as_string().and_then(|s| s.to_string().ok()) {
        return s;
    }
    value
        .ctx()
        .json_stringify(value.clone())
        .ok()
        .flatten()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_else(|| "undefined was thrown".into())
}

pub fn clip(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// Rewrites `file:line:col` positions of generated JavaScript to the TypeScript source.
pub fn map_stack(stack: &str, modules: &BTreeMap<String, CompiledModule>) -> String {
    stack
        .lines()
        .map(|line| map_line(line, modules).unwrap_or_else(|| line.to_owned()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn map_line(line: &str, modules: &BTreeMap<String, CompiledModule>) -> Option<String> {
    // QuickJS frames look like `    at handler (server/functions.ts:12:5)`.
    let open = line
        .rfind('(')
        .map_or_else(|| line.find("at ").map(|i| i + 3), |i| Some(i + 1))?;
    let close = line[open..].find(')').map_or(line.len(), |i| open + i);
    let location = &line[open..close];
    let mut parts = location.rsplitn(3, ':');
    let col: u32 = parts.next()?.parse().ok()?;
    let js_line: u32 = parts.next()?.parse().ok()?;
    let file = parts.next()?;
    let module = modules.get(file)?;
    let (ts_line, ts_col) = module.lines.lookup(js_line, col)?;
    Some(format!(
        "{}{file}:{ts_line}:{ts_col}{}",
        &line[..open],
        &line[close..]
    ))
}
