//! Issue 24: failed sign-ins and refused tokens are throttled per client address, against
//! the real `lumio server`: after 10 in a minute without a good one between, every request from that address that
//! presents a credential gets 429 with `Retry-After` (before the credential is checked),
//! while requests without one are served as before.

use crate::support::server::{Backend, TestServer};
use reqwest::blocking::{Client, Response};

/// Failures an address may have per minute (`address_limit::MAX_AUTH_FAILURES`).
const MAX_FAILURES: usize = 10;

#[track_caller]
fn assert_throttled(answer: &Response) {
    assert_eq!(answer.status(), 429);
    let wait: u64 = answer.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
}

#[test]
fn bad_tokens_from_one_address_are_answered_429_after_ten_a_minute() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let http = Client::new();
    let list = format!("{}/api/v1/extensions", server.url);
    let with = |token: &str| http.get(&list).bearer_auth(token).send().unwrap();
    let guess = |n: usize| with(&format!("lumio_guess_{n:032}"));
    for n in 0..MAX_FAILURES - 1 {
        assert_eq!(guess(n).status(), 401, "guess {n}");
    }
    // An accepted token starts the count again ...
    assert_eq!(with(&server.admin_token).status(), 200);
    for n in 0..MAX_FAILURES - 1 {
        assert_eq!(guess(n).status(), 401, "guess {n} after a good token");
    }
    // ... a made-up header on a route that needs none does not.
    let probe = http
        .get(format!("{}/healthz", server.url))
        .bearer_auth("made_up")
        .send()
        .unwrap();
    assert_eq!(probe.status(), 200);
    assert_eq!(guess(MAX_FAILURES).status(), 401, "the tenth in a row");
    let answer = with("lumio_guess_one_more_0000000000000000");
    assert_throttled(&answer);
    let body: serde_json::Value = answer.json().unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Retry-After")),
        "{body}"
    );
    // The count is per address, not per token: a good token from it waits too ...
    assert_throttled(&with(&server.admin_token));
    // ... while what presents no credential is served.
    let health = http.get(format!("{}/healthz", server.url)).send().unwrap();
    assert_eq!(health.status(), 200);
}

#[test]
fn failed_dashboard_sign_ins_count_the_same_way() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let http = Client::new();
    let csrf = "0123456789abcdef0123456789abcdef";
    let sign_in = |token: &str| {
        http.post(format!("{}/dashboard/sign-in", server.url))
            .header("cookie", format!("lumio_signin={csrf}"))
            .form(&[("csrf", csrf), ("token", token)])
            .send()
            .unwrap()
    };
    for guess in 0..MAX_FAILURES {
        let answer = sign_in(&format!("lumio_guess_{guess:032}"));
        assert_eq!(answer.status(), 401, "guess {guess}");
    }
    let answer = sign_in(&server.admin_token);
    assert_throttled(&answer);
    // A person reads it: the sign-in page again (HTML, the dashboard's CSP), saying how
    // long to wait, with the form to try once the wait is over.
    let header = |name: &str| {
        answer.headers()[name]
            .to_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        header("content-type").starts_with("text/html"),
        "{}",
        header("content-type")
    );
    assert!(header("content-security-policy").contains("default-src 'none'"));
    let text = answer.text().unwrap();
    assert!(text.contains("Too many failed sign-ins"), "{text}");
    assert!(
        text.contains("id=\"token-error\"") && text.contains("<form"),
        "{text}"
    );
    assert!(text.contains("seconds, then sign in"), "{text}");
    assert!(!text.contains(&server.admin_token));
}
