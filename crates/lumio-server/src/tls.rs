//! Serving HTTPS: the certificate chain and key from PEM files, read again on SIGHUP
//! (a renewed certificate needs no restart); `serve.rs` accepts the connections.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// `--tls-cert` and `--tls-key`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM: the server's certificate first, then any intermediates.
    pub cert: PathBuf,
    /// PEM: its private key (PKCS #8, PKCS #1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    fn load(&self) -> anyhow::Result<Arc<CertifiedKey>> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|err| pem_error(&self.cert, "certificate", &err))?;
        if chain.is_empty() {
            anyhow::bail!(
                "{} holds no PEM certificate; pass the server's certificate chain to --tls-cert",
                self.cert.display()
            );
        }
        // The key's own error text is not shown: it says nothing useful and the key is secret.
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|err| pem_error(&self.key, "private key", &err))?;
        let provider = rustls::crypto::ring::default_provider();
        let signing = provider.key_provider.load_private_key(key).map_err(|_| {
            anyhow::anyhow!(
                "{}: unsupported private key type; use an RSA, ECDSA or Ed25519 key",
                self.key.display()
            )
        })?;
        let certified = CertifiedKey::new(chain, signing);
        certified.keys_match().map_err(|_| {
            anyhow::anyhow!(
                "the key in {} does not belong to the certificate in {}",
                self.key.display(),
                self.cert.display()
            )
        })?;
        Ok(Arc::new(certified))
    }
}

fn pem_error(
    path: &std::path::Path,
    what: &str,
    err: &rustls::pki_types::pem::Error,
) -> anyhow::Error {
    use rustls::pki_types::pem::Error as E;
    match err {
        E::Io(io) => anyhow::anyhow!("cannot read the TLS {what} {}: {io}", path.display()),
        E::NoItemsFound => anyhow::anyhow!("{} holds no PEM {what}", path.display()),
        _ => anyhow::anyhow!("{} is not a PEM {what}", path.display()),
    }
}

/// The certificate in use; replaced whole on reload, so a handshake sees the old pair
/// or the new one, never half of each.
#[derive(Debug)]
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// The TLS side of a server: the acceptor and the files to reload.
pub(crate) struct Tls {
    files: TlsFiles,
    resolver: Arc<Resolver>,
    acceptor: TlsAcceptor,
}

impl Tls {
    /// Reads the files; any problem stops the start with a message naming the file.
    pub fn load(files: &TlsFiles) -> anyhow::Result<Self> {
        let resolver = Arc::new(Resolver {
            current: RwLock::new(files.load()?),
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("cannot set up TLS")?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            files: files.clone(),
            resolver,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Reads the files again; on failure the current certificate stays.
    pub fn reload(&self) {
        match self.files.load() {
            Ok(key) => {
                *self
                    .resolver
                    .current
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = key;
                tracing::info!(cert = %self.files.cert.display(), "reloaded the TLS certificate");
            }
            Err(err) => {
                tracing::error!(%err, "kept the current TLS certificate: the new one cannot be used");
            }
        }
    }

    /// The acceptor for new connections (the certificate it presents follows reloads).
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }
}

/// Reloads the certificate on every SIGHUP, for as long as the server runs.
pub(crate) fn reload_on_sighup(tls: Arc<Tls>) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tls.reload();
        }
    });
    Ok(())
}
