//! Helpers for the dashboard suites: the real server on a random port against a fresh
//! database, an HTTP client that keeps cookies like a browser, and (in `browser`) a real
//! headless Chromium driven through chromedriver.
#![allow(dead_code)]

pub mod browser;
pub mod web;

use lumio_server::{RunningServer, ServerConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend: `both_backends!(name);` calls `name(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::common::Backend::Sqlite).await }
        )*}
        mod postgres {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::common::Backend::Postgres).await }
        )*}
    };
}

pub struct TestApp {
    pub server: Option<RunningServer>,
    pub url: String,
    pub admin_token: String,
    pub data_dir: TempDir,
    pub database_url: String,
    pub http: reqwest::Client,
}

/// Starts the real server; `None` when PostgreSQL is unavailable (the skip was announced).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database_url = match backend {
        Backend::Sqlite => lumio_store::testing::sqlite_url(data_dir.path()),
        Backend::Postgres => lumio_store::testing::fresh_postgres_url().await?,
    };
    Some(start(data_dir, database_url, None).await)
}

/// Another server on `app`'s database with its master key: a second process behind the
/// same load balancer.
pub async fn spawn_second(app: &TestApp) -> TestApp {
    let key = app.data_dir.path().join("master.key");
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut second = start(data_dir, app.database_url.clone(), Some(key)).await;
    second.admin_token = app.admin_token.clone();
    second
}

async fn start(
    data_dir: TempDir,
    database_url: String,
    master_key_file: Option<std::path::PathBuf>,
) -> TestApp {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.path().to_path_buf(),
        database_url: Some(database_url.clone()),
        master_key_file,
        previous_master_key_files: Vec::new(),
        allow_insecure_master_key_file: false,
        allow_private_fetch: true,
        max_inflight_actions: 0,
        client_rate_limit: None,
        db_timeout: None,
        ..ServerConfig::local(data_dir.path())
    };
    let server = lumio_server::start(config).await.expect("server starts");
    // A second server on a used store writes no token file; `spawn_second` fills it in.
    let admin_token = std::fs::read_to_string(data_dir.path().join("admin-token"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    TestApp {
        url: format!("http://{}", server.addr),
        server: Some(server),
        admin_token,
        data_dir,
        database_url,
        http: reqwest::Client::new(),
    }
}

/// An API answer: status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    pub fn service(&self) -> &lumio_secrets::SecretsService {
        &self.server.as_ref().expect("running").service
    }

    /// Calls the JSON API with a bearer token (or none, for the client plane).
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut builder = self.http.request(method, format!("{}{}", self.url, path));
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        let response = builder.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, text }
    }

    pub async fn create_extension(&self, name: &str) {
        let answer = self
            .api(
                Method::POST,
                "/api/v1/extensions",
                Some(&self.admin_token),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    }

    /// A new token with `role` on `extension`.
    pub async fn token(&self, extension: &str, role: &str) -> String {
        self.token_with(json!({"extension": extension, "role": role}))
            .await
    }

    /// A new token as `POST /api/v1/tokens` makes it from `body` (say, with an `env`).
    pub async fn token_with(&self, body: Value) -> String {
        let answer = self
            .api(
                Method::POST,
                "/api/v1/tokens",
                Some(&self.admin_token),
                Some(body),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["token"].as_str().unwrap().to_owned()
    }

    /// Sets a secret through the API, as `lumio env set` does.
    pub async fn api_set(&self, ext: &str, env: &str, name: &str, value: &str) {
        let path = format!("/api/v1/extensions/{ext}/environments/{env}/secrets/{name}");
        let answer = self
            .api(
                Method::PUT,
                &path,
                Some(&self.admin_token),
                Some(json!({"value": value})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }

    /// Secret names through the API, as `lumio env list` shows them.
    pub async fn api_names(&self, ext: &str, env: &str) -> Vec<String> {
        let path = format!("/api/v1/extensions/{ext}/environments/{env}/secrets");
        let answer = self
            .api(Method::GET, &path, Some(&self.admin_token), None)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("clean stop");
        }
    }
}
