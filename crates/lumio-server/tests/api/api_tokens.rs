//! Tokens (issue 11): weak bootstrap tokens, the bearer scheme, listing without secrets,
//! expiry, and revocation — at once, on every server sharing the database.

use crate::common::on_each_backend;
use std::time::Duration;

use crate::common;
use crate::common::{spawn_app, spawn_with, Answer, Backend, TestApp};
use lumio_store::{Grant, TokenRecord};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_each_backend!(
    a_bad_bootstrap_token_in_an_old_store_never_signs_in,
    the_bearer_scheme_is_case_insensitive,
    tokens_are_listed_without_their_secrets,
    an_expired_token_is_refused_like_a_bad_one,
    revocation_is_limited_to_what_the_caller_manages,
    the_last_admin_token_cannot_be_revoked,
    a_revoked_token_is_refused_by_the_next_request_on_another_server,
);

/// Creates a token as `creator` with `body` (`extension`, `role`, `env`, …).
pub async fn create(app: &TestApp, creator: &str, body: Value) -> Answer {
    app.call(Method::POST, "/api/v1/tokens", creator, Some(body))
        .await
}

async fn created(app: &TestApp, creator: &str, body: Value) -> (String, String) {
    let answer = create(app, creator, body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let token = answer.body["token"].as_str().unwrap().to_owned();
    (token, answer.body["id"].as_str().unwrap().to_owned())
}

async fn whoami(app: &TestApp, token: &str) -> Answer {
    app.call(Method::GET, "/api/v1/whoami", token, None).await
}

async fn revoke(app: &TestApp, token: &str, id: &str) -> Answer {
    let path = format!("/api/v1/tokens/{id}");
    app.call(Method::DELETE, &path, token, None).await
}

async fn raw_whoami(app: &TestApp, authorization: &str) -> StatusCode {
    app.http
        .get(format!("{}/api/v1/whoami", app.url))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
        .status()
}

/// A store made before tokens had a minimum length, holding the admin token an empty
/// (or short) `LUMIO_BOOTSTRAP_TOKEN=` made: neither value, nor anything near, signs in.
async fn a_bad_bootstrap_token_in_an_old_store_never_signs_in(backend: Backend) {
    for planted in ["", "tiny-token"] {
        let data_dir = tempfile::tempdir().unwrap();
        let Some(url) = common::database_url(backend, data_dir.path()).await else {
            return;
        };
        let store = lumio_store::connect(&url).await.unwrap();
        store
            .insert_token(
                &TokenRecord {
                    id: "bootstrap".into(),
                    secret_hash: Sha256::digest(planted.as_bytes()).into(),
                    grant: Grant::Admin,
                    environment: None,
                    label: "bootstrap admin".into(),
                    created_at: chrono::Utc::now(),
                    created_by: None,
                    expires_at: None,
                    last_used_at: None,
                },
                &[],
            )
            .await
            .unwrap();
        drop(store);
        let app = spawn_with(data_dir, url, None).await.expect("starts");
        for header in [
            format!("Bearer {planted}"),
            "Bearer".into(),
            "Bearer  ".into(),
        ] {
            let status = raw_whoami(&app, &header).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{header:?}");
        }
        let refused = app.service().authenticate(planted).await;
        assert!(refused.is_err(), "{planted:?} authenticated");
        // The dashboard's sign-in form with the planted value (empty field included).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let form = http
            .get(format!("{}/dashboard/sign-in", app.url))
            .send()
            .await
            .unwrap();
        let cookie = form.headers()["set-cookie"].to_str().unwrap().to_owned();
        let csrf = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
        let sign_in = http
            .post(format!("{}/dashboard/sign-in", app.url))
            .header("cookie", format!("lumio_signin={csrf}"))
            .form(&[("csrf", csrf), ("token", planted)])
            .send()
            .await
            .unwrap();
        assert_eq!(sign_in.status(), StatusCode::UNAUTHORIZED, "{planted:?}");
        assert!(sign_in
            .headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().starts_with("lumio_session=")));
    }
}

async fn the_bearer_scheme_is_case_insensitive(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let token = &app.admin_token;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        for gap in [" ", "   ", "\t"] {
            let status = raw_whoami(&app, &format!("{scheme}{gap}{token}")).await;
            assert_eq!(status, StatusCode::OK, "{scheme:?}{gap:?}");
        }
    }
    for bad in [
        format!("Basic {token}"),
        format!("Bearer{token}"),
        token.clone(),
    ] {
        assert_eq!(raw_whoami(&app, &bad).await, StatusCode::UNAUTHORIZED);
    }
}

async fn tokens_are_listed_without_their_secrets(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("alpha").await;
    app.create_extension("beta").await;
    let body = json!({"extension": "alpha", "role": "owner"});
    let (owner_a, owner_a_id) = created(&app, admin, body).await;
    let body = json!({"extension": "alpha", "role": "developer", "env": "staging",
        "expires_in": "7d", "label": "ci deploys"});
    let (dev_a, dev_a_id) = created(&app, &owner_a, body).await;
    let (_owner_b, owner_b_id) =
        created(&app, admin, json!({"extension": "beta", "role": "owner"})).await;
    // A use shows up as last use (written off the request path, at most once a minute).
    assert_eq!(whoami(&app, &dev_a).await.status, StatusCode::OK);

    let all = app.call(Method::GET, "/api/v1/tokens", admin, None).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let ids: Vec<&str> = all.body["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    for id in [&owner_a_id, &dev_a_id, &owner_b_id] {
        assert!(ids.contains(&id.as_str()), "{id} missing in {ids:?}");
    }
    assert!(all.text.contains("\"role\":\"admin\""), "{}", all.text);

    // The owner sees alpha's tokens only, with or without ?extension=.
    for path in ["/api/v1/tokens", "/api/v1/tokens?extension=alpha"] {
        let own = app.call(Method::GET, path, &owner_a, None).await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.text);
        let listed = own.body["tokens"].as_array().unwrap();
        assert_eq!(listed.len(), 2, "{}", own.text);
        assert!(!own.text.contains(&owner_b_id), "{}", own.text);
    }
    let dev = app
        .call(
            Method::GET,
            "/api/v1/tokens?extension=alpha",
            &owner_a,
            None,
        )
        .await;
    let dev = dev.body["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == dev_a_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(dev["extension"], "alpha");
    assert_eq!(dev["role"], "developer");
    assert_eq!(dev["env"], "staging");
    assert_eq!(dev["label"], "ci deploys");
    assert_eq!(dev["created_by"], owner_a_id.as_str());
    assert!(dev["created_at"].is_string() && dev["expires_at"].is_string());
    let keys: Vec<&String> = dev.as_object().unwrap().keys().collect();
    assert!(
        !keys.iter().any(|k| k.contains("hash") || *k == "token"),
        "{keys:?}"
    );
    let mut last_used = Value::Null;
    for _ in 0..50 {
        let list = app.call(Method::GET, "/api/v1/tokens", admin, None).await;
        let row = list.body["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == dev_a_id.as_str())
            .cloned()
            .unwrap();
        last_used = row["last_used_at"].clone();
        if last_used.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(last_used.is_string(), "last use never recorded");

    // Beta is hidden from alpha's owner exactly like a missing extension.
    let hidden = app
        .call(Method::GET, "/api/v1/tokens?extension=beta", &owner_a, None)
        .await;
    let missing = app
        .call(Method::GET, "/api/v1/tokens?extension=nope", &owner_a, None)
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(
        hidden.text.replace("beta", "X"),
        missing.text.replace("nope", "X")
    );
    // Developers and viewers do not list tokens.
    let refused = app.call(Method::GET, "/api/v1/tokens", &dev_a, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);

    // No secret part, no hash, of any token, in any listing.
    for token in [admin, &owner_a, &dev_a] {
        let secret = token.rsplit('_').next().unwrap();
        let hash = hex(&Sha256::digest(secret.as_bytes()));
        for listing in [&all.text, &hidden.text] {
            assert!(!listing.contains(secret) && !listing.contains(&hash));
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn an_expired_token_is_refused_like_a_bad_one(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("alpha").await;
    for nonsense in ["7 days", "0m", "1y", "-5m", "12", "400d"] {
        let body = json!({"extension": "alpha", "role": "viewer", "expires_in": nonsense});
        let refused = create(&app, admin, body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{nonsense}");
        assert!(
            refused.text.contains("e.g. 30m, 12h or 7d"),
            "{}",
            refused.text
        );
    }
    let body = json!({"extension": "alpha", "role": "owner", "expires_in": "2s"});
    let (token, _) = created(&app, admin, body).await;
    let me = whoami(&app, &token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert!(me.body["expires_at"].is_string(), "{}", me.text);
    // A token it makes cannot outlive it.
    let body = json!({"extension": "alpha", "role": "viewer"});
    let (child, _) = created(&app, &token, body).await;
    assert_eq!(
        whoami(&app, &child).await.body["expires_at"],
        me.body["expires_at"]
    );

    app.clock.advance(Duration::from_secs(3));
    let expired = whoami(&app, &token).await;
    let bad = whoami(&app, "lumio_0123456789abcdef_nope-nope-nope").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        expired.body["error"], bad.body["error"],
        "no oracle for expiry"
    );
    assert_eq!(whoami(&app, &child).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.list(&token, "alpha", "staging").await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn revocation_is_limited_to_what_the_caller_manages(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("alpha").await;
    app.create_extension("beta").await;
    let (owner_a, _) = created(&app, admin, json!({"extension": "alpha", "role": "owner"})).await;
    // The owner token claimed alpha: from here on its owner, not staff, makes its tokens.
    let (dev_a, dev_a_id) = created(
        &app,
        &owner_a,
        json!({"extension": "alpha", "role": "developer"}),
    )
    .await;
    let (owner_b, owner_b_id) =
        created(&app, admin, json!({"extension": "beta", "role": "owner"})).await;
    let (_, admin2_id) = created(&app, admin, json!({"admin": true})).await;

    // A's owner cannot revoke (or learn of) B's tokens or admin tokens: guessed ids,
    // other extensions' ids and admin ids all answer alike.
    let unknown = revoke(&app, &owner_a, "0123456789abcdef").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    for id in [&owner_b_id, &admin2_id] {
        let hidden = revoke(&app, &owner_a, id).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        assert_eq!(
            hidden.text.replace(id.as_str(), "X"),
            unknown.text.replace("0123456789abcdef", "X")
        );
    }
    assert_eq!(whoami(&app, &owner_b).await.status, StatusCode::OK);
    // A developer may not revoke, whatever the id.
    let refused = revoke(&app, &dev_a, &dev_a_id).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    // A staging-scoped owner cannot revoke a token that also reaches production.
    let scoped = json!({"extension": "alpha", "role": "owner", "env": "staging"});
    let (staging_owner, _) = created(&app, &owner_a, scoped).await;
    let out_of_scope = revoke(&app, &staging_owner, &dev_a_id).await;
    assert_eq!(
        out_of_scope.status,
        StatusCode::FORBIDDEN,
        "{}",
        out_of_scope.text
    );

    let done = revoke(&app, &owner_a, &dev_a_id).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.body["id"], dev_a_id.as_str());
    assert_eq!(whoami(&app, &dev_a).await.status, StatusCode::UNAUTHORIZED);
    let again = revoke(&app, &owner_a, &dev_a_id).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let audit = app
        .call(
            Method::GET,
            "/api/v1/extensions/alpha/environments/staging/audit?event=token.revoke",
            admin,
            None,
        )
        .await;
    assert!(audit.text.contains(&dev_a_id), "{}", audit.text);
    assert_eq!(
        audit.body["entries"].as_array().map(Vec::len),
        Some(1),
        "{}",
        audit.text
    );
}

async fn the_last_admin_token_cannot_be_revoked(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let first = app.admin_token.clone();
    let first_id = whoami(&app, &first).await.body["token_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = revoke(&app, &first, &first_id).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert!(
        refused.text.contains("last admin token"),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("lumio tokens create --admin"),
        "{}",
        refused.text
    );
    assert_eq!(whoami(&app, &first).await.status, StatusCode::OK);
    // An expiring admin token is no way back in either.
    let (_, expiring) = created(&app, &first, json!({"admin": true, "expires_in": "1h"})).await;
    assert_eq!(
        revoke(&app, &first, &first_id).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(revoke(&app, &first, &expiring).await.status, StatusCode::OK);
    // With a second one, the first can go.
    let (second, second_id) = created(&app, &first, json!({"admin": true})).await;
    assert_eq!(
        revoke(&app, &second, &first_id).await.status,
        StatusCode::OK
    );
    assert_eq!(whoami(&app, &first).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        revoke(&app, &second, &second_id).await.status,
        StatusCode::CONFLICT
    );
}

/// Two servers on one database (PostgreSQL, or one SQLite file), each with its own token
/// cache: a token B has just served is revoked through A, and B's very next request with
/// it is refused — twenty times over, so a late invalidation would show.
async fn a_revoked_token_is_refused_by_the_next_request_on_another_server(backend: Backend) {
    let Some(a) = spawn_app(backend).await else {
        return;
    };
    let key_file = a.data_dir.path().join("master.key");
    let b = spawn_with(
        tempfile::tempdir().unwrap(),
        a.database_url.clone(),
        Some(key_file),
    )
    .await
    .expect("second server");
    let admin = &a.admin_token;
    a.create_extension("shared").await;
    for round in 0..20 {
        let body = json!({"extension": "shared", "role": "developer"});
        let (token, id) = created(&a, admin, body).await;
        assert_eq!(
            whoami(&b, &token).await.status,
            StatusCode::OK,
            "round {round}"
        );
        assert_eq!(
            b.list(&token, "shared", "staging").await.status,
            StatusCode::OK
        );
        assert_eq!(revoke(&a, admin, &id).await.status, StatusCode::OK);
        let after = whoami(&b, &token).await;
        assert_eq!(
            after.status,
            StatusCode::UNAUTHORIZED,
            "round {round}: {}",
            after.text
        );
        let write = b
            .set(&token, "shared", "staging", "AFTER_REVOKE", "x")
            .await;
        assert_eq!(write.status, StatusCode::UNAUTHORIZED, "round {round}");
    }
    assert!(b.names(admin, "shared", "staging").await.is_empty());
}
