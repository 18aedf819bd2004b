//! KMS auto-unseal (issue 22, item 2): an OpenBao or Vault transit key is the unseal key.
//! The keyring's master keys reach the database only as the transit engine's ciphertext
//! (`vault:v1:…`), and are unwrapped into memory at start through its `decrypt` endpoint;
//! the transit key itself never leaves the KMS. A database dump, the data directory and
//! the server's configuration together reveal nothing without the KMS token.
//!
//! `--kms-transit` takes the key's own URL, as the KMS's API names it:
//! `http(s)://HOST:PORT/v1/<mount>/keys/<name>` (e.g. `http://127.0.0.1:8200/v1/transit/keys/lumio`);
//! wrapping posts to `/v1/<mount>/encrypt/<name>`, unwrapping to `/v1/<mount>/decrypt/<name>`.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use async_trait::async_trait;
use lumio_crypto::MasterKey;
use lumio_secrets::{UnsealError, UnsealKey};
use serde::Deserialize;
use zeroize::Zeroizing;

/// Longest wait for one KMS call: a KMS that hangs must not hang the start for long.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A transit key of OpenBao or Vault.
pub(crate) struct Transit {
    /// The key's URL as given, for messages (it holds no credential).
    url: String,
    encrypt: String,
    decrypt: String,
    token: Zeroizing<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Transit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transit")
            .field("url", &self.url)
            .field("token", &"[REDACTED]")
            .finish()
    }
}

/// `--kms-token-file` (mode checked like a key file), else `LUMIO_KMS_TOKEN`.
pub(crate) fn read_token(
    file: Option<&Path>,
    allow_insecure: bool,
) -> anyhow::Result<Zeroizing<String>> {
    let token = match file {
        Some(path) => {
            crate::master_key::check_permissions(path, allow_insecure)?;
            Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the KMS token file {}", path.display()))?
                    .trim()
                    .to_owned(),
            )
        }
        None => Zeroizing::new(std::env::var("LUMIO_KMS_TOKEN").unwrap_or_default()),
    };
    if token.is_empty() {
        bail!(
            "--kms-transit needs a KMS token: none was given\n\
             hint: put it in a file readable only by the server (--kms-token-file FILE) or in \
             LUMIO_KMS_TOKEN"
        );
    }
    Ok(token)
}

impl Transit {
    /// Parses `url` (see the module docs); `token` authenticates every call.
    pub(crate) fn new(url: &str, token: Zeroizing<String>) -> anyhow::Result<Self> {
        let malformed = || {
            anyhow::anyhow!(
                "--kms-transit {url} is not a transit key URL\n\
                 hint: give the key's URL as http(s)://HOST:PORT/v1/<mount>/keys/<name>, \
                 e.g. http://127.0.0.1:8200/v1/transit/keys/lumio"
            )
        };
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(malformed)?;
        let (authority, path) = rest.split_once("/v1/").ok_or_else(malformed)?;
        let (mount, name) = path
            .trim_end_matches('/')
            .rsplit_once("/keys/")
            .ok_or_else(malformed)?;
        if authority.is_empty()
            || mount.is_empty()
            || name.is_empty()
            || name.contains('/')
            || url.contains(['?', '#', '@'])
        {
            return Err(malformed());
        }
        let origin = &url[..url.len() - rest.len() + authority.len()];
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .context("cannot set up the HTTP client for the KMS")?;
        Ok(Self {
            url: url.to_owned(),
            encrypt: format!("{origin}/v1/{mount}/encrypt/{name}"),
            decrypt: format!("{origin}/v1/{mount}/decrypt/{name}"),
            token,
            http,
        })
    }

    /// Posts `body` to `endpoint` and returns the answer's `data` object.
    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        endpoint: &str,
        what: &str,
        body: &serde_json::Value,
    ) -> Result<T, UnsealError> {
        let answer = self
            .http
            .post(endpoint)
            .header("X-Vault-Token", self.token.as_str())
            .json(body)
            .send()
            .await
            .map_err(|err| {
                // reqwest's message names the URL, which holds no credential.
                UnsealError::Unavailable(format!(
                    "cannot reach the KMS at {} to {what}: {}; check that OpenBao/Vault is \
                     running, reachable from this host and unsealed, and that --kms-transit is \
                     right",
                    self.url,
                    without_url(&err)
                ))
            })?;
        let status = answer.status();
        let bytes = Zeroizing::new(answer.bytes().await.map(|b| b.to_vec()).map_err(|err| {
            UnsealError::Unavailable(format!(
                "the KMS at {} stopped answering while asked to {what}: {}",
                self.url,
                without_url(&err)
            ))
        })?);
        if !status.is_success() {
            return Err(self.refusal(status, what, &bytes));
        }
        serde_json::from_slice::<Answer<T>>(&bytes)
            .map(|answer| answer.data)
            .map_err(|_| {
                UnsealError::Refused(format!(
                    "the KMS at {} answered a request to {what} with something other than a \
                     transit answer; check that --kms-transit names a transit key",
                    self.url
                ))
            })
    }

    fn refusal(&self, status: reqwest::StatusCode, what: &str, body: &[u8]) -> UnsealError {
        // The KMS's own error strings hold no secret (the token is never echoed), and
        // they say which part was wrong: "permission denied", "encryption key not found".
        let errors = serde_json::from_slice::<KmsErrors>(body)
            .map(|e| e.errors.join("; "))
            .unwrap_or_default();
        let errors: String = errors.chars().take(300).collect();
        let url = &self.url;
        match status.as_u16() {
            401 | 403 => UnsealError::Refused(format!(
                "the KMS at {url} refused the token to {what} (HTTP {status}: {errors}); check \
                 --kms-token-file or LUMIO_KMS_TOKEN, and that the token's policy allows \
                 `update` on the transit key's encrypt and decrypt paths"
            )),
            400 | 404 => UnsealError::Refused(format!(
                "the KMS at {url} could not {what} (HTTP {status}: {errors}); check that the \
                 transit key in --kms-transit exists and is the one this database's keys were \
                 wrapped with"
            )),
            _ => UnsealError::Unavailable(format!(
                "the KMS at {url} failed to {what} (HTTP {status}: {errors}); check that it is \
                 unsealed and healthy"
            )),
        }
    }
}

#[derive(Deserialize)]
struct Answer<T> {
    data: T,
}

#[derive(Deserialize)]
struct KmsErrors {
    #[serde(default)]
    errors: Vec<String>,
}

#[derive(Deserialize)]
struct Encrypted {
    ciphertext: String,
}

#[derive(Deserialize)]
struct Decrypted {
    plaintext: String,
}

/// A reqwest error's cause without the URL it repeats.
fn without_url(err: &reqwest::Error) -> String {
    let mut cause = std::error::Error::source(err)
        .map(|source| {
            let mut deepest = source;
            while let Some(next) = deepest.source() {
                deepest = next;
            }
            deepest.to_string()
        })
        .unwrap_or_else(|| "no answer".to_owned());
    if err.is_timeout() {
        cause = format!("no answer within {} s", TIMEOUT.as_secs());
    }
    cause
}

#[async_trait]
impl UnsealKey for Transit {
    async fn wrap(&self, key: &MasterKey) -> Result<Vec<u8>, UnsealError> {
        let plaintext = key.to_base64();
        let body = serde_json::json!({ "plaintext": plaintext.as_str() });
        let answer: Encrypted = self.call(&self.encrypt, "wrap a master key", &body).await?;
        Ok(answer.ciphertext.into_bytes())
    }

    async fn unwrap(&self, id: &str, wrapped: &[u8]) -> Result<MasterKey, UnsealError> {
        let ciphertext = String::from_utf8_lossy(wrapped);
        let body = serde_json::json!({ "ciphertext": ciphertext });
        let what = format!("unwrap master key {id}");
        let answer: Decrypted = self.call(&self.decrypt, &what, &body).await?;
        let plaintext = Zeroizing::new(answer.plaintext);
        let key = MasterKey::from_base64(&plaintext).map_err(|_| {
            UnsealError::Refused(format!(
                "the KMS at {} unwrapped master key {id} to something that is not a key: the \
                 database entry was altered",
                self.url
            ))
        })?;
        lumio_secrets::check_unwrapped_id(key, id)
    }

    fn held_key(&self) -> Option<&MasterKey> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Zeroizing<String> {
        Zeroizing::new("s.canary-kms-token".to_owned())
    }

    #[test]
    fn the_key_url_gives_the_encrypt_and_decrypt_endpoints() {
        let transit = Transit::new("http://127.0.0.1:8200/v1/transit/keys/lumio", token()).unwrap();
        assert_eq!(
            transit.encrypt,
            "http://127.0.0.1:8200/v1/transit/encrypt/lumio"
        );
        assert_eq!(
            transit.decrypt,
            "http://127.0.0.1:8200/v1/transit/decrypt/lumio"
        );
        let nested =
            Transit::new("https://kms.example:8200/v1/team/transit/keys/k1/", token()).unwrap();
        assert_eq!(
            nested.decrypt,
            "https://kms.example:8200/v1/team/transit/decrypt/k1"
        );
        let shown = format!("{nested:?}");
        assert!(!shown.contains("canary"), "{shown}");
    }

    #[test]
    fn other_urls_are_refused_with_the_expected_shape() {
        for bad in [
            "127.0.0.1:8200/v1/transit/keys/lumio",
            "http://127.0.0.1:8200/transit/keys/lumio",
            "http://127.0.0.1:8200/v1/transit/encrypt/lumio",
            "http://127.0.0.1:8200/v1/keys/lumio",
            "http://user:pw@127.0.0.1:8200/v1/transit/keys/lumio",
            "http://127.0.0.1:8200/v1/transit/keys/a/b",
        ] {
            let err = format!("{:#}", Transit::new(bad, token()).unwrap_err());
            assert!(err.contains("/v1/<mount>/keys/<name>"), "{bad}: {err}");
        }
    }
}
