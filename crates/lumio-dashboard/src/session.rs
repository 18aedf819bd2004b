//! Sessions: a random id in an HttpOnly, SameSite=Strict cookie; the store keeps only
//! the id's SHA-256, the id of the token that signed in, a CSRF token for every form, and
//! the expiry. Every server on the database sees every session, so a browser behind a
//! load balancer stays signed in wherever its requests land, and signing out ends the
//! session everywhere. The token itself is never stored in the cookie or kept.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use lumio_secrets::{Principal, RequestContext, SecretsService, ServiceError, SessionRecord};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::PageError;
use crate::{DashState, BASE};

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "lumio_session";
/// The sign-in form's double-submit cookie: there is no session to hold its CSRF token yet.
pub(crate) const SIGN_IN_COOKIE: &str = "lumio_signin";
/// Signed-in browsers, kept in the store.
pub(crate) struct Sessions {
    ttl: Duration,
    service: SecretsService,
}

/// A request from a signed-in browser.
pub(crate) struct SignedIn {
    pub ctx: RequestContext,
    pub csrf: String,
    pub session_id: String,
    /// The notice left for this page, until [`Sessions::take_flash`] claims it.
    flash: Option<String>,
}

/// 32 random bytes as hex: session ids and CSRF tokens.
pub(crate) fn random_token() -> String {
    let mut raw = [0u8; 32];
    getrandom::getrandom(&mut raw).expect("the OS random number generator failed");
    hex::encode(raw)
}

/// Compares a submitted CSRF token with the expected one in constant time.
pub(crate) fn csrf_matches(expected: &str, submitted: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
}

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value scoped to the dashboard; `max_age` 0 deletes it. `Secure` when the
/// request reached us over HTTPS, so the browser never sends the cookie in the clear.
pub(crate) fn set_cookie(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age: Duration,
) -> String {
    let secure = if over_https(headers) { "; Secure" } else { "" };
    format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path={BASE}; Max-Age={}{secure}",
        max_age.as_secs()
    )
}

/// Marks a request this process received over TLS as HTTPS (see [`over_https`]).
pub(crate) async fn mark_https(mut request: axum::extract::Request) -> axum::extract::Request {
    let headers = request.headers_mut();
    headers.remove("forwarded");
    headers.insert(
        "x-forwarded-proto",
        axum::http::HeaderValue::from_static("https"),
    );
    request
}

/// Whether a TLS-terminating proxy says the browser used HTTPS (`X-Forwarded-Proto` or
/// `Forwarded: proto=https`). Lumio itself serves plain HTTP. A client that forges the
/// header only gets a `Secure` cookie its plain-HTTP browser then refuses: no harm to
/// anyone else.
fn over_https(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let forwarded_proto = text("x-forwarded-proto")
        .and_then(|v| v.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    let forwarded = text("forwarded").is_some_and(|v| {
        v.split([';', ','])
            .any(|part| part.trim().eq_ignore_ascii_case("proto=https"))
    });
    forwarded_proto || forwarded
}

impl Sessions {
    pub fn new(ttl: Duration, service: SecretsService) -> Self {
        Self { ttl, service }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn kept(&self) -> lumio_secrets::Sessions<'_> {
        self.service.sessions()
    }

    /// Starts a session for `principal`; returns its id, which only the cookie holds.
    pub async fn create(&self, principal: &Principal) -> Result<String, ServiceError> {
        let now = self.service.now();
        // Swept at sign-in, so the table holds little more than the live sessions.
        self.kept().delete_expired().await?;
        let id = random_token();
        let ttl = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::hours(12));
        let record = SessionRecord {
            id_hash: id_hash(&id),
            token_id: principal.token_id.clone(),
            csrf: random_token(),
            expires_at: now + ttl,
            flash: None,
        };
        self.kept().insert(&record).await?;
        Ok(id)
    }

    /// The live session with this id, and who it acts as; `None` if it expired, was
    /// signed out, or its token no longer exists.
    async fn lookup(&self, id: &str) -> Result<Option<(Principal, SessionRecord)>, ServiceError> {
        let Some(record) = self.kept().find(&id_hash(id)).await? else {
            return Ok(None);
        };
        let principal = self.service.principal_of(&record.token_id).await?;
        Ok(principal.map(|principal| (principal, record)))
    }

    pub async fn remove(&self, id: &str) -> Result<(), ServiceError> {
        self.kept().delete(&id_hash(id)).await
    }

    /// Leaves a notice for the next page this session shows. A notice is a courtesy:
    /// failing to keep one is logged, not shown.
    pub async fn set_flash(&self, id: &str, message: String) {
        if let Err(err) = self.kept().set_flash(&id_hash(id), &message).await {
            tracing::warn!(%err, "could not keep a dashboard notice");
        }
    }

    /// The pending notice, claimed so no other page shows it too.
    pub async fn take_flash(&self, signed: &SignedIn) -> Option<String> {
        let flash = signed.flash.as_deref()?;
        let hash = id_hash(&signed.session_id);
        match self.kept().take_flash(&hash, flash).await {
            Ok(true) => Some(flash.to_owned()),
            Ok(false) => None,
            Err(err) => {
                tracing::warn!(%err, "could not clear a dashboard notice");
                None
            }
        }
    }
}

/// What the store keeps of a session id: reading the table does not let anyone sign in.
fn id_hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl SignedIn {
    /// Refuses a form whose CSRF token is missing or not this session's.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), PageError> {
        if csrf_matches(&self.csrf, submitted) {
            Ok(())
        } else {
            Err(PageError::Csrf)
        }
    }
}

/// The request id recorded in the audit log: the client's own when it is short and
/// plain (as the API does), else a fresh random one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| random_token()[..32].to_owned())
}

impl FromRequestParts<DashState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &DashState) -> Result<Self, Response> {
        let id = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned);
        let found = match &id {
            Some(id) => state
                .sessions
                .lookup(id)
                .await
                .map_err(|err| PageError::from(err).into_response())?,
            None => None,
        };
        match (id, found) {
            (Some(id), Some((principal, record))) => Ok(Self {
                ctx: RequestContext {
                    principal,
                    request_id: request_id(&parts.headers),
                },
                csrf: record.csrf,
                session_id: id,
                flash: record.flash,
            }),
            (id, _) => {
                // A forged or expired cookie is dropped so the browser stops sending it.
                let location = if id.is_some() {
                    format!("{BASE}/sign-in?expired=1")
                } else {
                    format!("{BASE}/sign-in")
                };
                let clear = set_cookie(&parts.headers, SESSION_COOKIE, "", Duration::ZERO);
                Err(([(SET_COOKIE, clear)], Redirect::to(&location)).into_response())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_compare_whole() {
        let csrf = random_token();
        assert!(csrf_matches(&csrf, &csrf));
        assert!(!csrf_matches(&csrf, ""));
        assert!(!csrf_matches(&csrf, &random_token()));
        assert!(!csrf_matches("", ""));
    }

    #[test]
    fn session_ids_are_stored_hashed() {
        let id = random_token();
        let hash = id_hash(&id);
        assert_ne!(hex::encode(hash), id);
        assert_eq!(hash, id_hash(&id));
    }

    #[test]
    fn cookies_are_secure_behind_https() {
        let plain = HeaderMap::new();
        assert!(!set_cookie(&plain, "a", "1", Duration::ZERO).contains("Secure"));
        for (name, value) in [
            ("x-forwarded-proto", "https"),
            ("x-forwarded-proto", "HTTPS, http"),
            ("forwarded", "for=192.0.2.1;proto=https;by=proxy"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(name, value.parse().unwrap());
            let cookie = set_cookie(&headers, "a", "1", Duration::from_secs(5));
            assert!(cookie.ends_with("; Secure"), "{name}: {value} -> {cookie}");
        }
        let mut http = HeaderMap::new();
        http.insert("x-forwarded-proto", "http".parse().unwrap());
        assert!(!set_cookie(&http, "a", "1", Duration::ZERO).contains("Secure"));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=1; lumio_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
