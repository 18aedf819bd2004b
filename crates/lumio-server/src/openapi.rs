//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Lumio", description = "Secrets for extension actions: set, list, audit."),
    paths(
        routes::health::healthz, routes::health::readyz,
        routes::extensions::list, routes::extensions::create,
        routes::tokens::whoami, routes::tokens::create, routes::tokens::list,
        routes::tokens::revoke,
        routes::secrets::list, routes::secrets::set, routes::secrets::delete,
        routes::secrets::import, routes::secrets::history, routes::secrets::rollback,
        routes::parity::diff, routes::parity::copy,
        routes::bindings::set, routes::bindings::clear,
        routes::audit::list, routes::audit::verify, routes::audit::export,
        routes::actions::deploy, routes::actions::deployments, routes::actions::logs,
        routes::actions::invoke,
    ),
    modifiers(&BearerAuth)
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /api/v1/openapi.json`
pub(crate) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
