//! The leak guard (SPEC §5): finds secret values read during an invocation in what leaves
//! the sandbox — raw, base64 (standard and URL-safe, any alignment), hex, URL-encoded or
//! JSON-escaped (any nesting depth, see `json_unescape.rs`) — and masks them in console
//! output.

use std::collections::VecDeque;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use lumio_core::{SecretName, SecretValue};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use zeroize::Zeroizing;

pub(crate) use crate::json_unescape::with_unescaped;

/// Shorter values are too likely to occur by chance ("true", "1") to be guarded.
pub const MIN_GUARDED_LEN: usize = 4;

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
    /// Raw, JSON-escaped, base64 (standard and URL-safe, every alignment), hex and
    /// percent-encodings.
    forms: Vec<Zeroizing<String>>,
}

/// One automaton over every form of every secret, matching ASCII letters in either case
/// (hex digits and percent-encodings come in both; a raw or base64 form differing only in
/// case is as good as the value): each text is scanned once, however many secrets were
/// read. Also which secret each pattern belongs to, and the label masking puts in its
/// place (made once, not per masked line).
struct Matcher {
    automaton: AhoCorasick,
    owner: Vec<usize>,
    labels: Vec<String>,
}

impl Matcher {
    /// Marks in `hit` every secret with a form in `text`. Leftmost-longest matching
    /// reports non-overlapping matches, so the search goes on one byte after each match's
    /// start: another secret's form may begin inside it.
    fn mark(&self, text: &str, hit: &mut [bool]) {
        let mut from = 0;
        while from < text.len() {
            let Some(m) = self
                .automaton
                .find(aho_corasick::Input::new(text).range(from..))
            else {
                break;
            };
            hit[self.owner[m.pattern().as_usize()]] = true;
            from = m.start() + 1;
        }
    }

    fn mask(&self, text: &str) -> String {
        self.automaton.replace_all(text, &self.labels)
    }
}

/// The forms of some secret values and one matcher over them all: what is costly to
/// build, and the same for every invocation that read the same values.
#[derive(Default)]
pub struct GuardSet {
    secrets: Vec<Forms>,
    matcher: Option<Matcher>,
    /// Some value holds a space, which form encoding writes as `+`.
    has_space: bool,
}

/// The secrets read so far in one invocation, ready to be searched for.
pub struct LeakGuard {
    set: Arc<GuardSet>,
    /// Per secret of `set`: seen in the invocation's own arguments. The caller already
    /// knows that value, so it is masked in logs but not a leak in the result (otherwise
    /// the guard would answer "is my guess right?").
    known_to_caller: Vec<bool>,
}

impl LeakGuard {
    /// Builds the guard for the given reads (same name twice is fine: values may change).
    #[cfg(test)]
    pub fn new<'a>(
        reads: impl IntoIterator<Item = (&'a SecretName, &'a Arc<SecretValue>)>,
    ) -> Self {
        Self::over(Arc::new(GuardSet::new(reads)))
    }

    /// A guard over forms built earlier (see [`GuardCache`]).
    pub fn over(set: Arc<GuardSet>) -> Self {
        let known_to_caller = vec![false; set.secrets.len()];
        Self {
            set,
            known_to_caller,
        }
    }

    /// Marks the secrets whose values the caller itself sent in `args` (the invocation's
    /// arguments) as a whole string: returning them is not a leak. Only an exact string
    /// counts, never a form found inside a longer one, or 35,000 guesses of a PIN in one
    /// argument would learn it in a few calls from whether the answer is a leak.
    pub fn known_from(mut self, args_json: &str) -> Self {
        if self.is_empty() {
            return self;
        }
        self.known_to_caller = crate::caller_sent::sent_whole(&self.set, args_json);
        self
    }

    /// True when no secret is guarded (nothing read, or only short values).
    pub fn is_empty(&self) -> bool {
        self.set.secrets.is_empty()
    }

    /// Names of the secrets whose values appear in `value` in any guarded form.
    pub fn find_in_json(&self, value: &serde_json::Value) -> Vec<SecretName> {
        if self.is_empty() {
            return Vec::new();
        }
        // The JSON text holds every key, string and number; a string holding the value
        // with characters JSON escapes holds its JSON-escaped form, which is one of the
        // forms, and the unescaped layers stand for the strings as they are.
        let json = Zeroizing::new(serde_json::to_string(value).unwrap_or_default());
        self.leaked(vec![json])
    }

    /// Names of the secrets whose values appear in `text` in any guarded form.
    pub fn find_in_text(&self, text: &str) -> Vec<SecretName> {
        if self.is_empty() {
            return Vec::new();
        }
        self.leaked(vec![Zeroizing::new(text.to_owned())])
    }

    /// The secrets found in `texts` or their unescaped layers that the caller did not
    /// send itself. Text nested too deeply to unescape within the work allowed counts as
    /// holding every one of them: it is withheld, never let through unchecked.
    fn leaked(&self, texts: Vec<Zeroizing<String>>) -> Vec<SecretName> {
        let hit = match with_unescaped(texts) {
            Ok(texts) => self.set.hits(&texts),
            Err(_) => vec![true; self.set.len()],
        };
        self.set
            .names_where(hit.iter().zip(&self.known_to_caller).map(|(h, k)| *h && !k))
    }

    /// `text` with every guarded form of every secret replaced by `[REDACTED:NAME]`. A
    /// form that cannot be cut out in place (nested escaping, partial percent-encoding)
    /// withholds the whole text instead: what the guard would find is never shown.
    pub fn mask(&self, text: &str) -> String {
        let Some(matcher) = &self.set.matcher else {
            return text.to_owned();
        };
        let masked = matcher.mask(text);
        let hit = match with_unescaped(vec![Zeroizing::new(masked.clone())]) {
            Ok(texts) => self.set.hits(&texts),
            Err(_) => vec![true; self.set.len()],
        };
        let left = self.set.names_where(hit.into_iter());
        if left.is_empty() {
            return masked;
        }
        let names: Vec<&str> = left.iter().map(SecretName::as_str).collect();
        format!(
            "[REDACTED:{}: withheld, it holds a secret's value in a form that cannot be masked in place]",
            names.join(",")
        )
    }
}

impl GuardSet {
    pub(crate) fn new<'a>(
        reads: impl IntoIterator<Item = (&'a SecretName, &'a Arc<SecretValue>)>,
    ) -> Self {
        let mut set = Self::default();
        for (name, value) in reads {
            set.add(name, value.expose());
        }
        set.matcher = set.build_matcher();
        set
    }

    fn add(&mut self, name: &SecretName, value: &str) {
        if value.len() < MIN_GUARDED_LEN || self.secrets.iter().any(|f| *f.raw == value) {
            return;
        }
        let mut forms = vec![Zeroizing::new(value.to_owned())];
        let json = serde_json::to_string(value).unwrap_or_default();
        forms.push(Zeroizing::new(json[1..json.len() - 1].to_owned()));
        // Base64 at any alignment: the value may start 0, 1 or 2 bytes into a 3-byte
        // group, and each alignment encodes it differently. What is matched is each
        // alignment's core, the characters that depend on the value's bytes alone; not
        // matched are the one or two characters at either end that mix in the bytes around
        // it (unknown here). For the shortest guarded value (4 bytes) the shortest core is
        // 4 characters, 24 bits of the value: as distinctive as the raw form, which is
        // matched anyway, so every alignment is guarded for every guarded length.
        for shift in 0..3 {
            forms.push(base64_core(value.as_bytes(), shift, false));
            forms.push(base64_core(value.as_bytes(), shift, true));
        }
        forms.extend([
            Zeroizing::new(hex::encode(value)),
            Zeroizing::new(utf8_percent_encode(value, URI_COMPONENT).to_string()),
            Zeroizing::new(utf8_percent_encode(value, NON_ALPHANUMERIC).to_string()),
            Zeroizing::new(
                utf8_percent_encode(value, URI_COMPONENT)
                    .to_string()
                    .replace("%20", "+"),
            ),
        ]);
        forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
        forms.dedup();
        forms.retain(|form| !form.is_empty());
        self.has_space |= value.contains(' ');
        self.secrets.push(Forms {
            name: name.clone(),
            raw: Zeroizing::new(value.to_owned()),
            forms,
        });
    }

    fn build_matcher(&self) -> Option<Matcher> {
        if self.secrets.is_empty() {
            return None;
        }
        let mut patterns: Vec<&str> = Vec::new();
        let mut owner = Vec::new();
        let mut labels = Vec::new();
        for (i, secret) in self.secrets.iter().enumerate() {
            for form in &secret.forms {
                patterns.push(form.as_str());
                owner.push(i);
                labels.push(format!("[REDACTED:{}]", secret.name));
            }
        }
        // The builder picks the automaton: a DFA for few patterns (the common one to three
        // secrets read), an NFA for many, whose DFA would take megabytes. A guard is built
        // once per worker for the same values (see `GuardCache`), so build time matters
        // less than scan time. No prefilter: API answers are full of the bytes a prefilter
        // would skip to (letters and digits), so it only adds work to every byte.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .prefilter(false)
            .ascii_case_insensitive(true)
            .build(&patterns)
            .ok()?;
        Some(Matcher {
            automaton,
            owner,
            labels,
        })
    }

    /// How many distinct values are guarded (values too short to guard are left out).
    pub(crate) fn len(&self) -> usize {
        self.secrets.len()
    }

    /// The name and value of the `i`-th guarded secret (the order of [`Self::hits`]).
    pub(crate) fn secret(&self, i: usize) -> (&SecretName, &str) {
        let forms = &self.secrets[i];
        (&forms.name, &forms.raw)
    }

    /// Per secret: whether any of its forms is in `texts` (or in their percent-decoded
    /// forms).
    pub(crate) fn hits(&self, texts: &[Zeroizing<String>]) -> Vec<bool> {
        let mut hit = vec![false; self.secrets.len()];
        let Some(matcher) = &self.matcher else {
            return hit;
        };
        for text in texts {
            matcher.mark(text, &mut hit);
            // Any other percent-encoding (partial, '+' for space): decode and look again.
            if text.contains('%') {
                let decoded = percent_decode_str(text).decode_utf8_lossy();
                matcher.mark(&Zeroizing::new(decoded.into_owned()), &mut hit);
            }
            if self.has_space && text.contains('+') {
                let plus = Zeroizing::new(text.replace('+', " "));
                let decoded = percent_decode_str(&plus).decode_utf8_lossy();
                matcher.mark(&Zeroizing::new(decoded.into_owned()), &mut hit);
            }
        }
        hit
    }

    fn names_where(&self, chosen: impl Iterator<Item = bool>) -> Vec<SecretName> {
        self.secrets
            .iter()
            .zip(chosen)
            .filter(|(_, chosen)| *chosen)
            .map(|(secret, _)| secret.name.clone())
            .collect()
    }
}

/// A worker's recently built guards, by the values read: an action that reads the same
/// secrets call after call builds its matcher once. Entries hold the values they were
/// built from (so a key can never match other values at a reused address) and are
/// dropped as soon as nothing else holds those values any more: a changed secret's old
/// value lives here no longer than in the secrets cache.
#[derive(Default)]
pub struct GuardCache {
    entries: VecDeque<CachedGuard>,
}

struct CachedGuard {
    reads: Vec<(SecretName, Arc<SecretValue>)>,
    set: Arc<GuardSet>,
}

/// Enough for the actions a worker runs in turn; each entry is a few KB per value.
const CACHED_GUARDS: usize = 32;

impl GuardCache {
    /// The guard for an invocation that read `reads`, built only if not cached.
    pub fn guard_for(&mut self, reads: &[(SecretName, Arc<SecretValue>)]) -> LeakGuard {
        LeakGuard::over(self.set_for(reads))
    }

    /// The forms and matcher for `reads`, built only if not cached; the leak guard of the
    /// result and the egress guard of each fetch share them.
    pub fn set_for(&mut self, reads: &[(SecretName, Arc<SecretValue>)]) -> Arc<GuardSet> {
        if reads.is_empty() {
            return Arc::default();
        }
        self.entries.retain(|entry| {
            entry
                .reads
                .iter()
                .all(|(_, value)| Arc::strong_count(value) > 1)
        });
        let same = |entry: &CachedGuard| {
            entry.reads.len() == reads.len()
                && entry
                    .reads
                    .iter()
                    .zip(reads)
                    .all(|((n1, v1), (n2, v2))| n1 == n2 && Arc::ptr_eq(v1, v2))
        };
        if let Some(at) = self.entries.iter().position(same) {
            let entry = self
                .entries
                .remove(at)
                .expect("the position was just found");
            let set = entry.set.clone();
            self.entries.push_back(entry);
            return set;
        }
        let set = Arc::new(GuardSet::new(reads.iter().map(|(n, v)| (n, v))));
        if self.entries.len() == CACHED_GUARDS {
            self.entries.pop_front();
        }
        self.entries.push_back(CachedGuard {
            reads: reads.to_vec(),
            set: set.clone(),
        });
        set
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

    #[test]
    fn cached_guards_are_reused_only_for_the_same_values() {
        let name = SecretName::parse("API_KEY").unwrap();
        let value = Arc::new(SecretValue::new("sk-cached-1".into()).unwrap());
        let mut cache = GuardCache::default();
        let reads = vec![(name.clone(), value.clone())];
        let first = cache.guard_for(&reads);
        assert!(Arc::ptr_eq(&first.set, &cache.guard_for(&reads).set));

        // An equal value in another allocation (the secret was set again) gets its own.
        let changed = vec![(
            name.clone(),
            Arc::new(SecretValue::new("sk-cached-2".into()).unwrap()),
        )];
        let other = cache.guard_for(&changed);
        assert!(!Arc::ptr_eq(&first.set, &other.set));
        assert_eq!(other.find_in_text("x sk-cached-2 y").len(), 1);
        assert!(other.find_in_text("x sk-cached-1 y").is_empty());

        // Once nothing else holds a value, its entry goes with the next lookup.
        let held_only_by_the_cache = Arc::downgrade(&value);
        drop((value, reads, changed, first, other));
        assert!(held_only_by_the_cache.upgrade().is_some());
        let third = Arc::new(SecretValue::new("sk-cached-3".into()).unwrap());
        let _ = cache.guard_for(&[(name, third)]);
        assert!(held_only_by_the_cache.upgrade().is_none());
    }

    #[test]
    fn values_the_caller_sent_are_masked_but_not_leaks() {
        let g = guard("sk-guessed-1").known_from(r#"{"guess":"sk-guessed-1"}"#);
        assert!(g.find_in_text("it is sk-guessed-1").is_empty());
        assert_eq!(g.mask("it is sk-guessed-1"), "it is [REDACTED:API_KEY]");
    }

    #[test]
    fn only_a_whole_argument_string_is_the_callers_own() {
        for args in [
            r#"{"guesses":"000000 sk-guessed-1 999999"}"#,
            r#"{"guess":"c2stZ3Vlc3NlZC0x"}"#,
            r#"{"sk-guessed-1":1}"#,
            r#"{"nested":"{\"guess\":\"sk-guessed-1\"}"}"#,
        ] {
            let g = guard("sk-guessed-1").known_from(args);
            assert_eq!(g.find_in_text("it is sk-guessed-1").len(), 1, "{args}");
        }
        let g = guard("sk-guessed-1").known_from(r#"{"a":[1,{"b":["x","sk-guessed-1"]}]}"#);
        assert!(g.find_in_text("it is sk-guessed-1").is_empty());
    }

    #[test]
    fn short_values_are_found_at_every_alignment() {
        for value in ["Pin4", "48213", "sk-4a7", "7f3a-9c2"] {
            let g = guard(value);
            for lead in ["", "a", "ab", "abc"] {
                for form in [
                    STANDARD.encode(format!("{lead}{value}")),
                    URL_SAFE_NO_PAD.encode(format!("{lead}{value}!?")),
                ] {
                    assert_eq!(
                        g.find_in_text(&format!("x {form} y")).len(),
                        1,
                        "{value} after {lead:?}"
                    );
                }
            }
        }
        // Every core carries at least 24 bits of the value.
        let set = GuardSet::new([(
            &SecretName::parse("PIN").unwrap(),
            &Arc::new(SecretValue::new("1234".into()).unwrap()),
        )]);
        for shift in 0..3 {
            assert!(base64_core(b"1234", shift, false).len() >= 4);
        }
        assert_eq!(set.len(), 1);
    }
}
