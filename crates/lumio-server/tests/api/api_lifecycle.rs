//! Restarts, master keys, and several servers on one database.

use crate::common;
use crate::common::on_each_backend;
use crate::common::{spawn_app, spawn_rotating, spawn_with, Backend};
use lumio_crypto::MasterKey;
use reqwest::{Method, StatusCode};

on_each_backend!(
    secrets_survive_a_restart,
    another_master_key_refuses_to_start,
    the_master_key_rotates_without_losing_a_secret,
    an_interrupted_rotation_refuses_the_old_key_alone
);

async fn secrets_survive_a_restart(backend: Backend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token.clone();
    app.create_extension("keep").await;
    app.set(
        &admin,
        "keep",
        "production",
        "DURABLE",
        "still-here-after-restart",
    )
    .await;
    app.stop().await;

    let TestAppParts {
        data_dir,
        database_url,
    } = parts(app);
    let app = spawn_with(data_dir, database_url, None)
        .await
        .expect("restart");
    assert_eq!(
        app.admin_token,
        admin.trim(),
        "no new admin token on a used store"
    );
    assert_eq!(
        app.names(&admin, "keep", "production").await,
        vec!["DURABLE"]
    );
    assert_eq!(
        app.read_value("keep", "production", "DURABLE")
            .await
            .as_deref(),
        Some("still-here-after-restart")
    );
}

async fn another_master_key_refuses_to_start(backend: Backend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token.clone();
    app.create_extension("locked").await;
    app.set(&admin, "locked", "staging", "K", "v").await;
    app.stop().await;

    let TestAppParts {
        data_dir,
        database_url,
    } = parts(app);
    let other_key = data_dir.path().join("other.key");
    common::write_key_file(&other_key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
    let err = match spawn_with(data_dir, database_url, Some(other_key)).await {
        Ok(_) => panic!("a server with another master key must refuse to start"),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains("master key"), "{err}");
    assert!(err.contains("refusing to start"), "{err}");
}

/// 32 bytes of 0x01: the key rotated to.
const NEW_KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

/// Secrets in two extensions and both environments, with past versions and a deleted one,
/// move to a new master key at a start given the old one as previous: every value and
/// version still opens, nothing stays under the old key, and from then on the new key
/// alone starts the server while the old one is refused.
async fn the_master_key_rotates_without_losing_a_secret(backend: Backend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token.clone();
    app.create_extension("turn").await;
    app.create_extension("other").await;
    for (ext, env, name, value) in [
        ("turn", "staging", "API_KEY", "rotation-first-value"),
        ("turn", "staging", "API_KEY", "rotation-second-value"),
        ("turn", "production", "API_KEY", "rotation-production-value"),
        ("other", "staging", "GONE", "rotation-deleted-value"),
    ] {
        let set = app.set(&admin, ext, env, name, value).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    }
    let gone = format!("{}/GONE", app.secrets_path("other", "staging"));
    let deleted = app.call(Method::DELETE, &gone, &admin, None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    app.stop().await;

    let TestAppParts {
        data_dir,
        database_url,
    } = parts(app);
    let old_key = data_dir.path().join("master.key");
    let new_key = data_dir.path().join("new.key");
    common::write_key_file(&new_key, NEW_KEY);
    let mut app = spawn_rotating(
        data_dir,
        database_url,
        Some(new_key.clone()),
        vec![old_key.clone()],
    )
    .await
    .expect("a start with the new key and the old one as previous");
    let new_id = MasterKey::from_base64(NEW_KEY).unwrap().id().to_string();
    // A store of the test's own on the server's database: the service keeps its own.
    let store = lumio_store::connect(&app.database_url).await.unwrap();
    let left = store.versions_not_under(&new_id, None, 100).await.unwrap();
    assert!(left.is_empty(), "still under another key: {left:?}");
    assert_eq!(
        app.read_value("turn", "staging", "API_KEY")
            .await
            .as_deref(),
        Some("rotation-second-value")
    );
    assert_eq!(
        app.read_value("turn", "production", "API_KEY")
            .await
            .as_deref(),
        Some("rotation-production-value")
    );
    // Past and deleted versions were moved too: rolling back opens them.
    for (ext, name, expected) in [
        ("turn", "API_KEY", "rotation-first-value"),
        ("other", "GONE", "rotation-deleted-value"),
    ] {
        let path = format!("{}/{name}/rollback", app.secrets_path(ext, "staging"));
        let body = Some(serde_json::json!({"version": 1}));
        let rolled = app.call(Method::POST, &path, &admin, body).await;
        assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.text);
        assert_eq!(
            app.read_value(ext, "staging", name).await.as_deref(),
            Some(expected)
        );
    }
    app.stop().await;

    let TestAppParts {
        data_dir,
        database_url,
    } = parts(app);
    let mut app = spawn_with(data_dir, database_url, Some(new_key))
        .await
        .expect("the new key alone starts once the rotation is done");
    assert_eq!(
        app.read_value("turn", "production", "API_KEY")
            .await
            .as_deref(),
        Some("rotation-production-value")
    );
    app.stop().await;
    let TestAppParts {
        data_dir,
        database_url,
    } = parts(app);
    let err = match spawn_with(data_dir, database_url, Some(old_key)).await {
        Ok(_) => panic!("the old key must be refused after the rotation"),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains("master key"), "{err}");
}

/// A rotation stopped after the secrets moved but before the key check did (a kill at that
/// moment): the old key still passes the check, yet the moved secrets would not open, so a
/// start with the old key alone is refused (its hint names `--previous-master-key-file`).
async fn an_interrupted_rotation_refuses_the_old_key_alone(backend: Backend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let admin = app.admin_token.clone();
    app.create_extension("half").await;
    let set = app
        .set(&admin, "half", "staging", "API_KEY", "half-rotated-value")
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let store = lumio_store::connect(&app.database_url).await.unwrap();
    let old_check = store.meta_get("key_check").await.unwrap().unwrap();
    drop(store);
    app.stop().await;

    let TestAppParts {
        data_dir,
        database_url,
    } = parts(app);
    let old_key = data_dir.path().join("master.key");
    let new_key = data_dir.path().join("new.key");
    common::write_key_file(&new_key, NEW_KEY);
    let mut app = spawn_rotating(data_dir, database_url, Some(new_key), vec![old_key.clone()])
        .await
        .expect("rotating start");
    // Undo the rotation's last step: the key check is back under the old key.
    let store = lumio_store::connect(&app.database_url).await.unwrap();
    let new_check = store.meta_get("key_check").await.unwrap().unwrap();
    assert!(store
        .meta_replace("key_check", &new_check, &old_check)
        .await
        .unwrap());
    drop(store);
    app.stop().await;

    let TestAppParts {
        data_dir,
        database_url,
    } = parts(app);
    let err = match spawn_with(data_dir, database_url, Some(old_key)).await {
        Ok(_) => panic!("the old key alone must be refused while secrets are under the new one"),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains("rotation was interrupted"), "{err}");
}

/// Two servers on one fresh PostgreSQL database with the same master key; `None` (said
/// loudly) without PostgreSQL.
async fn two_servers() -> Option<(common::TestApp, common::TestApp)> {
    let a = spawn_app(Backend::Postgres).await?;
    let key_file = a.data_dir.path().join("master.key");
    let b = spawn_with(
        tempfile::tempdir().unwrap(),
        a.database_url.clone(),
        Some(key_file),
    )
    .await
    .expect("second server");
    Some((a, b))
}

struct TestAppParts {
    data_dir: tempfile::TempDir,
    database_url: String,
}

fn parts(app: common::TestApp) -> TestAppParts {
    TestAppParts {
        data_dir: app.data_dir,
        database_url: app.database_url,
    }
}

/// Two servers on one PostgreSQL, each with its own caches: a write through A's API is
/// read by the very next action run through B's API, 100 times in a row. The action
/// returns only the value's round number, so the leak guard lets it through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_see_each_others_writes() {
    let Some((a, b)) = two_servers().await else {
        return;
    };
    let admin = &a.admin_token;
    a.create_extension("shared").await;
    let source = r#"import { action } from "@zaflun/lumio-sdk/server";
export const round = action({ args: {}, handler: async (ctx) => {
  const value = ctx.secrets.get("ROTATING");
  return value === null ? null : Number(value.split(":")[1]);
} });
"#;
    let deploy = a
        .call(
            reqwest::Method::POST,
            "/api/v1/extensions/shared/environments/staging/deployments",
            admin,
            Some(serde_json::json!({"files": {"server/probe.ts": source}})),
        )
        .await;
    assert_eq!(
        deploy.status,
        reqwest::StatusCode::CREATED,
        "{}",
        deploy.text
    );
    let run_on_b = || async {
        let answer = b
            .request(
                reqwest::Method::POST,
                "/api/v1/extensions/shared/environments/staging/actions/probe:round",
                None,
            )
            .json(&serde_json::json!({"args": {}}))
            .send()
            .await
            .unwrap();
        common::Answer::from(answer).await.body["value"].clone()
    };
    for round in 1..=100 {
        let value = format!("rotating-secret-value:{round}");
        let set = a.set(admin, "shared", "staging", "ROTATING", &value).await;
        assert_eq!(set.status, reqwest::StatusCode::OK, "{}", set.text);
        // B has the previous value cached; A's write must evict it before this run.
        assert_eq!(run_on_b().await, serde_json::json!(round), "round {round}");
    }
    let path = format!("{}/ROTATING", a.secrets_path("shared", "staging"));
    a.call(reqwest::Method::DELETE, &path, admin, None).await;
    assert_eq!(run_on_b().await, serde_json::Value::Null);
    assert_eq!(
        b.names(admin, "shared", "staging").await,
        Vec::<String>::new()
    );
}

/// Each server remembers the versions it wrote to skip a read before the next write; a
/// write through the other server makes that memory stale, and the write must still get
/// the next version (after one retry), never a gap or a lost update. A purge through one
/// restarts the name at version 1 for both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_writing_one_secret_keep_its_versions_in_order() {
    let Some((a, b)) = two_servers().await else {
        return;
    };
    let admin = &a.admin_token;
    a.create_extension("shared").await;
    let version_of = |answer: &common::Answer| answer.body["version"].as_i64();
    for version in 1..=12i64 {
        // Two in a row on one server now and then, so hints are sometimes right.
        let through = if version % 3 == 0 { &a } else { &b };
        let set = through
            .set(
                admin,
                "shared",
                "staging",
                "TURNS",
                &format!("turn-{version}"),
            )
            .await;
        assert_eq!(set.status, reqwest::StatusCode::OK, "{}", set.text);
        assert_eq!(version_of(&set), Some(version), "{}", set.text);
    }
    let history = format!("{}/TURNS/versions", a.secrets_path("shared", "staging"));
    let versions = |answer: common::Answer| -> Vec<i64> {
        let listed = answer.body["versions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        listed
            .iter()
            .filter_map(|v| v["version"].as_i64())
            .collect()
    };
    let kept = versions(a.call(reqwest::Method::GET, &history, admin, None).await);
    assert_eq!(kept, (1..=12).rev().collect::<Vec<i64>>());
    let path = format!("{}/TURNS?purge=true", b.secrets_path("shared", "staging"));
    let purged = b.call(reqwest::Method::DELETE, &path, admin, None).await;
    assert!(purged.status.is_success(), "{}", purged.text);
    let again = a
        .set(admin, "shared", "staging", "TURNS", "after-purge")
        .await;
    assert_eq!(version_of(&again), Some(1), "{}", again.text);
    let kept = versions(b.call(reqwest::Method::GET, &history, admin, None).await);
    assert_eq!(kept, vec![1]);
}

/// A deploy through A is what the very next invocation through B runs, every time: B's
/// cached deployment is dropped through the change feed, not when a timer runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_through_one_server_is_run_by_the_next_call_through_another() {
    let Some((a, b)) = two_servers().await else {
        return;
    };
    let admin = &a.admin_token;
    a.create_extension("shipping").await;
    let deploy_path = "/api/v1/extensions/shipping/environments/staging/deployments";
    let run_path = "/api/v1/extensions/shipping/environments/staging/actions/probe:release";
    for release in 1..=10 {
        let source = format!(
            "import {{ action }} from \"@zaflun/lumio-sdk/server\";\n\
             export const release = action({{ args: {{}}, handler: async () => {release} }});\n"
        );
        let files = serde_json::json!({"files": {"server/probe.ts": source}});
        let deployed = a.call(Method::POST, deploy_path, admin, Some(files)).await;
        assert_eq!(deployed.status, StatusCode::CREATED, "{}", deployed.text);
        let answer = b
            .request(Method::POST, run_path, None)
            .json(&serde_json::json!({"args": {}}))
            .send()
            .await
            .unwrap();
        let answer = common::Answer::from(answer).await;
        assert_eq!(
            answer.body["value"], release,
            "release {release}: {}",
            answer.text
        );
    }
}
