//! Lumio's domain types. Every identifier is parsed once at the edge
//! (`SecretName::parse`, `ExtensionSlug::parse`, `Environment::parse`) so inner
//! code can only ever hold a valid one. This crate does no IO.

mod action_error_code;
mod amount;
mod audit;
mod audit_chain;
mod audit_event;
mod due;
mod egress;
mod error_kind;
mod ids;
mod lifetime;
mod limits;
pub mod records;
mod role;
mod value;
mod webhook;

pub use action_error_code::ActionErrorCode;
pub use audit::{AuditUnavailable, Ticket};
pub use audit_chain::{
    chain_hash_v1, chain_link, parse_pruned_detail, pruned_detail, AuditRootKey, ChainFields,
    ChainKey, AT_ALLOWANCE_MICROS, CHAIN_KEY_LABEL, CHAIN_TAG, CHAIN_TAG_V1, GENESIS_HASH,
    NULL_MARKER, SYSTEM_ACTOR,
};
pub use audit_event::{AuditEvent, AuditOutcome};
pub use due::{DueDates, DueState, DueUpdate, InvalidPeriod, Period, DEFAULT_DUE_WITHIN_SECS};
pub use egress::{
    AllowedHosts, CurrentValue, HostPattern, InvalidHost, MAX_ALLOWED_HOSTS, MAX_HOST_LEN,
};
pub use error_kind::ErrorKind;
pub use ids::{Environment, ExtensionSlug, InvalidId, SecretName};
pub use lifetime::{InvalidLifetime, TokenLifetime, MAX_TOKEN_LIFETIME};
pub use limits::{
    MAX_AUDIT_PAGE, MAX_DEPLOY_BYTES, MAX_DEPLOY_FILES, MAX_DEPLOY_FILE_BYTES,
    MAX_SECRETS_PER_ENVIRONMENT, MAX_SECRET_NAME_LEN, MAX_SECRET_VALUE_BYTES, MAX_TOKEN_LEN,
    MIN_TOKEN_LEN,
};
pub use role::{Role, UnknownRole};
pub use value::{SecretValue, ValueError};
pub use webhook::{
    change_events, EventFilter, InvalidEventFilter, MAX_EVENT_PATTERNS, MAX_WEBHOOKS_PER_EXTENSION,
    MAX_WEBHOOK_URL_LEN,
};
