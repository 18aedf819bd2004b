//! The OpenAPI document against the router it comes from: every documented operation is
//! routed, every status an operation can answer is documented with the error shape, and
//! path parameters carry the limits `lumio_core` enforces.

use crate::common::on_each_backend;
use crate::common::{spawn_app, Backend};
use lumio_core::MAX_SECRET_NAME_LEN;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn document() -> Value {
    serde_json::to_value(lumio_server::api_document()).expect("document serializes")
}

/// `(path, method, operation)` for every documented operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                out.push((path.clone(), method.clone(), operation.clone()));
            }
        }
    }
    out
}

fn statuses(operation: &Value) -> Vec<String> {
    operation["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn every_status_is_documented_with_the_error_shape() {
    let doc = document();
    let ops = operations(&doc);
    assert!(ops.len() >= 25, "only {} operations documented", ops.len());
    for (path, method, operation) in &ops {
        let have = statuses(operation);
        let mut must: Vec<&str> = Vec::new();
        if path.starts_with("/api/v1/") {
            must.extend(["400", "404", "500", "503"]);
        }
        if operation.get("security").is_some() {
            must.extend(["401", "403", "429"]);
        }
        if operation.get("requestBody").is_some() {
            must.push("413");
        }
        for status in must {
            assert!(
                have.iter().any(|s| s == status),
                "{method} {path} does not document {status}"
            );
        }
        for status in have.iter().filter(|s| !s.starts_with('2')) {
            if path == "/readyz" {
                continue; // its 503 is a Readiness naming the failing part
            }
            let schema = &operation["responses"][status]["content"]["application/json"]["schema"];
            assert_eq!(
                schema["$ref"], "#/components/schemas/ErrorBody",
                "{method} {path} {status} is not the error shape"
            );
        }
    }
}

#[test]
fn path_parameters_carry_the_core_limits() {
    let doc = document();
    for (path, method, operation) in operations(&doc) {
        let params = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let segments: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for segment in segments {
            let param = params
                .iter()
                .find(|p| p["name"] == segment && p["in"] == "path")
                .unwrap_or_else(|| panic!("{method} {path} does not document {{{segment}}}"));
            let schema = &param["schema"];
            let bounded_integer = schema["type"] == "integer" && schema.get("maximum").is_some();
            assert!(
                schema.get("maxLength").is_some()
                    || schema.get("pattern").is_some()
                    || bounded_integer,
                "{method} {path}: {{{segment}}} has neither a pattern nor a length"
            );
            match segment {
                "ext" => {
                    assert_eq!(schema["maxLength"], 63);
                    assert!(schema["pattern"].as_str().unwrap().starts_with("^[a-z]"));
                }
                "env" => assert_eq!(schema["pattern"], "^(staging|production)$"),
                "name" => {
                    assert_eq!(schema["maxLength"], MAX_SECRET_NAME_LEN);
                    assert!(schema["pattern"]
                        .as_str()
                        .unwrap()
                        .contains("(?![Ll][Uu][Mm][Ii][Oo]_)"));
                }
                _ => {}
            }
        }
    }
}

#[test]
fn audit_events_are_an_enum_in_the_filter() {
    let doc = document();
    let audit = &doc["paths"]["/api/v1/extensions/{ext}/environments/{env}/audit"]["get"];
    let event = audit["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "event")
        .expect("event parameter")
        .clone();
    let text = event.to_string();
    for e in lumio_api::AuditEvent::ALL {
        assert!(text.contains(e.as_str()), "the event filter lacks {e}");
    }
    assert!(!text.contains("secret.read"));
}

/// A sample value for each path segment the server accepts.
fn concrete(path: &str) -> String {
    path.replace("{ext}", "doc-ext")
        .replace("{env}", "staging")
        .replace("{name}", "DOC_NAME")
        .replace("{action}", "functions:missing")
        .replace("{id}", "0123456789abcdef")
}

async fn every_documented_operation_is_routed(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("doc-ext").await;
    let served = app.openapi().await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(
        served.body,
        document(),
        "the served document is the router's"
    );
    for (path, method, operation) in operations(&document()) {
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let body = operation.get("requestBody").map(|_| json!({}));
        let answer = app
            .api(
                method.clone(),
                &concrete(&path),
                Some(&app.admin_token),
                body,
            )
            .await;
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is documented but not routed"
        );
        let fell_through = answer.status == StatusCode::NOT_FOUND
            && answer.body["error"]["message"] == "no such endpoint";
        assert!(
            !fell_through,
            "{method} {path} is documented but not routed"
        );
        let status = answer.status.as_u16().to_string();
        assert!(
            statuses(&operation).contains(&status),
            "{method} {path} answered {status}, which it does not document: {}",
            answer.text
        );
    }
}

on_each_backend!(every_documented_operation_is_routed);
