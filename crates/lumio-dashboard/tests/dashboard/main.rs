//! The dashboard against the real server, one test binary for the crate: over HTTP with a
//! cookie-keeping client, and in a real headless Chromium ([`common`] holds both).

#[macro_use]
mod common;

mod dashboard_access;
mod dashboard_binding;
mod dashboard_browser;
mod dashboard_compare;
mod dashboard_http;
mod dashboard_layout;
mod dashboard_tokens;
