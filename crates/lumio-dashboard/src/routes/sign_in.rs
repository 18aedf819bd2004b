//! Sign-in with a token, and sign-out. The token is checked by the service and then
//! forgotten: the browser gets only a random session id.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::Form;
use lumio_secrets::ServiceError;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::PageError;
use crate::forms::{CsrfForm, SignInForm};
use crate::session::{
    cookie, csrf_matches, random_token, set_cookie, SignedIn, SESSION_COOKIE, SIGN_IN_COOKIE,
};
use crate::{paths, views, DashState};

/// How long the sign-in form stays valid.
const SIGN_IN_TTL: Duration = Duration::from_secs(30 * 60);

#[derive(Deserialize)]
pub(crate) struct SignInQuery {
    #[serde(default)]
    expired: Option<String>,
    #[serde(default)]
    signed_out: Option<String>,
}

/// The form, with a fresh double-submit CSRF token (there is no session yet).
fn render(
    headers: &HeaderMap,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = random_token();
    let cookie = set_cookie(headers, SIGN_IN_COOKIE, &csrf, SIGN_IN_TTL);
    (
        status,
        [(SET_COOKIE, cookie)],
        views::sign_in::page(&csrf, notice, error),
    )
        .into_response()
}

pub(crate) async fn form(headers: HeaderMap, Query(query): Query<SignInQuery>) -> Response {
    let notice = if query.expired.is_some() {
        Some("Your session has ended. Sign in again to continue.")
    } else if query.signed_out.is_some() {
        Some("You are signed out.")
    } else {
        None
    };
    render(&headers, notice, None, StatusCode::OK)
}

/// The form again, answering 429 to an address that failed too often (the server's
/// throttle decides; this only says so in a page a person can read).
pub(crate) fn throttled(headers: &HeaderMap, wait: Duration) -> Response {
    let seconds = wait.as_secs().max(1);
    let error = format!(
        "Too many failed sign-ins from this address. Wait {seconds} seconds, then sign in \
         with a valid token."
    );
    let mut response = render(headers, None, Some(&error), StatusCode::TOO_MANY_REQUESTS);
    response.headers_mut().insert(
        RETRY_AFTER,
        HeaderValue::from_str(&seconds.to_string()).expect("digits are a header value"),
    );
    crate::security::add_headers(&mut response);
    response
}

pub(crate) async fn submit(
    State(state): State<DashState>,
    headers: HeaderMap,
    Form(mut form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let token = Zeroizing::new(std::mem::take(&mut form.token));
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or("");
    if !csrf_matches(expected, &form.csrf) {
        return Err(PageError::Csrf);
    }
    let principal = match state.service.authenticate(token.trim()).await {
        Ok(principal) => principal,
        Err(ServiceError::Unauthorized) => {
            let error =
                "That token is not valid. Check that you copied all of it, or ask for a new one.";
            return Ok(render(
                &headers,
                None,
                Some(error),
                StatusCode::UNAUTHORIZED,
            ));
        }
        Err(other) => return Err(other.into()),
    };
    tracing::info!(token_id = %principal.token_id, "dashboard sign-in");
    let session = state.sessions.create(&principal).await?;
    let cookies = AppendHeaders([
        (
            SET_COOKIE,
            set_cookie(&headers, SESSION_COOKIE, &session, state.sessions.ttl()),
        ),
        (
            SET_COOKIE,
            set_cookie(&headers, SIGN_IN_COOKIE, "", Duration::ZERO),
        ),
    ]);
    Ok((cookies, Redirect::to(&paths::extensions())).into_response())
}

pub(crate) async fn sign_out(
    State(state): State<DashState>,
    headers: HeaderMap,
    signed: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    state.sessions.remove(&signed.session_id).await?;
    let clear = set_cookie(&headers, SESSION_COOKIE, "", Duration::ZERO);
    let to = format!("{}?signed_out=1", paths::sign_in());
    Ok(([(SET_COOKIE, clear)], Redirect::to(&to)).into_response())
}
