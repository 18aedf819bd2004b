//! Issue 24: the certificate every tutorial makes (`openssl req -x509 …`: self-signed,
//! CA:TRUE) given with `--ca-cert` is trusted as exactly that certificate (pinned), and a
//! certificate the CLI refuses is explained in words with a next step that works.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tempfile::TempDir;

use crate::support;
use crate::support::server::{Launch, TestServer};

/// A self-signed certificate for `localhost` with CA:TRUE, and its key, as PEM files.
struct SelfSigned {
    dir: TempDir,
}

impl SelfSigned {
    /// Made by rcgen, with `is_ca` set as `openssl req -x509` sets it.
    fn rcgen() -> Self {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let made = Self {
            dir: TempDir::new().unwrap(),
        };
        std::fs::write(made.cert(), cert.pem()).unwrap();
        std::fs::write(made.key(), key.serialize_pem()).unwrap();
        made
    }

    /// Made by the openssl command line as the tutorials write it; `None` without it.
    fn openssl() -> Option<Self> {
        let made = Self {
            dir: TempDir::new().unwrap(),
        };
        let status = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost",
            ])
            .arg("-keyout")
            .arg(made.key())
            .arg("-out")
            .arg(made.cert())
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then_some(made)
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn serve(pair: &SelfSigned) -> TestServer {
    let (cert, key) = (pair.cert(), pair.key());
    TestServer::launch(Launch {
        env: &[
            ("LUMIO_TLS_CERT", path_str(&cert)),
            ("LUMIO_TLS_KEY", path_str(&key)),
        ],
        ca_cert: Some(&cert),
        ..Launch::default()
    })
}

/// No Debug names of rustls or webpki in what the user reads.
#[track_caller]
fn in_words(out: &support::Output) {
    for debug in ["Other(", "OtherError", "CaUsedAsEndEntity", "UnknownIssuer"] {
        assert!(!out.stderr.contains(debug), "{debug} shown: {out:#?}");
    }
}

fn the_given_certificate_is_pinned(pair: &SelfSigned) {
    let server = serve(pair);
    let cert = pair.cert();
    let user = server.anonymous_shell();
    let login = |extra: &[&str]| {
        let args = [
            &[
                "login",
                "--url",
                &server.url,
                "--token",
                &server.admin_token,
            ][..],
            extra,
        ]
        .concat();
        user.run(&args, None)
    };

    // Without --ca-cert: refused in words, and the hint's step is the one that works.
    let refused = login(&[]);
    refused.err("not trusted: it is a CA certificate (CA:TRUE)");
    in_words(&refused);
    assert!(
        refused.hint().unwrap_or_default().contains("--ca-cert"),
        "{refused:#?}"
    );
    refused.never_shows(&server.admin_token);

    // With it: trusted as that very certificate, for login and every later command.
    login(&["--ca-cert", path_str(&cert)]).ok();
    let admin = server.admin();
    let pinned = |args: &[&str]| admin.run(&[args, &["--ca-cert", path_str(&cert)]].concat(), None);
    pinned(&["extensions", "create", "pinned-ext"]).ok();
    pinned(&[
        "env",
        "set",
        "API_KEY",
        "pinned-canary",
        "--extension",
        "pinned-ext",
    ])
    .never_shows("pinned-canary");
    let listed = pinned(&["env", "list", "--extension", "pinned-ext"]);
    assert!(listed.ok().contains("API_KEY"), "{listed:#?}");

    // Another self-signed certificate is not the server's: refused, and said so.
    let other = SelfSigned::rcgen();
    let wrong = admin.run(
        &["extensions", "list", "--ca-cert", path_str(&other.cert())],
        None,
    );
    wrong.err("not trusted");
    in_words(&wrong);
    assert!(
        wrong
            .hint()
            .unwrap_or_default()
            .contains("does not hold the certificate the server sends"),
        "{wrong:#?}"
    );
}

#[test]
fn a_self_signed_ca_certificate_from_rcgen_is_pinned() {
    the_given_certificate_is_pinned(&SelfSigned::rcgen());
}

#[test]
fn a_certificate_from_openssl_req_x509_is_pinned() {
    let Some(pair) = SelfSigned::openssl() else {
        lumio_store::testing::skip_unless_required(
            "the openssl command line is not installed",
            None,
        );
        return;
    };
    the_given_certificate_is_pinned(&pair);
}
