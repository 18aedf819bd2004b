//! The HTTP client of the Lumio API (docs/http-api.md): sends JSON with the bearer token and
//! turns every failure into a [`CliError`] with the server's message and hint.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use lumio_api::actions::InvokeValue;
use lumio_api::{ErrorBody, ErrorCode};
use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
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
pub enum Answer {
    /// A success status with the action's result.
    Value(InvokeValue),
    /// An error status with the server's error.
    Error(CallError),
}

/// An action's error as the server sent it. `code` is `None` for a code this CLI does
/// not know (a newer server): the message and hint still show.
pub struct CallError {
    pub status: StatusCode,
    pub code: Option<ErrorCode>,
    pub message: String,
    pub hint: Option<String>,
    /// The body as sent, for `--json`.
    pub body: Value,
}

/// Reads an error answer: the typed [`ErrorBody`], or one with an unknown code; `None`
/// for anything that is not Lumio's error shape.
fn error_answer(status: StatusCode, text: &str) -> Option<CallError> {
    let body: Value = serde_json::from_str(text).ok()?;
    let (code, message, hint) = match ErrorBody::deserialize(&body) {
        Ok(ErrorBody { error }) => (Some(error.code), error.message, error.hint),
        Err(_) => {
            let LooseErrorBody { error } = LooseErrorBody::deserialize(&body).ok()?;
            (None, error.message, error.hint)
        }
    };
    (!message.is_empty()).then_some(CallError {
        status,
        code,
        message,
        hint,
        body,
    })
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

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.request(Method::GET, path))
    }

    /// A GET with query parameters: one of `lumio_api`'s query types.
    pub fn get_query<T: DeserializeOwned, Q: Serialize + ?Sized>(
        &self,
        path: &str,
        query: &Q,
    ) -> anyhow::Result<T> {
        self.send(self.request(Method::GET, path).query(query))
    }

    pub fn post<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.send(self.request(Method::POST, path).json(body))
    }

    pub fn put<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.send(self.request(Method::PUT, path).json(body))
    }

    pub fn delete<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.request(Method::DELETE, path))
    }

    /// A DELETE with query parameters: one of `lumio_api`'s query types.
    pub fn delete_query<T: DeserializeOwned, Q: Serialize + ?Sized>(
        &self,
        path: &str,
        query: &Q,
    ) -> anyhow::Result<T> {
        self.send(self.request(Method::DELETE, path).query(query))
    }

    /// POSTs `body` and returns the answer whatever its status, as long as it is an
    /// [`InvokeValue`] (success) or an [`ErrorBody`] (error status); anything else (a
    /// proxy's page, a server without the endpoint) is an error as for [`Client::post`].
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
            return match error_answer(status, &text) {
                Some(error) => Ok(Answer::Error(error)),
                None => Err(bare_status_error(&self.base, status).into()),
            };
        }
        Ok(Answer::Value(read_json(&self.base, response)?))
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token.as_str()),
            None => request,
        }
    }

    fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> anyhow::Result<T> {
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

/// The answer's JSON as `T`: not JSON at all is most likely not a Lumio server; JSON of
/// another shape, a server whose API has moved on from this CLI's.
fn read_json<T: DeserializeOwned>(base: &str, response: Response) -> anyhow::Result<T> {
    let text = response.text().map_err(|err| transport_error(base, &err))?;
    decode(base, &text)
}

fn decode<T: DeserializeOwned>(base: &str, text: &str) -> anyhow::Result<T> {
    serde_json::from_str(text).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => unexpected_shape(base).into(),
        _ => CliError::new(format!("{base} did not answer with JSON"))
            .with_hint("check that --url / LUMIO_URL points at a Lumio server")
            .into(),
    })
}

/// A JSON answer that is not what this CLI's `lumio_api` says the endpoint answers.
fn unexpected_shape(base: &str) -> CliError {
    CliError::new(format!(
        "{base} answered in an unexpected shape; is the CLI (version {}) older than the server?",
        env!("CARGO_PKG_VERSION")
    ))
    .with_hint(
        "install the lumio CLI of the server's version, and check that --url / LUMIO_URL \
         points at a Lumio server",
    )
}

/// An error body whose code this CLI does not know (a newer server): its message and
/// hint are still worth showing.
#[derive(Deserialize)]
struct LooseErrorBody {
    error: LooseErrorDetail,
}

#[derive(Deserialize)]
struct LooseErrorDetail {
    message: String,
    #[serde(default)]
    hint: Option<String>,
}

/// Maps an error answer, a [`lumio_api::ErrorBody`]: `{"error": {"code", "message", "hint"}}`.
fn status_error(base: &str, status: StatusCode, response: Response) -> CliError {
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().unwrap_or_default();
    let Some(CallError {
        code,
        message,
        hint,
        ..
    }) = error_answer(status, &text)
    else {
        return bare_status_error(base, status);
    };
    let hint = hint.filter(|h| !h.is_empty());
    let hint = if status == StatusCode::UNAUTHORIZED {
        Some(login_hint(base))
    } else if status.is_server_error() {
        // Nothing the user did wrong: the request id lets an operator find the cause.
        let base_hint = hint.unwrap_or_else(|| "try again later".to_owned());
        Some(match request_id {
            Some(id) => format!("{base_hint} (request id {id})"),
            None => base_hint,
        })
    } else {
        hint
    };
    CliError {
        message,
        hint,
        code,
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

    #[test]
    fn an_unknown_error_code_keeps_its_message() {
        let status = StatusCode::INTERNAL_SERVER_ERROR;
        let known = r#"{"error":{"code":"timeout","message":"too slow"}}"#;
        let known = error_answer(status, known).unwrap();
        assert_eq!(known.code, Some(ErrorCode::Timeout));
        assert_eq!(known.message, "too slow");
        let newer = r#"{"error":{"code":"quota_spent","message":"m","hint":"h"}}"#;
        let newer = error_answer(status, newer).unwrap();
        assert_eq!(newer.code, None);
        assert_eq!(
            (newer.message.as_str(), newer.hint.as_deref()),
            ("m", Some("h"))
        );
        assert!(error_answer(status, r#"{"error":{"code":"x","message":""}}"#).is_none());
        assert!(error_answer(status, "<html>502</html>").is_none());
    }

    #[test]
    fn answers_of_another_shape_are_a_clear_error() {
        use lumio_api::secrets::SecretView;
        let base = "http://127.0.0.1:7311";
        let err = decode::<SecretView>(base, r#"{"name": "A", "versoin": 2}"#).unwrap_err();
        let cli = err.downcast_ref::<CliError>().unwrap();
        assert!(cli.message.contains("unexpected shape"), "{cli:?}");
        assert!(cli.message.contains(env!("CARGO_PKG_VERSION")), "{cli:?}");
        assert!(cli.hint.is_some());
        let err = decode::<SecretView>(base, "<html>proxy</html>").unwrap_err();
        assert!(
            err.to_string().contains("did not answer with JSON"),
            "{err}"
        );
        let ok: SecretView = decode(
            base,
            r#"{"name":"A","version":2,"updated_at":"2026-01-01T00:00:00Z","updated_by":"t"}"#,
        )
        .unwrap();
        assert_eq!(ok.version, 2);
    }
}
