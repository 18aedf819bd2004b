//! The dashboard over plain HTTP against the real server: sessions, CSRF, headers, roles
//! and escaping, on SQLite and PostgreSQL. What a browser shows is in `dashboard_browser`.

use crate::common::on_each_backend;
use std::time::Duration;

use crate::common;
use crate::common::web::{field_value, Web};
use crate::common::{spawn_app, spawn_second, Backend};
use reqwest::StatusCode;

const SECRETS: &str = "/dashboard/extensions/weather/settings/secrets";

/// A server with extension `weather`, and a browser-like client signed in as admin.
async fn signed_in(backend: Backend) -> Option<(common::TestApp, Web)> {
    let app = spawn_app(backend).await?;
    app.create_extension("weather").await;
    let mut web = Web::new(&app.url);
    let answer = web.sign_in(&app.admin_token).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    Some((app, web))
}

async fn sign_in_sets_a_strict_session_cookie_without_the_token(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let mut web = Web::new(&app.url);
    let answer = web.sign_in(&app.admin_token).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), Some("/dashboard/extensions"));
    let session = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("lumio_session="))
        .expect("a session cookie");
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/dashboard",
        "Max-Age=43200",
    ] {
        assert!(session.contains(flag), "{flag} missing in {session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    let secret_part = app.admin_token.rsplit('_').next().unwrap();
    assert!(!session.contains(secret_part), "the token is in the cookie");
    // Behind a TLS-terminating proxy the cookies are `Secure`.
    let mut tls = Web::behind_https_proxy(&app.url);
    let answer = tls.sign_in(&app.admin_token).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    for cookie in answer.set_cookies() {
        assert!(cookie.ends_with("; Secure"), "{cookie}");
    }
    assert_eq!(
        web.get("/dashboard/extensions").await.status,
        StatusCode::OK
    );

    let mut stranger = Web::new(&app.url);
    let bad = stranger.sign_in("lumio_0123456789abcdef_nope").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.body.contains("That token is not valid"));
    assert!(!stranger.cookies.contains_key("lumio_session"));
}

async fn pages_carry_the_security_headers(backend: Backend) {
    let Some((app, mut web)) = signed_in(backend).await else {
        return;
    };
    for path in [
        "/dashboard/sign-in",
        "/dashboard/extensions",
        SECRETS,
        "/dashboard/assets/dashboard.css",
        "/dashboard/no-such-page",
    ] {
        let page = web.get(path).await;
        let header = |name: &str| {
            page.headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(
            header("content-security-policy"),
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
            "{path}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("cache-control"), "no-store", "{path}");
    }
    let css = web.get("/dashboard/assets/dashboard.css").await;
    assert!(css.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    drop(app);
}

async fn a_post_without_the_right_csrf_token_is_refused(backend: Backend) {
    let Some((app, mut web)) = signed_in(backend).await else {
        return;
    };
    let form = [("env", "staging"), ("name", "NO_CSRF"), ("value", "v")];
    assert_eq!(web.post(SECRETS, &form).await.status, StatusCode::FORBIDDEN);
    let zeros = "0".repeat(64);
    let wrong = [
        ("csrf", zeros.as_str()),
        ("env", "staging"),
        ("name", "NO_CSRF"),
        ("value", "v"),
    ];
    let refused = web.post(SECRETS, &wrong).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused
        .body
        .contains("did not come from your current dashboard session"));
    // Sign-out and sign-in are forms too.
    let out = web.post("/dashboard/sign-out", &[]).await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    let mut other = Web::new(&app.url);
    let no_pre_cookie = other
        .post(
            "/dashboard/sign-in",
            &[("csrf", "x"), ("token", &app.admin_token)],
        )
        .await;
    assert_eq!(no_pre_cookie.status, StatusCode::FORBIDDEN);
    assert!(app.api_names("weather", "staging").await.is_empty());

    // With the token from the page it works.
    let csrf = web.get(SECRETS).await.csrf();
    let ok = [
        ("csrf", csrf.as_str()),
        ("env", "staging"),
        ("name", "WITH_CSRF"),
        ("value", "v"),
    ];
    assert_eq!(web.post(SECRETS, &ok).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.api_names("weather", "staging").await, ["WITH_CSRF"]);
}

async fn forged_and_signed_out_sessions_are_refused(backend: Backend) {
    let Some((app, mut web)) = signed_in(backend).await else {
        return;
    };
    let csrf = web.get(SECRETS).await.csrf();
    let real = web.cookies["lumio_session"].clone();

    let mut forger = Web::new(&app.url);
    forger
        .cookies
        .insert("lumio_session".into(), "f".repeat(64));
    let page = forger.get(SECRETS).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/dashboard/sign-in?expired=1"));
    forger
        .cookies
        .insert("lumio_session".into(), "f".repeat(64));
    let form = [
        ("csrf", csrf.as_str()),
        ("env", "staging"),
        ("name", "FORGED"),
        ("value", "v"),
    ];
    assert_eq!(
        forger.post(SECRETS, &form).await.status,
        StatusCode::SEE_OTHER
    );

    // Signing out ends the session on the server, not just in the browser.
    let out = web.post("/dashboard/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let mut replay = Web::new(&app.url);
    replay.cookies.insert("lumio_session".into(), real);
    assert_eq!(replay.get(SECRETS).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        replay.post(SECRETS, &form).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(app.api_names("weather", "staging").await.is_empty());
}

async fn an_expired_session_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("weather").await;
    // A second dashboard over the same service, with sessions of one second.
    let config = lumio_dashboard::DashboardConfig {
        session_ttl: Duration::from_secs(1),
        ..Default::default()
    };
    let router: axum::Router = lumio_dashboard::router_with(app.service().clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let mut web = Web::new(&url);
    assert_eq!(
        web.sign_in(&app.admin_token).await.status,
        StatusCode::SEE_OTHER
    );
    let page = web.get(SECRETS).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.csrf();
    let old = web.cookies["lumio_session"].clone();
    app.clock.advance(Duration::from_secs(2));
    let expired = web.get(SECRETS).await;
    assert_eq!(expired.status, StatusCode::SEE_OTHER);
    assert_eq!(expired.location(), Some("/dashboard/sign-in?expired=1"));
    let notice = web.get("/dashboard/sign-in?expired=1").await;
    assert!(notice.body.contains("Your session has ended"));
    let form = [
        ("csrf", csrf.as_str()),
        ("env", "staging"),
        ("name", "LATE"),
        ("value", "v"),
    ];
    // The browser dropped the cookie when told; a replay of it is refused too.
    web.cookies.insert("lumio_session".into(), old);
    assert_eq!(web.post(SECRETS, &form).await.status, StatusCode::SEE_OTHER);
    assert!(app.api_names("weather", "staging").await.is_empty());
}

async fn a_viewer_sees_no_controls_and_its_writes_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("weather").await;
    app.api_set("weather", "staging", "EXISTING", "v1").await;
    let viewer = app.token("weather", "viewer").await;
    let mut web = Web::new(&app.url);
    assert_eq!(web.sign_in(&viewer).await.status, StatusCode::SEE_OTHER);

    let page = web.get(SECRETS).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("EXISTING"));
    assert!(!page.body.contains("Add secret"));
    assert!(page.body.contains("role (viewer)"));
    let detail = web.get(&format!("{SECRETS}/EXISTING?env=staging")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(!detail.body.contains("Replace value"));
    assert!(!detail.body.contains("Roll back"));
    assert!(!detail.body.contains("/delete"));
    let audit = web
        .get("/dashboard/extensions/weather/audit?env=staging")
        .await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(audit.body.contains("secret.set"));

    // The server refuses the writes anyway, CSRF token and all.
    let csrf = page.csrf();
    let add = [
        ("csrf", csrf.as_str()),
        ("env", "staging"),
        ("name", "VIEWER_WRITE"),
        ("value", "v"),
    ];
    let refused = web.post(SECRETS, &add).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("cannot set secrets"));
    let replace = [("csrf", csrf.as_str()), ("env", "staging"), ("value", "v2")];
    let path = format!("{SECRETS}/EXISTING");
    assert_eq!(
        web.post(&path, &replace).await.status,
        StatusCode::FORBIDDEN
    );
    let delete = [("csrf", csrf.as_str()), ("env", "staging")];
    let path = format!("{SECRETS}/EXISTING/delete");
    assert_eq!(web.post(&path, &delete).await.status, StatusCode::FORBIDDEN);
    let rollback = [
        ("csrf", csrf.as_str()),
        ("env", "staging"),
        ("version", "1"),
    ];
    let path = format!("{SECRETS}/EXISTING/rollback");
    assert_eq!(
        web.post(&path, &rollback).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.api_names("weather", "staging").await, ["EXISTING"]);
}

async fn another_extension_looks_missing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.create_extension("weather").await;
    app.create_extension("secretive").await;
    let owner = app.token("weather", "owner").await;
    let mut web = Web::new(&app.url);
    web.sign_in(&owner).await;
    let list = web.get("/dashboard/extensions").await;
    assert!(list.body.contains("weather"));
    assert!(!list.body.contains("secretive"));
    let hidden = web
        .get("/dashboard/extensions/secretive/settings/secrets")
        .await;
    let missing = web
        .get("/dashboard/extensions/nothere/settings/secrets")
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        hidden.body.replace("secretive", "X"),
        missing.body.replace("nothere", "X")
    );
}

async fn a_failed_save_keeps_the_name_escaped_and_never_the_value(backend: Backend) {
    let Some((app, mut web)) = signed_in(backend).await else {
        return;
    };
    let csrf = web.get(SECRETS).await.csrf();
    let canary = "canary-value-7f3a9c";
    let evil = "<img src=x onerror=alert(1)>";
    let form = [
        ("csrf", csrf.as_str()),
        ("env", "staging"),
        ("name", evil),
        ("value", canary),
    ];
    let page = web.post(SECRETS, &form).await;
    assert_eq!(
        page.status,
        StatusCode::BAD_REQUEST,
        "the API's status for invalid input"
    );
    assert!(!page.body.contains(canary), "the value was rendered back");
    assert!(
        !page.body.contains("<img"),
        "unescaped HTML:\n{}",
        page.body
    );
    assert!(page.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(page.body.contains("is invalid"));
    // The name is kept for correction (escaped); the value field is empty.
    assert_eq!(
        field_value(&page.body, "name").as_deref(),
        Some("&lt;img src=x onerror=alert(1)&gt;")
    );
    assert!(page.body.contains("name=\"value\" rows=\"3\""));
    assert!(page.body.contains("></textarea>"));

    // A value over 64 KiB is refused the same way.
    let big = "x".repeat(65 * 1024);
    let form = [
        ("csrf", csrf.as_str()),
        ("env", "staging"),
        ("name", "BIG"),
        ("value", big.as_str()),
    ];
    let page = web.post(SECRETS, &form).await;
    assert_eq!(
        page.status,
        StatusCode::BAD_REQUEST,
        "the API's status for invalid input"
    );
    assert!(page.body.contains("the limit is 65536 bytes"));
    assert!(!page.body.contains(&big[..1024]));

    // HTML in a filter is escaped on the audit page too.
    let audit = web
        .get("/dashboard/extensions/weather/audit?env=staging&secret=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(!audit.body.contains("<script"));
    assert!(audit.body.contains("&lt;script&gt;"));
    assert!(app.api_names("weather", "staging").await.is_empty());
}

async fn audit_pages_are_newest_first_and_paged(backend: Backend) {
    let Some((app, mut web)) = signed_in(backend).await else {
        return;
    };
    for i in 0..60 {
        app.api_set("weather", "staging", &format!("K{i:02}"), "v")
            .await;
    }
    let first = web
        .get("/dashboard/extensions/weather/audit?env=staging&event=secret.set")
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let k59 = first.body.find(">K59<").expect("newest on page one");
    let k10 = first.body.find(">K10<").expect("fiftieth on page one");
    assert!(k59 < k10, "newest first");
    assert!(!first.body.contains(">K09<"));
    let start = first.body.find("id=\"older\" href=\"").unwrap() + 17;
    let end = first.body[start..].find('"').unwrap() + start;
    let older = first.body[start..end].replace("&amp;", "&");
    assert!(older.contains("event=secret.set"), "{older}");
    let second = web.get(&older).await;
    assert!(second.body.contains(">K09<") && second.body.contains(">K00<"));
    assert!(!second.body.contains(">K10<"));
    assert!(!second.body.contains("id=\"older\""));
    let one = web
        .get("/dashboard/extensions/weather/audit?env=staging&secret=K07")
        .await;
    assert_eq!(
        one.body.matches("<tr>").count(),
        2,
        "header row + one entry"
    );
}

on_each_backend!(
    sign_in_sets_a_strict_session_cookie_without_the_token,
    pages_carry_the_security_headers,
    a_post_without_the_right_csrf_token_is_refused,
    forged_and_signed_out_sessions_are_refused,
    an_expired_session_is_refused,
    a_viewer_sees_no_controls_and_its_writes_are_refused,
    another_extension_looks_missing,
    a_failed_save_keeps_the_name_escaped_and_never_the_value,
    adding_a_name_already_set_says_it_replaced_the_value,
    audit_pages_are_newest_first_and_paged,
    html_in_an_action_name_is_escaped_on_the_audit_page,
    a_server_fault_shows_no_internal_cause,
);

/// Issue 13, item 2: a 5xx page says what happened in a stable sentence with the same
/// status as the API, never the cause (a database error text is for the operator's log).
async fn a_server_fault_shows_no_internal_cause(backend: Backend) {
    let Some((app, mut web)) = signed_in(backend).await else {
        return;
    };
    let csrf = web.get(SECRETS).await.csrf();
    lumio_store::testing::refuse_audit_inserts(&app.database_url, true).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("env", "staging"),
        ("name", "UNRECORDED"),
        ("value", "unrecorded-value-5e1d"),
    ];
    let page = web.post(SECRETS, &form).await;
    lumio_store::testing::refuse_audit_inserts(&app.database_url, false).await;
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("the audit log could not be written, so nothing was changed"),
        "{}",
        page.body
    );
    for cause in [
        "refused by the test",
        "test_refuse",
        "database error",
        "ext_audit_log",
    ] {
        assert!(
            !page.body.contains(cause),
            "the page shows the cause {cause:?}"
        );
    }
    assert!(!page.body.contains("unrecorded-value-5e1d"));
}

/// Action names reach the audit page through `secret.get` records; one carrying HTML (as
/// a hostile module path could) is shown as text.
async fn html_in_an_action_name_is_escaped_on_the_audit_page(backend: Backend) {
    let Some((app, mut web)) = signed_in(backend).await else {
        return;
    };
    let slug = lumio_core::ExtensionSlug::parse("weather").unwrap();
    let extension = app.service().find_extension(&slug).await.unwrap().unwrap();
    let evil = "<img src=x onerror=alert(1)>:handler";
    let record = lumio_store::AuditRecord {
        at: chrono::Utc::now(),
        extension_id: extension.id,
        environment: Some(lumio_core::Environment::Staging),
        event: lumio_core::AuditEvent::SecretGet,
        secret_name: Some("API_KEY".to_owned()),
        actor: None,
        action: Some(evil.to_owned()),
        request_id: Some("<b>req</b>".to_owned()),
        outcome: Some("found".to_owned()),
        detail: None,
    };
    app.service().audit().record(record).await.unwrap();
    let page = web
        .get("/dashboard/extensions/weather/audit?env=staging")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("&lt;img src=x onerror=alert(1)&gt;:handler"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<img"), "unescaped action name");
    assert!(!page.body.contains("<b>req"), "unescaped request id");
}

/// "Add secret" with a name that is already set says the value was replaced (a new
/// version), not added.
async fn adding_a_name_already_set_says_it_replaced_the_value(backend: Backend) {
    let Some((_app, mut web)) = signed_in(backend).await else {
        return;
    };
    for (value, notice) in [
        ("sk-first-value-0123", "Saved TWICE in staging (version 1)."),
        (
            "sk-second-value-4567",
            "Saved TWICE in staging (version 2): it replaced version 1 as the current value",
        ),
    ] {
        let page = web.get(SECRETS).await;
        let csrf = page.csrf();
        let form = [
            ("csrf", csrf.as_str()),
            ("env", "staging"),
            ("name", "TWICE"),
            ("value", value),
        ];
        let saved = web.post(SECRETS, &form).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let page = web.get(&format!("{SECRETS}?env=staging")).await;
        assert!(page.body.contains(notice), "{}", page.body);
        assert!(!page.body.contains(value), "a value on the page");
    }
}

/// Two servers on one PostgreSQL, as behind a load balancer: a session signed in through
/// one works through the other (notices included), signing out through the other ends it
/// on both, and the database holds no session id a reader could replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_shared_by_every_server_on_the_database() {
    let Some((a, mut web)) = signed_in(Backend::Postgres).await else {
        return;
    };
    let b = spawn_second(&a).await;
    let session = web.cookies["lumio_session"].clone();
    let mut via_b = Web::new(&b.url);
    via_b.cookies = web.cookies.clone();
    let page = via_b.get(SECRETS).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("env", "staging"),
        ("name", "THROUGH_B"),
        ("value", "sk-through-b-value"),
    ];
    let saved = via_b.post(SECRETS, &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    // The notice left by B's save shows once, on A.
    let page = web.get(&format!("{SECRETS}?env=staging")).await;
    assert!(page.body.contains("THROUGH_B"), "{}", page.body);
    let notice = "Saved THROUGH_B in staging";
    assert!(page.body.contains(notice), "{}", page.body);
    let again = web.get(&format!("{SECRETS}?env=staging")).await;
    assert!(!again.body.contains(notice), "{}", again.body);

    let mut db: sqlx::PgConnection = sqlx::Connection::connect(&a.database_url).await.unwrap();
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT id_hash FROM dashboard_sessions")
        .fetch_all(&mut db)
        .await
        .unwrap();
    use sha2::Digest;
    assert_eq!(
        stored,
        vec![sha2::Sha256::digest(session.as_bytes()).to_vec()]
    );
    let columns: String = sqlx::query_scalar(
        "SELECT id_hash::text || token_id || csrf || expires_at::text FROM dashboard_sessions",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert!(
        !columns.contains(&session),
        "the session id itself is stored"
    );

    let out = via_b.post("/dashboard/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = web.get(SECRETS).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "still signed in on A");
    assert_eq!(after.location(), Some("/dashboard/sign-in?expired=1"));
}
