//! A secret's page → Allowed hosts (issue 11, item 2) over HTTP against the real server,
//! on SQLite and PostgreSQL: the binding is shown, saved, cleared and audited, a bad host
//! is refused with the API's status and nothing changes, and a viewer sees it read-only.

use crate::common;
use crate::common::on_each_backend;
use crate::common::web::Web;
use crate::common::{spawn_app, Backend};
use reqwest::{Method, StatusCode};

on_each_backend!(
    hosts_are_saved_shown_and_cleared,
    a_viewer_cannot_change_hosts
);

const PAGE: &str = "/dashboard/extensions/weather/settings/secrets/STRIPE_KEY";
const VALUE: &str = "sk-bound-value-3c9e";

async fn seeded(backend: Backend) -> Option<common::TestApp> {
    let app = spawn_app(backend).await?;
    app.create_extension("weather").await;
    app.api_set("weather", "staging", "STRIPE_KEY", VALUE).await;
    Some(app)
}

/// The binding as the API lists it.
async fn listed_hosts(app: &common::TestApp) -> serde_json::Value {
    let answer = app
        .api(
            Method::GET,
            "/api/v1/extensions/weather/environments/staging/secrets",
            Some(&app.admin_token),
            None,
        )
        .await;
    answer.body["secrets"][0]["allowed_hosts"].clone()
}

async fn hosts_are_saved_shown_and_cleared(backend: Backend) {
    let Some(app) = seeded(backend).await else {
        return;
    };
    let mut web = Web::new(&app.url);
    web.sign_in(&app.admin_token).await;
    let page = web.get(&format!("{PAGE}?env=staging")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Unbound"), "{}", page.body);
    let csrf = page.csrf();
    let action = format!("{PAGE}/binding");

    let saved = web
        .post(
            &action,
            &[
                ("csrf", &csrf),
                ("env", "staging"),
                ("hosts", "api.stripe.com, *.stripe.net"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = web.get(&format!("{PAGE}?env=staging")).await;
    assert!(page
        .body
        .contains("may now be sent only to api.stripe.com, *.stripe.net"));
    assert!(
        page.body.contains("value=\"api.stripe.com *.stripe.net\""),
        "{}",
        page.body
    );
    assert_eq!(
        listed_hosts(&app).await,
        serde_json::json!(["api.stripe.com", "*.stripe.net"])
    );

    let bad = web
        .post(
            &action,
            &[
                ("csrf", &csrf),
                ("env", "staging"),
                ("hosts", "https://evil.example/x"),
            ],
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::BAD_REQUEST,
        "the API's status for invalid input"
    );
    assert!(bad.body.contains("binding-error"), "{}", bad.body);
    assert_eq!(
        listed_hosts(&app).await,
        serde_json::json!(["api.stripe.com", "*.stripe.net"]),
        "a refused host changes nothing"
    );

    let cleared = web
        .post(
            &action,
            &[("csrf", &csrf), ("env", "staging"), ("hosts", "")],
        )
        .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER);
    assert!(web
        .get(&format!("{PAGE}?env=staging"))
        .await
        .body
        .contains("Unbound"));
    assert!(listed_hosts(&app).await.is_null());

    let audit = app
        .api(
            Method::GET,
            "/api/v1/extensions/weather/environments/staging/audit?event=secret.binding_changed",
            Some(&app.admin_token),
            None,
        )
        .await;
    assert_eq!(
        audit.body["entries"].as_array().map(Vec::len),
        Some(2),
        "{}",
        audit.text
    );
    for page in [saved, bad, cleared] {
        assert!(!page.body.contains(VALUE));
    }
}

async fn a_viewer_cannot_change_hosts(backend: Backend) {
    let Some(app) = seeded(backend).await else {
        return;
    };
    let viewer = app.token("weather", "viewer").await;
    let mut web = Web::new(&app.url);
    web.sign_in(&viewer).await;
    let page = web.get(&format!("{PAGE}?env=staging")).await;
    assert!(page.body.contains("Allowed hosts"));
    assert!(!page.body.contains("Save hosts"), "a viewer gets no form");
    let csrf = page.csrf();
    let refused = web
        .post(
            &format!("{PAGE}/binding"),
            &[
                ("csrf", &csrf),
                ("env", "staging"),
                ("hosts", "api.stripe.com"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(listed_hosts(&app).await.is_null());
}
