//! Per-action grants: `action({ secrets: [...] })` limits what `ctx.secrets.get` reads,
//! enforced in the native (Rust) from what the deploy-time probe found.

use lumio_runtime::{compile, DeployError};
use serde_json::json;
use std::collections::BTreeMap;

use crate::common::*;

const VALUE_A: &str = "sk-grant-a-3f9c";
const VALUE_B: &str = "sk-grant-b-77e1";

/// Two actions in one deployment: `charge` granted `A` only, `open` without a list.
const TWO_ACTIONS: &str = r#"
import { action, v } from "@zaflun/lumio-sdk/server";
export const charge = action({
  args: { name: v.string() },
  secrets: ["A"],
  handler: async (ctx: any, args: any) => {
    try {
      const value = ctx.secrets.get(args.name);
      return { length: value === null ? null : value.length };
    } catch (e: any) {
      return { error: String(e.message), code: e.code };
    }
  },
});
export const open = action({
  args: {},
  handler: async (ctx: any) => ({ a: ctx.secrets.get("A") !== null, b: ctx.secrets.get("B") !== null }),
});
"#;

fn host() -> std::sync::Arc<TestHost> {
    TestHost::with(&[("A", VALUE_A), ("B", VALUE_B)])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_granted_action_reads_its_names_only_and_others_read_everything() {
    let rt = runtime(limits());
    let dep = deploy(TWO_ACTIONS);
    let grants: Vec<&str> = dep
        .action("functions:charge")
        .and_then(|a| a.grants.as_deref())
        .unwrap()
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(grants, ["A"]);
    assert!(dep.action("functions:open").unwrap().grants.is_none());

    let host = host();
    let inv = run(&rt, &dep, "functions:charge", json!({"name": "A"}), &host).await;
    assert_eq!(inv.result.unwrap(), json!({ "length": VALUE_A.len() }));
    assert!(host.denied.lock().unwrap().is_empty());

    let inv = run(&rt, &dep, "functions:charge", json!({"name": "B"}), &host).await;
    let out = inv.result.unwrap();
    let message = out["error"].as_str().unwrap();
    assert!(message.contains("\"B\""), "{message}");
    assert!(message.contains("may read only A"), "{message}");
    assert!(message.contains("functions:charge"), "{message}");
    assert!(!message.contains(VALUE_B) && !message.contains(VALUE_A));
    assert_eq!(out["code"], "secret_denied");
    assert_eq!(
        *host.denied.lock().unwrap(),
        [("B".to_owned(), vec!["A".to_owned()])]
    );
    // The host was never asked for B on behalf of `charge`.
    assert!(!host.reads.lock().unwrap().iter().any(|(n, _)| n == "B"));

    let inv = run(&rt, &dep, "functions:open", json!({}), &host).await;
    assert_eq!(inv.result.unwrap(), json!({ "a": true, "b": true }));
    let reads = host.reads.lock().unwrap().clone();
    assert!(reads.contains(&("B".to_owned(), true)), "{reads:?}");
    assert_eq!(host.denied.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_uncaught_denial_fails_the_action_and_is_recorded_once() {
    let rt = runtime(limits());
    let src = action_src_with_grants(
        r#"["A"]"#,
        "for (let i = 0; i < 3; i++) { try { ctx.secrets.get('B'); } catch {} }\nreturn ctx.secrets.get('B');",
    );
    let host = host();
    let inv = run(&rt, &deploy(&src), "functions:test", json!({}), &host).await;
    let err = inv.result.unwrap_err();
    assert_eq!(err.code.as_str(), "action_error");
    assert!(err.message.contains("\"B\"") && err.message.contains("only A"));
    assert_eq!(host.denied.lock().unwrap().len(), 1, "one record per name");
}

fn action_src_with_grants(grants: &str, body: &str) -> String {
    format!(
        "import {{ action, v }} from \"@zaflun/lumio-sdk/server\";\nexport const test = action({{ args: {{}}, secrets: {grants}, handler: async (ctx: any, args: any) => {{\n{body}\n}} }});\n"
    )
}

/// A grant list built by code at the top of the module (a `string[]`, which the SDK's
/// types refuse: sdk/README.md, "Secrets and grants") is read at deploy as the module
/// built it, and enforced like a literal one.
#[tokio::test(flavor = "multi_thread")]
async fn a_grant_list_built_by_code_is_read_at_deploy_and_enforced() {
    let src = format!(
        "const names: string[] = ['A', 'B', 'C'].filter((name) => name !== 'B');\n{}",
        action_src_with_grants(
            "names",
            "try { ctx.secrets.get('B'); return 'read'; } catch (e: any) { return [ctx.secrets.get('A') !== null, e.code]; }"
        )
    );
    let dep = deploy(&src);
    let grants: Vec<&str> = dep
        .action("functions:test")
        .and_then(|a| a.grants.as_deref())
        .unwrap()
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(grants, ["A", "C"]);
    let inv = run(
        &runtime(limits()),
        &dep,
        "functions:test",
        json!({}),
        &host(),
    )
    .await;
    assert_eq!(inv.result.unwrap(), json!([true, "secret_denied"]));
}

/// Each of these tries to read `B` from an action granted `A` only; all must be denied.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_javascript_cannot_widen_its_grants() {
    let attempts = [
        // The SDK's object is frozen; the attempt throws, and the read is still denied.
        "try { (test as any).secrets.push('B'); } catch {}\ntry { (test as any).secrets = ['A', 'B']; } catch {}\nreturn ctx.secrets.get('B');",
        // Calling the native directly, detached from its object.
        "const get = ctx.secrets.get; return Reflect.apply(get, {}, ['B']);",
        "return ctx.secrets.get.call(undefined, 'B');",
        // Another action's handler (one without grants) still runs with this invocation's ctx.
        "return (other as any).handler(ctx);",
        // A replaced SDK helper changes nothing on the Rust side.
        "(globalThis as any).Symbol.for = () => 'x'; return ctx.secrets.get('B');",
    ];
    for body in attempts {
        let src = format!(
            "{}\nexport const other = action({{ args: {{}}, handler: async (ctx: any) => ctx.secrets.get('B') }});\n",
            action_src_with_grants(r#"["A"]"#, body)
        );
        let host = host();
        let inv = run(
            &runtime(limits()),
            &deploy(&src),
            "functions:test",
            json!({}),
            &host,
        )
        .await;
        let err = inv.result.expect_err(body);
        assert!(
            err.message.contains("was denied"),
            "{body}: {}",
            err.message
        );
        assert!(!err.message.contains(VALUE_B));
        assert_eq!(host.denied.lock().unwrap().len(), 1, "{body}");
    }
}

/// A hand-made definition object is read once, at deploy: mutating it afterwards (or a
/// getter that answers differently later) does not change what is enforced.
#[tokio::test(flavor = "multi_thread")]
async fn a_hand_made_definition_is_enforced_as_the_deploy_probe_saw_it() {
    let src = r#"
const grants: string[] = ["A"];
let asked = 0;
export const test = {
  [Symbol.for("lumio.action/v1")]: true,
  args: {},
  get secrets() { asked++; return asked === 1 ? ["A"] : ["A", "B"]; },
  handler: async (ctx: any) => {
    grants.push("B");
    (test as any).secrets;
    Object.defineProperty(test, "secrets", { value: ["A", "B"] });
    return ctx.secrets.get("B");
  },
};
"#;
    let dep = deploy(src);
    assert_eq!(
        dep.action("functions:test")
            .unwrap()
            .grants
            .as_ref()
            .unwrap()
            .len(),
        1
    );
    let host = host();
    let inv = run(&runtime(limits()), &dep, "functions:test", json!({}), &host).await;
    let err = inv.result.unwrap_err();
    assert!(err.message.contains("was denied"), "{}", err.message);
    assert!(!host.reads.lock().unwrap().iter().any(|(n, _)| n == "B"));
}

fn deploy_err(src: &str) -> DeployError {
    compile(BTreeMap::from([(
        "server/functions.ts".to_owned(),
        src.to_owned(),
    )]))
    .unwrap_err()
}

#[test]
fn a_bad_grant_list_is_a_deploy_error() {
    // Through the SDK: not an array.
    let err = deploy_err(&action_src_with_grants(r#""A""#, "return 1;")).to_string();
    assert!(err.contains("must be an array of secret names"), "{err}");
    // Through the SDK: an array with an invalid name; the runtime's parse names it.
    let err = deploy_err(&action_src_with_grants(
        r#"["A", "not valid"]"#,
        "return 1;",
    ));
    assert!(matches!(err, DeployError::BadGrant { .. }), "{err}");
    let err = err.to_string();
    assert!(
        err.contains("functions:test") && err.contains("\"not valid\""),
        "{err}"
    );
    let err = deploy_err(&action_src_with_grants(r#"["LUMIO_TOKEN"]"#, "return 1;")).to_string();
    assert!(err.contains("LUMIO_TOKEN"), "{err}");
    // A hand-made object bypassing the SDK's check is refused by the runtime.
    let err = deploy_err(
        "export const test = { [Symbol.for('lumio.action/v1')]: true, args: {}, secrets: [1], handler: () => 1 };",
    );
    assert!(matches!(err, DeployError::BadGrant { .. }), "{err}");
}

/// A helper module that runs before the action's module and replaces intrinsics the probe
/// (or the SDK) might call: the grants read at deploy are still exactly the declared ones.
#[test]
fn a_helper_replacing_intrinsics_cannot_turn_grants_into_every_secret() {
    let helpers = [
        // The probe once serialised the definition with the global JSON.stringify.
        r#"(JSON as any).stringify = () => '{"args":{},"secrets":null}';"#,
        // ... which calls toJSON: an array's could drop the list.
        "(Array.prototype as any).toJSON = function () { return undefined; };",
        "(Object as any).freeze = () => undefined; (Array as any).isArray = () => true; Array.prototype.some = () => false;",
        "(Array.prototype as any)[Symbol.iterator] = function* () {}; (Object as any).keys = () => []; (Object as any).entries = () => [];",
        "Object.defineProperty(Object.prototype, 'secrets', { set(_v: any) {}, get() { return undefined; }, configurable: true });",
        "(Symbol as any).for = () => Symbol('elsewhere');",
    ];
    for helper in helpers {
        let dep = deploy_files(&[
            ("server/helper.ts", helper),
            (
                "server/functions.ts",
                &format!(
                    "import \"./helper\";\n{}",
                    action_src_with_grants(r#"["A"]"#, "return 1;")
                ),
            ),
        ]);
        let grants: Option<Vec<&str>> = dep
            .action("functions:test")
            .unwrap_or_else(|| panic!("{helper}: the action was not found"))
            .grants
            .as_deref()
            .map(|g| g.iter().map(|n| n.as_str()).collect());
        assert_eq!(grants, Some(vec!["A"]), "{helper}");
    }
}

/// A list the probe cannot read as an array of strings is a deploy error, never "every
/// secret".
#[test]
fn an_unreadable_grant_list_is_a_deploy_error() {
    for secrets in ["new Proxy(['A'], {})", "{ length: 1, 0: 'A' }", "['A', 1]"] {
        let err = deploy_err(&format!(
            "export const test = {{ [Symbol.for('lumio.action/v1')]: true, args: {{}}, secrets: {secrets}, handler: () => 1 }};"
        ));
        assert!(
            matches!(err, DeployError::BadGrant { .. }),
            "{secrets}: {err}"
        );
    }
    // An array that would serialise as nothing is still read as the names it holds.
    let dep = deploy(
        "const a: any = ['A']; a.toJSON = () => undefined;\nexport const test = { [Symbol.for('lumio.action/v1')]: true, args: {}, secrets: a, handler: () => 1 };",
    );
    let grants = dep.action("functions:test").unwrap().grants.clone();
    assert_eq!(grants.as_deref().map(<[_]>::len), Some(1));
    let err = deploy_err(
        "export const test = { [Symbol.for('lumio.action/v1')]: true, args: {}, get secrets(): string[] { throw new Error('no'); }, handler: () => 1 };",
    );
    assert!(!err.to_string().is_empty());
}

/// Refused reads are one `secret.denied` record per name with a count, for at most 16
/// names; past those one record gives the number of further names, and every further
/// refused read throws `limit_exceeded`. The output waits for the records.
#[tokio::test(flavor = "multi_thread")]
async fn refused_reads_are_counted_per_name_and_bounded_per_invocation() {
    let src = action_src_with_grants(
        r#"["A"]"#,
        "const codes: Record<string, number> = {};\nfor (let round = 0; round < 3; round++) {\n  for (let i = 0; i < 40; i++) {\n    try { ctx.secrets.get('N_' + i); } catch (e: any) { codes[e.code] = (codes[e.code] ?? 0) + 1; }\n  }\n}\nreturn codes;",
    );
    let host = host();
    let inv = run(
        &runtime(limits()),
        &deploy(&src),
        "functions:test",
        json!({}),
        &host,
    )
    .await;
    assert_eq!(
        inv.result.unwrap(),
        json!({ "secret_denied": 16, "limit_exceeded": 104 })
    );
    let denied = host.denied.lock().unwrap().clone();
    let names: Vec<&str> = denied.iter().map(|(n, _)| n.as_str()).collect();
    let first: Vec<String> = (0..16).map(|i| format!("N_{i}")).collect();
    assert_eq!(names, first);
    assert!(denied.iter().all(|(_, grants)| grants == &["A"]));
    assert_eq!(*host.denied_counts.lock().unwrap(), vec![3; 16]);
    assert_eq!(*host.denied_further.lock().unwrap(), vec![24]);
    // 17 records, and the answer was given only once they were durable.
    assert!(
        host.durable.load(std::sync::atomic::Ordering::SeqCst) >= 17,
        "the output did not wait for the secret.denied records"
    );
}
