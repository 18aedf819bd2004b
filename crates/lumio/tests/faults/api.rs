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

    pub fn create_extension(&self, name: &str) {
        let (status, body) = self.send(
            reqwest::Method::POST,
            "/api/v1/extensions",
            &json!({ "name": name }),
        );
        assert_eq!(status, 201, "{body}");
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
        let (status, body) = self.send(
            reqwest::Method::POST,
            &format!("/api/v1/extensions/{extension}/environments/production/deployments"),
            &json!({ "files": { "server/functions.ts": source } }),
        );
        assert!(status == 200 || status == 201, "deploy: {status} {body}");
    }

    /// Calls a production action on the client plane (no token).
    pub fn invoke(&self, extension: &str, action: &str) -> (u16, Value) {
        let response = self
            .http
            .post(format!(
                "{}/api/v1/extensions/{extension}/environments/production/actions/functions:{action}",
                self.url
            ))
            .json(&json!({ "args": {} }))
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
