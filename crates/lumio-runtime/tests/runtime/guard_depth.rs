//! The leak guard at any depth and alignment, and never an oracle for batches of
//! guesses (issue 23): a PEM stringified 6 or 12 times is found in the result, a thrown
//! message and the console; a 4- to 7-byte value is found in base64 at every alignment;
//! only an argument exactly equal to a value makes it the caller's own.

use lumio_runtime::{ErrorCode, Invocation};
use serde_json::{json, Value};

use crate::common::*;

const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n";

async fn invoke(body: &str, args: Value, secrets: &[(&str, &str)]) -> Invocation {
    let rt = runtime(limits());
    let dep = deploy(&action_src("guess: v.optional(v.string())", body));
    run(&rt, &dep, "functions:test", args, &TestHost::with(secrets)).await
}

/// JavaScript nesting `pem` in `levels` layers of `JSON.stringify`.
fn nested(levels: usize) -> String {
    format!("(() => {{ let t: any = ctx.secrets.get('PEM'); for (let i = 0; i < {levels}; i++) t = JSON.stringify({{ k: t }}); return t; }})()")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pem_nested_6_or_12_levels_deep_is_found_everywhere() {
    // A line of the key that survives every level of escaping unchanged.
    let line = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
    for levels in [6, 12] {
        let nested = nested(levels);
        let result = invoke(&format!("return {nested};"), json!({}), &[("PEM", PEM)]).await;
        let err = result.result.unwrap_err();
        assert_eq!(err.code, ErrorCode::SecretLeak, "{levels} levels: result");

        let thrown = invoke(
            &format!("throw new Error({nested});"),
            json!({}),
            &[("PEM", PEM)],
        )
        .await;
        let err = thrown.result.unwrap_err();
        assert_eq!(err.code, ErrorCode::SecretLeak, "{levels} levels: thrown");
        assert!(!err.message.contains(line));
        assert!(!thrown.stack.unwrap_or_default().contains(line));

        let logged = invoke(
            &format!("console.log({nested}); return 1;"),
            json!({}),
            &[("PEM", PEM)],
        )
        .await;
        assert_eq!(logged.result.unwrap(), json!(1));
        let console: Vec<&str> = logged.console.iter().map(|l| l.text.as_str()).collect();
        assert!(
            console.iter().all(|l| !l.contains(line)),
            "{levels} levels: {console:?}"
        );
        assert!(console[0].contains("REDACTED:PEM"), "{console:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn short_values_are_found_in_base64_at_every_alignment() {
    for value in ["9a2F", "48213", "pin-42", "k3y-4x2"] {
        for lead in ["", "a", "ab"] {
            let body =
                format!("const v = ctx.secrets.get('PIN'); return btoa('{lead}' + v + '!');");
            let inv = invoke(&body, json!({}), &[("PIN", value)]).await;
            let err = inv.result.unwrap_err();
            assert_eq!(err.code, ErrorCode::SecretLeak, "{value} after {lead:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_guesses_holding_the_value_is_not_the_callers_own() {
    let body = "const pin = ctx.secrets.get('PIN'); return { pin };";
    let batch: Vec<String> = (4700..4800).map(|n| format!("{n:04}")).collect();
    let inv = invoke(
        body,
        json!({ "guess": batch.join(" ") }),
        &[("PIN", "4711")],
    )
    .await;
    assert_eq!(inv.result.unwrap_err().code, ErrorCode::SecretLeak);
    let encoded = invoke(body, json!({ "guess": "NDcxMQ==" }), &[("PIN", "4711")]).await;
    assert_eq!(encoded.result.unwrap_err().code, ErrorCode::SecretLeak);
    let exact = invoke(body, json!({ "guess": "4711" }), &[("PIN", "4711")]).await;
    assert_eq!(exact.result.unwrap(), json!({ "pin": "4711" }));
}
