//! The `lumio` binary end to end, one test binary for the crate: the CLI (`cli_*`) and the
//! server process (`ops_*`) against real servers on SQLite and PostgreSQL, injected
//! faults (`faults`), the README walked, the leak sweep, and the layers check.

#[macro_use]
mod support;

mod cli_actions;
mod cli_audit_chain;
mod cli_conventions;
mod cli_dev;
mod cli_due;
mod cli_e2e;
mod cli_egress;
mod cli_exit_status;
mod cli_fetch_errors;
mod cli_habits;
mod cli_init;
mod cli_json_errors;
mod cli_logs;
mod cli_offline;
mod cli_parity;
mod cli_tls_pinned;
mod cli_tokens;
mod cli_transport;
mod cli_webhooks;
mod faults;
mod layers;
mod leak_sweep;
mod ops_auth_throttle;
mod ops_connections;
mod ops_container;
mod ops_hardening;
mod ops_kms;
mod ops_observe;
mod ops_retention;
mod ops_rotation;
mod ops_startup;
mod ops_tls;
mod readme_walk;
mod staff;
