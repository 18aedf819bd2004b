//! Tokens scoped to one environment (issue 11): a staging token tries production through
//! every route and is refused with 403 before anything there is looked at, so the answer
//! is the same whether a secret exists or not; production is left as it was.

use crate::common::on_each_backend;
use crate::common::{spawn_app, Answer, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_each_backend!(
    a_staging_token_cannot_reach_production_through_any_route,
    a_scoped_owner_only_makes_tokens_of_its_own_scope,
);

/// A token scoped to `env`, made by alpha's unscoped owner (the first owner token claims
/// the extension; from then on staff make no tokens in it).
async fn scoped_token(app: &TestApp, role: &str, env: &str) -> String {
    if app.actor_in("alpha") == app.admin_token {
        app.token("alpha", "owner").await;
    }
    let body = json!({"extension": "alpha", "role": role, "env": env});
    let answer = app
        .call(
            Method::POST,
            "/api/v1/tokens",
            &app.actor_in("alpha"),
            Some(body),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert_eq!(answer.body["env"], env);
    answer.body["token"].as_str().unwrap().to_owned()
}

/// Every management route under `…/environments/{env}`, with a body where one is needed.
fn routes(env: &str, name: &str) -> Vec<(Method, String, Option<Value>)> {
    let base = format!("/api/v1/extensions/alpha/environments/{env}");
    let files = json!({"files": {"server/a.ts": "export const x = 1;"}});
    vec![
        (Method::GET, format!("{base}/secrets"), None),
        (
            Method::POST,
            format!("{base}/secrets"),
            Some(json!({"secrets": {name: "planted"}})),
        ),
        (
            Method::PUT,
            format!("{base}/secrets/{name}"),
            Some(json!({"value": "overwritten"})),
        ),
        (Method::DELETE, format!("{base}/secrets/{name}"), None),
        (
            Method::DELETE,
            format!("{base}/secrets/{name}?purge=true"),
            None,
        ),
        (Method::GET, format!("{base}/secrets/{name}/versions"), None),
        (
            Method::POST,
            format!("{base}/secrets/{name}/rollback"),
            Some(json!({"version": 1})),
        ),
        (Method::GET, format!("{base}/audit"), None),
        (Method::POST, format!("{base}/deployments"), Some(files)),
        (Method::GET, format!("{base}/deployments"), None),
        (Method::GET, format!("{base}/logs"), None),
    ]
}

async fn send(app: &TestApp, token: &str, route: &(Method, String, Option<Value>)) -> Answer {
    app.call(route.0.clone(), &route.1, token, route.2.clone())
        .await
}

async fn a_staging_token_cannot_reach_production_through_any_route(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("alpha").await;
    let set = app
        .set(admin, "alpha", "production", "PROD_KEY", "prod-canary-1")
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    app.set(admin, "alpha", "production", "PROD_KEY", "prod-canary-2")
        .await;
    let staging_owner = scoped_token(&app, "owner", "staging").await;
    let production_owner = scoped_token(&app, "owner", "production").await;

    for (token, home, away) in [
        (&staging_owner, "staging", "production"),
        (&production_owner, "production", "staging"),
    ] {
        for (existing, absent) in routes(away, "PROD_KEY").iter().zip(routes(away, "NO_SUCH")) {
            let refused = send(&app, token, existing).await;
            assert_eq!(
                refused.status,
                StatusCode::FORBIDDEN,
                "{} {}: {}",
                existing.0,
                existing.1,
                refused.text
            );
            assert!(
                refused.text.contains(&format!("scoped to {home}")),
                "{}",
                refused.text
            );
            // Same answer for a name that does not exist: no oracle.
            let other = send(&app, token, &absent).await;
            assert_eq!(other.text.replace("NO_SUCH", "PROD_KEY"), refused.text);
        }
        // Its own environment works.
        let own = app.set(token, "alpha", home, "MINE", "own-value").await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.text);
        assert_eq!(app.list(token, "alpha", home).await.status, StatusCode::OK);
    }
    // Production is as it was: the value, its versions, and nothing planted.
    assert_eq!(
        app.read_value("alpha", "production", "PROD_KEY")
            .await
            .as_deref(),
        Some("prod-canary-2")
    );
    let names = app.names(admin, "alpha", "production").await;
    assert_eq!(
        names,
        ["MINE", "PROD_KEY"],
        "only production's own token wrote MINE"
    );
    let history = app
        .call(
            Method::GET,
            "/api/v1/extensions/alpha/environments/production/secrets/PROD_KEY/versions",
            admin,
            None,
        )
        .await;
    assert_eq!(history.body["versions"].as_array().map(Vec::len), Some(2));
    let deployments = app
        .call(
            Method::GET,
            "/api/v1/extensions/alpha/environments/production/deployments",
            admin,
            None,
        )
        .await;
    assert_eq!(deployments.body["deployments"], json!([]));
    // An unscoped token keeps working in both.
    let unscoped = app.token("alpha", "developer").await;
    for env in ["staging", "production"] {
        assert_eq!(
            app.list(&unscoped, "alpha", env).await.status,
            StatusCode::OK
        );
    }
}

async fn a_scoped_owner_only_makes_tokens_of_its_own_scope(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("alpha").await;
    let staging_owner = scoped_token(&app, "owner", "staging").await;
    // Without --env the new token inherits the scope, so it cannot escape to production.
    let body = json!({"extension": "alpha", "role": "owner"});
    let child = app
        .call(Method::POST, "/api/v1/tokens", &staging_owner, Some(body))
        .await;
    assert_eq!(child.status, StatusCode::CREATED, "{}", child.text);
    assert_eq!(child.body["env"], "staging");
    let child = child.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.list(&child, "alpha", "production").await.status,
        StatusCode::FORBIDDEN
    );
    let body = json!({"extension": "alpha", "role": "viewer", "env": "production"});
    let escape = app
        .call(Method::POST, "/api/v1/tokens", &staging_owner, Some(body))
        .await;
    assert_eq!(escape.status, StatusCode::FORBIDDEN, "{}", escape.text);
    // A misspelt field is refused rather than silently making an unscoped token.
    let body = json!({"extension": "alpha", "role": "viewer", "environment": "staging"});
    let typo = app
        .call(Method::POST, "/api/v1/tokens", &app.admin_token, Some(body))
        .await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST, "{}", typo.text);
    let body = json!({"extension": "alpha", "role": "viewer", "env": "prod"});
    let bad_env = app
        .call(Method::POST, "/api/v1/tokens", &app.admin_token, Some(body))
        .await;
    assert_eq!(bad_env.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_env.text.contains("use staging or production"),
        "{}",
        bad_env.text
    );
}
