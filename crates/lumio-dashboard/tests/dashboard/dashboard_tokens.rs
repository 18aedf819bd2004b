//! Dashboard sign-ins and tokens (issue 11): an empty field never signs in, a session
//! ends when its token expires or is revoked (through any server on the database), and a
//! staging token cannot see or change production through the forms.

use crate::common::on_each_backend;
use std::time::Duration;

use crate::common;
use crate::common::web::Web;
use crate::common::{spawn_app, spawn_second, Backend};
use reqwest::{Method, StatusCode};
use serde_json::json;

const SECRETS: &str = "/dashboard/extensions/weather/settings/secrets";

on_each_backend!(
    an_empty_or_short_token_never_signs_in,
    a_session_ends_when_its_token_expires,
    a_session_ends_on_every_server_when_its_token_is_revoked,
    a_staging_token_cannot_see_or_change_production,
    a_production_token_opens_on_production,
);

/// A token made through the API with `body`; returns (token, id).
async fn token(app: &common::TestApp, body: serde_json::Value) -> (String, String) {
    let answer = app
        .api(
            Method::POST,
            "/api/v1/tokens",
            Some(&app.admin_token),
            Some(body),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let id = answer.body["id"].as_str().unwrap().to_owned();
    (answer.body["token"].as_str().unwrap().to_owned(), id)
}

fn ended(page: &common::web::Page) -> bool {
    page.status == StatusCode::SEE_OTHER && page.location() == Some("/dashboard/sign-in?expired=1")
}

async fn an_empty_or_short_token_never_signs_in(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    for typed in ["", "   ", "short", "lumio_"] {
        let mut web = Web::new(&app.url);
        let page = web.sign_in(typed).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{typed:?}");
        assert!(!web.cookies.contains_key("lumio_session"), "{typed:?}");
    }
}

async fn a_session_ends_when_its_token_expires(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("weather").await;
    let body = json!({"extension": "weather", "role": "owner", "expires_in": "2s"});
    let (expiring, _) = token(&app, body).await;
    let mut web = Web::new(&app.url);
    assert_eq!(web.sign_in(&expiring).await.status, StatusCode::SEE_OTHER);
    assert_eq!(web.get(SECRETS).await.status, StatusCode::OK);
    app.clock.advance(Duration::from_secs(3));
    let page = web.get(SECRETS).await;
    assert!(ended(&page), "{page:?}");
    let again = Web::new(&app.url).sign_in(&expiring).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
}

async fn a_session_ends_on_every_server_when_its_token_is_revoked(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let second = spawn_second(&app).await;
    app.create_extension("weather").await;
    let (owner, id) = token(&app, json!({"extension": "weather", "role": "owner"})).await;
    let mut via_second = Web::new(&second.url);
    assert_eq!(
        via_second.sign_in(&owner).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(via_second.get(SECRETS).await.status, StatusCode::OK);
    let path = format!("/api/v1/tokens/{id}");
    let revoked = app
        .api(Method::DELETE, &path, Some(&app.admin_token), None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    let page = via_second.get(SECRETS).await;
    assert!(ended(&page), "{page:?}");
}

async fn a_staging_token_cannot_see_or_change_production(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("weather").await;
    app.api_set("weather", "production", "PROD_KEY", "prod-canary")
        .await;
    let body = json!({"extension": "weather", "role": "owner", "env": "staging"});
    let (staging, _) = token(&app, body).await;
    let mut web = Web::new(&app.url);
    assert_eq!(web.sign_in(&staging).await.status, StatusCode::SEE_OTHER);
    let own = web.get(&format!("{SECRETS}?env=staging")).await;
    assert_eq!(own.status, StatusCode::OK);
    let csrf = own.csrf();

    for path in [
        format!("{SECRETS}?env=production"),
        format!("{SECRETS}/PROD_KEY?env=production"),
        "/dashboard/extensions/weather/audit?env=production".to_owned(),
    ] {
        let page = web.get(&path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(!page.body.contains("prod-canary"));
    }
    let add = [
        ("csrf", csrf.as_str()),
        ("env", "production"),
        ("name", "PLANTED"),
        ("value", "v"),
    ];
    let replace = [
        ("csrf", csrf.as_str()),
        ("env", "production"),
        ("value", "v2"),
    ];
    let delete = [("csrf", csrf.as_str()), ("env", "production")];
    let rollback = [
        ("csrf", csrf.as_str()),
        ("env", "production"),
        ("version", "1"),
    ];
    let forms: [(String, &[(&str, &str)]); 4] = [
        (SECRETS.to_owned(), &add),
        (format!("{SECRETS}/PROD_KEY"), &replace),
        (format!("{SECRETS}/PROD_KEY/delete"), &delete),
        (format!("{SECRETS}/PROD_KEY/rollback"), &rollback),
    ];
    for (path, form) in forms {
        let page = web.post(&path, form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
        assert!(page.body.contains("scoped to staging"), "{path}");
    }
    assert_eq!(app.api_names("weather", "production").await, ["PROD_KEY"]);
    let history = app
        .api(
            Method::GET,
            "/api/v1/extensions/weather/environments/production/secrets/PROD_KEY/versions",
            Some(&app.admin_token),
            None,
        )
        .await;
    assert_eq!(history.body["versions"].as_array().map(Vec::len), Some(1));
}

/// Pages without `?env=` open in the token's own environment, not on a 403.
async fn a_production_token_opens_on_production(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("weather").await;
    let body = json!({"extension": "weather", "role": "viewer", "env": "production"});
    let (production, _) = token(&app, body).await;
    let mut web = Web::new(&app.url);
    assert_eq!(web.sign_in(&production).await.status, StatusCode::SEE_OTHER);
    let settings = web.get("/dashboard/extensions/weather/settings").await;
    assert_eq!(
        settings.location(),
        Some(&*format!("{SECRETS}?env=production"))
    );
    let overview = web.get("/dashboard/extensions/weather").await;
    assert!(
        overview.body.contains("secrets?env=production"),
        "{}",
        overview.body
    );
    assert_eq!(web.get(SECRETS).await.status, StatusCode::OK);
    let audit = web.get("/dashboard/extensions/weather/audit").await;
    assert_eq!(audit.status, StatusCode::OK);
    let page = web.get(SECRETS).await;
    assert!(
        !page.body.contains("env=staging"),
        "the switch offers staging"
    );
    let staging = web.get(&format!("{SECRETS}?env=staging")).await;
    assert_eq!(staging.status, StatusCode::FORBIDDEN);
}
