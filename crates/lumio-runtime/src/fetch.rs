//! `ctx.fetch`: real HTTP(S) with a timeout, a response-size cap and no way into private
//! networks. The address check runs inside the DNS resolver the connection uses, so the
//! checked address is the connected one (no DNS-rebinding window). Requests that may carry
//! a bound secret are checked against its binding (`egress.rs`) before they are sent and
//! at every redirect, from the redirect policy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;
use reqwest::{Method, Url};

use crate::egress::{Blocked, EgressGuard, Outgoing};
use crate::limits::RuntimeOptions;

/// Most redirects followed, each checked like the first URL.
const MAX_REDIRECTS: usize = 10;

tokio::task_local! {
    /// The request being sent, for the redirect policy (shared by the client, so it learns
    /// the request from the task sending it): `None` when it carries no bound secret.
    static OUTGOING: Option<Arc<Outgoing>>;
}

/// A request from JavaScript.
#[derive(Debug)]
pub(crate) struct FetchRequest {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// A response handed back to JavaScript.
#[derive(Debug)]
pub(crate) struct FetchResponse {
    pub status: u16,
    pub status_text: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Why a fetch failed. Messages name the host, never the whole URL (its path or query may
/// carry a secret).
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum FetchError {
    /// The destination is not allowed.
    #[error("{0}")]
    Refused(String),
    /// The request would carry a bound secret's value to a host its binding does not allow.
    #[error("{0}")]
    Egress(Blocked),
    /// The request could not be made or the response not read.
    #[error("{0}")]
    Failed(String),
}

/// The refusal raised inside the resolver or redirect policy, found again in reqwest's chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refusal(String);

/// Idle connections kept open to one host, for the calls that follow.
const IDLE_CONNECTIONS_PER_HOST: usize = 32;
/// How long an idle connection is kept.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Shared HTTP client of a runtime.
pub(crate) struct Fetcher {
    client: reqwest::Client,
    allow_private: bool,
    max_bytes: usize,
}

impl Fetcher {
    pub fn new(options: &RuntimeOptions) -> Result<Self, reqwest::Error> {
        let limits = &options.limits;
        let allow_private = limits.allow_private_fetch;
        let overrides = options.fetch_resolve.clone();
        let mut builder = reqwest::Client::builder();
        for pem in &options.fetch_root_certificates_pem {
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem)?);
        }
        let client = builder
            .user_agent(concat!("lumio-runtime/", env!("CARGO_PKG_VERSION")))
            .timeout(limits.fetch_timeout)
            .connect_timeout(limits.fetch_timeout.min(Duration::from_secs(5)))
            // After a burst, reqwest would keep every connection it opened, idle, for 90 s
            // by default and without a cap per host (1,874 stayed open to one API after
            // 5,000 calls): keep a few for the next calls and close them soon.
            .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_HOST)
            .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
            // A proxy would resolve names itself, around the address check.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private,
                overrides,
            }))
            .redirect(Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(Refusal(format!("more than {MAX_REDIRECTS} redirects")));
                }
                if let Err(reason) = check_url(attempt.url(), allow_private) {
                    return attempt.error(Refusal(format!("redirect refused: {reason}")));
                }
                let checked = OUTGOING.try_with(|outgoing| match outgoing {
                    Some(outgoing) => {
                        outgoing.redirect(attempt.status(), attempt.url(), attempt.previous())
                    }
                    None => Ok(()),
                });
                match checked {
                    Ok(Ok(())) => attempt.follow(),
                    Ok(Err(blocked)) => attempt.error(blocked),
                    // Not sent from `fetch`: what it carries is unknown, so it is refused.
                    Err(_) => attempt.error(Refusal("redirect refused: unknown request".into())),
                }
            }))
            .build()?;
        Ok(Self {
            client,
            allow_private,
            max_bytes: limits.fetch_max_response_bytes,
        })
    }

    /// Sends `request`; with `egress`, only if no bound secret's value in it (or in what a
    /// redirect would send again) goes to a host its binding does not allow.
    pub async fn fetch(
        &self,
        request: FetchRequest,
        egress: Option<Arc<EgressGuard>>,
    ) -> Result<FetchResponse, FetchError> {
        let url = Url::parse(&request.url).map_err(|e| {
            FetchError::Failed(format!(
                "ctx.fetch: invalid URL ({e}); use an absolute http(s) URL"
            ))
        })?;
        check_url(&url, self.allow_private).map_err(FetchError::Refused)?;
        let method = Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| FetchError::Failed("ctx.fetch: invalid method".into()))?;
        let outgoing = match egress {
            Some(guard) => {
                let outgoing = Outgoing::new(
                    guard,
                    method.clone(),
                    &request.headers,
                    request.body.as_deref(),
                );
                outgoing.first(&url).map_err(FetchError::Egress)?;
                Some(Arc::new(outgoing))
            }
            None => None,
        };
        let host = place(&url);
        let mut builder = self.client.request(method, url);
        for (name, value) in request.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                FetchError::Failed(format!("ctx.fetch: invalid header name {name:?}"))
            })?;
            let value = reqwest::header::HeaderValue::from_str(&value).map_err(|_| {
                FetchError::Failed(format!("ctx.fetch: invalid value for header {name}"))
            })?;
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let mut response = OUTGOING
            .scope(outgoing, builder.send())
            .await
            .map_err(|err| classify(err, &host))?;
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let final_url = response.url().to_string();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| classify(err, &host))? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(FetchError::Failed(format!(
                    "ctx.fetch to {host} failed: the response is larger than the {} byte limit",
                    self.max_bytes
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse {
            status: status.as_u16(),
            status_text: status.canonical_reason().unwrap_or("").to_owned(),
            url: final_url,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// Maps a reqwest error to ours: what failed and where (`host`, see [`place`]), in words,
/// without the URL's path or query (either may carry a secret).
pub(crate) fn classify(error: reqwest::Error, host: &str) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    let mut unresolved = None;
    let mut io_kind = None;
    let mut deepest = String::new();
    while let Some(err) = source {
        if let Some(refusal) = err.downcast_ref::<Refusal>() {
            return FetchError::Refused(format!("ctx.fetch refused: {refusal}"));
        }
        if let Some(blocked) = err.downcast_ref::<Blocked>() {
            return FetchError::Egress(blocked.clone());
        }
        if let Some(failure) = err.downcast_ref::<NotResolved>() {
            unresolved = Some(failure.0.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        deepest = err.to_string();
        source = err.source();
    }
    use std::io::ErrorKind;
    let what = if let Some(why) = unresolved {
        format!("the name {host} does not resolve ({why})")
    } else if error.is_timeout() {
        "no answer within the time limit".to_owned()
    } else if io_kind == Some(ErrorKind::ConnectionRefused) {
        "the connection was refused (nothing listens on that port)".to_owned()
    } else if matches!(
        io_kind,
        Some(ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::UnexpectedEof)
    ) {
        "the connection was closed before an answer".to_owned()
    } else if deepest.to_ascii_lowercase().contains("certificate") {
        format!("its TLS certificate is not trusted ({deepest})")
    } else {
        deepest
    };
    FetchError::Failed(format!("ctx.fetch to {host} failed: {what}"))
}

/// Where a request goes, for messages: the host, and the port when the URL names one.
fn place(url: &Url) -> String {
    let host = url.host_str().unwrap_or("(no host)");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A name the resolver could not look up, told apart from other I/O failures.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct NotResolved(std::io::Error);

/// Scheme and, for IP literals, address checks; names are checked by the resolver.
pub(crate) fn check_url(url: &Url, allow_private: bool) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "ctx.fetch refused: scheme {:?} is not allowed; use http or https",
            url.scheme()
        ));
    }
    let Some(host) = url.host_str() else {
        return Err("ctx.fetch refused: the URL has no host".into());
    };
    // The URL parser normalises IPv4 literals (e.g. 0x7f.1 becomes 127.0.0.1).
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        return Ok(());
    };
    if allow_private || is_public(ip) {
        Ok(())
    } else {
        Err(format!(
            "ctx.fetch refused: {ip} is a private, loopback or link-local address"
        ))
    }
}

/// The resolver that refuses private addresses, for other clients (`outbound.rs`).
pub(crate) fn guarded_resolver(allow_private: bool) -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver {
        allow_private,
        overrides: Vec::new(),
    })
}

pub(crate) struct GuardedResolver {
    allow_private: bool,
    overrides: Vec<(String, SocketAddr)>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let fixed: Vec<SocketAddr> = self
            .overrides
            .iter()
            .filter(|(h, _)| h == name.as_str())
            .map(|(_, a)| *a)
            .collect();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = if fixed.is_empty() {
                tokio::net::lookup_host((host.as_str(), 0))
                    .await
                    .map_err(|err| {
                        Box::new(NotResolved(err)) as Box<dyn std::error::Error + Send + Sync>
                    })?
                    .collect()
            } else {
                fixed
            };
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                let reason =
                    format!("{host} resolves to a private, loopback or link-local address");
                return Err(Box::new(Refusal(reason)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// True for addresses on the public internet.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                  // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0)       // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)       // documentation
        || (a == 198 && (18..20).contains(&b))  // benchmarking
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    let embedded_v4 =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    match seg {
        // Unspecified, loopback and the deprecated IPv4-compatible range.
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // NAT64 (well-known prefix) translates to the embedded IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_public_v4(embedded_v4(hi, lo)),
        // 6to4 carries an IPv4 address in bits 16..48.
        [0x2002, hi, lo, ..] => is_public_v4(embedded_v4(hi, lo)),
        _ => {
            let first = seg[0];
            !((first & 0xfe00) == 0xfc00          // unique local
                || (first & 0xffc0) == 0xfe80     // link-local
                || (first & 0xffc0) == 0xfec0     // site-local
                || (first & 0xff00) == 0xff00     // multicast
                || (first == 0x64 && seg[1] == 0xff9b) // local-use NAT64
                || (first == 0x2001 && seg[1] == 0x0db8) // documentation
                || (first == 0x2001 && seg[1] == 0)    // Teredo hides the IPv4 address
                || (first == 0x100 && seg[1..4] == [0, 0, 0])) // discard
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "ff02::1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} was allowed");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "64:ff9b::101:101",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} was refused");
        }
    }

    #[test]
    fn only_http_and_https() {
        let refused = check_url(&Url::parse("file:///etc/passwd").unwrap(), true).unwrap_err();
        assert!(refused.contains("scheme"), "{refused}");
        assert!(check_url(&Url::parse("http://127.0.0.1:1/").unwrap(), false).is_err());
        assert!(check_url(&Url::parse("http://127.0.0.1:1/").unwrap(), true).is_ok());
    }
}
