//! JSON nested in strings, undone to any depth: each level of `JSON.stringify` over a
//! string escapes it again (a newline becomes `\n`, then `\\n`, then `\\\\n`, …), so a
//! secret's value stringified six times is none of its forms until six layers are undone.

use zeroize::Zeroizing;

/// The unescaping work allowed per byte of input, in bytes unescaped. Honest nesting
/// costs little: each level roughly halves the escapes, so all layers together are about
/// twice the outermost. Only text built to shrink by a few bytes per layer (`\u005c`
/// making the next layer's backslash) needs more, and such text is refused, not let
/// through unchecked: a hostile result must not hold a worker (or a fetch task) for long.
const WORK_PER_BYTE: usize = 16;

/// The text nests escaped JSON too deeply to be checked within the work allowed; whatever
/// it is being checked for must be treated as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep;

/// `texts` and, for each text holding a backslash, every unescaped layer of it until a
/// layer changes nothing. The depth is bounded by the text's length: every layer that
/// changes something is shorter than the one before.
pub(crate) fn with_unescaped(
    mut texts: Vec<Zeroizing<String>>,
) -> Result<Vec<Zeroizing<String>>, TooDeep> {
    let total: usize = texts.iter().map(|t| t.len()).sum();
    let mut work_left = total.saturating_mul(WORK_PER_BYTE).max(64 * 1024);
    let mut layer: Vec<Zeroizing<String>> =
        texts.iter().filter(|t| t.contains('\\')).cloned().collect();
    while !layer.is_empty() {
        let mut next = Vec::with_capacity(layer.len());
        for text in &layer {
            work_left = work_left.checked_sub(text.len()).ok_or(TooDeep)?;
            let unescaped = json_unescape(text);
            if unescaped.len() < text.len() {
                next.push(unescaped);
            }
        }
        texts.extend(next.iter().cloned());
        layer = next.into_iter().filter(|t| t.contains('\\')).collect();
    }
    Ok(texts)
}

/// Undoes one level of JSON string escaping; unknown escapes are kept as written (so a
/// text whose escapes are all unknown comes back unchanged, and the layers stop).
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
                let hex: Zeroizing<String> = Zeroizing::new(chars.by_ref().take(4).collect());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(value: &str, levels: usize) -> String {
        let mut text = value.to_owned();
        for _ in 0..levels {
            text = serde_json::to_string(&text).unwrap();
        }
        text
    }

    #[test]
    fn every_level_is_undone() {
        let value = "line one\nline \"two\"\n";
        for levels in [1, 4, 6, 12, 20] {
            let texts = with_unescaped(vec![Zeroizing::new(nested(value, levels))]).unwrap();
            assert!(
                texts.iter().any(|t| t.contains(value)),
                "{levels} levels were not undone"
            );
        }
    }

    #[test]
    fn a_layer_that_changes_nothing_ends_the_layers() {
        let texts = with_unescaped(vec![Zeroizing::new(r"C:\Users\q".to_owned())]).unwrap();
        assert_eq!(texts.len(), 1);
    }

    #[test]
    fn text_built_to_shrink_slowly_is_refused_not_let_through() {
        // Each layer turns the leading `\u005c` into the next layer's backslash.
        let text = format!("\\u005c{}", "u005c".repeat(100_000));
        assert_eq!(with_unescaped(vec![Zeroizing::new(text)]), Err(TooDeep));
    }
}
