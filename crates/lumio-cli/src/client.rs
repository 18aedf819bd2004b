//! The HTTP client of the Lumio API (docs/http-api.md): sends JSON with the bearer token and
//! turns every failure into a [`CliError`] with the server's message and hint.

use std::path::{Path, PathBuf};
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
use crate::{tls, transport};

/// A client for one server and token.
pub struct Client {
    http: Http,
    base: String,
    /// `--ca-cert`, for the hint when the server's certificate is refused.
    ca_cert: Option<PathBuf>,
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
        let url = transport::parse_server_url(base)?;
        // The one transport rule, for every command, before anything is sent.
        transport::check(&url, connection.insecure_http)?;
        let https = url.scheme() == "https";
        // https:// trusts the system's store and the bundled web roots, plus --ca-cert;
        // plain http skips reading the system's store. No redirects: the API makes none,
        // and one must not carry a request (and its token) elsewhere.
        let mut builder = Http::builder()
            .user_agent(concat!("lumio-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none())
            .use_rustls_tls()
            .tls_built_in_root_certs(https)
            .https_only(https);
        if let Some(path) = &connection.ca_cert {
            let given = tls::certificates(path)?;
            if https {
                builder = builder.use_preconfigured_tls(tls::client_config(given)?);
            }
        }
        if transport::is_loopback(&url) {
            // A proxy from the environment would turn "server not running" into a proxy error.
            builder = builder.no_proxy();
        }
        Ok(Self {
            http: builder.build()?,
            base: base.to_owned(),
            ca_cert: connection.ca_cert.clone(),
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

    pub fn patch<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.send(self.request(Method::PATCH, path).json(body))
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
            .map_err(|err| transport_error(&self.base, self.ca_cert.as_deref(), &err))?;
        let status = response.status();
        if !status.is_success() {
            let text = response
                .text()
                .map_err(|err| transport_error(&self.base, self.ca_cert.as_deref(), &err))?;
            return match error_answer(status, &text) {
                Some(error) => Ok(Answer::Error(error)),
                None => Err(bare_status_error(&self.base, status).into()),
            };
        }
        Ok(Answer::Value(read_json(
            &self.base,
            self.ca_cert.as_deref(),
            response,
        )?))
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
            .map_err(|err| transport_error(&self.base, self.ca_cert.as_deref(), &err))?;
        let status = response.status();
        if status.is_success() {
            return read_json(&self.base, self.ca_cert.as_deref(), response);
        }
        Err(status_error(&self.base, status, response).into())
    }
}

/// Why a request did not get an answer. Says nothing of the token or body, which
/// reqwest never puts in its errors either.
fn transport_error(base: &str, ca_cert: Option<&Path>, err: &reqwest::Error) -> CliError {
    let chain = error_chain(err);
    if let Some(verdict) = tls::verdict(err) {
        tls::untrusted(base, verdict, ca_cert)
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
fn read_json<T: DeserializeOwned>(
    base: &str,
    ca_cert: Option<&Path>,
    response: Response,
) -> anyhow::Result<T> {
    let text = response
        .text()
        .map_err(|err| transport_error(base, ca_cert, &err))?;
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
        json_printed: false,
    }
}

/// An error status with no Lumio error body: most likely not a Lumio server (or one too
/// old to have the endpoint).
fn bare_status_error(base: &str, status: StatusCode) -> CliError {
    CliError::new(format!("{base} answered {status}"))
        .with_hint("check that --url / LUMIO_URL points at a Lumio server")
        .with_failure(Failure::of_status(status.as_u16()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
