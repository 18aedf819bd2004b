//! The HTTP client of the Lumio API (docs/http-api.md): sends JSON with the bearer token and
//! turns every failure into a [`CliError`] with the server's message and hint.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::{login_hint, Connection};
use crate::error::{CliError, Failure};
use crate::progress::Waiting;

/// A client for one server and token.
pub struct Client {
    http: Http,
    base: String,
    /// `None` for the client plane (`lumio run`), which needs no token.
    token: Option<Zeroizing<String>>,
}

/// The answer of an endpoint whose errors are results too (`POST …/actions/{action}`).
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Client {
    /// A client for the connection's server (its URL already normalized, see
    /// `config::normalize_url`), sending `token`.
    pub fn new(connection: &Connection, token: Zeroizing<String>) -> anyhow::Result<Self> {
        Self::build(connection, Some(token))
    }

    /// A client that sends no token: the client plane does not need one, and a
    /// management token has no business travelling with a browser-style call.
    pub fn anonymous(connection: &Connection) -> anyhow::Result<Self> {
        Self::build(connection, None)
    }

    fn build(connection: &Connection, token: Option<Zeroizing<String>>) -> anyhow::Result<Self> {
        let base = connection.url.as_str();
        let https = base.starts_with("https://");
        // https:// trusts the system's store and the bundled web roots, plus --ca-cert;
        // plain http skips reading the system's store.
        let mut builder = Http::builder()
            .user_agent(concat!("lumio-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .use_rustls_tls()
            .tls_built_in_root_certs(https)
            .https_only(https);
        if let Some(path) = &connection.ca_cert {
            for cert in ca_certificates(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        if is_loopback(base) {
            // A proxy from the environment would turn "server not running" into a proxy error.
            builder = builder.no_proxy();
        }
        Ok(Self {
            http: builder.build()?,
            base: base.to_owned(),
            token,
        })
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.request(Method::GET, path))
    }

    pub fn get_query(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.send(self.request(Method::GET, path).query(query))
    }

    pub fn post<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> anyhow::Result<Value> {
        self.send(self.request(Method::POST, path).json(body))
    }

    pub fn put<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> anyhow::Result<Value> {
        self.send(self.request(Method::PUT, path).json(body))
    }

    pub fn delete(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.send(self.request(Method::DELETE, path).query(query))
    }

    /// POSTs `body` and returns the answer whatever its status, as long as it is JSON of
    /// the form `{"value": …}` or `{"error": {"message": …}}`; anything else (a proxy's
    /// page, a server without the endpoint) is an error as for [`Client::post`].
    pub fn call<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> anyhow::Result<Answer> {
        let _waiting = Waiting::start();
        let response = self
            .request(Method::POST, path)
            .json(body)
            .send()
            .map_err(|err| transport_error(&self.base, &err))?;
        let status = response.status();
        if !status.is_success() {
            let text = response
                .text()
                .map_err(|err| transport_error(&self.base, &err))?;
            let body: Option<Value> = serde_json::from_str(&text).ok();
            return match body {
                Some(body) if body["error"]["message"].is_string() => Ok(Answer { status, body }),
                _ => Err(bare_status_error(&self.base, status).into()),
            };
        }
        let body = read_json(&self.base, response)?;
        if body.get("value").is_none() && !body["error"]["message"].is_string() {
            return Err(CliError::new(format!(
                "{} answered without a value or an error",
                self.base
            ))
            .with_hint("check that --url / LUMIO_URL points at a Lumio server")
            .into());
        }
        Ok(Answer { status, body })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token.as_str()),
            None => request,
        }
    }

    fn send(&self, request: RequestBuilder) -> anyhow::Result<Value> {
        let _waiting = Waiting::start();
        let response = request
            .send()
            .map_err(|err| transport_error(&self.base, &err))?;
        let status = response.status();
        if status.is_success() {
            return read_json(&self.base, response);
        }
        Err(status_error(&self.base, status, response).into())
    }
}

/// Every certificate in a PEM file (a CA bundle may hold several).
fn ca_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, CliError> {
    let hint = "pass --ca-cert (or LUMIO_CA_CERT) the PEM file of the CA that signed the \
                server's certificate";
    let pem = std::fs::read(path).map_err(|err| {
        CliError::new(format!(
            "cannot read the CA certificate {}: {err}",
            path.display()
        ))
        .with_hint(hint)
    })?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(
            CliError::new(format!("{} holds no PEM certificate", path.display())).with_hint(hint),
        ),
    }
}

/// Why a request did not get an answer. Says nothing of the token or body, which
/// reqwest never puts in its errors either.
fn transport_error(base: &str, err: &reqwest::Error) -> CliError {
    let chain = error_chain(err);
    if is_certificate_error(&chain) {
        CliError::new(format!(
            "the TLS certificate of {base} is not trusted: {}",
            chain.rsplit(": ").next().unwrap_or(&chain)
        ))
        .with_hint(
            "if the server uses a private CA, pass --ca-cert FILE or set LUMIO_CA_CERT; \
             check that the URL's host is a name in the certificate",
        )
    } else if err.is_connect() {
        CliError::new(format!(
            "could not reach Lumio at {base}; is `lumio server` running?"
        ))
        .with_hint("start it with `lumio server`, or point --url / LUMIO_URL at the right server")
        .with_failure(Failure::Unavailable)
    } else if err.is_timeout() {
        CliError::new(format!("Lumio at {base} did not answer in time"))
            .with_hint("try again; if it persists, check the server's log")
            .with_failure(Failure::Unavailable)
    } else {
        CliError::new(format!("request to {base} failed: {chain}"))
    }
}

/// rustls's verdicts on a certificate, as they appear in reqwest's error chain.
fn is_certificate_error(chain: &str) -> bool {
    chain.contains("invalid peer certificate") || chain.contains("UnknownIssuer")
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn read_json(base: &str, response: Response) -> anyhow::Result<Value> {
    let text = response.text().map_err(|err| transport_error(base, &err))?;
    serde_json::from_str(&text).map_err(|_| {
        CliError::new(format!("{base} did not answer with JSON"))
            .with_hint("check that --url / LUMIO_URL points at a Lumio server")
            .into()
    })
}

/// Maps an error answer using the shape `{"error": {"code", "message", "hint"}, "request_id"}`.
fn status_error(base: &str, status: StatusCode, response: Response) -> CliError {
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Option<Value> = response
        .text()
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let field = |name: &str| {
        body.as_ref()
            .and_then(|b| b["error"][name].as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let request_id = body
        .as_ref()
        .and_then(|b| b["request_id"].as_str().map(str::to_owned))
        .or(request_id);

    let Some(message) = field("message") else {
        return bare_status_error(base, status);
    };
    let hint = if status == StatusCode::UNAUTHORIZED {
        Some(login_hint(base))
    } else if status.is_server_error() {
        // Nothing the user did wrong: the request id lets an operator find the cause.
        let base_hint = field("hint").unwrap_or_else(|| "try again later".to_owned());
        Some(match request_id {
            Some(id) => format!("{base_hint} (request id {id})"),
            None => base_hint,
        })
    } else {
        field("hint")
    };
    CliError {
        message,
        hint,
        code: field("code"),
        failure: Failure::of_status(status.as_u16()),
    }
}

/// An error status with no Lumio error body: most likely not a Lumio server (or one too
/// old to have the endpoint).
fn bare_status_error(base: &str, status: StatusCode) -> CliError {
    CliError::new(format!("{base} answered {status}"))
        .with_hint("check that --url / LUMIO_URL points at a Lumio server")
        .with_failure(Failure::of_status(status.as_u16()))
}

/// Whether the URL's host is this machine (localhost or a loopback address).
pub fn is_loopback(base: &str) -> bool {
    let authority = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
        .unwrap_or(base);
    let authority = authority.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("http://127.0.0.1:7311"));
        assert!(is_loopback("http://localhost:1"));
        assert!(is_loopback("http://[::1]:1"));
        assert!(is_loopback("https://127.0.0.1:7311"));
        assert!(!is_loopback("http://lumio.example.com"));
        assert!(!is_loopback("http://localhost.example.com"));
    }
}
