//! The dashboard in a real headless Chromium, against the real server: the seed's path
//! Dashboard → Extensions → {extension} → Settings → Secrets → Add secret → Save, and
//! everything around it. One browser session for the whole file keeps it fast.

use crate::common::browser::{self, docs_screenshot, Browser};
use crate::common::{spawn_app, Backend, TestApp};
use fantoccini::Locator;
use reqwest::{Method, StatusCode};
use serde_json::json;

const CHECK: &str = r#"import { action, v } from "@zaflun/lumio-sdk/server";
export const check = action({
  args: { guess: v.string() },
  handler: async (ctx, args) => {
    const key = ctx.secrets.get("ESPN_API_KEY");
    return { set: key !== null, matches: key === args.guess };
  },
});
"#;

/// Calls `f:check` as a client would: is ESPN_API_KEY set, and is it `guess`?
async fn check(app: &TestApp, guess: &str) -> (bool, bool) {
    let answer = app
        .api(
            Method::POST,
            "/api/v1/extensions/weather/environments/staging/actions/f:check",
            None,
            Some(json!({"args": {"guess": guess}})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let value = &answer.body["value"];
    (
        value["set"].as_bool().unwrap(),
        value["matches"].as_bool().unwrap(),
    )
}

/// The page (as the browser holds it) must never contain any of `values`.
async fn assert_no_values(browser: &Browser, values: &[&str]) {
    let source = browser.source().await;
    for value in values {
        assert!(!source.contains(value), "a secret value is in the page");
    }
}

/// Every visible form field has a label, and the page fits its width.
async fn assert_accessible(browser: &Browser) {
    let unlabeled = browser
        .eval(
            "return [...document.querySelectorAll('input:not([type=hidden]), textarea, select')]\
             .filter(e => e.labels.length === 0).map(e => e.name)",
        )
        .await;
    assert_eq!(unlabeled, json!([]), "fields without a label");
    let fits = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    assert_eq!(fits, json!(true), "the page scrolls sideways");
}

/// More screenshots for people reviewing the look, when `LUMIO_SCREENSHOT_DIR` is set.
async fn extra_screenshot(browser: &Browser, name: &str) {
    if let Some(dir) = std::env::var_os("LUMIO_SCREENSHOT_DIR") {
        let png = browser.client.screenshot().await.unwrap();
        std::fs::write(std::path::Path::new(&dir).join(name), png).unwrap();
    }
}

async fn add_secret(browser: &Browser, name: &str, value: &str) {
    browser.toggle("details.add > summary").await;
    browser.fill("#name", name).await;
    browser.fill("#value", value).await;
    browser.click("details.add button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managing_secrets_in_a_real_browser() {
    let Some(browser) = browser::launch().await else {
        return;
    };
    let mut app = spawn_app(Backend::Sqlite)
        .await
        .expect("sqlite always works");
    app.create_extension("weather").await;
    app.create_extension("news").await;
    let deployed = app
        .api(
            Method::POST,
            "/api/v1/extensions/weather/environments/staging/deployments",
            Some(&app.admin_token),
            Some(json!({"files": {"server/f.ts": CHECK}})),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::CREATED, "{}", deployed.text);
    let base = app.url.clone();
    let first = "sk-first-3b9f1e7d0a";
    let second = "sk-second-c4d2a8e61f";

    // Signed out, the dashboard sends you to sign in.
    browser.goto(&format!("{base}/dashboard")).await;
    assert!(browser.url().await.ends_with("/dashboard/sign-in"));
    assert_accessible(&browser).await;
    browser.fill("#token", "not-a-token").await;
    browser.click("main form button[type=submit]").await;
    assert!(browser.text("#token-error").await.contains("not valid"));
    browser.fill("#token", &app.admin_token).await;
    browser.click("main form button[type=submit]").await;

    // Dashboard → Extensions → weather → Settings → Secrets.
    let url = browser.url().await;
    assert!(
        url.ends_with("/dashboard/extensions"),
        "{url}: {}",
        browser.source().await
    );
    assert!(browser.exists("a[href='/dashboard/extensions/news']").await);
    browser.click_link("weather").await;
    browser.click_link("Secrets").await;
    assert!(browser
        .url()
        .await
        .ends_with("/dashboard/extensions/weather/settings/secrets?env=staging"));
    assert!(browser
        .text("#secrets-empty")
        .await
        .contains("No secrets in staging"));
    assert_accessible(&browser).await;

    // Add secret → name, value → Save. Listed with its version, never with its value.
    let masked = browser
        .client
        .find(Locator::Css("#value"))
        .await
        .unwrap()
        .css_value("-webkit-text-security")
        .await
        .unwrap();
    assert_eq!(masked, "disc", "the value field is masked");
    add_secret(&browser, "ESPN_API_KEY", &format!("{first}\nline two")).await;
    assert!(browser
        .text("p.notice")
        .await
        .contains("Saved ESPN_API_KEY in staging (version 1)"));
    let row = browser.text("#secrets tbody tr").await;
    assert!(row.contains("ESPN_API_KEY") && row.contains('1'), "{row}");
    assert_no_values(&browser, &[first]).await;
    let raw = reqwest::get(format!(
        "{base}/dashboard/extensions/weather/settings/secrets"
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(!raw.contains(first));

    // The API sees it at once, and the next action run reads it — no redeploy.
    assert_eq!(app.api_names("weather", "staging").await, ["ESPN_API_KEY"]);
    assert_eq!(
        check(&app, &format!("{first}\nline two")).await,
        (true, true),
        "multi-line value with LF line breaks"
    );

    // A rejected name is shown escaped, kept for correction; the value is not kept.
    let evil = "<img src=x onerror=alert(1)>";
    add_secret(&browser, evil, second).await;
    assert!(browser.text("#add-error").await.contains(evil));
    assert!(
        !browser.exists("img").await,
        "HTML in the name was rendered"
    );
    let kept = browser.client.find(Locator::Css("#name")).await.unwrap();
    assert_eq!(kept.prop("value").await.unwrap().as_deref(), Some(evil));
    let value = browser.client.find(Locator::Css("#value")).await.unwrap();
    assert_eq!(value.prop("value").await.unwrap().as_deref(), Some(""));
    assert_no_values(&browser, &[first, second]).await;

    // Replace the value.
    browser
        .goto(&format!(
            "{base}/dashboard/extensions/weather/settings/secrets?env=staging"
        ))
        .await;
    browser.click_link("ESPN_API_KEY").await;
    assert_accessible(&browser).await;
    browser.fill("#value", second).await;
    browser.click("main section.card button[type=submit]").await;
    assert!(browser.text("p.notice").await.contains("(version 2)"));
    assert_no_values(&browser, &[first, second]).await;
    assert_eq!(check(&app, second).await, (true, true));

    // History and rollback to version 1.
    assert!(browser.text("#history").await.contains("current"));
    browser
        .click("#history form.inline button[type=submit]")
        .await;
    assert!(browser
        .text("p.notice")
        .await
        .contains("Rolled ESPN_API_KEY back to version 1; it is now version 3"));
    assert_eq!(
        check(&app, &format!("{first}\nline two")).await,
        (true, true)
    );

    // Delete, after a confirmation step.
    browser.click("#delete").await;
    assert!(browser
        .text("h1")
        .await
        .contains("Delete ESPN_API_KEY from staging?"));
    browser.click_link("Cancel").await;
    assert_eq!(app.api_names("weather", "staging").await, ["ESPN_API_KEY"]);
    browser.click("#delete").await;
    browser.click("#confirm-delete").await;
    assert!(browser
        .text("p.notice")
        .await
        .contains("Deleted ESPN_API_KEY from staging"));
    assert!(browser.exists("#secrets-empty").await);
    assert_eq!(check(&app, "").await, (false, false));

    // A secret set through the API (as `lumio env set` does) shows in the dashboard.
    app.api_set("weather", "staging", "FROM_CLI", "cli-value-91b2")
        .await;
    browser.reload().await;
    assert!(browser.text("#secrets").await.contains("FROM_CLI"));

    // The staging / production switch.
    browser.click_link("Production").await;
    assert!(browser.url().await.ends_with("?env=production"));
    assert!(browser.text("#secrets-empty").await.contains("production"));
    add_secret(&browser, "PROD_ONLY", "prod-value-5e7c").await;
    assert!(browser.text("#secrets").await.contains("PROD_ONLY"));
    assert_eq!(app.api_names("weather", "production").await, ["PROD_ONLY"]);
    assert_eq!(app.api_names("weather", "staging").await, ["FROM_CLI"]);
    browser.click_link("Staging").await;
    assert!(!browser.text("#secrets").await.contains("PROD_ONLY"));

    // The audit page shows each change and the actions' reads, newest first.
    browser.click_link("Audit log").await;
    assert_accessible(&browser).await;
    let log = browser.text("#audit").await;
    for event in [
        "secret.set",
        "secret.rollback",
        "secret.delete",
        "secret.get",
    ] {
        assert!(log.contains(event), "{event} missing from the audit page");
    }
    assert!(log.contains("action f:check"));
    extra_screenshot(&browser, "audit.png").await;
    assert!(
        !log.contains("PROD_ONLY"),
        "production records on the staging page"
    );
    let events: Vec<String> = {
        let cells = browser
            .client
            .find_all(Locator::Css("#audit tbody td:nth-child(2)"))
            .await
            .unwrap();
        let mut out = Vec::new();
        for cell in cells {
            out.push(cell.text().await.unwrap());
        }
        out
    };
    assert_eq!(events[0], "secret.set", "newest first: FROM_CLI");
    let delete_at = events.iter().position(|e| e == "secret.delete").unwrap();
    let rollback_at = events.iter().position(|e| e == "secret.rollback").unwrap();
    assert!(delete_at < rollback_at);
    // Filter by event and by secret name.
    let select = browser
        .client
        .find(Locator::Css("#filter-event"))
        .await
        .unwrap();
    select.select_by_value("secret.delete").await.unwrap();
    browser.click("form.filters button[type=submit]").await;
    let rows = browser
        .client
        .find_all(Locator::Css("#audit tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    browser.click_link("Clear").await;
    browser
        .fill("#filter-secret", "<script>alert(1)</script>")
        .await;
    browser.click("form.filters button[type=submit]").await;
    assert!(browser
        .text("#audit-empty")
        .await
        .contains("<script>alert(1)</script>"));
    assert!(!browser.exists("main script").await);
    assert_no_values(
        &browser,
        &[first, second, "cli-value-91b2", "prod-value-5e7c"],
    )
    .await;

    // The README's screenshot (with `LUMIO_UPDATE_DOCS=1`): the Secrets page, Add secret open.
    // With due dates: it expires within the 14 days that count as due, so it has a badge.
    let dated = app
        .api(
            Method::PUT,
            "/api/v1/extensions/weather/environments/staging/secrets/OPENWEATHER_TOKEN",
            Some(&app.admin_token),
            Some(json!({"value": "x", "expires_in_secs": 7 * 86_400, "rotate_every_secs": 90 * 86_400})),
        )
        .await;
    assert_eq!(dated.status, StatusCode::OK, "{}", dated.text);
    let secrets_page = format!("{base}/dashboard/extensions/weather/settings/secrets?env=staging");
    browser.goto(&secrets_page).await;
    add_secret(&browser, "STRIPE_SECRET_KEY", "sk_test_screenshot").await;
    browser.goto(&secrets_page).await;
    browser.toggle("details.add > summary").await;
    browser.fill("#name", "SLACK_WEBHOOK_URL").await;
    browser.fill("#value", "never-saved").await;
    browser.client.set_window_size(1280, 1150).await.unwrap();
    docs_screenshot(&browser, "dashboard-secrets.png").await;

    // At phone width everything still fits.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.reload().await;
    assert_accessible(&browser).await;
    extra_screenshot(&browser, "secrets-phone.png").await;
    browser.client.set_window_size(1280, 900).await.unwrap();

    // The keyboard reaches Add secret and Save: tab order passes through them.
    let focusable = browser
        .eval(
            "return [...document.querySelectorAll('a[href], button, summary, input:not([type=hidden]), textarea, select')]\
             .filter(e => e.tabIndex >= 0).map(e => e.id || e.textContent.trim()).slice(0, 40)",
        )
        .await;
    let focusable = focusable.to_string();
    assert!(
        focusable.contains("Add secret") && focusable.contains("Save"),
        "{focusable}"
    );

    // Sign out; then a viewer sees names and the log, but no controls.
    browser.click("header form.signout button").await;
    assert!(browser.url().await.contains("/dashboard/sign-in"));
    browser.goto(&format!("{base}/dashboard/extensions")).await;
    assert!(
        browser.url().await.contains("/dashboard/sign-in"),
        "signed out for real"
    );
    let viewer = app.token("weather", "viewer").await;
    browser.fill("#token", &viewer).await;
    browser.click("main form button[type=submit]").await;
    assert!(!browser.exists("a[href='/dashboard/extensions/news']").await);
    browser
        .goto(&format!(
            "{base}/dashboard/extensions/weather/settings/secrets?env=staging"
        ))
        .await;
    assert!(browser.text("#secrets").await.contains("FROM_CLI"));
    assert!(!browser.exists("details.add").await);
    assert!(browser.text("#readonly").await.contains("viewer"));
    browser.click_link("FROM_CLI").await;
    assert!(!browser.exists("#delete").await);
    assert!(!browser.exists("textarea").await);
    browser.click_link("Audit log").await;
    assert!(browser.exists("#audit").await);

    // Due dates, as the viewer sees them: a secret set to expire in 20 days is listed
    // with its dates and no badge; 10 days on it is due, and past its expiry it is
    // expired. The server's clock moves (so the 12-hour session ends: sign in again);
    // nothing sleeps.
    let dated = app
        .api(
            Method::PUT,
            "/api/v1/extensions/weather/environments/staging/secrets/ROTATED_KEY",
            Some(&app.admin_token),
            Some(
                json!({"value": "due-value-7d1e", "expires_in_secs": 20 * 86_400,
                        "rotate_every_secs": 40 * 86_400}),
            ),
        )
        .await;
    assert_eq!(dated.status, StatusCode::OK, "{}", dated.text);
    let secrets_page = format!("{base}/dashboard/extensions/weather/settings/secrets?env=staging");
    browser.goto(&secrets_page).await;
    // ROTATED_KEY's row: [its badge or null, whether each date is shown].
    let row = || async {
        browser
            .eval(
                "return [...document.querySelectorAll('#secrets tbody tr')]\
                 .filter(r => r.querySelector('a.name').textContent === 'ROTATED_KEY')\
                 .map(r => [r.querySelector('[data-due]')?.textContent ?? null,\
                            r.querySelector('td[data-label=Expires] time') !== null,\
                            r.querySelector('td[data-label=\"Rotate by\"] time') !== null])",
            )
            .await
    };
    assert_eq!(
        row().await,
        json!([[null, true, true]]),
        "dates, no badge yet"
    );
    for (days, badge) in [(10, "due"), (11, "expired")] {
        app.clock
            .advance(std::time::Duration::from_secs(days * 86_400));
        browser.goto(&secrets_page).await;
        if browser.url().await.contains("/dashboard/sign-in") {
            browser.fill("#token", &viewer).await;
            browser.click("main form button[type=submit]").await;
            browser.goto(&secrets_page).await;
        }
        assert_eq!(row().await, json!([[badge, true, true]]));
    }
    assert_accessible(&browser).await;
    assert_no_values(&browser, &["due-value-7d1e"]).await;

    browser.close().await;
    app.stop().await;
}
