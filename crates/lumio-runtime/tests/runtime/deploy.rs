//! Deploy errors, multi-file extensions, argument validation and TypeScript positions.

use std::collections::BTreeMap;

use lumio_runtime::{compile, DeployError, ErrorCode};
use serde_json::json;

use crate::common::*;

fn deploy_err(files: &[(&str, &str)]) -> DeployError {
    let files: BTreeMap<String, String> = files
        .iter()
        .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
        .collect();
    compile(files).unwrap_err()
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let err = deploy_err(&[("server/functions.ts", "import { action } from \"@zaflun/lumio-sdk/server\";\nexport const x = action({ args: {}, handler: async () => { return 1 +; } });\n")]);
    let text = err.to_string();
    assert!(text.starts_with("server/functions.ts:2:"), "{text}");
    assert!(
        matches!(err, DeployError::Syntax { line: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn an_unknown_import_is_named() {
    let err = deploy_err(&[("server/functions.ts", "import { action } from \"@zaflun/lumio-sdk/server\";\nimport _ from \"lodash\";\nexport const x = action({ args: {}, handler: async () => _ });\n")]);
    assert_eq!(
        err,
        DeployError::UnknownImport {
            file: "server/functions.ts".into(),
            line: 2,
            col: 15,
            specifier: "lodash".into()
        }
    );
    assert!(err
        .to_string()
        .starts_with("server/functions.ts:2:15: cannot import \"lodash\""));
    let err = deploy_err(&[(
        "server/functions.ts",
        "import { x } from \"./missing\";\nexport const y = x;\n",
    )]);
    assert!(err.to_string().contains("\"./missing\""), "{err}");
}

#[test]
fn no_actions_is_an_error() {
    let err = deploy_err(&[("server/functions.ts", "export const x: number = 1;\n")]);
    assert_eq!(err, DeployError::NoActions);
    assert!(matches!(deploy_err(&[]), DeployError::NoFiles));
    assert!(matches!(
        deploy_err(&[("client/app.ts", "")]),
        DeployError::BadPath { .. }
    ));
    let err = deploy_err(&[(
        "server/functions.ts",
        "throw new Error('top-level boom');\n",
    )]);
    assert!(err.to_string().contains("top-level boom"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multi_file_extension_with_relative_imports() {
    let dep = deploy_files(&[
        ("server/functions.ts", "import { action, v } from \"@zaflun/lumio-sdk/server\";\nimport { shout } from \"./lib/text\";\nimport type { Greeting } from \"./types\";\nexport const greet = action({ args: { name: v.string() }, handler: async (_ctx, args): Promise<Greeting> => ({ text: shout(args.name) }) });\n"),
        ("server/lib/text.ts", "import { suffix } from \"../shared.ts\";\nexport function shout(s: string): string { return s.toUpperCase() + suffix; }\n"),
        ("server/shared.ts", "export const suffix: string = '!';\n"),
        ("server/types.ts", "export interface Greeting { text: string }\n"),
        ("server/lib/admin.ts", "import { action } from \"@zaflun/lumio-sdk/server\";\nexport const ping = action({ args: {}, handler: () => 'pong' });\n"),
    ]);
    let names: Vec<&str> = dep.action_names().collect();
    assert_eq!(names, ["functions:greet", "lib/admin:ping"]);
    let rt = runtime(limits());
    let host = TestHost::with(&[]);
    let inv = run(
        &rt,
        &dep,
        "functions:greet",
        json!({ "name": "lumio" }),
        &host,
    )
    .await;
    assert_eq!(inv.result.unwrap(), json!({ "text": "LUMIO!" }));
    assert_eq!(
        run(&rt, &dep, "lib/admin:ping", json!({}), &host)
            .await
            .result
            .unwrap(),
        json!("pong")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn arguments_are_checked_before_the_handler_runs() {
    let dep = deploy(&action_src(
        "query: v.string(), limit: v.optional(v.number()), tags: v.array(v.union(v.literal('a'), v.literal('b')))",
        "console.log('ran'); return args;",
    ));
    let rt = runtime(limits());
    let host = TestHost::with(&[]);
    let bad = run(
        &rt,
        &dep,
        "functions:test",
        json!({ "query": 1, "tags": [] }),
        &host,
    )
    .await;
    let err = bad.result.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            ErrorCode::InvalidArgs,
            "args.query: expected string, got number"
        )
    );
    assert!(bad.console.is_empty());
    let bad = run(
        &rt,
        &dep,
        "functions:test",
        json!({ "query": "q", "tags": ["a", "c"] }),
        &host,
    )
    .await;
    assert_eq!(
        bad.result.unwrap_err().message,
        "args.tags[1]: expected \"a\" | \"b\", got string"
    );
    let ok = run(
        &rt,
        &dep,
        "functions:test",
        json!({ "query": "q", "tags": ["b"] }),
        &host,
    )
    .await;
    assert_eq!(ok.result.unwrap(), json!({ "query": "q", "tags": ["b"] }));
    let missing = run(&rt, &dep, "functions:nope", json!({}), &host).await;
    assert_eq!(missing.result.unwrap_err().code, ErrorCode::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn stacks_carry_typescript_line_numbers() {
    let src = "import { action } from \"@zaflun/lumio-sdk/server\";\n\ninterface Big {\n  a: string;\n  b: number;\n}\ntype Alias = Big | null;\n\nfunction fail(x: Alias): never {\n  throw new Error('deep failure');\n}\nexport const test = action({ args: {}, handler: async () => fail(null) });\n";
    let dep = deploy(src);
    let rt = runtime(limits());
    let inv = run(&rt, &dep, "functions:test", json!({}), &TestHost::with(&[])).await;
    let stack = inv.stack.unwrap();
    assert!(stack.starts_with("Error: deep failure"), "{stack}");
    assert!(
        stack.contains("at fail (server/functions.ts:10:"),
        "{stack}"
    );
}
