//! The leak guard (SPEC §5): finds secret values read during an invocation in what leaves
//! the sandbox — raw, base64 (standard and URL-safe, any alignment), hex, URL-encoded or
//! JSON-escaped — and masks them in console output.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use lumio_core::{SecretName, SecretValue};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use zeroize::Zeroizing;

/// Shorter values are too likely to occur by chance ("true", "1") to be guarded.
pub const MIN_GUARDED_LEN: usize = 4;

/// Shifted base64 forms are only distinctive enough for values this long.
const MIN_SHIFTED_BASE64_LEN: usize = 8;

/// What `encodeURIComponent` leaves alone.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// The encoded forms of one secret value. They are as sensitive as the value: wiped on drop.
struct Forms {
    name: SecretName,
    raw: Zeroizing<String>,
    /// Case-sensitive forms to look for and mask, longest first.
    exact: Vec<Zeroizing<String>>,
    /// Lowercase hex, matched against lowercased text.
    hex: Zeroizing<String>,
}

/// The secrets read so far in one invocation, ready to be searched for.
#[derive(Default)]
pub struct LeakGuard {
    secrets: Vec<Forms>,
}

impl LeakGuard {
    /// Builds the guard for the given reads (same name twice is fine: values may change).
    pub fn new<'a>(
        reads: impl IntoIterator<Item = (&'a SecretName, &'a Arc<SecretValue>)>,
    ) -> Self {
        let mut guard = Self::default();
        for (name, value) in reads {
            guard.add(name, value.expose());
        }
        guard
    }

    fn add(&mut self, name: &SecretName, value: &str) {
        if value.len() < MIN_GUARDED_LEN || self.secrets.iter().any(|f| *f.raw == value) {
            return;
        }
        let mut exact = vec![Zeroizing::new(value.to_owned())];
        let json = serde_json::to_string(value).unwrap_or_default();
        exact.push(Zeroizing::new(json[1..json.len() - 1].to_owned()));
        exact.push(Zeroizing::new(
            utf8_percent_encode(value, URI_COMPONENT).to_string(),
        ));
        exact.push(Zeroizing::new(
            utf8_percent_encode(value, NON_ALPHANUMERIC).to_string(),
        ));
        exact.push(Zeroizing::new(
            utf8_percent_encode(value, URI_COMPONENT)
                .to_string()
                .replace("%20", "+"),
        ));
        let shifts = if value.len() >= MIN_SHIFTED_BASE64_LEN {
            0..3
        } else {
            0..1
        };
        for shift in shifts {
            exact.push(base64_core(value.as_bytes(), shift, false));
            exact.push(base64_core(value.as_bytes(), shift, true));
        }
        let hex = Zeroizing::new(hex::encode(value));
        exact.push(Zeroizing::new(hex.to_uppercase()));
        exact.push(hex.clone());
        exact.sort_by_key(|form| std::cmp::Reverse(form.len()));
        exact.dedup();
        exact.retain(|form| !form.is_empty());
        self.secrets.push(Forms {
            name: name.clone(),
            raw: Zeroizing::new(value.to_owned()),
            exact,
            hex,
        });
    }

    /// True when no secret is guarded (nothing read, or only short values).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Names of the secrets whose values appear in `value` in any guarded form.
    pub fn find_in_json(&self, value: &serde_json::Value) -> Vec<SecretName> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut texts = vec![Zeroizing::new(
            serde_json::to_string(value).unwrap_or_default(),
        )];
        collect_strings(value, &mut texts);
        self.find_in_texts(&with_unescaped(texts))
    }

    /// Names of the secrets whose values appear in `text` in any guarded form.
    pub fn find_in_text(&self, text: &str) -> Vec<SecretName> {
        if self.is_empty() {
            return Vec::new();
        }
        self.find_in_texts(&with_unescaped(vec![Zeroizing::new(text.to_owned())]))
    }

    fn find_in_texts(&self, texts: &[Zeroizing<String>]) -> Vec<SecretName> {
        let lowered: Vec<Zeroizing<String>> = texts
            .iter()
            .map(|t| Zeroizing::new(t.to_lowercase()))
            .collect();
        // Any percent-encoding (lowercase hex, '+' for space, partial): decode and look again.
        let decoded: Vec<Zeroizing<String>> = texts
            .iter()
            .filter(|t| t.contains('%') || t.contains('+'))
            .flat_map(|t| {
                let plus = t.replace('+', " ");
                [
                    Zeroizing::new(percent_decode_str(t).decode_utf8_lossy().into_owned()),
                    Zeroizing::new(percent_decode_str(&plus).decode_utf8_lossy().into_owned()),
                ]
            })
            .collect();
        let mut found = Vec::new();
        for secret in &self.secrets {
            let hit = texts
                .iter()
                .any(|t| secret.exact.iter().any(|f| t.contains(f.as_str())))
                || lowered.iter().any(|t| t.contains(secret.hex.as_str()))
                || decoded.iter().any(|t| t.contains(secret.raw.as_str()));
            if hit && !found.contains(&secret.name) {
                found.push(secret.name.clone());
            }
        }
        found
    }

    /// `text` with every guarded form of every secret replaced by `[REDACTED:NAME]`.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            let label = format!("[REDACTED:{}]", secret.name);
            for form in &secret.exact {
                if out.contains(form.as_str()) {
                    let masked = out.replace(form.as_str(), &label);
                    Zeroizing::new(std::mem::replace(&mut out, masked));
                }
            }
            if out.to_lowercase().contains(secret.hex.as_str()) {
                out = mask_hex_any_case(&out, &secret.hex, &label);
            }
        }
        out
    }
}

/// The part of the base64 encoding of `value` that does not depend on the bytes around it,
/// when `value` starts `shift` bytes into a 3-byte group.
fn base64_core(value: &[u8], shift: usize, url_safe: bool) -> Zeroizing<String> {
    let mut input = Zeroizing::new(vec![0u8; shift]);
    input.extend_from_slice(value);
    let engine = if url_safe {
        &URL_SAFE_NO_PAD
    } else {
        &STANDARD_NO_PAD
    };
    let encoded = Zeroizing::new(engine.encode(&*input));
    // Leading characters mix in the `shift` unknown bytes; trailing ones mix in what follows.
    let skip = (8 * shift).div_ceil(6);
    let full = input.len() / 3 * 4 + (input.len() % 3 * 8) / 6;
    Zeroizing::new(encoded.get(skip..full).unwrap_or_default().to_owned())
}

/// JSON nested in strings escapes again at each level: add up to four unescaped layers.
fn with_unescaped(mut texts: Vec<Zeroizing<String>>) -> Vec<Zeroizing<String>> {
    let mut layer: Vec<Zeroizing<String>> =
        texts.iter().filter(|t| t.contains('\\')).cloned().collect();
    for _ in 0..4 {
        let next: Vec<Zeroizing<String>> = layer.iter().map(|t| json_unescape(t)).collect();
        texts.extend(next.iter().cloned());
        layer = next.into_iter().filter(|t| t.contains('\\')).collect();
        if layer.is_empty() {
            break;
        }
    }
    texts
}

/// Undoes one level of JSON string escaping; unknown escapes are kept as written.
fn json_unescape(text: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<Zeroizing<String>>) {
    match value {
        serde_json::Value::String(s) => out.push(Zeroizing::new(s.clone())),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                out.push(Zeroizing::new(key.clone()));
                collect_strings(v, out);
            }
        }
        _ => {}
    }
}

/// Replaces hex in mixed case; hex digits are ASCII, so byte offsets line up.
fn mask_hex_any_case(text: &str, hex_lower: &str, label: &str) -> String {
    let lower = Zeroizing::new(text.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while let Some(pos) = lower[rest..].find(hex_lower) {
        out.push_str(&text[rest..rest + pos]);
        out.push_str(label);
        rest += pos + hex_lower.len();
    }
    out.push_str(&text[rest..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    fn guard(value: &str) -> LeakGuard {
        let name = SecretName::parse("API_KEY").unwrap();
        let value = Arc::new(SecretValue::new(value.into()).unwrap());
        LeakGuard::new([(&name, &value)])
    }

    #[test]
    fn finds_every_encoding() {
        let key = "sk-test+/é\"1234567";
        let g = guard(key);
        let cases = [
            key.to_owned(),
            STANDARD.encode(key),
            STANDARD_NO_PAD.encode(key),
            URL_SAFE.encode(key),
            STANDARD.encode(format!("user:{key}")),
            URL_SAFE_NO_PAD.encode(format!("ab{key}cd")),
            hex::encode(key),
            hex::encode_upper(key),
            utf8_percent_encode(key, NON_ALPHANUMERIC)
                .to_string()
                .to_lowercase(),
            utf8_percent_encode(key, URI_COMPONENT).to_string(),
            serde_json::to_string(&serde_json::json!({ "k": key })).unwrap(),
        ];
        for case in cases {
            let value = serde_json::json!({ "data": format!("x{case}y") });
            assert_eq!(g.find_in_json(&value).len(), 1, "missed {case}");
        }
        assert!(g
            .find_in_json(&serde_json::json!({ "data": "nothing here" }))
            .is_empty());
    }

    #[test]
    fn masks_and_ignores_short_values() {
        let g = guard("sk-abc123");
        let hex = hex::encode_upper("sk-abc123");
        let masked = g.mask(&format!(
            "key sk-abc123 b64 {} hex {hex}",
            STANDARD.encode("sk-abc123")
        ));
        assert!(
            !masked.contains("sk-abc123") && !masked.contains(&hex),
            "{masked}"
        );
        assert_eq!(masked.matches("[REDACTED:API_KEY]").count(), 3, "{masked}");
        assert!(guard("abc").is_empty());
    }
}
