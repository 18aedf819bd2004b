//! The runtime's own boundary: compile and invoke against an in-memory host and fake
//! APIs on loopback. End-to-end tests through the real server live with the server.

mod common;
mod deploy;
mod egress;
mod fail_closed;
mod fairness;
mod fetch;
mod grants;
mod guard;
mod guard_depth;
mod hostile;
mod inflight;
mod leaks;
mod memory;
mod seed;
mod timers;
mod warm;
