//! Support access on an extension's page (issue 22) over HTTP against the real server, on
//! SQLite and PostgreSQL: the owner sees a staff request with its reason and approves or
//! ends it there; staff see their request but no approve button, and are refused writes.

use crate::common::on_each_backend;
use crate::common::web::Web;
use crate::common::{spawn_app, Backend};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_each_backend!(an_owner_approves_and_ends_support_access_on_the_extension_page);

const PAGE: &str = "/dashboard/extensions/acme";

async fn an_owner_approves_and_ends_support_access_on_the_extension_page(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let owner = app.claimed_extension("acme").await;
    let asked = app
        .call(
            Method::POST,
            "/api/v1/extensions/acme/access",
            &app.admin_token,
            Some(json!({"reason": "ticket <b>4711</b>", "duration": "1h"})),
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
    let id = asked.body["id"].as_str().unwrap().to_owned();
    let approve = format!("{PAGE}/access/{id}/approve");
    let revoke = format!("{PAGE}/access/{id}/revoke");

    // Staff see their request and that the extension is claimed, but cannot approve it.
    let mut staff = Web::new(&app.url);
    staff.sign_in(&app.admin_token).await;
    let page = staff.get(PAGE).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("You are Lumio staff"), "{}", page.body);
    assert!(
        !page.body.contains("role here"),
        "staff have no role: {}",
        page.body
    );
    let list = staff.get("/dashboard/extensions").await;
    assert!(list.body.contains("you are Lumio staff"), "{}", list.body);
    assert!(!list.body.contains("your role"), "{}", list.body);
    assert!(page.body.contains("Claimed"), "{}", page.body);
    assert!(!page.body.contains(&approve), "staff get no approve button");
    let csrf = page.csrf();
    let refused = staff.post(&approve, &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    // The owner sees the reason (escaped) and approves it.
    let mut web = Web::new(&app.url);
    web.sign_in(&owner).await;
    let page = web.get(PAGE).await;
    assert!(
        page.body.contains("ticket &lt;b&gt;4711&lt;/b&gt;"),
        "{}",
        page.body
    );
    assert!(page.body.contains("pending"), "{}", page.body);
    let csrf = page.csrf();
    let forged = web.post(&approve, &[("csrf", "not-the-token")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let done = web.post(&approve, &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let page = web.get(PAGE).await;
    assert!(
        page.body.contains("Approved support access for staff:"),
        "{}",
        page.body
    );
    assert!(page.body.contains("active"), "{}", page.body);
    let helped = app.set(&app.admin_token, "acme", "staging", "K", "1").await;
    assert_eq!(helped.status, StatusCode::OK, "{}", helped.text);

    // Ended from the page: staff are out again at once.
    let done = web.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let out = app.set(&app.admin_token, "acme", "staging", "K", "2").await;
    assert_eq!(out.code(), "staff_not_member", "{}", out.text);
    assert!(web.get(PAGE).await.body.contains("revoked"));
}
