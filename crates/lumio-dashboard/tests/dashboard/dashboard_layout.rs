//! Every dashboard page in a real headless Chromium at phone (390×844) and laptop
//! (1280×800) size, with a 200-character secret name among the data: nothing scrolls
//! sideways, nothing is cut off at the right edge, and axe-core finds no serious or
//! critical violation. Also what people read in the tables: every column at both sizes,
//! and who changed a secret by its token's label, not its id.

use crate::common::axe::Axe;
use crate::common::browser::{self, docs_screenshot, Browser};
use crate::common::{spawn_app, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

const READER: &str = r#"import { action } from "@zaflun/lumio-sdk/server";
export const weather = action({
  secrets: ["OPENWEATHER_TOKEN"],
  handler: async (ctx) => ({ set: ctx.secrets.get("OPENWEATHER_TOKEN") !== null }),
});
export const snoop = action({
  handler: async (ctx) => ({ got: ctx.secrets.get("OPENWEATHER_TOKEN") !== null }),
});
"#;

const SIZES: [(u32, u32); 2] = [(390, 844), (1280, 800)];

/// The page fits its width, and no visible element reaches past the right edge (which
/// also catches content cut off inside a scrolling or clipping box).
async fn assert_fits(browser: &Browser, page: &str, width: u32) {
    let report = browser
        .eval(
            "const width = document.documentElement.clientWidth;\
             const clipped = e => { for (let n = e; n && n !== document.body; n = n.parentElement) {\
               const s = getComputedStyle(n); if (s.clip !== 'auto' || s.clipPath !== 'none') return true; }\
               return false; };\
             const past = [...document.querySelectorAll('body *')].filter(e => {\
               const r = e.getBoundingClientRect();\
               return r.width > 0 && r.right > width + 1 && !clipped(e);\
             }).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')\
               + (e.className ? '.' + String(e.className).replace(/ /g, '.') : '')\
               + ' right=' + Math.round(e.getBoundingClientRect().right));\
             return { scroll: document.documentElement.scrollWidth, width, past: past.slice(0, 8) };",
        )
        .await;
    let scroll = report["scroll"].as_u64().unwrap();
    let inner = report["width"].as_u64().unwrap();
    assert!(
        scroll <= inner,
        "{page} at {width} px scrolls sideways: {scroll} px in {inner}; past the edge: {}",
        report["past"]
    );
    assert_eq!(
        report["past"],
        json!([]),
        "{page} at {width} px: elements past the right edge"
    );
}

/// Creates a token on `weather` with a label, as its owner would; its id.
async fn labelled_token(app: &TestApp, owner: &str, role: &str, label: &str) -> (String, String) {
    let answer = app
        .call(
            Method::POST,
            "/api/v1/tokens",
            owner,
            Some(json!({"extension": "weather", "role": role, "label": label})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    (
        answer.body["token"].as_str().unwrap().to_owned(),
        answer.body["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_phone_and_laptop_and_passes_axe() {
    let Some(browser) = browser::launch().await else {
        return;
    };
    let axe = Axe::load();
    let mut app = spawn_app(Backend::Sqlite)
        .await
        .expect("sqlite always works");
    let owner = app.claimed_extension("weather").await;
    let (developer, developer_id) = labelled_token(&app, &owner, "developer", "ci-deploy").await;
    let long = format!("LONG_{}", "X".repeat(195));
    assert_eq!(long.len(), 200);
    for (name, value) in [
        ("OPENWEATHER_TOKEN", "ow-3f1c"),
        ("STRIPE_SECRET_KEY", "sk-91ab"),
        (long.as_str(), "long-7d2e"),
    ] {
        let set = app.set(&developer, "weather", "staging", name, value).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    }
    app.set(&developer, "weather", "staging", &long, "long-second")
        .await;
    app.set(
        &owner,
        "weather",
        "production",
        "OPENWEATHER_TOKEN",
        "ow-prod",
    )
    .await;
    let deployed = app
        .call(
            Method::POST,
            "/api/v1/extensions/weather/environments/staging/deployments",
            &developer,
            Some(json!({"files": {"server/functions.ts": READER}})),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::CREATED, "{}", deployed.text);
    for action in ["functions:weather", "functions:snoop"] {
        app.api(
            Method::POST,
            &format!("/api/v1/extensions/weather/environments/staging/actions/{action}"),
            None,
            Some(json!({"args": {}})),
        )
        .await;
    }
    let asked = app
        .call(
            Method::POST,
            "/api/v1/extensions/weather/access",
            &app.admin_token,
            Some(json!({"reason": "Customer ticket 4711: the weather action fails in staging with a timeout", "duration": "2h"})),
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);

    let base = app.url.clone();
    let ext = format!("{base}/dashboard/extensions/weather");
    let secrets = format!("{ext}/settings/secrets");

    // Who changed a secret reads as the token's label, and the extension's page leads
    // through Settings as the seed's path does.
    browser.goto(&format!("{base}/dashboard/sign-in")).await;
    browser.fill("#token", &owner).await;
    browser.click("main form button[type=submit]").await;
    browser.goto(&ext).await;
    browser.click_link("Settings").await;
    assert!(browser
        .url()
        .await
        .ends_with("/settings/secrets?env=staging"));
    let table = browser.text("#secrets").await;
    assert!(table.contains("ci-deploy"), "{table}");
    assert!(
        !browser.source().await.contains(&developer_id),
        "a token id is shown where its label should be"
    );

    let pages = [
        ("extensions", format!("{base}/dashboard/extensions")),
        ("overview", ext.clone()),
        ("secrets", format!("{secrets}?env=staging")),
        ("secrets, production", format!("{secrets}?env=production")),
        ("secret, long name", format!("{secrets}/{long}?env=staging")),
        ("secret", format!("{secrets}/OPENWEATHER_TOKEN?env=staging")),
        (
            "delete, long name",
            format!("{secrets}/{long}/delete?env=staging"),
        ),
        ("compare", format!("{ext}/settings/compare")),
        ("audit", format!("{ext}/audit?env=staging")),
        (
            "audit, filtered to nothing",
            format!("{ext}/audit?env=staging&secret={long}&event=secret.copy"),
        ),
        ("not found", format!("{base}/dashboard/nowhere")),
    ];
    let mut failures = Vec::new();
    for (width, height) in SIZES {
        browser.client.set_window_size(width, height).await.unwrap();
        for (page, url) in &pages {
            browser.goto(url).await;
            assert_fits(&browser, page, width).await;
            if let Some(axe) = &axe {
                for violation in axe.violations(&browser).await {
                    failures.push(format!("{page} at {width} px: {violation}"));
                }
            }
        }
        // Every column of the tables is on screen: a narrow window stacks each row.
        browser.goto(&format!("{secrets}?env=staging")).await;
        assert_all_cells_shown(&browser, "#secrets", width).await;
        browser.goto(&format!("{ext}/audit?env=staging")).await;
        assert_all_cells_shown(&browser, "#audit", width).await;
        screenshot(&browser, width).await;
        // The long name's Delete stays on screen.
        browser.goto(&format!("{secrets}/{long}?env=staging")).await;
        assert_fits(&browser, "secret, long name", width).await;
    }
    // Signed out: the sign-in page, with and without its error.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.click("header form.signout button").await;
    for (width, height) in SIZES {
        browser.client.set_window_size(width, height).await.unwrap();
        browser.goto(&format!("{base}/dashboard/sign-in")).await;
        assert_fits(&browser, "sign-in", width).await;
        browser.fill("#token", "not-a-token").await;
        browser.click("main form button[type=submit]").await;
        assert_fits(&browser, "sign-in, refused", width).await;
        if let Some(axe) = &axe {
            for violation in axe.violations(&browser).await {
                failures.push(format!("sign-in at {width} px: {violation}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "axe-core: serious or critical violations:\n{}",
        failures.join("\n")
    );
    // The check can fail: a field whose label is taken away is a critical violation.
    if let Some(axe) = &axe {
        browser
            .eval("document.querySelector('label[for=token]').remove(); return null")
            .await;
        let found = axe.violations(&browser).await;
        assert!(
            found.iter().any(|v| v.starts_with("\"label\"")),
            "axe missed an unlabelled field: {found:?}"
        );
    }
    browser.close().await;
    app.stop().await;
}

/// Every cell of `table` has a box inside the window: no column hidden or scrolled away.
async fn assert_all_cells_shown(browser: &Browser, table: &str, width: u32) {
    let hidden = browser
        .eval(&format!(
            "const width = document.documentElement.clientWidth;\
             return [...document.querySelectorAll('{table} tbody td, {table} tbody th')]\
               .filter(c => c.textContent.trim() !== '')\
               .filter(c => {{ const r = c.getBoundingClientRect();\
                 return r.width === 0 || r.left < 0 || r.right > width + 1; }})\
               .map(c => c.textContent.trim().slice(0, 40));"
        ))
        .await;
    assert_eq!(hidden, json!([]), "{table} at {width} px: cells off screen");
}

/// The README's screenshots of the audit log at both sizes (with `LUMIO_UPDATE_DOCS=1`).
async fn screenshot(browser: &Browser, width: u32) {
    browser
        .eval("document.querySelector('form.filters').scrollIntoView(); return null")
        .await;
    docs_screenshot(browser, &format!("dashboard-audit-{width}.png")).await;
}
