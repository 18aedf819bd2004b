//! Who can do what, and what bad requests get: the access matrix, request ids, body limits.

use crate::common;
use crate::common::on_each_backend;
use crate::common::{spawn_app, Backend};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_each_backend!(
    access_matrix,
    bad_requests_get_clear_errors,
    request_ids_and_openapi
);

async fn access_matrix(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("alpha").await;
    app.create_extension("beta").await;
    app.set(admin, "beta", "staging", "B_SECRET", "beta-canary")
        .await;
    let owner_a = app.token("alpha", "owner").await;
    let dev_a = app.token("alpha", "developer").await;
    let viewer_a = app.token("alpha", "viewer").await;

    // A's tokens against B look exactly like a missing extension.
    for token in [&owner_a, &dev_a, &viewer_a] {
        let hidden = app.list(token, "beta", "staging").await;
        let missing = app.list(token, "nonexistent", "staging").await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        assert_eq!(
            hidden.text.replace("beta", "X"),
            missing.text.replace("nonexistent", "X"),
            "forbidden and missing must look the same"
        );
        let write = app
            .set(token, "beta", "staging", "B_SECRET", "overwritten")
            .await;
        assert_eq!(write.status, StatusCode::NOT_FOUND);
        let history = app
            .call(
                Method::GET,
                "/api/v1/extensions/beta/environments/staging/secrets/B_SECRET/versions",
                token,
                None,
            )
            .await;
        assert_eq!(history.status, StatusCode::NOT_FOUND);
        let audit = app
            .call(
                Method::GET,
                "/api/v1/extensions/beta/environments/staging/audit",
                token,
                None,
            )
            .await;
        assert_eq!(audit.status, StatusCode::NOT_FOUND);
        let extensions = app
            .call(Method::GET, "/api/v1/extensions", token, None)
            .await;
        assert!(!extensions.text.contains("beta"), "{}", extensions.text);
    }
    assert_eq!(
        app.read_value("beta", "staging", "B_SECRET")
            .await
            .as_deref(),
        Some("beta-canary")
    );

    // Roles within A.
    let by_viewer = app.set(&viewer_a, "alpha", "staging", "K", "v").await;
    assert_eq!(
        by_viewer.status,
        StatusCode::FORBIDDEN,
        "{}",
        by_viewer.text
    );
    assert_eq!(
        app.list(&viewer_a, "alpha", "staging").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.set(&dev_a, "alpha", "staging", "K", "v").await.status,
        StatusCode::OK
    );
    let purge_by_dev = app
        .call(
            Method::DELETE,
            "/api/v1/extensions/alpha/environments/staging/secrets/K?purge=true",
            &dev_a,
            None,
        )
        .await;
    assert_eq!(purge_by_dev.status, StatusCode::FORBIDDEN);
    let token_by_dev = app
        .call(
            Method::POST,
            "/api/v1/tokens",
            &dev_a,
            Some(json!({"extension": "alpha", "role": "owner"})),
        )
        .await;
    assert_eq!(token_by_dev.status, StatusCode::FORBIDDEN);
    let token_by_owner = app
        .call(
            Method::POST,
            "/api/v1/tokens",
            &owner_a,
            Some(json!({"extension": "alpha", "role": "viewer"})),
        )
        .await;
    assert_eq!(token_by_owner.status, StatusCode::CREATED);
    let token_for_beta = app
        .call(
            Method::POST,
            "/api/v1/tokens",
            &owner_a,
            Some(json!({"extension": "beta", "role": "owner"})),
        )
        .await;
    assert_eq!(token_for_beta.status, StatusCode::NOT_FOUND);
    let create_ext = app
        .call(
            Method::POST,
            "/api/v1/extensions",
            &owner_a,
            Some(json!({"name": "gamma"})),
        )
        .await;
    assert_eq!(create_ext.status, StatusCode::FORBIDDEN);

    // Staging and production never mix.
    assert!(app.names(&dev_a, "alpha", "production").await.is_empty());
    assert_eq!(app.read_value("alpha", "production", "K").await, None);

    // Missing or bad tokens.
    let path = app.secrets_path("alpha", "staging");
    let none =
        common::Answer::from(app.request(Method::GET, &path, None).send().await.unwrap()).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.body["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("lumio login"));
    let mut forged = owner_a.clone();
    forged.pop();
    forged.push(if owner_a.ends_with('0') { '1' } else { '0' });
    for bad in ["garbage", "lumio_0000000000000000_00", forged.as_str()] {
        let answer = app.list(bad, "alpha", "staging").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
}

async fn bad_requests_get_clear_errors(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("bad").await;
    let path = format!("{}/NAME", app.secrets_path("bad", "staging"));

    let not_utf8 = app
        .request(Method::PUT, &path, Some(admin))
        .header("content-type", "application/json")
        .body(vec![
            b'{', b'"', b'v', b'a', b'l', b'u', b'e', b'"', b':', b'"', 0xff, 0xfe, b'"', b'}',
        ])
        .send()
        .await
        .unwrap();
    let not_utf8 = common::Answer::from(not_utf8).await;
    assert_eq!(
        not_utf8.status,
        StatusCode::BAD_REQUEST,
        "{}",
        not_utf8.text
    );
    assert_eq!(not_utf8.code(), "invalid");

    let huge = app
        .request(Method::PUT, &path, Some(admin))
        .header("content-type", "application/json")
        // The server answers 413 without reading the body and closes the connection;
        // keep this one out of the client's pool.
        .header("connection", "close")
        .body(format!("{{\"value\":\"{}\"}}", "x".repeat(2 * 1024 * 1024)))
        .send()
        .await
        .unwrap();
    let huge = common::Answer::from(huge).await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(huge.code(), "too_large");

    let wrong_type = app
        .request(Method::PUT, &path, Some(admin))
        .json(&json!({"value": 424242}))
        .send()
        .await
        .unwrap();
    let wrong_type = common::Answer::from(wrong_type).await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert!(
        !wrong_type.text.contains("424242"),
        "the rejected input is not echoed"
    );

    let no_type = app
        .request(Method::PUT, &path, Some(admin))
        .body("{\"value\":\"v\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(no_type.status(), StatusCode::BAD_REQUEST);
    assert!(
        app.names(admin, "bad", "staging").await.is_empty(),
        "nothing stored"
    );
}

async fn request_ids_and_openapi(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    for (method, path) in [
        (Method::GET, "/healthz"),
        (Method::GET, "/api/v1/extensions"),
        (Method::GET, "/no/such/path"),
        (Method::GET, "/api/v1/openapi.json"),
    ] {
        let answer =
            common::Answer::from(app.request(method, path, None).send().await.unwrap()).await;
        let id = answer.request_id.expect("every response has a request id");
        assert!(!id.is_empty(), "{path}");
        assert!(
            answer.body.is_object(),
            "{path} answers JSON: {}",
            answer.text
        );
    }
    let doc = app.openapi().await;
    let paths = doc.body["paths"].as_object().expect("openapi paths");
    for expected in [
        "/api/v1/extensions",
        "/api/v1/extensions/{ext}/environments/{env}/secrets",
        "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}",
        "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}/versions",
        "/api/v1/extensions/{ext}/environments/{env}/audit",
    ] {
        assert!(paths.contains_key(expected), "openapi lacks {expected}");
    }
    let kept = app
        .request(Method::GET, "/healthz", None)
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "client-chosen-42");
    let hostile = app
        .request(Method::GET, "/healthz", None)
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    assert_ne!(
        hostile.headers()["x-request-id"],
        "<script>alert(1)</script>"
    );
}
