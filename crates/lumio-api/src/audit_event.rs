//! The audit events on the wire. [`AuditEvent`] lives in `lumio-core`, where the service
//! and the store use it; here is only the schema the OpenAPI document gives it.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

pub use lumio_core::AuditEvent;

/// The schema of an [`AuditEvent`]: one of its wire names.
pub struct AuditEventName;

impl utoipa::PartialSchema for AuditEventName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("What an audit record is about."))
            .enum_values(Some(AuditEvent::ALL.iter().map(|event| event.as_str())))
            .into()
    }
}

impl ToSchema for AuditEventName {}
