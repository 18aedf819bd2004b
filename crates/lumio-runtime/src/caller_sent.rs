//! Which secret values the caller itself sent in an invocation's arguments. A value the
//! caller sent is no leak when it comes back, and refusing it would confirm the guess; but
//! only a whole argument string equal to the value counts. A value merely found inside
//! an argument (one of 35,000 PIN guesses in one string, or any encoded form) is not the
//! caller's: otherwise whether the answer is a leak would say which guess was right.

use serde_json::Value;

use crate::leak_guard::GuardSet;

/// Per secret of `set`: whether some string value in `args_json` equals its value.
pub(crate) fn sent_whole(set: &GuardSet, args_json: &str) -> Vec<bool> {
    let mut sent = vec![false; set.len()];
    // The arguments' JSON is the runtime's own serialisation: it parses.
    let Ok(args) = serde_json::from_str::<Value>(args_json) else {
        return sent;
    };
    let mut strings = Vec::new();
    collect_strings(&args, &mut strings);
    for (i, sent) in sent.iter_mut().enumerate() {
        let (_, value) = set.secret(i);
        *sent = strings.contains(&value);
    }
    sent
}

/// Every string value (not object keys) in `value`, however deep.
fn collect_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(fields) => fields.values().for_each(|v| collect_strings(v, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}
