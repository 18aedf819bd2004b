//! Egress bindings in `ctx.fetch`: a secret bound to hosts (`--allow-host`) may be sent
//! only to them. Every form the leak guard knows (raw, base64, hex, URL- and
//! JSON-escaped) is looked for in everything a request sends that the action chose —
//! method, URL, header names and values, body — and in what each redirect hop would send
//! again, before it is sent. (The rest of a request is the client's own: its
//! `User-Agent`, and `Host`, `Content-Length` and a Basic `Authorization` derived from
//! the URL, which is checked.)

use std::sync::{Arc, Mutex};

use lumio_core::{AllowedHosts, SecretName, SecretValue};
use reqwest::{Method, StatusCode, Url};
use zeroize::Zeroizing;

use crate::leak_guard::{with_unescaped, GuardSet};

/// A refused request: which secret it would carry where. Never holds the value; the host
/// is left out when its name itself holds a secret's value.
#[derive(Debug, Clone, thiserror::Error)]
#[error("ctx.fetch refused: {what} would carry the value of secret {secret}, which may be sent only to {allowed} (its egress binding); send it only there, or change the binding with `lumio env bind {secret} --allow-host HOST`")]
pub struct Blocked {
    pub secret: SecretName,
    /// The refused host, as shown in the message and the audit record.
    pub host: String,
    allowed: String,
    what: String,
}

/// The secrets one invocation read, ready to be searched for in its requests.
pub struct EgressGuard {
    set: Arc<GuardSet>,
    /// Per guarded value: the bindings of every secret read with that value (a host must
    /// be allowed by all of them); empty for an unbound value.
    bindings: Vec<Vec<Arc<AllowedHosts>>>,
    /// Per guarded value: the caller sent it in the arguments as a whole string, so it
    /// reveals nothing new (refusing it would confirm the caller's guess).
    known_to_caller: Vec<bool>,
}

impl EgressGuard {
    /// The guard over every value read, as `set` (built from the reads, usually taken
    /// from the worker's cache), so a refused host that holds any of them is not shown;
    /// `None` when none of them is bound: then requests are not checked at all.
    pub fn new(
        set: Arc<GuardSet>,
        bound: &[(Arc<SecretValue>, Arc<AllowedHosts>)],
        args_json: &str,
    ) -> Option<Self> {
        if bound.is_empty() {
            return None;
        }
        let bindings: Vec<Vec<Arc<AllowedHosts>>> = (0..set.len())
            .map(|i| {
                let (_, raw) = set.secret(i);
                bound
                    .iter()
                    .filter(|(value, _)| value.expose() == raw)
                    .map(|(_, hosts)| hosts.clone())
                    .collect()
            })
            .collect();
        if bindings.iter().all(Vec::is_empty) {
            // Every bound value is too short to be guarded.
            return None;
        }
        let known_to_caller = crate::caller_sent::sent_whole(&set, args_json);
        Some(Self {
            set,
            bindings,
            known_to_caller,
        })
    }

    /// As [`EgressGuard::new`], building the forms of `reads` here (tests and benches).
    pub fn from_reads(
        reads: &[(SecretName, Arc<SecretValue>)],
        bound: &[(Arc<SecretValue>, Arc<AllowedHosts>)],
        args_json: &str,
    ) -> Option<Self> {
        let set = Arc::new(GuardSet::new(reads.iter().map(|(n, v)| (n, v))));
        Self::new(set, bound, args_json)
    }

    /// Refuses `texts` (what one hop sends) going to `host` if they hold the value of a
    /// secret whose binding does not allow that host.
    fn check(&self, host: &str, texts: Vec<Zeroizing<String>>, what: &str) -> Result<(), Blocked> {
        let Ok(texts) = with_unescaped(texts) else {
            // Escaped too deeply to check: refused as if it carried every bound value.
            return match (0..self.set.len()).find_map(|i| {
                let refusing = self.bindings[i].iter().find(|h| !h.allows(host))?;
                Some((i, refusing))
            }) {
                Some((i, refusing)) => Err(self.blocked(i, host, refusing, what)),
                None => Ok(()),
            };
        };
        let hits = self.set.hits(&texts);
        for (i, hit) in hits.into_iter().enumerate() {
            if !hit || self.known_to_caller[i] {
                continue;
            }
            if let Some(refusing) = self.bindings[i].iter().find(|hosts| !hosts.allows(host)) {
                return Err(self.blocked(i, host, refusing, what));
            }
        }
        Ok(())
    }

    fn blocked(&self, i: usize, host: &str, allowed: &AllowedHosts, what: &str) -> Blocked {
        let in_host = self.set.hits(&[Zeroizing::new(host.to_owned())]);
        let host = if in_host.contains(&true) {
            "a host whose name holds a secret's value".to_owned()
        } else {
            host.to_owned()
        };
        Blocked {
            secret: self.set.secret(i).0.clone(),
            what: format!("{what} {host}"),
            host,
            allowed: allowed.to_string(),
        }
    }
}

/// One request as it leaves, checked at its first hop and at every redirect with what
/// that hop sends again: the method (an extension method is any token, so it can carry a
/// value), the new URL, the previous URL (as `Referer`), the headers (less
/// `Authorization` and cookies once a hop changed host or port, as the HTTP client drops
/// them) and the body (until a 303, or a 301/302 of a POST, turns the request into a GET).
pub struct Outgoing {
    guard: Arc<EgressGuard>,
    headers: Vec<(String, String)>,
    body: Option<Zeroizing<String>>,
    hop: Mutex<Hop>,
}

struct Hop {
    method: Method,
    sensitive_headers: bool,
    body: bool,
}

/// Headers the HTTP client drops on a redirect to another host or port.
const DROPPED_CROSS_HOST: [&str; 5] = [
    "authorization",
    "cookie",
    "cookie2",
    "proxy-authorization",
    "www-authenticate",
];

impl Outgoing {
    pub fn new(
        guard: Arc<EgressGuard>,
        method: Method,
        headers: &[(String, String)],
        body: Option<&str>,
    ) -> Self {
        Self {
            guard,
            headers: headers.to_vec(),
            body: body.map(|b| Zeroizing::new(b.to_owned())),
            hop: Mutex::new(Hop {
                method,
                sensitive_headers: true,
                body: true,
            }),
        }
    }

    /// The check before the request is sent.
    pub fn first(&self, url: &Url) -> Result<(), Blocked> {
        let method = self
            .hop
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .method
            .clone();
        let texts = self.texts(&method, url, None, true, true);
        self.guard
            .check(url.host_str().unwrap_or_default(), texts, "this request to")
    }

    /// The check before a redirect to `next` is followed (after `previous`, newest last).
    pub fn redirect(
        &self,
        status: StatusCode,
        next: &Url,
        previous: &[Url],
    ) -> Result<(), Blocked> {
        let mut hop = self.hop.lock().unwrap_or_else(|e| e.into_inner());
        let turns_into_get = status == StatusCode::SEE_OTHER
            || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                && hop.method == Method::POST);
        if turns_into_get {
            hop.body = false;
            if hop.method != Method::HEAD {
                hop.method = Method::GET;
            }
        }
        if let Some(last) = previous.last() {
            if last.host_str() != next.host_str()
                || last.port_or_known_default() != next.port_or_known_default()
            {
                hop.sensitive_headers = false;
            }
        }
        let texts = self.texts(
            &hop.method,
            next,
            previous.last(),
            hop.sensitive_headers,
            hop.body,
        );
        self.guard
            .check(next.host_str().unwrap_or_default(), texts, "a redirect to")
    }

    fn texts(
        &self,
        method: &Method,
        url: &Url,
        referer: Option<&Url>,
        sensitive_headers: bool,
        body: bool,
    ) -> Vec<Zeroizing<String>> {
        let mut texts = vec![
            Zeroizing::new(method.as_str().to_owned()),
            Zeroizing::new(url.as_str().to_owned()),
        ];
        texts.extend(referer.map(|r| Zeroizing::new(r.as_str().to_owned())));
        for (name, value) in &self.headers {
            let dropped = DROPPED_CROSS_HOST
                .iter()
                .any(|d| name.eq_ignore_ascii_case(d));
            if sensitive_headers || !dropped {
                texts.push(Zeroizing::new(format!("{name}: {value}")));
            }
        }
        if body {
            texts.extend(self.body.clone());
        }
        texts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn guard(value: &str, hosts: &[&str]) -> Arc<EgressGuard> {
        let name = SecretName::parse("STRIPE_KEY").unwrap();
        let value = Arc::new(SecretValue::new(value.into()).unwrap());
        let hosts = Arc::new(AllowedHosts::parse(hosts).unwrap());
        Arc::new(
            EgressGuard::from_reads(&[(name, value.clone())], &[(value, hosts)], "{}").unwrap(),
        )
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn values_go_only_to_their_hosts() {
        let key = "sk_live_0123456789";
        let g = guard(key, &["api.stripe.com", "*.stripe.net"]);
        let auth = vec![("Authorization".to_owned(), format!("Bearer {key}"))];
        let out = Outgoing::new(g.clone(), Method::GET, &auth, None);
        assert!(out.first(&url("https://api.stripe.com/v1")).is_ok());
        assert!(out.first(&url("https://files.stripe.net/")).is_ok());
        let blocked = out.first(&url("https://evil.example/")).unwrap_err();
        assert_eq!(
            (blocked.secret.as_str(), blocked.host.as_str()),
            ("STRIPE_KEY", "evil.example")
        );
        assert!(!blocked.to_string().contains(key), "{blocked}");

        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        let none = Outgoing::new(g.clone(), Method::GET, &[], None);
        assert!(none
            .first(&url(&format!("https://evil.example/?k={b64}")))
            .is_err());
        let body = Outgoing::new(g.clone(), Method::POST, &[], Some(&hex::encode(key)));
        assert!(body.first(&url("https://evil.example/")).is_err());
        assert!(Outgoing::new(g, Method::GET, &[], None)
            .first(&url("https://evil.example/plain"))
            .is_ok());
    }

    #[test]
    fn redirects_are_checked_with_what_they_carry() {
        let key = "sk_live_0123456789";
        let g = guard(key, &["api.stripe.com"]);
        let from = [url("https://api.stripe.com/v1")];
        let auth = vec![("Authorization".to_owned(), format!("Bearer {key}"))];
        // Authorization is dropped on a cross-host redirect: nothing carried.
        let out = Outgoing::new(g.clone(), Method::GET, &auth, None);
        assert!(out
            .redirect(StatusCode::FOUND, &url("https://cdn.example/f"), &from)
            .is_ok());
        // A custom header is kept.
        let custom = vec![("X-Api-Key".to_owned(), key.to_owned())];
        let out = Outgoing::new(g.clone(), Method::GET, &custom, None);
        let blocked = out
            .redirect(StatusCode::FOUND, &url("https://cdn.example/f"), &from)
            .unwrap_err();
        assert!(
            blocked.to_string().contains("a redirect to cdn.example"),
            "{blocked}"
        );
        // The previous URL goes along as Referer.
        let from_query = [url(&format!("https://api.stripe.com/v1?key={key}"))];
        let out = Outgoing::new(g.clone(), Method::GET, &[], None);
        assert!(out
            .redirect(StatusCode::FOUND, &url("https://cdn.example/"), &from_query)
            .is_err());
        // A 307 keeps the body, a 303 drops it.
        let out = Outgoing::new(g.clone(), Method::POST, &[], Some(key));
        assert!(out
            .redirect(
                StatusCode::TEMPORARY_REDIRECT,
                &url("https://cdn.example/"),
                &from
            )
            .is_err());
        let out = Outgoing::new(g, Method::POST, &[], Some(key));
        assert!(out
            .redirect(StatusCode::SEE_OTHER, &url("https://cdn.example/"), &from)
            .is_ok());
    }

    #[test]
    fn the_method_is_checked_at_every_hop() {
        let key = "sk_live_0123456789";
        let g = guard(key, &["api.stripe.com"]);
        let method = Method::from_bytes(key.to_ascii_uppercase().as_bytes()).unwrap();
        let out = Outgoing::new(g.clone(), method.clone(), &[], None);
        assert!(out.first(&url("https://api.stripe.com/v1")).is_ok());
        assert!(out.first(&url("https://evil.example/")).is_err());
        // A 307 repeats the method at the next host.
        let from = [url("https://api.stripe.com/v1")];
        assert!(out
            .redirect(
                StatusCode::TEMPORARY_REDIRECT,
                &url("https://evil.example/"),
                &from
            )
            .is_err());
        // A 303 turns it into a GET: nothing is carried.
        let out = Outgoing::new(g, method, &[], None);
        assert!(out
            .redirect(StatusCode::SEE_OTHER, &url("https://evil.example/"), &from)
            .is_ok());
    }
}
