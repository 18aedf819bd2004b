//! The API suites' helpers: `lumio-test-support`.
#![allow(unused_imports)]

pub use lumio_test_support::*;
