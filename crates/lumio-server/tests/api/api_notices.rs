//! Issue 28: expiry and rotation notices on the service's clock, moved by the test (no
//! sleeps for time to pass): 30, 7 and 1 days before and at the due time, each once, to
//! a real receiver on loopback; a new version moves the rotation date and clears the
//! expiry, and a secret first seen inside a window hears only the latest notice.

use std::time::Duration;

use crate::common::on_each_backend;
use crate::common::{spawn_app, Backend};
use lumio_test_support::receiver::{Received, Receiver};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_each_backend!(notices_go_out_once_each_as_the_clock_moves);

const DAY: Duration = Duration::from_secs(86_400);

/// (type, detail) of what the receiver got.
fn notices(seen: &[Received]) -> Vec<(String, String)> {
    seen.iter()
        .map(|r| {
            let event = r.json();
            (
                event["type"].as_str().unwrap().to_owned(),
                event["data"]["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn notices_go_out_once_each_as_the_clock_moves(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("notes").await;
    let receiver = Receiver::start();
    let added = app
        .call(
            Method::POST,
            "/api/v1/extensions/notes/webhooks",
            &app.admin_token,
            Some(json!({
                "url": receiver.url,
                "events": "secret.expiring,secret.expired,secret.rotation_due,secret.rotation_overdue",
            })),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let start = app.service().now();
    let path = format!("{}/API_KEY", app.secrets_path("notes", "production"));
    let set = app
        .call(
            Method::PUT,
            &path,
            &app.admin_token,
            Some(json!({
                "value": "sk-notice-value",
                "expires_at": start + chrono::Duration::days(40),
                "rotate_every_secs": 60 * 86_400,
            })),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);

    // (days to move, what has been received in all by then)
    let steps: [(u32, &[(&str, &str)]); 4] = [
        (10, &[("secret.expiring", "(in 30 days)")]),
        (
            23,
            &[
                ("secret.expiring", "(in 7 days)"),
                ("secret.rotation_due", "(in 30 days)"),
            ],
        ),
        (6, &[("secret.expiring", "(in 1 day)")]),
        (1, &[("secret.expired", "expired at")]),
    ];
    let mut expected: Vec<(&str, &str)> = Vec::new();
    for (days, new) in steps {
        app.clock.advance(DAY * days);
        expected.extend_from_slice(new);
        let seen = receiver.wait_until(Duration::from_secs(20), |s| s.len() >= expected.len());
        let got = notices(&seen);
        assert_eq!(
            got.len(),
            expected.len(),
            "after {days} more days: {got:#?}"
        );
        // Within one scan, the order of expiry and rotation notices is not fixed.
        for (kind, words) in &expected {
            assert!(
                got.iter().any(|(k, d)| k == kind && d.contains(words)),
                "no {kind} ({words}) in {got:#?}"
            );
        }
    }
    let expired = receiver.seen().last().unwrap().json();
    assert_eq!(expired["data"]["name"], "API_KEY");
    assert_eq!(expired["data"]["environment"], "production");
    assert_eq!(expired["data"]["version"], 1);

    // A new version: the rotation clock starts again (due in 60 days) and there is no
    // expiry. First seen 1 day before, it hears only "1 day", then "overdue".
    let set = app
        .call(
            Method::PUT,
            &path,
            &app.admin_token,
            Some(json!({"value": "sk-notice-value-2"})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    for (days, new) in [
        (59, ("secret.rotation_due", "(in 1 day)")),
        (1, ("secret.rotation_overdue", "was due for rotation")),
    ] {
        app.clock.advance(DAY * days);
        expected.push(new);
        let seen = receiver.wait_until(Duration::from_secs(20), |s| s.len() >= expected.len());
        let got = notices(&seen);
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        let last = got.last().unwrap();
        assert_eq!(last.0, new.0, "{got:#?}");
        assert!(
            last.1.contains(new.1) && last.1.contains("version 2"),
            "{got:#?}"
        );
    }
    // Moving on sends nothing again.
    app.clock.advance(DAY * 3);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.seen().len(), expected.len());
}
