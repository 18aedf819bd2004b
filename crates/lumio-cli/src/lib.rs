//! The client side of the `lumio` command line: its clap definitions, the commands that
//! are HTTP clients of a Lumio server, the saved login and project settings, the HTTP and
//! TLS client, and the one way failures are printed and mapped to exit statuses.
//!
//! It depends on `lumio-api` and `lumio-core` only among the workspace's crates, so a
//! binary built from it (`lumio-client`) links neither the store nor crypto. The `lumio`
//! binary runs these commands beside `lumio server`.

pub mod cli;
mod client;
pub mod commands;
pub mod config;
mod dotenv;
mod entry;
pub mod error;
mod global_options;
mod output;
mod progress;
mod tls;
mod transport;

pub use entry::main;
