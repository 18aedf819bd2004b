//! The stylesheet, compiled into the binary so a strict CSP (`style-src 'self'`) works.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

const CSS: &str = include_str!("../../assets/dashboard.css");

pub(crate) async fn stylesheet() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
}
