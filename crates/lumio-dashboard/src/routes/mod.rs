//! The route table, one module per page. Handlers parse input, call one service method
//! (which checks access and writes the audit record), and render a page or redirect.

mod access;
mod assets;
mod audit;
mod binding;
mod compare;
mod extensions;
mod secret;
mod secrets;
mod sign_in;

pub(crate) use sign_in::throttled as throttled_sign_in;

use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use lumio_core::{ExtensionSlug, Role, SecretName};
use lumio_secrets::Extension;
use lumio_secrets::ServiceError;

use crate::error::PageError;
use crate::session::SignedIn;
use crate::{paths, security, DashState, BASE};

pub(crate) fn router() -> Router<DashState> {
    let ext = format!("{BASE}/extensions/{{ext}}");
    let secret = format!("{ext}/settings/secrets/{{name}}");
    Router::new()
        .route(BASE, get(|| async { Redirect::to(&paths::extensions()) }))
        .route(
            &format!("{BASE}/"),
            get(|| async { Redirect::to(&paths::extensions()) }),
        )
        .route(&paths::stylesheet(), get(assets::stylesheet))
        .route(&paths::sign_in(), get(sign_in::form).post(sign_in::submit))
        .route(&paths::sign_out(), post(sign_in::sign_out))
        .route(&paths::extensions(), get(extensions::list))
        .route(&ext, get(extensions::overview))
        .route(&format!("{ext}/settings"), get(extensions::settings))
        .route(
            &format!("{ext}/settings/secrets"),
            get(secrets::list).post(secrets::add),
        )
        .route(&format!("{ext}/settings/compare"), get(compare::page))
        .route(&secret, get(secret::detail).post(secret::replace))
        .route(
            &format!("{secret}/delete"),
            get(secret::confirm_delete).post(secret::delete),
        )
        .route(&format!("{secret}/rollback"), post(secret::rollback))
        .route(&format!("{secret}/binding"), post(binding::save))
        .route(&format!("{ext}/audit"), get(audit::page))
        .route(
            &format!("{ext}/access/{{id}}/{{verb}}"),
            post(access::decide),
        )
        .route(&format!("{BASE}/{{*rest}}"), get(not_found).post(not_found))
        .layer(middleware::from_fn(security::headers))
}

async fn not_found() -> PageError {
    PageError::Service(ServiceError::NotFound("page".to_owned()))
}

/// `{ext}` from the path; a malformed one looks like a missing extension.
fn parse_slug(raw: &str) -> Result<ExtensionSlug, PageError> {
    ExtensionSlug::parse(raw)
        .map_err(|_| ServiceError::NotFound(format!("extension {raw:?}")).into())
}

/// `{name}` from the path; a malformed one looks like a missing secret.
fn parse_name(raw: &str) -> Result<SecretName, PageError> {
    SecretName::parse(raw).map_err(|_| ServiceError::NotFound(format!("secret {raw:?}")).into())
}

/// The extension (if the token may see it) and the token's role on it, to decide which
/// controls a page shows. The service still checks every call.
async fn extension_and_role(
    state: &DashState,
    signed: &SignedIn,
    slug: &ExtensionSlug,
) -> Result<(Extension, Option<Role>), PageError> {
    let extension = state.service.visible_extension(&signed.ctx, slug).await?;
    let role = signed.ctx.principal.role_in(&extension);
    Ok((extension, role))
}

/// Errors a form can show inline next to its fields; the rest get an error page.
fn is_input_error(err: &ServiceError) -> bool {
    matches!(
        err,
        ServiceError::InvalidId(_)
            | ServiceError::InvalidValue(_)
            | ServiceError::Limit(_)
            | ServiceError::Conflict(_)
    )
}
