//! The wire contract of Lumio's HTTP API (`/api/v1`), in one place: the server answers
//! with these types, the CLI and the tests read them, so a renamed field is a compile
//! error rather than a CLI printing "-". The OpenAPI document is generated from them.
//!
//! Nothing here carries a secret's value out: request bodies may hold one (`SetSecret`,
//! `ImportSecrets`), and no response type has a field for one.

pub mod actions;
pub mod admin;
pub mod audit;
mod audit_event;
mod error;
pub mod extensions;
pub mod health;
mod integral;
pub mod params;
pub mod parity;
pub mod paths;
pub mod secrets;
pub mod tokens;
pub mod webhooks;

pub use audit_event::AuditEvent;
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
