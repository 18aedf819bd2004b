//! Secrets → Compare environments over HTTP against the real server, on SQLite and
//! PostgreSQL: the four lists by name, never a value; a staging-only token is refused.

use crate::common;
use crate::common::on_each_backend;
use crate::common::web::Web;
use crate::common::{spawn_app, Backend};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_each_backend!(
    compare_lists_names_by_state_without_values,
    a_scoped_token_cannot_compare,
);

const COMPARE: &str = "/dashboard/extensions/weather/settings/compare";
const VALUES: [&str; 3] = ["dash-same-7a1", "dash-stag-2b8", "dash-prod-9c4"];

/// The text of the `<section id=…>` of one list.
fn section<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}: {body}"));
    let rest = &body[start..];
    &rest[..rest.find("</section>").expect("section ends")]
}

async fn seeded(backend: Backend) -> Option<common::TestApp> {
    let app = spawn_app(backend).await?;
    app.create_extension("weather").await;
    app.api_set("weather", "staging", "SAME", VALUES[0]).await;
    app.api_set("weather", "production", "SAME", VALUES[0])
        .await;
    app.api_set("weather", "staging", "DIFF", VALUES[1]).await;
    app.api_set("weather", "production", "DIFF", VALUES[2])
        .await;
    app.api_set("weather", "staging", "ONLY_S", VALUES[1]).await;
    app.api_set("weather", "production", "ONLY_P", VALUES[2])
        .await;
    Some(app)
}

async fn compare_lists_names_by_state_without_values(backend: Backend) {
    let Some(app) = seeded(backend).await else {
        return;
    };
    let viewer = app.token("weather", "viewer").await;
    let mut web = Web::new(&app.url);
    web.sign_in(&viewer).await;
    let secrets = web
        .get("/dashboard/extensions/weather/settings/secrets")
        .await;
    assert!(secrets.body.contains(COMPARE), "no link: {}", secrets.body);

    let page = web.get(COMPARE).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for (id, inside, outside) in [
        ("only-in-staging", "ONLY_S", "ONLY_P"),
        ("only-in-production", "ONLY_P", "ONLY_S"),
        ("differ", "DIFF", "SAME"),
        ("equal", "SAME", "DIFF"),
    ] {
        let list = section(&page.body, id);
        assert!(list.contains(inside), "{id} lacks {inside}: {list}");
        assert!(!list.contains(outside), "{id} has {outside}: {list}");
        assert!(list.contains("(1)"), "{id} counts one: {list}");
    }
    assert!(
        page.body.contains("Staging and production differ"),
        "{}",
        page.body
    );
    for value in VALUES {
        assert!(!page.body.contains(value), "the page shows a value");
    }

    // Once production has the same names and values, the page says so.
    let copy = app
        .api(
            Method::POST,
            "/api/v1/extensions/weather/environments/production/copy",
            Some(&app.admin_token),
            Some(json!({"from": "staging", "all": true})),
        )
        .await;
    assert_eq!(copy.status, StatusCode::OK, "{}", copy.text);
    let delete = "/api/v1/extensions/weather/environments/production/secrets/ONLY_P";
    app.api(Method::DELETE, delete, Some(&app.admin_token), None)
        .await;
    let page = web.get(COMPARE).await;
    assert!(
        page.body.contains("Staging and production are the same"),
        "{}",
        page.body
    );
    assert!(section(&page.body, "differ").contains("None."));
}

async fn a_scoped_token_cannot_compare(backend: Backend) {
    let Some(app) = seeded(backend).await else {
        return;
    };
    let staging_owner = app
        .token_with(json!({"extension": "weather", "role": "owner", "env": "staging"}))
        .await;
    let mut web = Web::new(&app.url);
    web.sign_in(&staging_owner).await;
    let secrets = web
        .get("/dashboard/extensions/weather/settings/secrets")
        .await;
    assert!(!secrets.body.contains(COMPARE), "a link it cannot follow");
    let page = web.get(COMPARE).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(!page.body.contains("ONLY_P"), "{}", page.body);
}
