//! The leak guard in every encoding, and console masking.

use lumio_runtime::ErrorCode;
use serde_json::json;

use crate::common::*;

const KEY: &str = "sk-\"live\"/key+42&x=y";

async fn leaks(expr: &str) -> lumio_runtime::Invocation {
    let rt = runtime(limits());
    let dep = deploy(&action_src("", &format!("const key = ctx.secrets.get('API_KEY')!;\nconst hex = Array.from(key).map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');\nreturn {expr};")));
    let host = TestHost::with(&[("API_KEY", KEY)]);
    run(&rt, &dep, "functions:test", json!({}), &host).await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_encoding_is_stopped() {
    for expr in [
        "{ apiKey: key }",
        "'prefix ' + key + ' suffix'",
        "{ auth: btoa(key) }",
        "{ auth: btoa('user:' + key) }",
        "{ auth: btoa(key).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '') }",
        "{ h: hex }",
        "{ h: hex.toUpperCase() }",
        "{ u: 'https://x.test/?k=' + encodeURIComponent(key) }",
        "{ nested: JSON.stringify({ k: key }) }",
        "[JSON.stringify(JSON.stringify(key))]",
        "{ [key]: 1 }",
    ] {
        let inv = leaks(expr).await;
        let err = inv.result.expect_err(expr);
        assert_eq!(err.code, ErrorCode::SecretLeak, "{expr}");
        assert!(
            err.message.contains("API_KEY") && !err.message.contains("live"),
            "{expr}: {}",
            err.message
        );
        assert_eq!(inv.leak_blocked.len(), 1, "{expr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn results_without_the_key_pass() {
    let inv = leaks("{ length: key.length, ok: true }").await;
    assert_eq!(
        inv.result.unwrap(),
        json!({ "length": KEY.len(), "ok": true })
    );
    assert!(inv.leak_blocked.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thrown_message_with_the_key_is_stopped() {
    let rt = runtime(limits());
    let dep = deploy(&action_src(
        "",
        "throw new Error('bad key ' + ctx.secrets.get('API_KEY'));",
    ));
    let host = TestHost::with(&[("API_KEY", KEY)]);
    let inv = run(&rt, &dep, "functions:test", json!({}), &host).await;
    assert_eq!(inv.result.unwrap_err().code, ErrorCode::SecretLeak);
    assert!(!inv.stack.unwrap_or_default().contains("live"));
}

#[tokio::test(flavor = "multi_thread")]
async fn console_output_is_masked() {
    let rt = runtime(limits());
    let body = "const key = ctx.secrets.get('API_KEY')!;\nconsole.log('key is', key);\nconsole.warn({ b64: btoa(key), url: encodeURIComponent(key) });\nconsole.error(JSON.stringify(key));\nconsole.info('nothing secret');\nreturn 'done';";
    let dep = deploy(&action_src("", body));
    let host = TestHost::with(&[("API_KEY", KEY)]);
    let inv = run(&rt, &dep, "functions:test", json!({}), &host).await;
    assert_eq!(inv.result.unwrap(), json!("done"));
    let text: Vec<&str> = inv.console.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(text.len(), 4);
    for line in &text[..3] {
        assert!(
            line.contains("[REDACTED:API_KEY]") && !line.contains("live"),
            "{line}"
        );
    }
    assert_eq!(text[3], "nothing secret");
}
