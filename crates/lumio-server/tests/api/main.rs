//! The HTTP API through the real server on loopback, one test binary for the crate: each
//! module a resource or concern, on SQLite and PostgreSQL ([`common`] starts the servers).

#[macro_use]
mod common;

mod api_access;
mod api_actions;
mod api_document;
mod api_due_dates;
mod api_guard_oracles;
mod api_lifecycle;
mod api_logs;
mod api_notices;
mod api_parity;
mod api_secrets;
mod api_staff;
mod api_token_scope;
mod api_tokens;
mod fairness;
