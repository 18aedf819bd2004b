//! Due dates through the API (issue 28), on SQLite and PostgreSQL, with the server's clock
//! moved by the test: the set fields and their refusals (nothing stored), the list's
//! `due` state and `within`, the due-date change without a value and its audit record,
//! imports, rollbacks and copies keeping the period without an expiry, and
//! `due_dates_all`.

use crate::common::on_each_backend;
use crate::common::{spawn_app, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_each_backend!(
    set_fields_and_list_states,
    bad_due_dates_store_nothing,
    due_dates_change_without_a_version,
    other_writes_keep_the_period_and_give_no_expiry,
);

const DAY: i64 = 86_400;

fn secret_path(ext: &str, env: &str, name: &str) -> String {
    format!("/api/v1/extensions/{ext}/environments/{env}/secrets/{name}")
}

async fn put(app: &TestApp, ext: &str, name: &str, body: Value) -> crate::common::Answer {
    app.api(
        Method::PUT,
        &secret_path(ext, "staging", name),
        Some(&app.admin_token),
        Some(body),
    )
    .await
}

async fn listed(app: &TestApp, ext: &str, query: &str) -> Vec<Value> {
    let path = format!("/api/v1/extensions/{ext}/environments/staging/secrets{query}");
    let answer = app
        .api(Method::GET, &path, Some(&app.admin_token), None)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["secrets"].as_array().unwrap().clone()
}

fn entry<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter().find(|s| s["name"] == name).expect("listed")
}

fn days(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n * 86_400)
}

async fn set_fields_and_list_states(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("dated").await;
    let set = put(
        &app,
        "dated",
        "KEY",
        json!({"value": "dated-value-1", "expires_in_secs": 20 * DAY, "rotate_every_secs": 30 * DAY}),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert!(set.body["expires_at"].is_string(), "{}", set.text);
    assert_eq!(set.body["rotate_every_secs"], 30 * DAY);
    assert!(set.body["rotate_by"].is_string());
    assert!(!set.text.contains("dated-value-1"));

    let list = listed(&app, "dated", "").await;
    assert_eq!(entry(&list, "KEY")["due"], "ok");
    assert_eq!(entry(&list, "KEY")["expires_at"], set.body["expires_at"]);
    let wide = listed(&app, "dated", "?within=3w").await;
    assert_eq!(entry(&wide, "KEY")["due"], "due");

    app.clock.advance(days(10));
    assert_eq!(entry(&listed(&app, "dated", "").await, "KEY")["due"], "due");
    app.clock.advance(days(11));
    assert_eq!(
        entry(&listed(&app, "dated", "").await, "KEY")["due"],
        "expired"
    );
    for window in ["soon", "1234567d", "14", "d", "1é"] {
        let bad_window = app
            .api(
                Method::GET,
                &format!("/api/v1/extensions/dated/environments/staging/secrets?within={window}"),
                Some(&app.admin_token),
                None,
            )
            .await;
        assert_eq!(bad_window.status, StatusCode::BAD_REQUEST, "{window}");
    }
    // `0s`: only what has passed counts.
    let now_only = listed(&app, "dated", "?within=0s").await;
    assert_eq!(entry(&now_only, "KEY")["due"], "expired");

    // The audit record of the set says the dates it gave.
    let audit = app
        .api(
            Method::GET,
            "/api/v1/extensions/dated/environments/staging/audit?event=secret.set",
            Some(&app.admin_token),
            None,
        )
        .await;
    let detail = audit.body["entries"][0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("version 1; expires ") && detail.ends_with("; rotate every 30d"),
        "{detail}"
    );
    // What reminders read: every live secret with a due date.
    let due = app.service().due_dates_all().await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].slug.as_str(), due[0].name.as_str(), due[0].version),
        ("dated", "KEY", 1)
    );
}

async fn bad_due_dates_store_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("refused").await;
    let past = (app.service().now() - chrono::Duration::seconds(1)).to_rfc3339();
    // Malformed (the schema refuses them too): 400. Well-formed but impossible (a past
    // expiry, two expiries): 422, as every well-formed request that cannot be done.
    let (bad, impossible) = (StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY);
    for (body, status, needle) in [
        (
            json!({"value": "v", "expires_at": past}),
            impossible,
            "not in the future",
        ),
        (
            json!({"value": "v", "expires_in_secs": 0}),
            bad,
            "expires_in_secs",
        ),
        (
            json!({"value": "v", "rotate_every_secs": 0}),
            bad,
            "rotate_every_secs",
        ),
        (
            json!({"value": "v", "rotate_every_secs": -30}),
            bad,
            "rotate_every_secs",
        ),
        (
            json!({"value": "v", "rotate_every_secs": 100_000_000_001_i64}),
            bad,
            "rotate_every_secs",
        ),
        (
            json!({"value": "v", "expires_in_secs": 60, "expires_at": "2999-01-01T00:00:00Z"}),
            impossible,
            "one of them",
        ),
        (
            json!({"value": "v", "expires_at": "next tuesday"}),
            impossible,
            "RFC 3339",
        ),
        (
            json!({"value": "v", "expires_at": ""}),
            impossible,
            "RFC 3339",
        ),
        (json!({"value": "v", "expires_at": 7}), bad, ""),
    ] {
        let answer = put(&app, "refused", "KEY", body.clone()).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.text);
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    assert!(
        listed(&app, "refused", "").await.is_empty(),
        "nothing stored"
    );
}

async fn due_dates_change_without_a_version(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("patched").await;
    let set = put(
        &app,
        "patched",
        "KEY",
        json!({"value": "patched-value", "rotate_every_secs": 30 * DAY}),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    app.clock.advance(days(3));
    let path = format!("{}/due-dates", secret_path("patched", "staging", "KEY"));
    let patch = |body: Value| {
        let (app, path) = (&app, &path);
        async move {
            app.api(Method::PATCH, path, Some(&app.admin_token), Some(body))
                .await
        }
    };
    let changed = patch(json!({"expires_in_secs": 5 * DAY})).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(changed.body["version"], 1);
    assert_eq!(changed.body["due"], "due");
    assert_eq!(
        changed.body["rotate_by"], set.body["rotate_by"],
        "clock kept"
    );

    let cleared = patch(json!({"expires_at": null, "rotate_every_secs": null})).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    assert!(cleared.body.get("expires_at").is_none());
    assert!(cleared.body.get("rotate_by").is_none());
    assert_eq!(cleared.body["due"], "ok");

    let nothing = patch(json!({})).await;
    assert_eq!(
        nothing.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        nothing.text
    );
    let past = patch(json!({"expires_at": "2001-01-01T00:00:00Z"})).await;
    assert_eq!(
        past.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        past.text
    );
    let malformed = patch(json!({"rotate_every_secs": 0})).await;
    assert_eq!(
        malformed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        malformed.text
    );
    let missing = app
        .api(
            Method::PATCH,
            &format!("{}/due-dates", secret_path("patched", "staging", "NOPE")),
            Some(&app.admin_token),
            Some(json!({"expires_in_secs": 60})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);

    let audit = app
        .api(
            Method::GET,
            "/api/v1/extensions/patched/environments/staging/audit?event=secret.due_dates_changed",
            Some(&app.admin_token),
            None,
        )
        .await;
    let details: Vec<&str> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details.len(),
        2,
        "only the changes that happened: {details:?}"
    );
    assert_eq!(details[0], "no expiry; rotation off");
    assert!(details[1].starts_with("expires "), "{details:?}");
}

async fn other_writes_keep_the_period_and_give_no_expiry(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("carried").await;
    let first = put(
        &app,
        "carried",
        "KEY",
        json!({"value": "carried-1", "expires_in_secs": 40 * DAY, "rotate_every_secs": 30 * DAY}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    app.clock.advance(days(25));
    let imported = app
        .api(
            Method::POST,
            "/api/v1/extensions/carried/environments/staging/secrets",
            Some(&app.admin_token),
            Some(json!({"secrets": {"KEY": "carried-2"}})),
        )
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text);
    let key = entry(&listed(&app, "carried", "").await, "KEY").clone();
    assert!(
        key.get("expires_at").is_none(),
        "an import carries no expiry: {key}"
    );
    assert_eq!(key["rotate_every_secs"], 30 * DAY, "the period stays");
    assert_eq!(key["due"], "ok", "the import restarted the clock: {key}");

    let rolled = app
        .api(
            Method::POST,
            &format!("{}/rollback", secret_path("carried", "staging", "KEY")),
            Some(&app.admin_token),
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.text);
    let key = entry(&listed(&app, "carried", "").await, "KEY").clone();
    assert_eq!(key["version"], 3);
    assert!(
        key.get("expires_at").is_none(),
        "a rollback carries no expiry"
    );
    assert_eq!(key["rotate_every_secs"], 30 * DAY);

    // A copy into production keeps production's period and gives no expiry.
    let production = app
        .api(
            Method::PUT,
            &secret_path("carried", "production", "KEY"),
            Some(&app.admin_token),
            Some(json!({"value": "carried-prod", "expires_in_secs": 9 * DAY, "rotate_every_secs": 7 * DAY})),
        )
        .await;
    assert_eq!(production.status, StatusCode::OK, "{}", production.text);
    let copied = app
        .api(
            Method::POST,
            "/api/v1/extensions/carried/environments/production/copy",
            Some(&app.admin_token),
            Some(json!({"from": "staging", "names": ["KEY"]})),
        )
        .await;
    assert_eq!(copied.status, StatusCode::OK, "{}", copied.text);
    let list = app
        .api(
            Method::GET,
            "/api/v1/extensions/carried/environments/production/secrets",
            Some(&app.admin_token),
            None,
        )
        .await;
    let key = entry(list.body["secrets"].as_array().unwrap(), "KEY").clone();
    assert_eq!(key["version"], 2, "{key}");
    assert!(
        key.get("expires_at").is_none(),
        "a copy carries no expiry: {key}"
    );
    assert_eq!(
        key["rotate_every_secs"],
        7 * DAY,
        "the target's period stays"
    );
}
