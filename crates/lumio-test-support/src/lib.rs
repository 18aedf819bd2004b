//! What the API and dashboard suites share: the real server, in process, on a random
//! loopback port against a fresh database (a new SQLite file, or a new PostgreSQL
//! database), with a fresh data dir; second servers on the same database; JSON calls.

use std::path::PathBuf;

use lumio_api::extensions::{ClaimCodeView, Claimed, CreateExtension};
use lumio_api::paths;
use lumio_api::secrets::SecretList;
use lumio_api::tokens::{CreateToken, CreatedToken};
use lumio_secrets::Clock;
use lumio_server::{RunningServer, ServerConfig};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

/// The one both-backends helper (`lumio_store::testing`), re-exported so the API and
/// dashboard suites name it from here: `on_each_backend!(name);` makes `sqlite::name` and
/// `postgres::name`, each calling `async fn name(Backend)`.
pub mod receiver;

pub use lumio_store::on_each_backend;
pub use lumio_store::testing::Backend;

/// A clock for tests: the system's, plus however far the test has moved it ahead. Every
/// [`TestApp`] runs on one (a second server shares its first's), so a test sees a token,
/// session, claim code or support grant expire by moving the clock, not by sleeping.
#[derive(Clone, Default)]
pub struct TestClock {
    ahead_micros: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl TestClock {
    /// Moves the clock ahead by `by`, for every server on it.
    pub fn advance(&self, by: std::time::Duration) {
        let micros =
            i64::try_from(by.as_micros()).expect("a test moves the clock by years at most");
        self.ahead_micros
            .fetch_add(micros, std::sync::atomic::Ordering::SeqCst);
    }

    /// The service's view of this clock.
    pub fn clock(&self) -> Clock {
        let ahead = self.ahead_micros.clone();
        Clock::from_fn(move || {
            let micros = ahead.load(std::sync::atomic::Ordering::SeqCst);
            chrono::Utc::now() + chrono::Duration::microseconds(micros)
        })
    }
}

pub struct TestApp {
    pub server: Option<RunningServer>,
    pub url: String,
    pub admin_token: String,
    pub data_dir: TempDir,
    pub database_url: String,
    pub http: reqwest::Client,
    /// The owner token of each claimed extension, so helpers act as the owner once staff
    /// may no longer write there (shared with second servers on the same database).
    pub owners: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    /// The clock the server reads for expiry and retention; `advance` it to let time pass.
    pub clock: TestClock,
}

/// A database URL for `backend`, or `None` (after a loud warning) when PostgreSQL is not
/// available on this machine and `LUMIO_REQUIRE_POSTGRES` is unset.
pub async fn database_url(backend: Backend, dir: &std::path::Path) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(lumio_store::testing::sqlite_url(dir)),
        Backend::Postgres => lumio_store::testing::fresh_postgres_url().await,
    }
}

/// Starts a server; `None` when the backend is unavailable (the skip was announced).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database_url = database_url(backend, data_dir.path()).await?;
    Some(
        spawn_with(data_dir, database_url, None)
            .await
            .expect("server starts"),
    )
}

/// [`spawn_app`] with `tweak` applied to the server's configuration first.
pub async fn spawn_app_with(
    backend: Backend,
    tweak: impl FnOnce(&mut ServerConfig),
) -> Option<TestApp> {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database_url = database_url(backend, data_dir.path()).await?;
    let mut config = test_config(&data_dir, &database_url, None, Vec::new());
    tweak(&mut config);
    Some(
        start_app(config, data_dir, TestClock::default())
            .await
            .expect("server starts"),
    )
}

/// Another server on `app`'s database with its master key: a second process behind the
/// same load balancer.
pub async fn spawn_second(app: &TestApp) -> TestApp {
    let key = app.data_dir.path().join("master.key");
    let data_dir = tempfile::tempdir().expect("temp dir");
    let config = test_config(&data_dir, &app.database_url, Some(key), Vec::new());
    let mut second = start_app(config, data_dir, app.clock.clone())
        .await
        .expect("second server starts");
    // A second server on a used store writes no token file.
    second.admin_token = app.admin_token.clone();
    second.owners = app.owners.clone();
    second
}

/// Starts a server on an existing data dir and database (for restarts and second servers).
pub async fn spawn_with(
    data_dir: TempDir,
    database_url: String,
    master_key_file: Option<PathBuf>,
) -> anyhow::Result<TestApp> {
    spawn_rotating(data_dir, database_url, master_key_file, Vec::new()).await
}

/// [`spawn_with`], also given master keys being rotated away from.
pub async fn spawn_rotating(
    data_dir: TempDir,
    database_url: String,
    master_key_file: Option<PathBuf>,
    previous_master_key_files: Vec<PathBuf>,
) -> anyhow::Result<TestApp> {
    let config = test_config(
        &data_dir,
        &database_url,
        master_key_file,
        previous_master_key_files,
    );
    start_app(config, data_dir, TestClock::default()).await
}

fn test_config(
    data_dir: &TempDir,
    database_url: &str,
    master_key_file: Option<PathBuf>,
    previous_master_key_files: Vec<PathBuf>,
) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.path().to_path_buf(),
        database_url: Some(database_url.to_owned()),
        master_key_file,
        previous_master_key_files,
        allow_insecure_master_key_file: false,
        allow_private_fetch: true,
        max_inflight_actions: 0,
        client_rate_limit: None,
        db_timeout: None,
        ..ServerConfig::local(data_dir.path())
    }
}

async fn start_app(
    config: ServerConfig,
    data_dir: TempDir,
    clock: TestClock,
) -> anyhow::Result<TestApp> {
    let database_url = config.database_url.clone().unwrap_or_default();
    let server = lumio_server::start_with_clock(config, clock.clock()).await?;
    let admin_token = std::fs::read_to_string(data_dir.path().join("admin-token"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    Ok(TestApp {
        url: format!("http://{}", server.addr),
        server: Some(server),
        admin_token,
        data_dir,
        database_url,
        http: reqwest::Client::new(),
        owners: Default::default(),
        clock,
    })
}

/// Writes a master key file readable only by its owner, as the server requires.
pub fn write_key_file(path: &std::path::Path, key: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, key).expect("write key file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

/// An answer: status, headers we care about, and the JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub request_id: Option<String>,
    pub retry_after: Option<String>,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub async fn from(response: Response) -> Self {
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            request_id,
            retry_after,
            body,
            text,
        }
    }

    /// The body as the API's type for it: a test fails here when the server's answer
    /// and `lumio_api` disagree.
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone()).unwrap_or_else(|err| {
            panic!(
                "the answer is not a {}: {err}: {}",
                std::any::type_name::<T>(),
                self.text
            )
        })
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.http.request(method, format!("{}{}", self.url, path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut builder = self.request(method, path, Some(token));
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        Answer::from(builder.send().await.expect("request")).await
    }

    /// Calls the JSON API with a bearer token, or none (the client plane).
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut builder = self.request(method, path, token);
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        Answer::from(builder.send().await.expect("request")).await
    }

    /// The OpenAPI document, fetched without a token.
    pub async fn openapi(&self) -> Answer {
        let response = self.request(Method::GET, paths::OPENAPI, None);
        Answer::from(response.send().await.expect("request")).await
    }

    pub async fn create_extension(&self, name: &str) {
        let answer = self
            .call(
                Method::POST,
                paths::EXTENSIONS,
                &self.admin_token,
                Some(wire(&CreateExtension {
                    name: name.to_owned(),
                    claim_expires_in: None,
                })),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    }

    /// Creates `name` and redeems its claim code, as a customer would: the owner token
    /// is returned and kept for the helpers that act in the extension.
    pub async fn claimed_extension(&self, name: &str) -> String {
        let answer = self
            .call(
                Method::POST,
                paths::EXTENSIONS,
                &self.admin_token,
                Some(wire(&CreateExtension {
                    name: name.to_owned(),
                    claim_expires_in: None,
                })),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        let code = answer.typed::<ClaimCodeView>().claim_code;
        let claimed = self
            .api(
                Method::POST,
                paths::CLAIMS,
                None,
                Some(json!({ "code": code })),
            )
            .await;
        assert_eq!(claimed.status, StatusCode::CREATED, "{}", claimed.text);
        let token = claimed.typed::<Claimed>().token;
        self.remember_owner(name, &token);
        token
    }

    fn remember_owner(&self, extension: &str, token: &str) {
        self.owners
            .lock()
            .expect("owners lock")
            .insert(extension.to_owned(), token.to_owned());
    }

    /// Who acts in `extension` for the helpers: its owner once it has one (staff may no
    /// longer write there), else the instance admin.
    pub fn actor_in(&self, extension: &str) -> String {
        let owners = self.owners.lock().expect("owners lock");
        owners
            .get(extension)
            .cloned()
            .unwrap_or_else(|| self.admin_token.clone())
    }

    /// A new token with `role` on `extension`, made by its owner (or, before it has one,
    /// the admin: the first owner token claims the extension).
    pub async fn token(&self, extension: &str, role: &str) -> String {
        let token = self
            .token_with(wire(&CreateToken {
                extension: Some(extension.to_owned()),
                role: Some(role.to_owned()),
                ..CreateToken::default()
            }))
            .await;
        if role == "owner" && self.actor_in(extension) == self.admin_token {
            self.remember_owner(extension, &token);
        }
        token
    }

    /// A new token as `POST /api/v1/tokens` makes it from `body` (say, with an `env`), by
    /// the extension's owner when it has one, else the admin.
    pub async fn token_with(&self, body: Value) -> String {
        let creator = match body["extension"].as_str() {
            Some(extension) => self.actor_in(extension),
            None => self.admin_token.clone(),
        };
        let answer = self
            .call(Method::POST, paths::TOKENS, &creator, Some(body))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.typed::<CreatedToken>().token
    }

    pub fn secrets_path(&self, extension: &str, env: &str) -> String {
        format!("/api/v1/extensions/{extension}/environments/{env}/secrets")
    }

    pub async fn set(
        &self,
        token: &str,
        extension: &str,
        env: &str,
        name: &str,
        value: &str,
    ) -> Answer {
        let path = format!("{}/{name}", self.secrets_path(extension, env));
        self.call(Method::PUT, &path, token, Some(json!({"value": value})))
            .await
    }

    pub async fn list(&self, token: &str, extension: &str, env: &str) -> Answer {
        self.call(Method::GET, &self.secrets_path(extension, env), token, None)
            .await
    }

    /// Sets a secret as the extension's owner (the admin before it has one), as `lumio
    /// env set` does, and expects success.
    pub async fn api_set(&self, ext: &str, env: &str, name: &str, value: &str) {
        let answer = self.set(&self.actor_in(ext), ext, env, name, value).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }

    /// Secret names as the owner (or the admin) sees them, as `lumio env list` shows them.
    pub async fn api_names(&self, ext: &str, env: &str) -> Vec<String> {
        self.names(&self.actor_in(ext), ext, env).await
    }

    /// Names in a list answer.
    pub async fn names(&self, token: &str, extension: &str, env: &str) -> Vec<String> {
        let answer = self.list(token, extension, env).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer
            .typed::<SecretList>()
            .secrets
            .into_iter()
            .map(|s| s.name)
            .collect()
    }

    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("clean stop");
        }
    }

    pub fn service(&self) -> &lumio_secrets::SecretsService {
        &self.server.as_ref().expect("running").service
    }

    /// Reads a value the way the runtime does, through the service's audited read path.
    pub async fn read_value(&self, extension: &str, env: &str, name: &str) -> Option<String> {
        let slug = lumio_core::ExtensionSlug::parse(extension).unwrap();
        let found = self.service().find_extension(&slug).await.unwrap();
        let reader = lumio_secrets::Reader {
            extension_id: found.expect("extension exists").id,
            environment: lumio_core::Environment::parse(env).unwrap(),
            action: "test:read",
            request_id: "test",
        };
        let name = lumio_core::SecretName::parse(name).unwrap();
        let read = self.service().get(reader, &name).await.expect("read");
        read.value.map(|v| v.expose().to_owned())
    }
}

/// A request type of `lumio_api` as the JSON a test sends.
pub fn wire<T: serde::Serialize>(body: &T) -> Value {
    serde_json::to_value(body).expect("request bodies serialize")
}
