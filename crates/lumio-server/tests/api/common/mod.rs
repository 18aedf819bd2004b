//! The API suites' helpers: `lumio-test-support`, and `both_backends!` for it.
#![allow(unused_imports)]

pub use lumio_test_support::*;

/// Runs a test body once per backend: `both_backends!(name);` calls `name(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($t:tt)*) => { lumio_test_support::on_each_backend!($($t)*); };
}
