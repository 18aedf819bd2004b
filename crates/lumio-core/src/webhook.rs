//! What a webhook receiver asks for: which change events (`--events secret.*,deploy`).

use crate::AuditEvent;

/// Most patterns in one filter.
pub const MAX_EVENT_PATTERNS: usize = 32;

/// Longest webhook URL accepted.
pub const MAX_WEBHOOK_URL_LEN: usize = 2048;

/// Most live webhooks per extension.
pub const MAX_WEBHOOKS_PER_EXTENSION: usize = 20;

/// Comma-separated event patterns: `*`, a family (`secret.*`) or one event (`deploy`).
/// Parsed once; only names and families of change events are accepted, so a typo is an
/// error at `add` rather than a receiver that silently hears nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter(Vec<String>);

/// Why an event filter was refused; says what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEventFilter(String);

impl EventFilter {
    /// Every change event.
    pub fn all() -> Self {
        Self(vec!["*".to_owned()])
    }

    pub fn parse(text: &str) -> Result<Self, InvalidEventFilter> {
        let patterns: Vec<String> = text
            .split(',')
            .map(|p| p.trim().to_ascii_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        if patterns.is_empty() {
            return Err(InvalidEventFilter(
                "no events named; use * for every event, or e.g. secret.*,deploy".into(),
            ));
        }
        if patterns.len() > MAX_EVENT_PATTERNS {
            return Err(InvalidEventFilter(format!(
                "at most {MAX_EVENT_PATTERNS} event patterns"
            )));
        }
        for pattern in &patterns {
            if !change_events().any(|event| pattern_matches(pattern, event.as_str())) {
                let known: Vec<&str> = change_events().map(AuditEvent::as_str).collect();
                return Err(InvalidEventFilter(format!(
                    "no change event matches {:?}; use *, a family such as secret.*, or one of {}",
                    truncated(pattern),
                    known.join(", ")
                )));
            }
        }
        Ok(Self(patterns))
    }

    pub fn matches(&self, event: &str) -> bool {
        self.0.iter().any(|pattern| pattern_matches(pattern, event))
    }

    /// The stored and shown form, e.g. `secret.*,deploy`.
    pub fn to_text(&self) -> String {
        self.0.join(",")
    }
}

/// Events a receiver can be sent.
pub fn change_events() -> impl Iterator<Item = AuditEvent> {
    AuditEvent::ALL
        .iter()
        .copied()
        .filter(|event| event.is_change_event())
}

fn pattern_matches(pattern: &str, event: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => prefix.ends_with('.') && event.starts_with(prefix),
        None => pattern == event,
    }
}

/// A pattern quoted in an error: bounded, so an error never repeats a long input whole.
fn truncated(pattern: &str) -> String {
    pattern.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_names_and_star_match() {
        let filter = EventFilter::parse("secret.*, deploy").unwrap();
        assert!(filter.matches("secret.set"));
        assert!(filter.matches("deploy"));
        assert!(!filter.matches("token.create"));
        assert!(EventFilter::all().matches("token.create"));
        assert_eq!(filter.to_text(), "secret.*,deploy");
    }

    #[test]
    fn typos_and_non_events_are_refused() {
        for bad in [
            "",
            " , ",
            "secret.sett",
            "secrets.*",
            "secret*",
            "secret.get",
            "webhook.delivery",
        ] {
            assert!(EventFilter::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
