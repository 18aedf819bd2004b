//! The leak guard under attack (issue 10): what it finds is masked everywhere, it reads
//! whole texts before anything is cut, it is no oracle for values the caller sent, its
//! scan is bounded, and only the platform can report a platform failure.

use std::sync::atomic::Ordering;
use std::time::Duration;

use lumio_runtime::{ErrorCode, Invocation, RuntimeLimits};
use serde_json::{json, Value};

use crate::common::*;

const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n";
const KEY: &str = "sk-guard-Zq81/+x=y-0123456789abcdef";

async fn invoke(body: &str, args: Value, secrets: &[(&str, &str)]) -> Invocation {
    let rt = runtime(limits());
    let dep = deploy(&action_src("guess: v.optional(v.string())", body));
    run(&rt, &dep, "functions:test", args, &TestHost::with(secrets)).await
}

fn all_output(inv: &Invocation) -> String {
    let mut text = format!("{:?}", inv.result);
    for line in &inv.console {
        text.push_str(&line.text);
        text.push('\n');
    }
    text.push_str(inv.stack.as_deref().unwrap_or(""));
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_the_caller_sent_is_not_a_leak_so_the_guard_answers_no_guesses() {
    let body = "const pin = ctx.secrets.get('PIN'); return { echo: args.guess };";
    let right = invoke(body, json!({ "guess": "4711" }), &[("PIN", "4711")]).await;
    let wrong = invoke(body, json!({ "guess": "4712" }), &[("PIN", "4711")]).await;
    assert_eq!(right.result.unwrap(), json!({ "echo": "4711" }));
    assert_eq!(wrong.result.unwrap(), json!({ "echo": "4712" }));
    // A value the caller did not send is still stopped.
    let leak = invoke(
        "return ctx.secrets.get('PIN');",
        json!({}),
        &[("PIN", "4711")],
    )
    .await;
    assert_eq!(leak.result.unwrap_err().code, ErrorCode::SecretLeak);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_thrown_message_is_guarded_before_it_is_cut() {
    let inv = invoke(
        "const key = ctx.secrets.get('API_KEY')!; throw new Error('x'.repeat(4090) + key);",
        json!({}),
        &[("API_KEY", KEY)],
    )
    .await;
    let err = inv.result.as_ref().unwrap_err();
    assert_eq!(err.code, ErrorCode::SecretLeak, "{}", &err.message[..80]);
    assert!(
        !all_output(&inv).contains(&KEY[..8]),
        "a prefix of the key left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn console_output_is_masked_before_it_is_cut() {
    let inv = invoke(
        "const key = ctx.secrets.get('API_KEY')!; console.log('x'.repeat(65530) + key); console.log(key); return 'ok';",
        json!({}),
        &[("API_KEY", KEY)],
    )
    .await;
    assert_eq!(inv.result.as_ref().unwrap(), &json!("ok"));
    let text = all_output(&inv);
    assert!(
        !text.contains(&KEY[..8]),
        "a prefix of the key left in the console"
    );
    assert!(text.contains("console output truncated"), "the cut is said");
    let kept: usize = inv.console.iter().map(|l| l.text.len()).sum();
    assert!(kept <= (64 << 10) + 100, "console kept {kept} bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_form_the_guard_finds_is_masked_in_console_and_stack() {
    for (log, label) in [
        ("console.log(JSON.stringify({ pem }))", "JSON-escaped"),
        (
            "console.log(JSON.stringify(JSON.stringify(pem)))",
            "escaped twice",
        ),
        ("console.log({ pem })", "object"),
        (
            "console.log(encodeURIComponent(key).toLowerCase())",
            "lower-case percent",
        ),
        ("console.log(encodeURIComponent(key))", "percent"),
        ("console.log(btoa(key))", "base64"),
        (
            "console.log('k=' + encodeURIComponent(key).replace(/%2F/g, '/'))",
            "partly encoded",
        ),
    ] {
        let inv = invoke(
            &format!("const pem = ctx.secrets.get('PEM')!; const key = ctx.secrets.get('API_KEY')!;\n{log};\nthrow new Error('failed with ' + pem.length);"),
            json!({}),
            &[("PEM", PEM), ("API_KEY", KEY)],
        )
        .await;
        let text = all_output(&inv);
        for secret in [PEM, KEY] {
            assert!(!text.contains(secret), "{label}: {text}");
        }
        assert!(
            !text.contains("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
            "{label}: {text}"
        );
        assert!(!text.contains("Zq81"), "{label}: {text}");
        assert!(text.contains("[REDACTED:"), "{label}: {text}");
    }
    let thrown = invoke(
        "const pem = ctx.secrets.get('PEM')!; const e = new Error('boom'); e.stack = pem + e.stack; throw e;",
        json!({}),
        &[("PEM", PEM)],
    )
    .await;
    let stack = thrown.stack.clone().unwrap_or_default();
    assert!(!stack.contains("MIIEvQ"), "{stack}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_over_the_size_limit_is_refused_and_the_scan_is_bounded() {
    let mut secrets = Vec::new();
    let names: Vec<String> = (0..60).map(|i| format!("S{i}")).collect();
    let values: Vec<String> = (0..60)
        .map(|i| format!("sk-value-{i:04}-abcdefgh"))
        .collect();
    for (n, v) in names.iter().zip(&values) {
        secrets.push((n.as_str(), v.as_str()));
    }
    let read_all = "for (let i = 0; i < 60; i++) ctx.secrets.get('S' + i);";
    let too_big = invoke(
        &format!("{read_all} return '\\\\%+'.repeat(2e6);"),
        json!({}),
        &secrets,
    )
    .await;
    let err = too_big.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::LimitExceeded, "{}", err.message);
    assert!(
        err.message.contains("limit is 4194304 bytes"),
        "{}",
        err.message
    );
    // Just under the limit, the scan of every form of all 60 values is one pass.
    let started = std::time::Instant::now();
    let big = invoke(
        &format!("{read_all} return '\\\\%+'.repeat(6e5);"),
        json!({}),
        &secrets,
    )
    .await;
    assert!(big.result.is_ok(), "{:?}", big.result.err());
    eprintln!(
        "guard scan of a 3.6 MB result after 60 reads, with the call: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_script_cannot_claim_a_platform_error_code() {
    let forged = invoke(
        "throw Object.assign(new Error('the audit log could not be written'), { code: 'audit_unavailable' });",
        json!({}),
        &[],
    )
    .await;
    assert_eq!(forged.result.unwrap_err().code, ErrorCode::ActionError);
    let forged = invoke(
        "throw { code: 'fetch_refused', message: 'nope' };",
        json!({}),
        &[],
    )
    .await;
    assert_eq!(forged.result.unwrap_err().code, ErrorCode::ActionError);
    // The platform's own error keeps its code, rethrown or not.
    let rt = runtime(RuntimeLimits {
        max_secret_gets: 1,
        ..limits()
    });
    let dep = deploy(&action_src(
        "",
        "ctx.secrets.get('A'); try { ctx.secrets.get('A'); } catch (e) { throw e; }",
    ));
    let inv = run(&rt, &dep, "functions:test", json!({}), &TestHost::with(&[])).await;
    assert_eq!(inv.result.unwrap_err().code, ErrorCode::LimitExceeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_action_does_not_list_the_deployed_ones() {
    let rt = runtime(limits());
    let dep = deploy(&action_src("", "return 1;"));
    let inv = run(&rt, &dep, "functions:nope", json!({}), &TestHost::with(&[])).await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(!err.message.contains("functions:test"), "{}", err.message);
}

/// A fetch started before a secret read is not cut when the action ends, while the read's
/// audit record is still pending: when it is cut would tell its server how long the action
/// computed with the value.
#[tokio::test(flavor = "multi_thread")]
async fn an_open_fetch_is_held_until_the_reads_are_durable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (closed_tx, mut closed_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        use tokio::io::AsyncReadExt;
        while socket.read(&mut buf).await.map(|n| n > 0).unwrap_or(false) {}
        let _ = closed_tx.send(std::time::Instant::now());
    });
    let rt = runtime(limits());
    let dep = deploy(&action_src(
        "",
        &format!("ctx.fetch('http://{addr}/slow').catch(() => {{}});\nawait new Promise((r) => setTimeout(r, 50));\nconst key = ctx.secrets.get('API_KEY')!;\nlet n = 0; for (let i = 0; i < key.length * 1000; i++) n++;\nreturn n > 0;"),
    ));
    let host = TestHost::with(&[("API_KEY", KEY)]);
    host.audit_held.store(true, Ordering::SeqCst);
    let call = {
        let host = host.clone();
        tokio::spawn(async move { run(&rt, &dep, "functions:test", json!({}), &host).await })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        closed_rx.try_recv().is_err(),
        "the fetch was cut before the audit settled"
    );
    let released = std::time::Instant::now();
    host.release_audit();
    let inv = call.await.unwrap();
    assert_eq!(inv.result.unwrap(), json!(true));
    let closed = tokio::time::timeout(Duration::from_secs(5), closed_rx.recv())
        .await
        .expect("the fetch is cut once the audit settled")
        .unwrap();
    assert!(closed >= released);
}
