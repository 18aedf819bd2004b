//! Sessions: a random id in an HttpOnly, SameSite=Strict cookie, mapped in memory to the
//! principal its token authenticated as. The token itself is never stored in the cookie
//! or kept after sign-in. Each session has its own CSRF token for every form.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use lumio_secrets::{Principal, RequestContext};
use subtle::ConstantTimeEq;

use crate::error::PageError;
use crate::{DashState, BASE};

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "lumio_session";
/// The sign-in form's double-submit cookie: there is no session to hold its CSRF token yet.
pub(crate) const SIGN_IN_COOKIE: &str = "lumio_signin";
/// Most sessions kept at once; past it the oldest are dropped (memory stays bounded).
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
struct Session {
    principal: Principal,
    csrf: String,
    created: Instant,
    expires: Instant,
    /// A one-time notice for the next page ("Saved MY_KEY").
    flash: Option<String>,
}

/// Every live session of this server process.
pub(crate) struct Sessions {
    ttl: Duration,
    map: Mutex<HashMap<String, Session>>,
}

/// A request from a signed-in browser.
pub(crate) struct SignedIn {
    pub ctx: RequestContext,
    pub csrf: String,
    pub session_id: String,
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

/// A `Set-Cookie` value scoped to the dashboard; `max_age` 0 deletes it.
pub(crate) fn set_cookie(name: &str, value: &str, max_age: Duration) -> String {
    format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path={BASE}; Max-Age={}",
        max_age.as_secs()
    )
}

impl Sessions {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session for `principal`; returns its id.
    pub fn create(&self, principal: Principal) -> String {
        let id = random_token();
        let now = Instant::now();
        let mut map = self.map.lock().expect("sessions lock");
        map.retain(|_, session| session.expires > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, session)| session.created)
                .map(|(id, _)| id.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            id.clone(),
            Session {
                principal,
                csrf: random_token(),
                created: now,
                expires: now + self.ttl,
                flash: None,
            },
        );
        id
    }

    /// The principal and CSRF token of a live session; an expired one is removed.
    fn lookup(&self, id: &str) -> Option<(Principal, String)> {
        let mut map = self.map.lock().expect("sessions lock");
        match map.get(id) {
            Some(session) if session.expires > Instant::now() => {
                Some((session.principal.clone(), session.csrf.clone()))
            }
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, id: &str) {
        self.map.lock().expect("sessions lock").remove(id);
    }

    /// Leaves a notice for the next page this session shows.
    pub fn set_flash(&self, id: &str, message: String) {
        if let Some(session) = self.map.lock().expect("sessions lock").get_mut(id) {
            session.flash = Some(message);
        }
    }

    /// Takes the pending notice, if any.
    pub fn take_flash(&self, id: &str) -> Option<String> {
        self.map
            .lock()
            .expect("sessions lock")
            .get_mut(id)
            .and_then(|session| session.flash.take())
    }
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
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| random_token()[..32].to_owned())
}

impl FromRequestParts<DashState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &DashState) -> Result<Self, Response> {
        let id = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned);
        let found = id
            .as_deref()
            .and_then(|id| state.sessions.lookup(id).map(|found| (id, found)));
        match found {
            Some((id, (principal, csrf))) => Ok(Self {
                ctx: RequestContext {
                    principal,
                    request_id: request_id(&parts.headers),
                },
                csrf,
                session_id: id.to_owned(),
            }),
            None => {
                // A forged or expired cookie is dropped so the browser stops sending it.
                let location = if id.is_some() {
                    format!("{BASE}/sign-in?expired=1")
                } else {
                    format!("{BASE}/sign-in")
                };
                let clear = set_cookie(SESSION_COOKIE, "", Duration::ZERO);
                Err(([(SET_COOKIE, clear)], Redirect::to(&location)).into_response())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumio_store::Grant;

    fn admin() -> Principal {
        Principal {
            token_id: "t".into(),
            grant: Grant::Admin,
        }
    }

    #[test]
    fn sessions_expire() {
        let sessions = Sessions::new(Duration::from_millis(20));
        let id = sessions.create(admin());
        assert!(sessions.lookup(&id).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(sessions.lookup(&id).is_none());
    }

    #[test]
    fn unknown_ids_and_wrong_csrf_are_refused() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let id = sessions.create(admin());
        assert!(sessions.lookup(&format!("{id}0")).is_none());
        let (_, csrf) = sessions.lookup(&id).unwrap();
        assert!(csrf_matches(&csrf, &csrf));
        assert!(!csrf_matches(&csrf, ""));
        assert!(!csrf_matches(&csrf, &random_token()));
        assert!(!csrf_matches("", ""));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=1; lumio_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
