//! Issue 24: a `ctx.fetch` the action does not catch. Its developers learn which host and
//! what failed (in `lumio logs`), never the URL's path or query; the caller of the
//! action, who has no token, gets a fixed sentence and a next step, not the raw text.

use crate::support::free_port;
use crate::support::project::Project;
use crate::support::server::{Backend, TestServer};

const EXT: &str = "fetch-errors";
/// In the URL's query, where an API key often goes: never in any message.
const QUERY_CANARY: &str = "apikey_canary_5f3a";

const CALL_TS: &str = r#"import { action, v } from "@zaflun/lumio-sdk/server";
export const call = action({
  args: { url: v.string() },
  handler: async (ctx, args) => {
    const res = await ctx.fetch(args.url);
    return res.status;
  },
});
"#;

#[test]
fn an_uncaught_fetch_failure_names_host_and_cause_to_developers_only() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let admin = server.admin();
    admin.ok(&["extensions", "create", EXT]);
    let project = Project::empty();
    project.write("lumio.json", &format!("{{\"extension\": \"{EXT}\"}}"));
    project.write("server/functions.ts", CALL_TS);
    admin.ok(&["deploy", project.arg()]);

    let refused_port = free_port();
    let cases = [
        (
            format!("https://no-such-host.invalid/v1/charge?key={QUERY_CANARY}"),
            "ctx.fetch to no-such-host.invalid failed: the name no-such-host.invalid does not resolve",
        ),
        (
            format!("http://127.0.0.1:{refused_port}/v1?key={QUERY_CANARY}"),
            "failed: the connection was refused",
        ),
    ];
    for (url, _) in &cases {
        let args = serde_json::json!({ "url": url }).to_string();
        // The caller (no token, like a browser): a fixed sentence, the code, a next step.
        let answer = reqwest::blocking::Client::new()
            .post(format!(
                "{}/api/v1/extensions/{EXT}/environments/staging/actions/functions:call",
                server.url
            ))
            .json(&serde_json::json!({ "args": { "url": url } }))
            .send()
            .unwrap();
        assert_eq!(answer.status(), 502);
        let body: serde_json::Value = answer.json().unwrap();
        assert_eq!(body["error"]["code"], "fetch_failed", "{body}");
        let shown = body.to_string();
        for private in [
            "no-such-host",
            "127.0.0.1",
            "resolve",
            "refused",
            QUERY_CANARY,
        ] {
            assert!(
                !shown.contains(private),
                "{private:?} reached the caller: {shown}"
            );
        }
        assert!(
            body["error"]["hint"]
                .as_str()
                .is_some_and(|h| h.contains("lumio logs")),
            "{body}"
        );

        // `lumio run` says the same, with the action-failed exit status.
        let out = admin.run(&["run", "functions:call", &args, "--extension", EXT], None);
        out.err("that call failed");
        assert_eq!(out.status.code(), Some(7), "{out:#?}");
        assert!(
            out.hint().is_some_and(|h| h.contains("lumio logs")),
            "{out:#?}"
        );
        out.never_shows(QUERY_CANARY);
    }

    // The developers' logs say which host and what failed, without the path or query.
    let logs = admin.run(&["logs", "--extension", EXT, "--json"], None);
    let text = logs.ok();
    for (_, cause) in &cases {
        assert!(text.contains(cause), "no {cause:?} in {text}");
    }
    assert!(
        text.contains(&format!("127.0.0.1:{refused_port}")),
        "{text}"
    );
    logs.never_shows(QUERY_CANARY);
    logs.never_shows("/v1");
}
