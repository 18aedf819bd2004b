//! The few management and client-plane calls the fault tests make, over plain HTTP.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::server::TestServer;

pub struct Api {
    url: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Api {
    pub fn new(server: &TestServer) -> Self {
        Self {
            url: server.url.clone(),
            token: server.admin_token.clone(),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .unwrap_or_else(|err| panic!("{path}: {err}"));
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// A production-scoped GET (`/secrets`, `/audit?…`): the status and the answer.
    pub fn get(&self, extension: &str, rest: &str) -> (u16, Value) {
        self.send(
            reqwest::Method::GET,
            &format!("/api/v1/extensions/{extension}/environments/production/{rest}"),
            &Value::Null,
        )
    }

    /// Sets a production secret again and again until it is accepted (the database is
    /// back), at most 30 s; panics with `server`'s log otherwise.
    pub fn set_once_back(&self, server: &TestServer, extension: &str, name: &str, value: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = self.set(extension, name, value);
            if status == 200 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "sets never recovered: {status} {body}\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Soft-deletes a production secret.
    pub fn delete(&self, extension: &str, name: &str) -> (u16, Value) {
        self.send(
            reqwest::Method::DELETE,
            &format!("/api/v1/extensions/{extension}/environments/production/secrets/{name}"),
            &Value::Null,
        )
    }

    /// Every production audit entry of `event`, oldest first, over all pages.
    pub fn audit(&self, extension: &str, event: &str) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut before = String::new();
        loop {
            let (status, page) = self.get(
                extension,
                &format!("audit?event={event}&limit=1000{before}"),
            );
            assert_eq!(status, 200, "audit: {page}");
            entries.extend(page["entries"].as_array().unwrap().iter().cloned());
            match page["next_before"].as_i64() {
                Some(id) => before = format!("&before={id}"),
                None => break,
            }
        }
        entries.reverse();
        entries
    }

    pub fn create_extension(&self, name: &str) {
        let (status, body) = self.try_create_extension(name);
        assert_eq!(status, 201, "{body}");
    }

    pub fn try_create_extension(&self, name: &str) -> (u16, Value) {
        self.send(
            reqwest::Method::POST,
            "/api/v1/extensions",
            &json!({ "name": name }),
        )
    }

    /// A set's status and its `Retry-After` header, if any.
    pub fn set_retry_after(
        &self,
        extension: &str,
        name: &str,
        value: &str,
    ) -> (u16, Option<String>) {
        let response = self
            .http
            .put(format!(
                "{}/api/v1/extensions/{extension}/environments/production/secrets/{name}",
                self.url
            ))
            .bearer_auth(&self.token)
            .json(&json!({ "value": value }))
            .send()
            .unwrap_or_else(|err| panic!("set {name}: {err}"));
        let retry = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status().as_u16(), retry)
    }

    /// Sets a production secret; the status and the answer.
    pub fn set(&self, extension: &str, name: &str, value: &str) -> (u16, Value) {
        self.send(
            reqwest::Method::PUT,
            &format!("/api/v1/extensions/{extension}/environments/production/secrets/{name}"),
            &json!({ "value": value }),
        )
    }

    /// Deploys one `server/functions.ts` to production.
    pub fn deploy(&self, extension: &str, source: &str) {
        let (status, body) = self.try_deploy(extension, source);
        assert!(status == 200 || status == 201, "deploy: {status} {body}");
    }

    pub fn try_deploy(&self, extension: &str, source: &str) -> (u16, Value) {
        self.send(
            reqwest::Method::POST,
            &format!("/api/v1/extensions/{extension}/environments/production/deployments"),
            &json!({ "files": { "server/functions.ts": source } }),
        )
    }

    /// Any GET with the admin token: the status and the answer.
    pub fn get_path(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, &Value::Null)
    }

    /// Calls a production action on the client plane (no token).
    pub fn invoke(&self, extension: &str, action: &str) -> (u16, Value) {
        self.invoke_with(extension, action, json!({}))
    }

    /// [`Api::invoke`] with arguments.
    pub fn invoke_with(&self, extension: &str, action: &str, args: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!(
                "{}/api/v1/extensions/{extension}/environments/production/actions/functions:{action}",
                self.url
            ))
            .json(&json!({ "args": args }))
            .send()
            .unwrap_or_else(|err| panic!("invoke {action}: {err}"));
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }
}

/// An action `same` that answers whether secret `name` holds `expected` (never the value).
pub fn compare_action(name: &str, expected: &str) -> String {
    format!(
        "import {{ action }} from \"@zaflun/lumio-sdk/server\";\n\
         export const same = action({{ args: {{}}, handler: async (ctx: any) => ({{ same: ctx.secrets.get(\"{name}\") === \"{expected}\" }}) }});\n"
    )
}
