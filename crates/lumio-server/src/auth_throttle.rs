//! Failed sign-ins and refused tokens, counted per client address: after
//! [`MAX_AUTH_FAILURES`](crate::address_limit::MAX_AUTH_FAILURES) in a minute, every request
//! from that address that presents a credential (an `Authorization` header, or the
//! dashboard's sign-in form) is answered 429 with `Retry-After` for the rest of the
//! minute, before the credential is looked at. A credential that is accepted starts the
//! count again, so people and scripts that also hold good tokens (many behind one proxy
//! address) are not locked out by a few stale ones; a guesser never has one. Requests
//! without a credential (the client plane, the probes) are not affected. A middleware over the whole router, so the API, the
//! dashboard and `/metrics` share one count without knowing of it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::address_limit::AddressLimit;
use crate::api_error::rate_limited;

/// One count for the whole server (the scope of [`AddressLimit`]).
const SCOPE: &str = "";

/// Set by the bearer-token extractor when it accepted the request's token: only then
/// does the count start again (any route answers 200 to a made-up header).
#[derive(Clone, Default)]
pub(crate) struct TokenAccepted(Arc<AtomicBool>);

impl TokenAccepted {
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

pub(crate) async fn throttle(
    State(failures): State<Arc<AddressLimit>>,
    request: Request,
    next: Next,
) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let (Some(client), true) = (client, presents_credential(&request)) else {
        return next.run(request).await;
    };
    let sign_in = !request.headers().contains_key(header::AUTHORIZATION);
    if let Err(wait) = failures.check(client, SCOPE) {
        let message = format!(
            "{} failed sign-ins or refused tokens from this address within a minute; \
             retry after the time in Retry-After",
            failures.max()
        );
        if request.uri().path().starts_with(lumio_dashboard::BASE) {
            return lumio_dashboard::throttled_sign_in(request.headers(), wait);
        }
        return rate_limited(message, wait);
    }
    let accepted = TokenAccepted::default();
    let mut request = request;
    request.extensions_mut().insert(accepted.clone());
    let response = next.run(request).await;
    // A dashboard sign-in that worked redirects; one that failed answers 401.
    let signed_in = sign_in && response.status().is_redirection();
    if accepted.0.load(Ordering::Relaxed) || signed_in {
        failures.clear(client, SCOPE);
    } else if response.status() == StatusCode::UNAUTHORIZED {
        failures.note(client, SCOPE);
    }
    response
}

/// Whether the request asks to be let in: a bearer token, or the sign-in form.
fn presents_credential(request: &Request) -> bool {
    request.headers().contains_key(header::AUTHORIZATION)
        || (request.method() == Method::POST
            && request.uri().path() == format!("{}/sign-in", lumio_dashboard::BASE))
}
