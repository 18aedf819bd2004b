//! Helpers for the dashboard suites: the real server on a random port against a fresh
//! database, an HTTP client that keeps cookies like a browser, and (in `browser`) a real
//! headless Chromium driven through chromedriver, and (in `axe`) axe-core to audit its pages.
#![allow(dead_code, unused_imports)]

pub mod axe;
pub mod browser;
pub mod web;

pub use lumio_test_support::*;
