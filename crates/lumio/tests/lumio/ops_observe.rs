//! Issue 12, items 2 and 3: `/metrics` in the Prometheus text format (parsed here by a
//! Prometheus parser) with counters that move after known calls and labels that hold
//! route templates only (parsed by a strict text-format parser, `support/prometheus_text.rs`); `LUMIO_LOG_FORMAT=json` giving one JSON object per line with a
//! line per request (method, route template, status, latency, request id); and a planted
//! secret value that appears in no log line and no metric.

use crate::support::prometheus_text;

use prometheus_text::Scrape;
use serde_json::Value as Json;

use crate::support::project::Project;
use crate::support::server::{Backend, TestServer};

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";
const SECRET_ROUTE: &str = "/api/v1/extensions/{ext}/environments/{env}/secrets/{name}";
const ACTION: &str = "import { action } from \"@zaflun/lumio-sdk/server\";\n\
    export const reads = action({ args: {}, handler: async (ctx: any) => ({ length: ctx.secrets.get(\"OBS_KEY\").length }) });\n";

fn scrape(server: &TestServer, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::blocking::Client::new().get(format!("{}/metrics", server.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

fn parse(text: &str) -> Scrape {
    Scrape::parse(text).unwrap_or_else(|err| panic!("not Prometheus text ({err}):\n{text}"))
}

/// Observations of a histogram with these labels (0 when absent).
fn observations(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape.value(&format!("{name}_count"), labels)
}

/// The default text log, written to a file (as the test harness does), holds no colour
/// codes: they are for a terminal only.
#[test]
fn a_text_log_written_to_a_file_has_no_colour_codes() {
    let server = TestServer::start(Backend::Sqlite).expect("SQLite needs no service");
    let response = reqwest::blocking::get(format!("{}/healthz", server.url)).unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let log = server.log();
    assert!(log.contains("INFO"), "the text log has lines: {log}");
    assert!(!log.contains('\x1b'), "colour codes in a log file: {log:?}");
}

#[test]
fn metrics_and_json_logs_on_sqlite() {
    metrics_count_known_calls_and_json_logs_name_each_request(Backend::Sqlite);
}

#[test]
fn metrics_and_json_logs_on_postgres() {
    metrics_count_known_calls_and_json_logs_name_each_request(Backend::Postgres);
}

fn metrics_count_known_calls_and_json_logs_name_each_request(db: Backend) {
    let canary = format!("obs-canary-{}-{db:?}", std::process::id());
    let Some(server) = TestServer::start_with_env(
        db,
        &[
            ("LUMIO_LOG_FORMAT", "json"),
            ("LUMIO_METRICS_TOKEN", METRICS_TOKEN),
        ],
    ) else {
        return; // No PostgreSQL: the helper has said so loudly.
    };

    assert_eq!(scrape(&server, None).0, 401, "metrics without the token");
    assert_eq!(scrape(&server, Some("wrong-token-0123456789")).0, 401);
    let (status, before) = scrape(&server, Some(METRICS_TOKEN));
    assert_eq!(status, 200, "{before}");
    let before = parse(&before);
    let put_ok = [
        ("method", "PUT"),
        ("route", SECRET_ROUTE),
        ("status", "200"),
    ];

    let admin = server.admin();
    admin.ok(&["extensions", "create", "obs-ext"]);
    admin.ok(&["env", "set", "OBS_KEY", &canary, "--extension", "obs-ext"]);
    admin.ok(&["env", "list", "--extension", "obs-ext"]);
    let project = Project::empty();
    project.write("server/functions.ts", ACTION);
    admin.ok(&["deploy", project.arg(), "--extension", "obs-ext"]);
    for _ in 0..2 {
        let out = admin.ok(&["run", "functions:reads", "--extension", "obs-ext"]);
        assert!(out.contains(&canary.len().to_string()), "{out}");
    }
    // A request id of the client's own, to find its log line.
    let response = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/extensions", server.url))
        .bearer_auth(&server.admin_token)
        .header("x-request-id", "obs-request-42")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    let (_, text) = scrape(&server, Some(METRICS_TOKEN));
    let after = parse(&text);
    let moved = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(moved("lumio_http_requests_total", &put_ok), 1.0, "{text}");
    assert!(
        observations(
            &after,
            "lumio_http_request_duration_seconds",
            &[("method", "PUT"), ("route", SECRET_ROUTE)]
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(
        moved("lumio_action_invocations_total", &[("outcome", "ok")]),
        2.0,
        "{text}"
    );
    assert!(
        observations(
            &after,
            "lumio_action_duration_seconds",
            &[("outcome", "ok")]
        ) >= 2.0,
        "{text}"
    );
    assert!(
        observations(&after, "lumio_audit_batch_size", &[]) >= 1.0,
        "{text}"
    );
    assert!(
        observations(&after, "lumio_audit_commit_duration_seconds", &[]) >= 1.0,
        "{text}"
    );
    let reads =
        moved("lumio_secret_cache_hits_total", &[]) + moved("lumio_secret_cache_misses_total", &[]);
    assert!(reads >= 2.0, "two invocations read the secret: {text}");
    for gauge in [
        "lumio_runtime_inflight",
        "lumio_runtime_queued",
        "lumio_runtime_memory_bytes",
        "lumio_runtime_memory_budget_bytes",
        "lumio_audit_queue_depth",
    ] {
        assert!(after.has(gauge), "{gauge} missing: {text}");
    }
    if matches!(db, Backend::Postgres) {
        assert_eq!(
            after.value("lumio_db_pool_max_connections", &[]),
            16.0,
            "{text}"
        );
        let open = after.value("lumio_db_pool_connections", &[("state", "idle")])
            + after.value("lumio_db_pool_connections", &[("state", "in_use")]);
        assert!(open >= 1.0, "{text}");
    }
    // Labels hold templates and fixed words: no extension or secret name, no value.
    for word in ["obs-ext", "OBS_KEY", canary.as_str()] {
        assert!(!text.contains(word), "metrics show {word:?}:\n{text}");
    }

    let log = server.log();
    let lines: Vec<Json> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let requests: Vec<&Json> = lines
        .iter()
        .filter(|l| l["target"] == "lumio::request")
        .collect();
    let set_line = requests
        .iter()
        .find(|l| l["method"] == "PUT" && l["route"] == SECRET_ROUTE)
        .unwrap_or_else(|| panic!("no request line for the set:\n{log}"));
    assert_eq!(set_line["level"], "INFO");
    assert_eq!(set_line["status"], 200);
    assert!(set_line["latency_ms"].as_f64().is_some(), "{set_line}");
    let id = set_line["request_id"].as_str().unwrap();
    assert!(!id.is_empty());
    // The request's span carries the id too, so every event inside it names it.
    assert_eq!(set_line["span"]["request_id"], id, "{set_line}");
    let own = requests
        .iter()
        .find(|l| l["request_id"] == "obs-request-42")
        .unwrap_or_else(|| panic!("no line with the client's request id:\n{log}"));
    assert_eq!(own["route"], "/api/v1/extensions");
    assert_eq!(own["method"], "GET");
    let invoked = requests
        .iter()
        .filter(|l| l["route"] == "/api/v1/extensions/{ext}/environments/{env}/actions/{action}")
        .count();
    assert_eq!(invoked, 2, "{log}");
    // Raw paths never: they hold extension and secret names.
    assert!(
        requests.iter().all(|l| !l.to_string().contains("obs-ext")),
        "{log}"
    );
    for line in &lines {
        assert!(
            !line.to_string().contains(&canary),
            "a log line shows the value: {line}"
        );
    }
    assert!(!log.contains(&canary));
}
