//! Staff operate the platform; they do not enter extensions (issue 22, item 1): claim
//! codes instead of a hand-over, `staff_not_member` inside a claimed extension, support
//! access only with the owner's consent and only until it ends, staff shown as staff,
//! suspension and deletion.

use crate::common::on_each_backend;
use std::time::Duration;

use crate::common::{spawn_app, spawn_second, Answer, Backend, TestApp};
use lumio_api::extensions::{AccessView, ClaimCodeView, Claimed};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_each_backend!(
    a_claim_code_works_once_and_says_who_used_it,
    an_expired_or_unknown_code_claims_nothing,
    a_hand_over_counts_as_a_claim,
    staff_get_staff_not_member_inside_a_claimed_extension,
    support_access_needs_approval_and_ends_on_time,
    a_revoked_grant_is_refused_by_the_next_request_on_another_server,
    a_suspended_extension_runs_no_actions,
    deleting_an_extension_leaves_nothing_of_it,
    every_route_as_staff_shows_no_value_and_writes_nothing,
);

async fn create(app: &TestApp, name: &str, body: Value) -> Answer {
    let mut body = body;
    body["name"] = json!(name);
    app.call(
        Method::POST,
        "/api/v1/extensions",
        &app.admin_token,
        Some(body),
    )
    .await
}

async fn claim(app: &TestApp, code: &str) -> Answer {
    app.api(
        Method::POST,
        "/api/v1/claims",
        None,
        Some(json!({ "code": code })),
    )
    .await
}

async fn audit_text(app: &TestApp, token: &str, ext: &str) -> String {
    let path = format!("/api/v1/extensions/{ext}/environments/staging/audit?limit=200");
    let answer = app.call(Method::GET, &path, token, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.text
}

async fn deploy(app: &TestApp, token: &str, ext: &str) -> Answer {
    let path = format!("/api/v1/extensions/{ext}/environments/staging/deployments");
    let files = json!({"files": {"server/functions.ts":
        "import { action } from \"@zaflun/lumio-sdk/server\";\nexport const ping = action({ args: {}, handler: async () => \"pong\" });\n"}});
    app.call(Method::POST, &path, token, Some(files)).await
}

async fn ping(app: &TestApp, ext: &str) -> Answer {
    let path = format!("/api/v1/extensions/{ext}/environments/staging/actions/functions:ping");
    app.api(Method::POST, &path, None, Some(json!({"args": {}})))
        .await
}

async fn request_access(app: &TestApp, ext: &str, duration: &str) -> String {
    let path = format!("/api/v1/extensions/{ext}/access");
    let body = json!({"reason": "ticket 4711: deploys fail", "duration": duration});
    let answer = app
        .call(Method::POST, &path, &app.admin_token, Some(body))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let view: AccessView = answer.typed();
    assert_eq!(view.status, "pending");
    assert!(view.staff.starts_with("staff:"), "{}", view.staff);
    view.id
}

async fn decide(app: &TestApp, token: &str, ext: &str, id: &str, verb: &str) -> Answer {
    let path = format!("/api/v1/extensions/{ext}/access/{id}/{verb}");
    app.call(Method::POST, &path, token, None).await
}

async fn a_claim_code_works_once_and_says_who_used_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let created = create(&app, "acme", json!({})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let view: ClaimCodeView = created.typed();
    assert!(view.extension.claimed_at.is_none());
    let first = claim(&app, &view.claim_code).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let claimed: Claimed = first.typed();
    assert_eq!(
        claimed.extension.claimed_by.as_deref(),
        Some(&*claimed.token_id)
    );

    let second = claim(&app, &view.claim_code).await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.text);
    assert!(second.text.contains("used already"), "{}", second.text);
    assert!(second.text.contains(&claimed.token_id), "{}", second.text);

    // The owner sees who claimed, and staff are shown as staff.
    let listed = app
        .call(Method::GET, "/api/v1/extensions", &claimed.token, None)
        .await;
    assert_eq!(
        listed.body["extensions"][0]["claimed_by"],
        claimed.token_id.as_str()
    );
    let trail = audit_text(&app, &claimed.token, "acme").await;
    assert!(trail.contains("\"actor\":\"staff:"), "{trail}");
    assert!(trail.contains("extension.claim\""), "{trail}");
    // No new code for an extension with an owner.
    let reissue = app
        .call(
            Method::POST,
            "/api/v1/extensions/acme/claim-code",
            &app.admin_token,
            Some(json!({})),
        )
        .await;
    assert_eq!(reissue.status, StatusCode::CONFLICT, "{}", reissue.text);
}

async fn an_expired_or_unknown_code_claims_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let created = create(&app, "late", json!({"claim_expires_in": "1s"})).await;
    let code = created.typed::<ClaimCodeView>().claim_code;
    app.clock.advance(Duration::from_secs(2));
    let expired = claim(&app, &code).await;
    assert_eq!(expired.status, StatusCode::CONFLICT, "{}", expired.text);
    assert!(expired.text.contains("expired"), "{}", expired.text);
    assert!(expired.body["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("claim-code"));
    for unknown in [
        "lumio_claim_00000000000000000000000000000000",
        "nonsense",
        "",
    ] {
        let answer = claim(&app, unknown).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{unknown}: {}",
            answer.text
        );
    }
    // Nothing was claimed: the admin may still issue a fresh code, which works.
    let fresh = app
        .call(
            Method::POST,
            "/api/v1/extensions/late/claim-code",
            &app.admin_token,
            Some(json!({"claim_expires_in": "1h"})),
        )
        .await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.text);
    let code = fresh.typed::<ClaimCodeView>().claim_code;
    assert_eq!(claim(&app, &code).await.status, StatusCode::CREATED);
    let bad_lifetime = create(&app, "odd", json!({"claim_expires_in": "1y"})).await;
    assert_eq!(bad_lifetime.status, StatusCode::BAD_REQUEST);
}

async fn a_hand_over_counts_as_a_claim(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let code = create(&app, "old", json!({}))
        .await
        .typed::<ClaimCodeView>()
        .claim_code;
    // Staff act as owners until the extension has one ...
    app.api_set("old", "staging", "K", "v1").await;
    let owner = app.token("old", "owner").await;
    // ... and the first owner token ends that, and every open claim code.
    let answer = claim(&app, &code).await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text);
    assert!(
        answer.text.contains("has an owner already"),
        "{}",
        answer.text
    );
    let refused = app.set(&app.admin_token, "old", "staging", "K", "v2").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(refused.code(), "staff_not_member");
    assert_eq!(
        app.set(&owner, "old", "staging", "K", "v2").await.status,
        StatusCode::OK
    );
}

async fn staff_get_staff_not_member_inside_a_claimed_extension(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let owner = app.claimed_extension("acme").await;
    assert_eq!(
        deploy(&app, &owner, "acme").await.status,
        StatusCode::CREATED
    );
    app.set(&owner, "acme", "staging", "DB_PASS", "planted-staff-canary")
        .await;
    let admin = &app.admin_token;
    let base = "/api/v1/extensions/acme/environments/staging";
    let writes: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PUT,
            format!("{base}/secrets/DB_PASS"),
            Some(json!({"value": "x"})),
        ),
        (
            Method::POST,
            format!("{base}/secrets"),
            Some(json!({"secrets": {"A": "1"}})),
        ),
        (Method::DELETE, format!("{base}/secrets/DB_PASS"), None),
        (
            Method::POST,
            format!("{base}/secrets/DB_PASS/rollback"),
            Some(json!({"version": 1})),
        ),
        (
            Method::PUT,
            format!("{base}/secrets/DB_PASS/binding"),
            Some(json!({"allowed_hosts": ["evil.example"]})),
        ),
        (
            Method::POST,
            "/api/v1/extensions/acme/environments/production/copy".to_owned(),
            Some(json!({"names": ["DB_PASS"], "from": "staging"})),
        ),
        (
            Method::POST,
            format!("{base}/deployments"),
            Some(json!({"files": {"server/a.ts": "export const x = 1;"}})),
        ),
        (Method::GET, format!("{base}/logs"), None),
        (
            Method::POST,
            "/api/v1/tokens".to_owned(),
            Some(json!({"extension": "acme", "role": "owner"})),
        ),
        (
            Method::POST,
            "/api/v1/tokens".to_owned(),
            Some(json!({"extension": "acme", "role": "viewer"})),
        ),
    ];
    for (method, path, body) in &writes {
        let answer = app.call(method.clone(), path, admin, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            answer.text
        );
        assert_eq!(
            answer.code(),
            "staff_not_member",
            "{method} {path}: {}",
            answer.text
        );
        assert!(answer.body["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("lumio access request"));
        assert!(!answer.text.contains("planted-staff-canary"));
    }
    // What holds no value stays open.
    assert_eq!(app.names(admin, "acme", "staging").await, ["DB_PASS"]);
    assert!(!audit_text(&app, admin, "acme")
        .await
        .contains("planted-staff-canary"));
    // Nothing changed: the owner's value and deployment are as they were.
    assert_eq!(
        app.read_value("acme", "staging", "DB_PASS")
            .await
            .as_deref(),
        Some("planted-staff-canary")
    );
    assert_eq!(ping(&app, "acme").await.body["value"], "pong");
}

async fn support_access_needs_approval_and_ends_on_time(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let owner = app.claimed_extension("acme").await;
    let admin = app.admin_token.clone();
    // Only staff ask; an owner who tries is told which token asks.
    let by_owner = app
        .call(
            Method::POST,
            "/api/v1/extensions/acme/access",
            &owner,
            Some(json!({"reason": "ticket 4711", "duration": "1h"})),
        )
        .await;
    assert_eq!(by_owner.status, StatusCode::FORBIDDEN, "{}", by_owner.text);
    assert!(
        by_owner.body["error"]["hint"]
            .as_str()
            .is_some_and(|hint| hint.contains("instance-admin token")),
        "{}",
        by_owner.text
    );
    let id = request_access(&app, "acme", "2s").await;
    // Asking grants nothing, and staff cannot approve their own request.
    assert_eq!(
        app.set(&admin, "acme", "staging", "K", "1").await.code(),
        "staff_not_member"
    );
    let own = decide(&app, &admin, "acme", &id, "approve").await;
    assert_eq!(own.code(), "staff_not_member", "{}", own.text);
    // A developer of the extension cannot approve either.
    let dev = app.token("acme", "developer").await;
    assert_eq!(
        decide(&app, &dev, "acme", &id, "approve").await.status,
        StatusCode::FORBIDDEN
    );

    let approved = decide(&app, &owner, "acme", &id, "approve").await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    assert_eq!(approved.typed::<AccessView>().status, "active");
    assert_eq!(
        decide(&app, &owner, "acme", &id, "approve").await.status,
        StatusCode::CONFLICT
    );
    let helped = app.set(&admin, "acme", "staging", "K", "1").await;
    assert_eq!(helped.status, StatusCode::OK, "{}", helped.text);
    // A developer's grant, never an owner's.
    let mint = app
        .call(
            Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"extension": "acme", "role": "viewer"})),
        )
        .await;
    assert_eq!(mint.status, StatusCode::FORBIDDEN, "{}", mint.text);

    app.clock.advance(Duration::from_secs(3));
    let ended = app.set(&admin, "acme", "staging", "K", "2").await;
    assert_eq!(ended.code(), "staff_not_member", "{}", ended.text);
    let list = app
        .call(Method::GET, "/api/v1/extensions/acme/access", &owner, None)
        .await;
    assert_eq!(list.body["requests"][0]["status"], "ended", "{}", list.text);

    let trail = audit_text(&app, &owner, "acme").await;
    for event in ["access.request", "access.approve"] {
        assert!(trail.contains(event), "{event}: {trail}");
    }
    // The staff write is recorded as staff, with the owner able to tell who.
    let sets = app
        .call(
            Method::GET,
            "/api/v1/extensions/acme/environments/staging/audit?event=secret.set",
            &owner,
            None,
        )
        .await;
    assert!(sets.body["entries"][0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("staff:"));
}

async fn a_revoked_grant_is_refused_by_the_next_request_on_another_server(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let owner = app.claimed_extension("acme").await;
    let id = request_access(&app, "acme", "1h").await;
    assert_eq!(
        decide(&app, &owner, "acme", &id, "approve").await.status,
        StatusCode::OK
    );
    let other = spawn_second(&app).await;
    let admin = app.admin_token.clone();
    assert_eq!(
        other.set(&admin, "acme", "staging", "K", "1").await.status,
        StatusCode::OK
    );
    let revoked = decide(&app, &owner, "acme", &id, "revoke").await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(revoked.typed::<AccessView>().status, "revoked");
    for server in [&app, &other] {
        let refused = server.set(&admin, "acme", "staging", "K", "2").await;
        assert_eq!(refused.code(), "staff_not_member", "{}", refused.text);
    }
    // Staff may withdraw their own request; nobody else's.
    let second = request_access(&app, "acme", "1h").await;
    assert_eq!(
        decide(&app, &admin, "acme", &second, "revoke").await.status,
        StatusCode::OK
    );
    let trail = audit_text(&app, &owner, "acme").await;
    assert!(trail.contains("access.revoke"), "{trail}");
}

async fn a_suspended_extension_runs_no_actions(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let owner = app.claimed_extension("acme").await;
    assert_eq!(
        deploy(&app, &owner, "acme").await.status,
        StatusCode::CREATED
    );
    assert_eq!(ping(&app, "acme").await.body["value"], "pong");
    let path = "/api/v1/extensions/acme/suspension";
    let by_owner = app.call(Method::PUT, path, &owner, None).await;
    assert_eq!(by_owner.status, StatusCode::FORBIDDEN, "only staff suspend");
    let suspended = app.call(Method::PUT, path, &app.admin_token, None).await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.text);
    assert!(suspended.body["suspended_at"].is_string());
    let refused = ping(&app, "acme").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(refused.code(), "extension_suspended");
    let resumed = app.call(Method::DELETE, path, &app.admin_token, None).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.text);
    assert_eq!(ping(&app, "acme").await.body["value"], "pong");
    let trail = audit_text(&app, &owner, "acme").await;
    assert!(trail.contains("extension.suspend") && trail.contains("extension.resume"));
}

async fn deleting_an_extension_leaves_nothing_of_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let owner = app.claimed_extension("gone").await;
    app.set(&owner, "gone", "staging", "OLD", "old-value").await;
    assert_eq!(
        deploy(&app, &owner, "gone").await.status,
        StatusCode::CREATED
    );
    let by_owner = app
        .call(Method::DELETE, "/api/v1/extensions/gone", &owner, None)
        .await;
    assert_eq!(by_owner.status, StatusCode::FORBIDDEN, "only staff delete");
    let deleted = app
        .call(
            Method::DELETE,
            "/api/v1/extensions/gone",
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(deleted.body["deleted"], "gone");
    // Its tokens went with it, and so did every value and deployment.
    assert_eq!(
        app.list(&owner, "gone", "staging").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(ping(&app, "gone").await.status, StatusCode::NOT_FOUND);
    let again = app
        .call(
            Method::DELETE,
            "/api/v1/extensions/gone",
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    // The name can be used again, empty.
    let fresh = app.claimed_extension("gone").await;
    assert!(app.names(&fresh, "gone", "staging").await.is_empty());
    assert_eq!(app.read_value("gone", "staging", "OLD").await, None);
    assert_eq!(ping(&app, "gone").await.status, StatusCode::NOT_FOUND);
}

/// Bodies that get past parsing, by the operation's request schema name.
fn body_for(path: &str, method: &str) -> Option<Value> {
    let body = match (method, path.rsplit('/').next().unwrap_or("")) {
        ("put", "{name}") => json!({"value": "staff-wrote-this"}),
        ("post", "secrets") => json!({"secrets": {"STAFF_WROTE": "x"}}),
        ("post", "rollback") => json!({"version": 1}),
        ("put", "binding") => json!({"allowed_hosts": ["evil.example"]}),
        ("post", "copy") => json!({"from": "production", "all": true}),
        ("post", "deployments") => json!({"files": {"server/a.ts": "export const x = 1;"}}),
        ("post", "tokens") => json!({"extension": "acme", "role": "owner"}),
        ("post", "extensions") => json!({"name": "staff-made"}),
        ("post", "claims") => json!({"code": "lumio_claim_x"}),
        ("post", "claim-code") => json!({}),
        ("post", "access") => json!({"reason": "sweep", "duration": "1h"}),
        ("post", "{action}") => json!({"args": {}}),
        ("post", _) | ("put", _) => json!({}),
        _ => return None,
    };
    Some(body)
}

/// Staff call every operation of the API document on a claimed extension holding a
/// planted value: no answer holds it, and nothing inside the extension is written except
/// what staff may do to it from outside (ask for access, suspend, delete).
async fn every_route_as_staff_shows_no_value_and_writes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let planted = "planted-sweep-canary-7c1d";
    let owner = app.claimed_extension("acme").await;
    assert_eq!(
        deploy(&app, &owner, "acme").await.status,
        StatusCode::CREATED
    );
    app.set(&owner, "acme", "staging", "DB_PASS", planted).await;
    app.set(&owner, "acme", "production", "DB_PASS", planted)
        .await;
    let document = serde_json::to_value(lumio_server::api_document()).unwrap();
    let outside = ["/access", "/suspension", "/claim-code"];
    let mut called = 0;
    for (template, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let deleting_it = method == "delete" && template == "/api/v1/extensions/{ext}";
            if deleting_it || template.contains("/access/{id}") {
                continue; // what staff may do from outside; tested above
            }
            let path = template
                .replace("{ext}", "acme")
                .replace("{env}", "staging")
                .replace("{name}", "DB_PASS")
                .replace("{action}", "functions:ping")
                .replace("{id}", "0123456789abcdef");
            let method_ = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = app
                .call(method_, &path, &app.admin_token, body_for(template, method))
                .await;
            called += 1;
            assert!(
                !answer.text.contains(planted),
                "{method} {path} shows the value"
            );
            let inside = path.starts_with("/api/v1/extensions/acme/") || path == "/api/v1/tokens";
            let writes = method != "get" && !template.ends_with("/actions/{action}");
            if inside && writes && !outside.iter().any(|o| path.ends_with(o)) {
                assert!(
                    !answer.status.is_success(),
                    "staff could {method} {path}: {}",
                    answer.text
                );
            }
        }
    }
    assert!(called > 25, "only {called} operations were tried");
    // The sweep suspended it (staff may); resumed, the owner's code is what runs.
    let path = "/api/v1/extensions/acme/suspension";
    app.call(Method::DELETE, path, &app.admin_token, None).await;
    // The value and the owner's code are as the owner left them.
    for env in ["staging", "production"] {
        assert_eq!(
            app.read_value("acme", env, "DB_PASS").await.as_deref(),
            Some(planted)
        );
    }
    assert_eq!(app.names(&owner, "acme", "staging").await, ["DB_PASS"]);
    assert_eq!(ping(&app, "acme").await.body["value"], "pong");
}
