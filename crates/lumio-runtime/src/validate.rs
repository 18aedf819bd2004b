//! Argument checking against the `v` validators, before any JavaScript runs (SPEC §7).
//! The SDK's validators are plain descriptions (`{ "kind": "string" }`), read at deploy.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// A validator, as described by the SDK's `v` functions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Validator {
    /// `v.string()`
    String,
    /// `v.number()`
    Number,
    /// `v.boolean()`
    Boolean,
    /// `v.null()`
    Null,
    /// `v.any()`
    Any,
    /// `v.literal(value)`
    Literal {
        /// The one accepted value.
        value: Value,
    },
    /// `v.optional(inner)`: the field may be missing.
    Optional {
        /// Validator of a present value.
        inner: Box<Validator>,
    },
    /// `v.array(items)`
    Array {
        /// Validator of every item.
        items: Box<Validator>,
    },
    /// `v.object(fields)`
    Object {
        /// Field validators.
        fields: BTreeMap<String, Validator>,
    },
    /// `v.union(...members)`
    Union {
        /// Accepted alternatives.
        members: Vec<Validator>,
    },
}

impl Validator {
    /// Checks `value`, naming the first mismatch by its path (`args.items[2].id`).
    pub fn check(&self, value: &Value, path: &str) -> Result<(), String> {
        let mismatch = || {
            Err(format!(
                "{path}: expected {}, got {}",
                self.describe(),
                type_of(value)
            ))
        };
        match self {
            Self::Any => Ok(()),
            Self::String if value.is_string() => Ok(()),
            Self::Number if value.is_number() => Ok(()),
            Self::Boolean if value.is_boolean() => Ok(()),
            Self::Null if value.is_null() => Ok(()),
            Self::Literal { value: expected } if literal_eq(expected, value) => Ok(()),
            Self::Optional { inner } => inner.check(value, path),
            Self::Array { items } => match value {
                Value::Array(values) => values
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, item)| items.check(item, &format!("{path}[{i}]"))),
                _ => mismatch(),
            },
            Self::Object { fields } => match value {
                Value::Object(map) => check_fields(fields, map, path),
                _ => mismatch(),
            },
            Self::Union { members } => {
                if members.iter().any(|m| m.check(value, path).is_ok()) {
                    Ok(())
                } else {
                    mismatch()
                }
            }
            _ => mismatch(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::String => "string".into(),
            Self::Number => "number".into(),
            Self::Boolean => "boolean".into(),
            Self::Null => "null".into(),
            Self::Any => "any value".into(),
            Self::Literal { value } => value.to_string(),
            Self::Optional { inner } => inner.describe(),
            Self::Array { .. } => "array".into(),
            Self::Object { .. } => "object".into(),
            Self::Union { members } => members
                .iter()
                .map(Self::describe)
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }
}

/// Checks an action's arguments: an object whose fields match `fields`, nothing more.
pub fn check_args(fields: &BTreeMap<String, Validator>, args: &Value) -> Result<(), String> {
    match args {
        Value::Object(map) => check_fields(fields, map, "args"),
        Value::Null
            if fields
                .values()
                .all(|v| matches!(v, Validator::Optional { .. })) =>
        {
            Ok(())
        }
        other => Err(format!("args: expected object, got {}", type_of(other))),
    }
}

fn check_fields(
    fields: &BTreeMap<String, Validator>,
    map: &serde_json::Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    for (name, validator) in fields {
        match map.get(name) {
            Some(value) => validator.check(value, &format!("{path}.{name}"))?,
            None if matches!(validator, Validator::Optional { .. }) => {}
            None => {
                return Err(format!(
                    "{path}.{name}: required field is missing ({})",
                    validator.describe()
                ))
            }
        }
    }
    if let Some(extra) = map.keys().find(|k| !fields.contains_key(*k)) {
        let known: Vec<&str> = fields.keys().map(String::as_str).collect();
        let known = if known.is_empty() {
            "no fields".to_owned()
        } else {
            known.join(", ")
        };
        return Err(format!(
            "{path}.{extra}: unexpected field; expected only {known}"
        ));
    }
    Ok(())
}

/// JSON numbers compare by value (1 == 1.0), like JavaScript.
fn literal_eq(expected: &Value, value: &Value) -> bool {
    match (expected.as_f64(), value.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => expected == value,
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(desc: Value) -> BTreeMap<String, Validator> {
        serde_json::from_value(desc).unwrap()
    }

    #[test]
    fn names_the_field() {
        let f = fields(json!({
            "query": { "kind": "string" },
            "limit": { "kind": "optional", "inner": { "kind": "number" } },
            "items": { "kind": "array", "items": { "kind": "object", "fields": { "id": { "kind": "number" } } } },
            "mode": { "kind": "union", "members": [{ "kind": "literal", "value": "a" }, { "kind": "null" }] }
        }));
        let ok = json!({ "query": "x", "items": [{ "id": 1 }], "mode": null });
        assert_eq!(check_args(&f, &ok), Ok(()));
        let err = |v: Value| check_args(&f, &v).unwrap_err();
        assert_eq!(
            err(json!({ "query": 1, "items": [], "mode": "a" })),
            "args.query: expected string, got number"
        );
        assert_eq!(
            err(json!({ "query": "x", "items": [{ "id": 1 }, { "id": "2" }], "mode": "a" })),
            "args.items[1].id: expected number, got string"
        );
        assert_eq!(
            err(json!({ "query": "x", "items": [], "mode": "b" })),
            "args.mode: expected \"a\" | null, got string"
        );
        assert!(err(json!({ "items": [], "mode": "a" }))
            .starts_with("args.query: required field is missing"));
        assert!(
            err(json!({ "query": "x", "items": [], "mode": "a", "x": 1 }))
                .starts_with("args.x: unexpected field")
        );
        assert_eq!(err(json!([1])), "args: expected object, got array");
    }
}
