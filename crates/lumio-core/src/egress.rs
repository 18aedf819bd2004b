//! Egress bindings: the hosts a secret's value may be sent to by `ctx.fetch`
//! (`lumio env set NAME --allow-host api.stripe.com`). Parsed here, once, so the store,
//! the API and the runtime only ever hold valid, lowercase host patterns.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::SecretValue;

/// Most hosts one secret may be bound to.
pub const MAX_ALLOWED_HOSTS: usize = 16;
/// Longest host pattern (a DNS name's limit).
pub const MAX_HOST_LEN: usize = 253;

/// One allowed host: an exact host (`api.stripe.com`, `127.0.0.1`, `[::1]`) or a wildcard
/// over its subdomains (`*.example.com` matches `a.example.com` and `a.b.example.com`,
/// not `example.com`). Lowercase; ports are not part of it (every port is allowed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPattern(String);

/// The hosts a bound secret may go to: at least one, at most [`MAX_ALLOWED_HOSTS`],
/// without duplicates, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllowedHosts(Vec<HostPattern>);

/// A secret's current value and its binding, as the runtime's read path hands them out
/// (both come from the same cached read, so a binding change is seen with the value).
#[derive(Debug, Clone)]
pub struct CurrentValue {
    pub value: Arc<SecretValue>,
    /// `None`: unbound, the value may go to any host.
    pub allowed_hosts: Option<Arc<AllowedHosts>>,
    /// When the current version expires; an action past it still gets the value, and the
    /// read is recorded as `expired`.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Why a host was refused; says what a good one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidHost {
    /// One host is malformed.
    #[error("allowed host {given:?} is invalid: {why}")]
    Host { given: String, why: String },
    /// No host at all.
    #[error("no allowed host given; give at least one, e.g. --allow-host api.stripe.com")]
    Empty,
    /// More than [`MAX_ALLOWED_HOSTS`].
    #[error("{given} allowed hosts given; a secret may be bound to at most {MAX_ALLOWED_HOSTS} (use a wildcard such as *.example.com for many subdomains)")]
    TooMany { given: usize },
}

impl HostPattern {
    /// Parses one host as a user typed it: case is folded; a scheme, path, port, user info
    /// or misplaced wildcard is refused with what to write instead.
    pub fn parse(input: &str) -> Result<Self, InvalidHost> {
        let refuse = |why: String| InvalidHost::Host {
            given: input.chars().take(64).collect(),
            why,
        };
        let text = input.trim().to_ascii_lowercase();
        if text.is_empty() {
            return Err(refuse(
                "it is empty; give a host name such as api.stripe.com".into(),
            ));
        }
        if text.len() > MAX_HOST_LEN {
            return Err(refuse(format!(
                "it is longer than {MAX_HOST_LEN} characters"
            )));
        }
        if let Some((_, rest)) = text.split_once("://") {
            let host = rest.split(['/', ':', '?', '#']).next().unwrap_or_default();
            return Err(refuse(format!(
                "give the host alone, without a scheme (e.g. {host})"
            )));
        }
        if let Some(v6) = ipv6_literal(&text) {
            return Ok(Self(format!("[{v6}]")));
        }
        if text.contains(['/', '?', '#']) {
            return Err(refuse(
                "give the host alone, without a path or query".into(),
            ));
        }
        if text.contains('@') {
            return Err(refuse("give the host alone, without user info".into()));
        }
        if text.contains(':') {
            return Err(refuse(
                "give the host without a port; a binding covers every port of the host".into(),
            ));
        }
        let (wildcard, domain) = match text.strip_prefix("*.") {
            Some(domain) => (true, domain),
            None => (false, text.as_str()),
        };
        if domain.contains('*') {
            return Err(refuse(
                "a wildcard may only be a leading \"*.\", as in *.example.com".into(),
            ));
        }
        check_domain(domain, wildcard).map_err(refuse)?;
        Ok(Self(text))
    }

    /// The pattern as stored and shown: `api.stripe.com`, `*.example.com`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `host` (as a URL parser writes it: lowercase, IPv6 in brackets) is this
    /// host or, for a wildcard, one of its subdomains.
    pub fn matches(&self, host: &str) -> bool {
        match self.0.strip_prefix('*') {
            // `suffix` keeps its leading dot, so `evilexample.com` never matches.
            Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
            None => host == self.0,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AllowedHosts {
    /// Parses every host; duplicates are dropped.
    pub fn parse<S: AsRef<str>>(hosts: impl IntoIterator<Item = S>) -> Result<Self, InvalidHost> {
        let mut parsed: Vec<HostPattern> = Vec::new();
        for host in hosts {
            let host = HostPattern::parse(host.as_ref())?;
            if !parsed.contains(&host) {
                parsed.push(host);
            }
        }
        if parsed.is_empty() {
            return Err(InvalidHost::Empty);
        }
        if parsed.len() > MAX_ALLOWED_HOSTS {
            return Err(InvalidHost::TooMany {
                given: parsed.len(),
            });
        }
        Ok(Self(parsed))
    }

    /// Whether a request to `host` may carry the secret.
    pub fn allows(&self, host: &str) -> bool {
        self.0.iter().any(|pattern| pattern.matches(host))
    }

    pub fn patterns(&self) -> &[HostPattern] {
        &self.0
    }

    /// The patterns as strings, in order.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|p| p.0.clone()).collect()
    }
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<&str> = self.0.iter().map(HostPattern::as_str).collect();
        f.write_str(&list.join(", "))
    }
}

/// `[::1]` or `::1` as the bracketed form a URL parser writes.
fn ipv6_literal(text: &str) -> Option<Ipv6Addr> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner.parse().ok()
}

/// Letters, digits and hyphens in dot-separated labels of 1–63 characters; a name that
/// looks numeric must be a dotted IPv4 address (a URL parser rewrites other numeric forms,
/// so they could never match).
fn check_domain(domain: &str, wildcard: bool) -> Result<(), String> {
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.iter().any(|label| label.is_empty()) {
        return Err("it has an empty label; check for a leading, doubled or trailing dot".into());
    }
    for label in &labels {
        if label.len() > 63 {
            return Err("a label (between dots) is longer than 63 characters".into());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("use only letters, digits, hyphens and dots (write an internationalised name in its xn-- form)".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label may not start or end with a hyphen".into());
        }
    }
    let last = labels.last().copied().unwrap_or_default();
    let numeric = last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x");
    if numeric {
        if wildcard {
            return Err("a wildcard must cover a domain name, not an IP address".into());
        }
        if domain.parse::<Ipv4Addr>().is_err() {
            return Err(
                "it looks like an IP address but is not a dotted IPv4 address such as 192.0.2.1"
                    .into(),
            );
        }
    }
    if wildcard && labels.len() < 2 {
        return Err("a wildcard needs a domain of at least two labels, e.g. *.example.com".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(host: &str) -> String {
        HostPattern::parse(host).unwrap_err().to_string()
    }

    #[test]
    fn hosts_are_lowercased_and_literals_normalised() {
        let host = |h| HostPattern::parse(h).unwrap().as_str().to_owned();
        assert_eq!(host("API.Stripe.com"), "api.stripe.com");
        assert_eq!(host("*.Example.COM"), "*.example.com");
        assert_eq!(host("127.0.0.1"), "127.0.0.1");
        assert_eq!(host("::1"), "[::1]");
        assert_eq!(host("[0:0::1]"), "[::1]");
        assert_eq!(host("localhost"), "localhost");
    }

    #[test]
    fn confusing_input_is_refused_with_what_to_write() {
        assert!(
            refused("https://api.stripe.com/v1").contains("without a scheme (e.g. api.stripe.com)")
        );
        assert!(refused("api.stripe.com/v1").contains("without a path"));
        assert!(refused("api.stripe.com:443").contains("without a port"));
        assert!(refused("user@api.stripe.com").contains("user info"));
        assert!(refused("api.*.com").contains("leading"));
        assert!(refused("*.com").contains("at least two labels"));
        assert!(refused("*").contains("leading"));
        assert!(refused("api..stripe.com").contains("empty label"));
        assert!(refused("api.stripe.com.").contains("empty label"));
        assert!(refused("bad_host.com").contains("letters, digits"));
        assert!(refused("ünï.com").contains("xn--"));
        assert!(refused("-a.com").contains("hyphen"));
        assert!(refused("0x7f.1").contains("IPv4"));
        assert!(refused("*.0.0.1").contains("IP address"));
        assert!(refused(&format!("{}.com", "a".repeat(300))).contains("longer than"));
        assert!(refused("").contains("empty"));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let pattern = HostPattern::parse("*.example.com").unwrap();
        assert!(pattern.matches("a.example.com"));
        assert!(pattern.matches("a.b.example.com"));
        assert!(!pattern.matches("example.com"));
        assert!(!pattern.matches("evilexample.com"));
        assert!(!pattern.matches("a.example.com.evil.net"));
        let exact = HostPattern::parse("api.stripe.com").unwrap();
        assert!(exact.matches("api.stripe.com"));
        assert!(!exact.matches("x.api.stripe.com"));
    }

    #[test]
    fn lists_are_deduplicated_and_bounded() {
        let hosts = AllowedHosts::parse(["a.com", "A.com", "b.com"]).unwrap();
        assert_eq!(hosts.to_strings(), ["a.com", "b.com"]);
        assert!(hosts.allows("b.com") && !hosts.allows("c.com"));
        assert_eq!(
            AllowedHosts::parse(Vec::<String>::new()),
            Err(InvalidHost::Empty)
        );
        let many: Vec<String> = (0..=MAX_ALLOWED_HOSTS)
            .map(|i| format!("h{i}.com"))
            .collect();
        assert!(matches!(
            AllowedHosts::parse(&many),
            Err(InvalidHost::TooMany { .. })
        ));
    }
}
