//! Faults injected against the real `lumio server`: a full disk, a lost change-feed
//! connection, a database that stops answering. Tests that cut off a database run their own PostgreSQL instance
//! ([`private_pg`]), so they never pull the shared one from under other tests.

mod api;
mod black_hole;
mod failover;
mod full_disk;
mod listener;
mod outage;
mod private_pg;
mod readyz;
mod stalled_database;
mod tmpfs;
mod unit_of_work;
