//! Restarts, master keys, and several servers on one database.

mod common;

use common::{spawn_app, spawn_with, Backend};

both_backends!(
    secrets_survive_a_restart,
    another_master_key_refuses_to_start
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
    std::fs::write(&other_key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n").unwrap();
    let err = match spawn_with(data_dir, database_url, Some(other_key)).await {
        Ok(_) => panic!("a server with another master key must refuse to start"),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains("master key"), "{err}");
    assert!(err.contains("refusing to start"), "{err}");
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

/// Two server processes' worth of state on one PostgreSQL: a write through one is read
/// through the other at once, with each keeping its own cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_see_each_others_writes() {
    let Some(a) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let key_file = a.data_dir.path().join("master.key");
    let b_dir = tempfile::tempdir().unwrap();
    let b = spawn_with(b_dir, a.database_url.clone(), Some(key_file))
        .await
        .expect("second server");
    let admin = &a.admin_token;
    a.create_extension("shared").await;

    a.set(admin, "shared", "staging", "ROTATING", "value-1")
        .await;
    assert_eq!(
        b.read_value("shared", "staging", "ROTATING")
            .await
            .as_deref(),
        Some("value-1")
    );
    for round in 2..=20 {
        let value = format!("value-{round}");
        a.set(admin, "shared", "staging", "ROTATING", &value).await;
        // B has the previous value cached; A's write must evict it at once.
        assert_eq!(
            b.read_value("shared", "staging", "ROTATING")
                .await
                .as_deref(),
            Some(value.as_str()),
            "round {round}"
        );
    }
    let path = format!("{}/ROTATING", a.secrets_path("shared", "staging"));
    a.call(reqwest::Method::DELETE, &path, admin, None).await;
    assert_eq!(b.read_value("shared", "staging", "ROTATING").await, None);
    assert_eq!(
        b.names(admin, "shared", "staging").await,
        Vec::<String>::new()
    );
}
