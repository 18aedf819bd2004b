//! The store's contract, run against SQLite and PostgreSQL alike.

mod common;

mod audit;
mod basics;
mod chain;
mod due_dates;
mod feed;
mod invocation_logs;
mod limits;
mod retention;
mod rotation;
mod secrets;
mod sessions;
mod tokens;
mod unit_of_work;
mod webhooks;
