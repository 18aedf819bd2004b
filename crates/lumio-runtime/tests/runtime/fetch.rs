//! `ctx.fetch`: private destinations refused unless allowed, the response object, the cap.

use std::sync::atomic::Ordering;

use lumio_runtime::{ErrorCode, RuntimeLimits};
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn loopback_is_refused_unless_allowed() {
    let (addr, seen) = http_api("k").await;
    let rt = runtime(RuntimeLimits::default());
    let host = TestHost::with(&[]);
    for url in [
        format!("http://{addr}/x"),
        format!("http://localhost:{}/x", addr.port()),
        format!("http://[::ffff:127.0.0.1]:{}/x", addr.port()),
        format!("http://0x7f.1:{}/x", addr.port()),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "file:///etc/passwd".to_owned(),
    ] {
        let dep = deploy(&action_src(
            "",
            &format!("const res = await ctx.fetch('{url}');\nreturn res.status;"),
        ));
        let err = run(&rt, &dep, "functions:test", json!({}), &host)
            .await
            .result
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::FetchRefused, "{url}: {}", err.message);
        assert!(err.message.contains("refused"), "{url}: {}", err.message);
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_response_has_status_headers_text_and_json() {
    let (addr, _) = http_api("k").await;
    let rt = runtime(limits());
    let body = format!(
        "const res = await ctx.fetch('http://{addr}/thing', {{ headers: {{ Authorization: 'Bearer k' }} }});\nconst denied = await ctx.fetch('http://{addr}/thing');\nreturn {{ status: res.status, ok: res.ok, type: res.headers.get('Content-Type'), json: await res.json(), denied: [denied.status, denied.ok, await denied.text()] }};"
    );
    let dep = deploy(&action_src("", &body));
    let inv = run(&rt, &dep, "functions:test", json!({}), &TestHost::with(&[])).await;
    assert_eq!(
        inv.result.unwrap(),
        json!({ "status": 200, "ok": true, "type": "application/json", "json": { "path": "thing" }, "denied": [401, false, "{\"error\":\"bad key\"}"] })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_over_the_cap_fail() {
    let (addr, _) = http_api("k").await;
    let rt = runtime(RuntimeLimits {
        fetch_max_response_bytes: 1024,
        ..limits()
    });
    let dep = deploy(&action_src(
        "",
        &format!(
            "const res = await ctx.fetch('http://{addr}/big');\nreturn (await res.text()).length;"
        ),
    ));
    let err = run(&rt, &dep, "functions:test", json!({}), &TestHost::with(&[]))
        .await
        .result
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::FetchFailed);
    assert!(err.message.contains("1024 byte limit"), "{}", err.message);
}
