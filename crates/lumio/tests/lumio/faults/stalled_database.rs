//! A database that stops answering without closing its connections (issue 29): every
//! caller is told the truth within `--db-timeout` plus a margin, actions that read no
//! secret keep answering at once, and everything recovers without a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::api::Api;
use super::black_hole::BlackHole;
use super::private_pg::PrivatePg;
use crate::support::server::{Launch, TestServer};

const ACTIONS: &str = "import { action } from \"@zaflun/lumio-sdk/server\";\n\
    export const plain = action({ args: {}, handler: async () => ({ ok: true }) });\n\
    export const reads = action({ args: {}, secrets: [\"KEY\"], handler: async (ctx: any) => ({ length: ctx.secrets.get(\"KEY\").length }) });\n";

/// `--db-timeout` for this test.
const DB_TIMEOUT: Duration = Duration::from_secs(3);
/// What a loaded machine may add to it: well under a second wait stacked on another.
const MARGIN: Duration = Duration::from_millis(1500);
/// How long the database stays silent.
const SILENCE: Duration = Duration::from_secs(20);

#[test]
fn a_silent_database_is_bounded_like_a_stopped_one() {
    let Some(pg) = PrivatePg::start() else {
        return;
    };
    pg.sql("postgres", "CREATE DATABASE lumio");
    let proxy = BlackHole::start(pg.port);
    let url = format!("postgres://postgres@127.0.0.1:{}/lumio", proxy.port);
    let timeout = DB_TIMEOUT.as_secs().to_string();
    let server = TestServer::launch(Launch {
        database_url: Some(url),
        env: &[("LUMIO_DB_TIMEOUT", &timeout)],
        ..Launch::default()
    });
    let api = Api::new(&server);
    api.create_extension("hole");
    assert_eq!(api.set("hole", "KEY", "black-hole-1").0, 200);
    api.deploy("hole", ACTIONS);
    assert_eq!(api.invoke("hole", "plain").0, 200);
    assert_eq!(api.invoke("hole", "reads").0, 200);

    // Sets keep coming from another client, so one is in flight when the path goes silent.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (api, writing) = (Api::new(&server), Arc::clone(&writing));
        thread::spawn(move || {
            let mut slowest = (Duration::ZERO, 0, serde_json::Value::Null);
            let mut n = 0;
            while writing.load(Ordering::SeqCst) {
                n += 1;
                let started = Instant::now();
                let (status, body) = api.set("hole", "OTHER", &format!("other-{n}"));
                let took = started.elapsed();
                assert!(
                    status == 200 || status == 503,
                    "a set answered {status}: {body}"
                );
                if took > slowest.0 {
                    slowest = (took, status, body);
                }
            }
            slowest
        })
    };
    thread::sleep(Duration::from_millis(500));
    let silent_since = Instant::now();
    proxy.stall();

    // Actions that read no secret: every one answers, and once the server has noticed,
    // at once.
    let mut plain = Vec::new();
    while silent_since.elapsed() < Duration::from_secs(6) {
        let started = Instant::now();
        let (status, body) = api.invoke("hole", "plain");
        assert_eq!(
            status, 200,
            "a no-secret action while the database is silent: {body}"
        );
        plain.push(started.elapsed());
    }
    let slowest_plain = plain.iter().max().copied().unwrap_or_default();
    let last = &plain[plain.len().saturating_sub(5)..];
    eprintln!(
        "no-secret actions while silent: {} calls, slowest {slowest_plain:?}, last {last:?}",
        plain.len()
    );
    assert!(
        slowest_plain < DB_TIMEOUT,
        "a no-secret action waited {slowest_plain:?} on a silent database"
    );
    assert!(
        last.iter().all(|took| *took < Duration::from_millis(500)),
        "no-secret actions still wait on the silent database: {last:?}"
    );

    // A secret read cannot be audited: 503 within the timeout, never 500.
    let (status, body, took) = timed(|| api.invoke("hole", "reads"));
    eprintln!("a secret read while silent: {status} in {took:?}");
    assert_eq!(status, 503, "a secret read while silent: {body}");
    assert!(took < DB_TIMEOUT + MARGIN, "the secret read took {took:?}");

    // Management calls: 503 within the timeout.
    let (status, body, took) = timed(|| api.get("hole", "secrets"));
    eprintln!("a listing while silent: {status} in {took:?}");
    assert_eq!(status, 503, "a listing while silent: {body}");
    assert!(took < DB_TIMEOUT + MARGIN, "the listing took {took:?}");
    let started = Instant::now();
    let (status, retry) = api.set_retry_after("hole", "KEY", "black-hole-lost");
    let took = started.elapsed();
    eprintln!("a set while silent: {status} in {took:?}");
    assert_eq!(
        (status, retry.as_deref()),
        (503, Some("1")),
        "a set while silent: 503, saying when to retry"
    );
    assert!(took < DB_TIMEOUT + MARGIN, "the set took {took:?}");

    writing.store(false, Ordering::SeqCst);
    let (slowest_set, status, body) = writer.join().expect("the set loop");
    eprintln!("slowest set across the silence: {status} in {slowest_set:?}");
    assert!(
        slowest_set < DB_TIMEOUT + MARGIN,
        "a set in flight when the database went silent took {slowest_set:?}: {status} {body}"
    );
    assert!(
        silent_since.elapsed() < SILENCE,
        "the checks outlasted the silence"
    );

    thread::sleep(SILENCE.saturating_sub(silent_since.elapsed()));
    proxy.resume();
    let back = Instant::now();
    api.set_once_back(&server, "hole", "KEY", "black-hole-2");
    eprintln!(
        "sets answered again {:?} after the path came back",
        back.elapsed()
    );
    let (status, body) = api.invoke("hole", "reads");
    assert_eq!(status, 200, "{body}\n{}", server.log());
    assert_eq!(body["value"]["length"], "black-hole-2".len());
    let log = server.log();
    assert!(
        log.contains("change feed lost; reconnecting"),
        "the silent feed went unnoticed:\n{log}"
    );
    assert!(
        !log.contains("black-hole-"),
        "a value reached the server's log"
    );
}

fn timed(call: impl FnOnce() -> (u16, serde_json::Value)) -> (u16, serde_json::Value, Duration) {
    let started = Instant::now();
    let (status, body) = call();
    (status, body, started.elapsed())
}
