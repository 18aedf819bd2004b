//! The OpenAPI document. Routes and their own answers come from the handlers'
//! `#[utoipa::path]` (see `routes::api_routes`); what every route can answer (a malformed
//! request, a bad token, a database that went away) is added here once, so no operation
//! leaves a status undocumented.

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use lumio_api::ErrorBody;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lumio",
        description = "Secrets for extension actions: set, list, audit, deploy and call."
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document's info, security scheme and shared schemas, before any route.
pub(crate) fn base() -> Document {
    ApiDoc::openapi()
}

/// The answers any `/api/v1` operation may give besides its own, by status.
const COMMON: &[(&str, &str)] = &[
    ("400", "malformed path, query or body (`invalid`)"),
    (
        "404",
        "no such extension, environment, secret or endpoint (`not_found`)",
    ),
    (
        "500",
        "Lumio failed; the server log has the cause (`internal`)",
    ),
    (
        "503",
        "the database or the audit log is unavailable; nothing was changed (`unavailable`)",
    ),
];
/// The answers of operations that need a token.
const AUTHED: &[(&str, &str)] = &[
    (
        "401",
        "no token, or an unknown, revoked or expired one (`unauthorized`)",
    ),
    (
        "403",
        "the token's role is too weak or it is scoped to another environment (`forbidden`)",
    ),
    (
        "429",
        "10 refused tokens or sign-ins from this client address within a minute, none \
         accepted between (`rate_limited`); retry after the time in Retry-After",
    ),
];
/// The answers of operations with a request body.
const WITH_BODY: &[(&str, &str)] = &[("413", "the request body is too large (`too_large`)")];

/// The finished document: the shared answers added to every operation that may give
/// them, and the body schemas no derive can state written out.
pub(crate) fn finish(document: Document) -> serde_json::Value {
    let mut document = serde_json::to_value(with_shared_answers(document))
        .expect("the OpenAPI document serializes");
    crate::openapi_bodies::refine(&mut document);
    document
}

fn with_shared_answers(mut document: Document) -> Document {
    for (path, item) in document.paths.paths.iter_mut() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for operation in operations(item) {
            let mut shared: Vec<(&str, &str)> = COMMON.to_vec();
            if operation.security.is_some() {
                shared.extend_from_slice(AUTHED);
            }
            if operation.request_body.is_some() {
                shared.extend_from_slice(WITH_BODY);
            }
            for (status, description) in shared {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(description));
            }
        }
    }
    document
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            )
            .build(),
    )
}

/// A handler answering with the document, serialized once.
pub(crate) fn serve(
    document: serde_json::Value,
) -> impl Fn() -> std::future::Ready<axum::response::Response> + Clone + Send + 'static {
    // Bytes: each answer shares the one serialization instead of copying it.
    let json = Bytes::from(document.to_string());
    move || {
        std::future::ready(
            ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        )
    }
}
