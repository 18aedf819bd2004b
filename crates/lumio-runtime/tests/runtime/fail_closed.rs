//! SPEC §6: nothing leaves after a secret read until its audit record is durable.

use std::sync::atomic::Ordering;

use lumio_runtime::ErrorCode;
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn audit_down_the_fetch_is_not_made_and_nothing_is_returned() {
    let (addr, seen) = http_api("sk-fail-closed").await;
    let rt = runtime(limits());
    let body = format!(
        "const key = ctx.secrets.get('API_KEY');\nconsole.log('about to call');\nconst res = await ctx.fetch('http://{addr}/search', {{ method: 'POST', headers: {{ Authorization: `Bearer ${{key}}` }}, body: '{{}}' }});\nreturn res.json();"
    );
    let dep = deploy(&action_src("", &body));
    let host = TestHost::with(&[("API_KEY", "sk-fail-closed")]);
    host.audit_down.store(true, Ordering::SeqCst);
    let inv = run(&rt, &dep, "functions:test", json!({}), &host).await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::AuditUnavailable, "{}", err.message);
    assert!(
        err.message.contains("audit log could not be written"),
        "{}",
        err.message
    );
    assert_eq!(
        seen.requests.load(Ordering::SeqCst),
        0,
        "the request must not be sent"
    );
    assert!(
        inv.console
            .iter()
            .all(|l| !l.text.contains("about to call")),
        "console withheld"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_down_a_caught_fetch_error_still_returns_nothing() {
    let (addr, seen) = http_api("k").await;
    let rt = runtime(limits());
    let body = format!(
        "const key = ctx.secrets.get('API_KEY');\ntry {{ await ctx.fetch('http://{addr}/x', {{ headers: {{ a: key! }} }}); }} catch (e) {{ return 'swallowed: ' + (e as Error).message; }}"
    );
    let dep = deploy(&action_src("", &body));
    let host = TestHost::with(&[("API_KEY", "sk-fail-closed")]);
    host.audit_down.store(true, Ordering::SeqCst);
    let inv = run(&rt, &dep, "functions:test", json!({}), &host).await;
    assert_eq!(inv.result.unwrap_err().code, ErrorCode::AuditUnavailable);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_down_actions_that_read_no_secret_keep_working() {
    let rt = runtime(limits());
    let dep = deploy(&action_src("", "console.log('hi'); return { ok: true };"));
    let host = TestHost::with(&[("API_KEY", "sk-fail-closed")]);
    host.audit_down.store(true, Ordering::SeqCst);
    let inv = run(&rt, &dep, "functions:test", json!({}), &host).await;
    assert_eq!(inv.result.unwrap(), json!({ "ok": true }));
    assert_eq!(inv.console[0].text, "hi");
    assert_eq!(
        host.durable_calls.load(Ordering::SeqCst),
        0,
        "no wait without a read"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_return_value_waits_for_the_last_read() {
    let rt = runtime(limits());
    let dep = deploy(&action_src(
        "",
        "ctx.secrets.get('A'); ctx.secrets.get('B'); ctx.secrets.get('C'); return 'ok';",
    ));
    let host = TestHost::with(&[("A", "value-a"), ("B", "value-b")]);
    let inv = run(&rt, &dep, "functions:test", json!({}), &host).await;
    assert_eq!(inv.result.unwrap(), json!("ok"));
    assert_eq!(
        host.durable.load(Ordering::SeqCst),
        3,
        "durable up to the last ticket"
    );
}
