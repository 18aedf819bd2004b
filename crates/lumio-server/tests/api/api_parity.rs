//! Environment parity through the real server on both backends: `…/diff` reports names in
//! one environment only and, for names in both, whether the values match, never a value;
//! `…/copy` copies on the server, all or nothing, each written name a new version with its
//! `secret.copy` record; tokens scoped to one environment are refused.

use crate::common::on_each_backend;
use crate::common::{spawn_app, Answer, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_each_backend!(
    diff_reports_names_and_equality_without_values,
    copy_writes_new_versions_all_or_nothing,
    copy_carries_the_egress_binding,
    scoped_tokens_cannot_compare_or_copy_across,
);

const SAME: &str = "same-canary-41a7";
const STAGING_ONLY: &str = "staging-canary-9c2e";
const PRODUCTION_ONLY: &str = "production-canary-5d0b";
const STAGING_DIFF: &str = "staging-differs-77f1";
const PRODUCTION_DIFF: &str = "production-differs-31aa";
const VALUES: [&str; 5] = [
    SAME,
    STAGING_ONLY,
    PRODUCTION_ONLY,
    STAGING_DIFF,
    PRODUCTION_DIFF,
];

/// `alpha` with SAME equal in both, DIFF different, ONLY_S in staging, ONLY_P in production.
async fn seeded(backend: Backend) -> Option<TestApp> {
    let app = spawn_app(backend).await?;
    app.create_extension("alpha").await;
    let admin = &app.admin_token;
    for (env, name, value) in [
        ("staging", "SAME", SAME),
        ("production", "SAME", SAME),
        ("staging", "DIFF", STAGING_DIFF),
        ("production", "DIFF", PRODUCTION_DIFF),
        ("staging", "ONLY_S", STAGING_ONLY),
        ("production", "ONLY_P", PRODUCTION_ONLY),
    ] {
        let set = app.set(admin, "alpha", env, name, value).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    }
    Some(app)
}

async fn diff(app: &TestApp, token: &str, env: &str, with: &str) -> Answer {
    let path = format!("/api/v1/extensions/alpha/environments/{env}/diff?with={with}");
    app.call(Method::GET, &path, token, None).await
}

async fn copy(app: &TestApp, token: &str, to: &str, body: Value) -> Answer {
    let path = format!("/api/v1/extensions/alpha/environments/{to}/copy");
    app.call(Method::POST, &path, token, Some(body)).await
}

async fn audit(app: &TestApp, env: &str, event: &str) -> Vec<Value> {
    let path = format!("/api/v1/extensions/alpha/environments/{env}/audit?event={event}");
    let answer = app.call(Method::GET, &path, &app.admin_token, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["entries"].as_array().unwrap().clone()
}

fn never_shows_a_value(answer: &Answer) {
    for value in VALUES {
        assert!(!answer.text.contains(value), "leaked: {}", answer.text);
    }
}

async fn diff_reports_names_and_equality_without_values(backend: Backend) {
    let Some(app) = seeded(backend).await else {
        return;
    };
    let viewer = app.token("alpha", "viewer").await;
    let answer = diff(&app, &viewer, "staging", "production").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.body,
        json!({
            "environment": "staging",
            "other": "production",
            "equal": false,
            "only_in_environment": ["ONLY_S"],
            "only_in_other": ["ONLY_P"],
            "differ": ["DIFF"],
            "same": ["SAME"],
        })
    );
    never_shows_a_value(&answer);
    // The other way round swaps the one-sided lists.
    let reverse = diff(&app, &viewer, "production", "staging").await;
    assert_eq!(reverse.body["only_in_environment"], json!(["ONLY_P"]));
    assert_eq!(reverse.body["only_in_other"], json!(["ONLY_S"]));
    // Audited once per comparison, naming both environments, visible from either.
    for env in ["staging", "production"] {
        let records = audit(&app, env, "secret.compared").await;
        assert_eq!(records.len(), 2, "{records:?}");
        let detail = records[1]["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("compared staging with production"),
            "{detail}"
        );
        assert!(detail.contains("1 differ"), "{detail}");
    }
    // A deleted secret is no longer compared.
    let delete = format!("{}/ONLY_P", app.secrets_path("alpha", "production"));
    app.call(Method::DELETE, &delete, &app.admin_token, None)
        .await;
    let after = diff(&app, &viewer, "staging", "production").await;
    assert_eq!(after.body["only_in_other"], json!([]));

    // Bad input: an unknown environment on either side, or the same one twice.
    for (env, with) in [("prod", "staging"), ("staging", "prod")] {
        let bad = diff(&app, &viewer, env, with).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
        assert!(bad.text.contains("staging or production"), "{}", bad.text);
    }
    // Well-formed but impossible: 422, as the document says.
    let same = diff(&app, &viewer, "staging", "staging").await;
    assert_eq!(
        same.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        same.text
    );
    assert_eq!(same.code(), "unprocessable");
    assert!(same.text.contains("two different"), "{}", same.text);
    let path = "/api/v1/extensions/alpha/environments/staging/diff";
    let missing = app.call(Method::GET, path, &viewer, None).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.text);
    assert!(missing.text.contains("?with="), "{}", missing.text);

    let doc = app.openapi().await;
    let paths = doc.body["paths"].as_object().expect("openapi paths");
    for expected in [
        "/api/v1/extensions/{ext}/environments/{env}/diff",
        "/api/v1/extensions/{ext}/environments/{env}/copy",
    ] {
        assert!(paths.contains_key(expected), "openapi lacks {expected}");
    }
}

/// The binding of `name` in `env` as the listing shows it (`None`: unbound).
async fn binding(app: &TestApp, env: &str, name: &str) -> Option<Value> {
    let list = app.list(&app.admin_token, "alpha", env).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let secrets = list.body["secrets"].as_array().unwrap().clone();
    let secret = secrets.into_iter().find(|s| s["name"] == name)?;
    secret.get("allowed_hosts").cloned()
}

async fn bind(app: &TestApp, env: &str, name: &str, hosts: Value) {
    let path = format!("{}/{name}/binding", app.secrets_path("alpha", env));
    let body = json!({ "allowed_hosts": hosts });
    let bound = app
        .call(Method::PUT, &path, &app.admin_token, Some(body))
        .await;
    assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
}

/// A production-bound value copied to staging stays bound there: otherwise a staging
/// developer could send it anywhere from a staging action.
async fn copy_carries_the_egress_binding(backend: Backend) {
    let Some(app) = seeded(backend).await else {
        return;
    };
    let developer = app.token("alpha", "developer").await;
    bind(&app, "production", "ONLY_P", json!(["api.stripe.com"])).await;
    bind(&app, "production", "SAME", json!(["*.stripe.com"])).await;
    let body = json!({"from": "production", "names": ["ONLY_P", "SAME", "DIFF"]});
    let copied = copy(&app, &developer, "staging", body).await;
    assert_eq!(copied.status, StatusCode::OK, "{}", copied.text);
    never_shows_a_value(&copied);
    assert_eq!(
        binding(&app, "staging", "ONLY_P").await,
        Some(json!(["api.stripe.com"]))
    );
    // An equal value whose binding differs is copied too, for the binding.
    assert_eq!(
        binding(&app, "staging", "SAME").await,
        Some(json!(["*.stripe.com"]))
    );
    assert_eq!(copied.body["unchanged"], json!([]), "{}", copied.text);
    // An unbound source leaves the target's binding as it is (a copy never loosens one).
    assert_eq!(binding(&app, "staging", "DIFF").await, None);
    bind(&app, "production", "DIFF", json!(["api.example.com"])).await;
    bind(&app, "staging", "ONLY_S", json!(["api.example.com"])).await;
    let body = json!({"from": "staging", "names": ["ONLY_S"]});
    let back = copy(&app, &developer, "production", body).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text);
    assert_eq!(
        binding(&app, "production", "ONLY_S").await,
        Some(json!(["api.example.com"]))
    );
    // Each binding the copy set is recorded like any binding change.
    let changed = audit(&app, "staging", "secret.binding_changed").await;
    let names: Vec<&str> = changed
        .iter()
        .filter_map(|r| r["secret"].as_str())
        .collect();
    assert!(
        names.contains(&"ONLY_P") && names.contains(&"SAME"),
        "{changed:?}"
    );
    // Copying again changes nothing: same values, same bindings.
    let body = json!({"from": "production", "names": ["ONLY_P", "SAME"]});
    let again = copy(&app, &developer, "staging", body).await;
    assert_eq!(again.body["copied"], json!([]), "{}", again.text);
}

async fn versions(app: &TestApp, env: &str, name: &str) -> usize {
    let path = format!("{}/{name}/versions", app.secrets_path("alpha", env));
    let answer = app.call(Method::GET, &path, &app.admin_token, None).await;
    answer.body["versions"].as_array().map_or(0, Vec::len)
}

async fn copy_writes_new_versions_all_or_nothing(backend: Backend) {
    let Some(app) = seeded(backend).await else {
        return;
    };
    let developer = app.token("alpha", "developer").await;
    // One missing name: a clear error, and nothing copied.
    let body = json!({"from": "staging", "names": ["DIFF", "ONLY_S", "NO_SUCH"]});
    let refused = copy(&app, &developer, "production", body).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.text);
    assert!(refused.text.contains("NO_SUCH"), "{}", refused.text);
    assert!(
        refused.text.contains("nothing was copied"),
        "{}",
        refused.text
    );
    assert_eq!(
        app.read_value("alpha", "production", "DIFF")
            .await
            .as_deref(),
        Some(PRODUCTION_DIFF)
    );
    assert_eq!(app.read_value("alpha", "production", "ONLY_S").await, None);
    assert_eq!(versions(&app, "production", "DIFF").await, 1);
    assert!(audit(&app, "production", "secret.copy").await.is_empty());

    // Copied: DIFF as version 2, ONLY_S as version 1; SAME already equal, so skipped.
    let body = json!({"from": "staging", "names": ["SAME", "DIFF", "ONLY_S"]});
    let copied = copy(&app, &developer, "production", body).await;
    assert_eq!(copied.status, StatusCode::OK, "{}", copied.text);
    assert_eq!(
        copied.body,
        json!({
            "from": "staging",
            "to": "production",
            "copied": [{"name": "DIFF", "version": 2}, {"name": "ONLY_S", "version": 1}],
            "unchanged": ["SAME"],
        })
    );
    never_shows_a_value(&copied);
    assert_eq!(
        app.read_value("alpha", "production", "DIFF")
            .await
            .as_deref(),
        Some(STAGING_DIFF)
    );
    assert_eq!(
        app.read_value("alpha", "production", "ONLY_S")
            .await
            .as_deref(),
        Some(STAGING_ONLY)
    );
    assert_eq!(versions(&app, "production", "SAME").await, 1);
    let records = audit(&app, "production", "secret.copy").await;
    let mut named: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r["secret"].as_str().unwrap(), r["detail"].as_str().unwrap()))
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            ("DIFF", "copied from staging as version 2"),
            ("ONLY_S", "copied from staging as version 1"),
        ]
    );
    assert!(records.iter().all(|r| r["environment"] == "production"));

    // --all the other way: only ONLY_P is new to staging.
    let all = copy(
        &app,
        &developer,
        "staging",
        json!({"from": "production", "all": true}),
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(
        all.body["copied"],
        json!([{"name": "ONLY_P", "version": 1}])
    );
    assert_eq!(all.body["unchanged"], json!(["DIFF", "ONLY_S", "SAME"]));
    let equal = diff(&app, &developer, "staging", "production").await;
    assert_eq!(equal.body["equal"], true, "{}", equal.text);
    assert_eq!(
        equal.body["same"],
        json!(["DIFF", "ONLY_P", "ONLY_S", "SAME"])
    );

    // Roles as for set: a viewer may compare but not copy.
    let viewer = app.token("alpha", "viewer").await;
    let body = json!({"from": "staging", "all": true});
    let forbidden = copy(&app, &viewer, "production", body).await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{}",
        forbidden.text
    );
    // One environment twice is well-formed but impossible: 422.
    let same = copy(
        &app,
        &developer,
        "production",
        json!({"from": "production", "all": true}),
    )
    .await;
    assert_eq!(
        same.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        same.text
    );
    assert!(same.text.contains("two different"), "{}", same.text);
    // Bad requests say what to do.
    for (body, needle) in [
        (json!({"from": "staging"}), "at least one"),
        (
            json!({"from": "prod", "all": true}),
            "staging or production",
        ),
        (json!({"from": "staging", "names": ["1BAD"]}), "1BAD"),
        (
            json!({"from": "staging", "names": ["A"], "all": true}),
            "not both",
        ),
        (json!({"from": "staging", "name": ["A"]}), "name"),
    ] {
        let bad = copy(&app, &developer, "production", body.clone()).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{body}: {}", bad.text);
        assert!(bad.text.contains(needle), "{body}: {}", bad.text);
    }
}

async fn scoped_tokens_cannot_compare_or_copy_across(backend: Backend) {
    let Some(app) = seeded(backend).await else {
        return;
    };
    let body = json!({"extension": "alpha", "role": "owner", "env": "staging"});
    let created = app
        .call(Method::POST, "/api/v1/tokens", &app.admin_token, Some(body))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let staging_owner = created.body["token"].as_str().unwrap().to_owned();
    let refusals = [
        diff(&app, &staging_owner, "staging", "production").await,
        diff(&app, &staging_owner, "production", "staging").await,
        copy(
            &app,
            &staging_owner,
            "production",
            json!({"from": "staging", "all": true}),
        )
        .await,
        copy(
            &app,
            &staging_owner,
            "staging",
            json!({"from": "production", "all": true}),
        )
        .await,
        copy(
            &app,
            &staging_owner,
            "staging",
            json!({"from": "production", "names": ["NO_SUCH"]}),
        )
        .await,
    ];
    for refused in &refusals {
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert!(
            refused.text.contains("scoped to staging"),
            "{}",
            refused.text
        );
        never_shows_a_value(refused);
    }
    assert_eq!(
        app.read_value("alpha", "production", "DIFF")
            .await
            .as_deref(),
        Some(PRODUCTION_DIFF)
    );
    assert_eq!(app.read_value("alpha", "staging", "ONLY_P").await, None);
    assert!(audit(&app, "staging", "secret.compared").await.is_empty());
    assert!(audit(&app, "production", "secret.copy").await.is_empty());
    assert!(audit(&app, "staging", "secret.copy").await.is_empty());
}
