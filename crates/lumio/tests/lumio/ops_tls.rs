//! Issue 12, item 1: `lumio server --tls-cert --tls-key` and the CLI over https://, with a
//! private CA made here (rcgen): trusted through `--ca-cert` / `LUMIO_CA_CERT`, refused
//! with a hint without it, and a renewed certificate picked up on SIGHUP. Plus the
//! refusal of `lumio login` to send a token over plain http to another host.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tempfile::TempDir;

use crate::support;
use crate::support::server::{Launch, TestServer};

/// A CA and a server certificate for `localhost` signed by it, as PEM files.
struct TestCa {
    dir: TempDir,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("Lumio test CA {name}"));
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join("ca.pem"), cert.pem()).unwrap();
        Self {
            dir,
            issuer: Issuer::new(params, key),
        }
    }

    fn ca_pem(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Writes a fresh certificate and key for `localhost` to `cert` and `key`.
    fn issue(&self, cert: &Path, key: &Path) {
        let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = params.signed_by(&leaf_key, &self.issuer).unwrap();
        std::fs::write(cert, leaf.pem()).unwrap();
        std::fs::write(key, leaf_key.serialize_pem()).unwrap();
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn the_cli_speaks_https_to_a_tls_server_with_a_private_ca() {
    let ca = TestCa::new("one");
    let files = TempDir::new().unwrap();
    let (cert, key) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    ca.issue(&cert, &key);
    let server = TestServer::launch(Launch {
        env: &[
            ("LUMIO_TLS_CERT", path_str(&cert)),
            ("LUMIO_TLS_KEY", path_str(&key)),
        ],
        ca_cert: Some(&ca.ca_pem()),
        ..Launch::default()
    });
    assert!(
        server.url.starts_with("https://localhost:"),
        "{}",
        server.url
    );

    // Without the CA: refused before any token is sent, with the way out in the hint.
    let stranger = server.anonymous_shell();
    let out = stranger.run(
        &[
            "login",
            "--url",
            &server.url,
            "--token",
            &server.admin_token,
        ],
        None,
    );
    out.err("not trusted");
    assert!(
        out.hint().unwrap_or_default().contains("--ca-cert"),
        "{out:#?}"
    );
    out.never_shows(&server.admin_token);

    // With --ca-cert: login, then every command through LUMIO_CA_CERT.
    let user = server.anonymous_shell();
    user.run(
        &[
            "login",
            "--url",
            &server.url,
            "--token",
            &server.admin_token,
            "--ca-cert",
            path_str(&ca.ca_pem()),
        ],
        None,
    )
    .ok();
    let admin = server.admin();
    let ca_pem = ca.ca_pem();
    let with_ca = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--ca-cert", path_str(&ca_pem)]);
        admin.run(&all, None)
    };
    with_ca(&["extensions", "create", "tls-ext"]).ok();
    with_ca(&[
        "env",
        "set",
        "API_KEY",
        "tls-canary-value",
        "--extension",
        "tls-ext",
    ])
    .ok();
    let listed = with_ca(&["env", "list", "--extension", "tls-ext", "--json"]);
    assert!(listed.ok().contains("API_KEY"), "{listed:#?}");
    listed.never_shows("tls-canary-value");

    // The server's log says it serves https.
    assert!(server.log().contains("https"), "{}", server.log());
}

#[test]
fn a_renewed_certificate_is_served_after_sighup() {
    let (old_ca, new_ca) = (TestCa::new("old"), TestCa::new("new"));
    let files = TempDir::new().unwrap();
    let (cert, key) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    old_ca.issue(&cert, &key);
    let server = TestServer::launch(Launch {
        env: &[
            ("LUMIO_TLS_CERT", path_str(&cert)),
            ("LUMIO_TLS_KEY", path_str(&key)),
        ],
        ca_cert: Some(&old_ca.ca_pem()),
        ..Launch::default()
    });
    let admin = server.admin();
    let list_with = |ca: &TestCa| {
        let pem = ca.ca_pem();
        admin.run(&["extensions", "list", "--ca-cert", path_str(&pem)], None)
    };
    list_with(&old_ca).ok();
    list_with(&new_ca).err("not trusted");

    // A broken pair on SIGHUP keeps the current certificate.
    std::fs::write(&key, "not a key").unwrap();
    hangup(&server);
    std::thread::sleep(Duration::from_millis(500));
    list_with(&old_ca).ok();

    new_ca.issue(&cert, &key);
    hangup(&server);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !list_with(&new_ca).status.success() {
        assert!(
            Instant::now() < deadline,
            "never reloaded:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    list_with(&old_ca).err("not trusted");
    assert!(
        server.log().contains("kept the current TLS certificate"),
        "{}",
        server.log()
    );
}

fn hangup(server: &TestServer) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_server_with_an_unusable_certificate_refuses_to_start() {
    let files = TempDir::new().unwrap();
    let (cert, key) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    std::fs::write(&cert, "no certificate here").unwrap();
    std::fs::write(&key, "nor a key").unwrap();
    let data = TempDir::new().unwrap();
    let out = support::run(
        {
            let mut cmd = support::lumio(data.path(), data.path());
            cmd.args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
                .arg(data.path().join("data"))
                .args(["--tls-cert", path_str(&cert), "--tls-key", path_str(&key)]);
            cmd
        },
        None,
    );
    assert!(!out.status.success(), "{out:#?}");
    assert!(
        out.stderr.contains("cert.pem holds no PEM certificate"),
        "{out:#?}"
    );
}

/// Issue 24: under `--tls-cert` the dashboard's cookies are `Secure` without a proxy's
/// `X-Forwarded-Proto`, and `lumio healthcheck` finds the HTTPS server from the same
/// settings the image gives it (`LUMIO_LISTEN`, `LUMIO_TLS_CERT`).
#[test]
fn native_tls_makes_dashboard_cookies_secure_and_the_healthcheck_speaks_https() {
    let ca = TestCa::new("cookies");
    let files = TempDir::new().unwrap();
    let (cert, key) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    ca.issue(&cert, &key);
    let server = TestServer::launch(Launch {
        env: &[
            ("LUMIO_TLS_CERT", path_str(&cert)),
            ("LUMIO_TLS_KEY", path_str(&key)),
        ],
        ca_cert: Some(&ca.ca_pem()),
        ..Launch::default()
    });
    let pem = std::fs::read(ca.ca_pem()).unwrap();
    let http = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    // A client claiming plain http changes nothing: this connection is TLS.
    let form = http
        .get(format!("{}/dashboard/sign-in", server.url))
        .header("x-forwarded-proto", "http")
        .send()
        .unwrap();
    assert_eq!(form.status(), 200);
    let cookies: Vec<_> = form
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(!cookies.is_empty());
    for cookie in &cookies {
        assert!(cookie.ends_with("; Secure"), "{cookie}");
    }

    let port = server.url.rsplit(':').next().unwrap();
    let home = TempDir::new().unwrap();
    let mut check = support::lumio(home.path(), home.path());
    check
        .arg("healthcheck")
        .env("LUMIO_LISTEN", format!("0.0.0.0:{port}"))
        .env("LUMIO_TLS_CERT", path_str(&cert));
    let out = support::run(check, None);
    assert_eq!(
        out.ok().trim(),
        format!("ok: https://127.0.0.1:{port}/readyz")
    );
}
