//! Trust for https:// servers given `--ca-cert FILE`: the system's roots and the web roots,
//! plus each certificate in FILE, either as a CA that signed the server's certificate or
//! as the server's very certificate, pinned: accepted when the server sends exactly those
//! bytes, even when it is self-signed with CA:TRUE, as `openssl req -x509` makes it (which
//! chain verification refuses as a CA used as an end entity). And words for rustls's
//! verdicts, instead of their Debug names.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::CliError;

/// Every certificate in a PEM file (a CA bundle may hold several).
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, CliError> {
    let hint = "pass --ca-cert (or LUMIO_CA_CERT) a PEM file: the CA that signed the \
                server's certificate, or the server's certificate itself";
    let pem = std::fs::read(path).map_err(|err| {
        CliError::new(format!(
            "cannot read the certificate file {}: {err}",
            path.display()
        ))
        .with_hint(hint)
    })?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    match certs {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(
            CliError::new(format!("{} holds no PEM certificate", path.display())).with_hint(hint),
        ),
    }
}

/// A TLS configuration trusting the usual roots plus `given`, each also pinned.
pub fn client_config(given: Vec<CertificateDer<'static>>) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Unreadable system certificates are skipped, as reqwest does without --ca-cert.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    roots.add_parsable_certificates(given.iter().cloned());
    let chained =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let verifier = PinnedOrChained {
        pinned: given,
        chained,
        provider: provider.clone(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// Accepts the server's certificate when it is one of `pinned`, byte for byte (the
/// handshake still proves the server holds its key); otherwise verifies the chain.
#[derive(Debug)]
struct PinnedOrChained {
    pinned: Vec<CertificateDer<'static>>,
    chained: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedOrChained {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|pin| pin.as_ref() == end_entity.as_ref())
        {
            return Ok(ServerCertVerified::assertion());
        }
        self.chained
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// rustls's verdict on the server's certificate, found in a request error's sources
/// (hyper hands it over inside `io::Error`s, whose `source()` skips what they wrap).
pub fn verdict<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a CertificateError> {
    let mut cause = Some(err);
    while let Some(error) = cause {
        if let Some(verdict) = wrapped_verdict(error) {
            return Some(verdict);
        }
        cause = error.source();
    }
    None
}

/// The verdict in `error` itself or in the `io::Error`s it is wrapped in.
fn wrapped_verdict<'a>(
    mut error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CertificateError> {
    loop {
        if let Some(rustls::Error::InvalidCertificate(verdict)) = error.downcast_ref() {
            return Some(verdict);
        }
        let inner = error.downcast_ref::<std::io::Error>()?.get_ref()?;
        error = inner;
    }
}

/// The error for a server certificate the CLI does not trust: what is wrong with it in
/// words, and a next step that holds for where the user stands (`ca_cert` given or not).
pub fn untrusted(base: &str, verdict: &CertificateError, ca_cert: Option<&Path>) -> CliError {
    use CertificateError as E;
    let given = ca_cert.map(|path| path.display().to_string());
    let showcerts = "`openssl s_client -connect HOST:PORT -showcerts` shows what the server sends";
    let (why, hint) = match verdict {
        E::UnknownIssuer => (
            "it is not signed by a CA this machine trusts".to_owned(),
            match &given {
                None => "if the server uses a private CA or a self-signed certificate, pass \
                         that CA's certificate, or the server's own, with --ca-cert FILE (or \
                         LUMIO_CA_CERT)"
                    .to_owned(),
                Some(file) => format!(
                    "{file} is neither the server's certificate nor the CA that signed it; \
                     pass the right file ({showcerts})"
                ),
            },
        ),
        E::Other(other) if other.to_string().contains("CaUsedAsEndEntity") => (
            "it is a CA certificate (CA:TRUE) serving as the server's own, as `openssl req \
             -x509` makes it"
                .to_owned(),
            match &given {
                None => "to trust this self-signed certificate, pass the server's certificate \
                         file with --ca-cert FILE (or LUMIO_CA_CERT): it is then trusted as \
                         exactly that certificate"
                    .to_owned(),
                Some(file) => format!(
                    "{file} does not hold the certificate the server sends; pass the server's \
                     own certificate file ({showcerts})"
                ),
            },
        ),
        E::NotValidForName | E::NotValidForNameContext { .. } => (
            "it is not made out for this host name".to_owned(),
            "use a URL whose host is a name in the certificate (its subjectAltName), or \
             reissue the certificate for this host"
                .to_owned(),
        ),
        E::Expired | E::ExpiredContext { .. } => (
            "it has expired".to_owned(),
            "renew the server's certificate (`kill -HUP` makes the server read it again), or \
             check this machine's clock"
                .to_owned(),
        ),
        E::NotValidYet | E::NotValidYetContext { .. } => (
            "it is not valid yet".to_owned(),
            "check this machine's clock and the server's".to_owned(),
        ),
        E::Revoked => (
            "it has been revoked".to_owned(),
            "install a new certificate on the server".to_owned(),
        ),
        E::InvalidPurpose | E::InvalidPurposeContext { .. } => (
            "it is not meant for a TLS server (its extended key usage)".to_owned(),
            "reissue it with extendedKeyUsage=serverAuth".to_owned(),
        ),
        _ => (
            "it does not verify".to_owned(),
            format!("check the server's certificate chain: {showcerts}"),
        ),
    };
    CliError::new(format!(
        "the TLS certificate of {base} is not trusted: {why}"
    ))
    .with_hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_words_with_a_true_next_step() {
        let none = untrusted("https://h", &CertificateError::UnknownIssuer, None);
        assert!(none
            .message
            .ends_with("not signed by a CA this machine trusts"));
        assert!(none.hint.unwrap().contains("--ca-cert"));
        let given = untrusted(
            "https://h",
            &CertificateError::UnknownIssuer,
            Some(Path::new("ca.pem")),
        );
        assert!(given.hint.unwrap().starts_with("ca.pem is neither"));
        for verdict in [
            CertificateError::Expired,
            CertificateError::NotValidForName,
            CertificateError::BadEncoding,
        ] {
            let err = untrusted("https://h", &verdict, None);
            assert!(!err.message.contains(&format!("{verdict:?}")), "{err:?}");
        }
    }
}
