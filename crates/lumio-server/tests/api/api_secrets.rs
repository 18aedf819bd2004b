//! The secrets API end to end: the real server on loopback, SQLite and PostgreSQL.

use crate::common::on_each_backend;
use crate::common::{spawn_app, Backend};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_each_backend!(
    set_list_history_delete_rollback,
    import_is_all_or_nothing,
    limits_are_clear_errors,
    environment_limit_of_1000,
    audit_records_every_change,
    writers_of_one_name_take_turns,
);

/// 25 writers setting one name 6 times each, all at once through one server: each set
/// becomes the next version and none ends in 409 (they take turns in the server instead of
/// racing on the version check; racing, a third of such sets ended in 409).
async fn writers_of_one_name_take_turns(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("busy").await;
    let writer = |w: usize| {
        let app = &app;
        async move {
            let mut versions = Vec::new();
            for i in 0..6 {
                let answer = app
                    .set(admin, "busy", "staging", "HOT", &format!("v{w}-{i}"))
                    .await;
                assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
                versions.push(answer.body["version"].as_i64().unwrap());
            }
            versions
        }
    };
    let mut versions: Vec<i64> = futures::future::join_all((0..25).map(writer))
        .await
        .into_iter()
        .flatten()
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=150).collect::<Vec<_>>());
}

async fn set_list_history_delete_rollback(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("espn").await;

    let first = app
        .set(admin, "espn", "staging", "MY_API_KEY", "sk-abc123-first")
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["version"], 1);
    assert!(
        !first.text.contains("sk-abc123"),
        "a response held the value"
    );
    let second = app
        .set(admin, "espn", "staging", "MY_API_KEY", "sk-abc123-second")
        .await;
    assert_eq!(second.body["version"], 2);

    let list = app.list(admin, "espn", "staging").await;
    assert_eq!(list.body["secrets"][0]["name"], "MY_API_KEY");
    assert_eq!(list.body["secrets"][0]["version"], 2);
    assert!(list.body["secrets"][0]["updated_by"].is_string());
    assert!(!list.text.contains("sk-abc123"));

    let base = app.secrets_path("espn", "staging");
    let history = app
        .call(
            Method::GET,
            &format!("{base}/MY_API_KEY/versions"),
            admin,
            None,
        )
        .await;
    let versions: Vec<i64> = history.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![2, 1]);

    let deleted = app
        .call(Method::DELETE, &format!("{base}/MY_API_KEY"), admin, None)
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert!(app.names(admin, "espn", "staging").await.is_empty());
    let again = app
        .call(Method::DELETE, &format!("{base}/MY_API_KEY"), admin, None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let rolled = app
        .call(
            Method::POST,
            &format!("{base}/MY_API_KEY/rollback"),
            admin,
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.text);
    assert_eq!(rolled.body["version"], 3);
    assert_eq!(
        app.names(admin, "espn", "staging").await,
        vec!["MY_API_KEY"]
    );
    let read = app.read_value("espn", "staging", "MY_API_KEY").await;
    assert_eq!(
        read.as_deref(),
        Some("sk-abc123-first"),
        "rollback restores version 1's value"
    );

    let missing = app
        .call(
            Method::POST,
            &format!("{base}/MY_API_KEY/rollback"),
            admin,
            Some(json!({"version": 99})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let purged = app
        .call(
            Method::DELETE,
            &format!("{base}/MY_API_KEY?purge=true"),
            admin,
            None,
        )
        .await;
    assert_eq!(purged.body["purged"], true);
    let gone = app
        .call(
            Method::GET,
            &format!("{base}/MY_API_KEY/versions"),
            admin,
            None,
        )
        .await;
    assert_eq!(
        gone.status,
        StatusCode::NOT_FOUND,
        "purge destroys every version"
    );
}

async fn import_is_all_or_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("imp").await;
    let path = app.secrets_path("imp", "production");
    let bad = json!({"secrets": {"GOOD_ONE": "v1", "1BAD": "v2"}});
    let answer = app.call(Method::POST, &path, admin, Some(bad)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    assert!(answer.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("1BAD"));
    assert!(
        app.names(admin, "imp", "production").await.is_empty(),
        "nothing half-written"
    );

    let good = json!({"secrets": {"A_KEY": "1", "B_KEY": "two\nlines"}});
    let answer = app.call(Method::POST, &path, admin, Some(good)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["imported"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.names(admin, "imp", "production").await,
        vec!["A_KEY", "B_KEY"]
    );
    assert!(
        app.names(admin, "imp", "staging").await.is_empty(),
        "environments never mix"
    );
}

async fn limits_are_clear_errors(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("lim").await;
    let max = "x".repeat(64 * 1024);
    assert_eq!(
        app.set(admin, "lim", "staging", "BIG", &max).await.status,
        StatusCode::OK
    );
    let over = app
        .set(admin, "lim", "staging", "BIG", &format!("{max}x"))
        .await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST, "{}", over.text);
    assert!(over.text.contains("64 KiB"), "{}", over.text);
    let long = "A".repeat(257);
    for name in [
        "1ABC",
        "LUMIO_X",
        "MY%20KEY",
        "%CE%91PI_KEY",
        "..%2F..%2Fetc",
        long.as_str(),
    ] {
        let answer = app.set(admin, "lim", "staging", name, "v").await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            answer.text
        );
        assert_eq!(answer.code(), "invalid");
        assert!(answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("name"));
    }
    let bad_env = app.set(admin, "lim", "prod", "OK_NAME", "v").await;
    assert!(
        bad_env.text.contains("staging or production"),
        "{}",
        bad_env.text
    );
    assert_eq!(app.names(admin, "lim", "staging").await, vec!["BIG"]);
}

async fn environment_limit_of_1000(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("many").await;
    let path = app.secrets_path("many", "staging");
    let batch: serde_json::Map<_, _> = (0..1000)
        .map(|i| (format!("K{i:04}"), json!("v")))
        .collect();
    let answer = app
        .call(Method::POST, &path, admin, Some(json!({"secrets": batch})))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let over = app.set(admin, "many", "staging", "ONE_MORE", "v").await;
    assert_eq!(over.code(), "limit", "{}", over.text);
    // The dashboard answers a limit with the same status (one status per error kind).
    assert_eq!(
        over.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        over.text
    );
    assert!(over.text.contains("1000"));
    assert_eq!(app.names(admin, "many", "staging").await.len(), 1000);
    // Replacing an existing secret is not a new one.
    assert_eq!(
        app.set(admin, "many", "staging", "K0001", "w").await.status,
        StatusCode::OK
    );
}

async fn audit_records_every_change(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let admin = &app.admin_token;
    app.create_extension("aud").await;
    let dev = app.token("aud", "developer").await;
    let base = app.secrets_path("aud", "staging");
    let set = app
        .request(Method::PUT, &format!("{base}/API_KEY"), Some(&dev))
        .header("x-request-id", "req-audit-1")
        .json(&json!({"value": "sk-audit-canary"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.headers()["x-request-id"], "req-audit-1");
    app.set(&dev, "aud", "staging", "API_KEY", "sk-audit-canary-2")
        .await;
    app.call(
        Method::POST,
        &format!("{base}/API_KEY/rollback"),
        &dev,
        Some(json!({"version": 1})),
    )
    .await;
    app.call(
        Method::POST,
        &base,
        &dev,
        Some(json!({"secrets": {"OTHER": "x"}})),
    )
    .await;
    app.call(Method::DELETE, &format!("{base}/OTHER"), &dev, None)
        .await;

    let audit = app
        .call(
            Method::GET,
            "/api/v1/extensions/aud/environments/staging/audit",
            admin,
            None,
        )
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    assert!(!audit.text.contains("sk-audit-canary"));
    let events: Vec<&str> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        vec![
            "secret.delete",
            "secret.import",
            "secret.rollback",
            "secret.set",
            "secret.set",
            "token.create",
            "extension.claim_code",
            "extension.create"
        ]
    );
    let first_set = &audit.body["entries"][4];
    assert_eq!(first_set["request_id"], "req-audit-1");
    assert_eq!(first_set["secret"], "API_KEY");
    let dev_id = dev.split('_').nth(1).unwrap();
    assert_eq!(first_set["actor"], dev_id);

    let filtered = app
        .call(
            Method::GET,
            "/api/v1/extensions/aud/environments/staging/audit?event=secret.set&limit=1",
            admin,
            None,
        )
        .await;
    assert_eq!(filtered.body["entries"].as_array().unwrap().len(), 1);
    let before = filtered.body["next_before"].as_i64().expect("a next page");
    let next = app
        .call(Method::GET, &format!("/api/v1/extensions/aud/environments/staging/audit?event=secret.set&before={before}"), admin, None)
        .await;
    assert_eq!(next.body["entries"].as_array().unwrap().len(), 1);
}
