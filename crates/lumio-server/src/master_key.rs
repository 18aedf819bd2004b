//! Where the master key comes from: a file, `LUMIO_MASTER_KEY`, or on the embedded default
//! a key generated into the data directory on first start. Like ssh with a private key,
//! a key file that its group or others may read is refused unless the operator says
//! otherwise (`--allow-insecure-master-key-file`).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use lumio_crypto::MasterKey;
use lumio_secrets::{FileUnseal, ServiceError, UnsealKey};

use crate::kms::Transit;
use crate::ServerConfig;

/// Where the unseal key will come from, found before anything is written: a key file
/// about to be generated is only created once the store is known to be empty
/// ([`UnsealPlan::resolve`]).
pub(crate) enum UnsealPlan {
    Ready(Arc<dyn UnsealKey>),
    /// The embedded default's `<data_dir>/master.key` does not exist yet.
    Generate(PathBuf),
}

impl UnsealPlan {
    /// The unseal key, generating the embedded default's key file only for a store that
    /// has never been set up: a key generated for a store with data would open none of it
    /// and, worse, take the place of the one the operator must restore.
    /// `set_up_with` reads the store's key id (`lumio_secrets::set_up_with`), and is only
    /// asked when a key would be generated.
    pub(crate) async fn resolve(
        self,
        set_up_with: impl std::future::Future<Output = Result<Option<String>, ServiceError>>,
        database: &str,
    ) -> anyhow::Result<Arc<dyn UnsealKey>> {
        let path = match self {
            Self::Ready(unseal) => return Ok(unseal),
            Self::Generate(path) => path,
        };
        let set_up = set_up_with.await;
        if let Some(key_id) = set_up.context("cannot read the database's key check")? {
            bail!(
                "the master key file {path} does not exist, but the database at {database} \
                 was set up with master key {key_id}: without that key none of its secrets \
                 can be read, so no new key was generated\n\
                 hint: restore {path} from your backup (or pass the key with \
                 --master-key-file or LUMIO_MASTER_KEY); to start over instead, move the \
                 database away",
                path = path.display()
            );
        }
        Ok(Arc::new(FileUnseal::new(generate(&path)?)))
    }
}

/// The unseal key (the master key file, see [`load`], or the KMS transit key of
/// `--kms-transit`) and the previous keys named by the configuration. Reads only.
pub(crate) fn load_unseal(config: &ServerConfig) -> anyhow::Result<(UnsealPlan, Vec<MasterKey>)> {
    let allow_insecure = config.allow_insecure_master_key_file;
    let unseal = match &config.kms_transit {
        Some(url) => {
            if config.master_key_file.is_some() || std::env::var_os("LUMIO_MASTER_KEY").is_some() {
                bail!(
                    "--kms-transit and a master key (--master-key-file or LUMIO_MASTER_KEY) were \
                     both given; the KMS replaces the key file\n\
                     hint: drop one of them; to move a store from its key file to the KMS, pass \
                     the file as --previous-master-key-file"
                );
            }
            let token = crate::kms::read_token(config.kms_token_file.as_deref(), allow_insecure)?;
            UnsealPlan::Ready(Arc::new(Transit::new(url, token)?))
        }
        None => match load(
            config.master_key_file.as_deref(),
            &config.data_dir,
            allow_insecure,
        )? {
            Some(key) => UnsealPlan::Ready(Arc::new(FileUnseal::new(key))),
            None => UnsealPlan::Generate(config.data_dir.join("master.key")),
        },
    };
    let mut previous = config
        .previous_master_key_files
        .iter()
        .map(|path| read(path, allow_insecure))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Ok(text) = std::env::var("LUMIO_PREVIOUS_MASTER_KEY") {
        let key = MasterKey::from_base64(&text)
            .context("LUMIO_PREVIOUS_MASTER_KEY is not a valid key")?;
        previous.push(key);
    }
    Ok((unseal, previous))
}

/// Loads the key the configuration names; `None` when nothing names one and
/// `<data_dir>/master.key` does not exist yet.
pub(crate) fn load(
    key_file: Option<&Path>,
    data_dir: &Path,
    allow_insecure: bool,
) -> anyhow::Result<Option<MasterKey>> {
    if let Some(path) = key_file {
        return read(path, allow_insecure).map(Some);
    }
    if let Ok(text) = std::env::var("LUMIO_MASTER_KEY") {
        return MasterKey::from_base64(&text)
            .map(Some)
            .context("LUMIO_MASTER_KEY is not a valid key");
    }
    let path = data_dir.join("master.key");
    if path.exists() {
        return read(&path, allow_insecure).map(Some);
    }
    Ok(None)
}

/// Generates the embedded default's key into `path` (mode 0600).
fn generate(path: &Path) -> anyhow::Result<MasterKey> {
    let key = MasterKey::generate();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create the master key file {}", path.display()))?;
    file.write_all(key.to_base64().as_bytes())?;
    file.sync_all()?;
    tracing::warn!(
        path = %path.display(),
        key_id = %key.id(),
        "generated a new master key; in production keep the master key away from the database \
         (pass --master-key-file or LUMIO_MASTER_KEY) and back it up: without it no secret can be read"
    );
    Ok(key)
}

fn read(path: &Path, allow_insecure: bool) -> anyhow::Result<MasterKey> {
    check_permissions(path, allow_insecure)?;
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the master key file {}", path.display()))?;
    if text.trim().is_empty() {
        bail!("the master key file {} is empty", path.display());
    }
    MasterKey::from_base64(&text)
        .with_context(|| format!("the master key file {} is not a valid key", path.display()))
}

/// Refuses a key file its group or others may read or write, as ssh refuses such a
/// private key; with `allow_insecure` it is used after a loud warning.
pub(crate) fn check_permissions(path: &Path, allow_insecure: bool) -> anyhow::Result<()> {
    let metadata = fs::metadata(path)
        .with_context(|| format!("cannot read the master key file {}", path.display()))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    if allow_insecure {
        tracing::warn!(
            path = %path.display(),
            mode = %format!("{mode:04o}"),
            "INSECURE: the master key file can be read by other users of this machine, and \
             --allow-insecure-master-key-file lets the server use it anyway; anyone who can \
             read it and the database can read every secret. Run `chmod 600` on it"
        );
        return Ok(());
    }
    bail!(
        "permissions {mode:04o} for the master key file {path} are too open: other users of \
         this machine may read it, and with it every secret\n\
         hint: run `chmod 600 {path}`, or pass --allow-insecure-master-key-file \
         (LUMIO_ALLOW_INSECURE_MASTER_KEY_FILE=true) to start anyway",
        path = path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_file(dir: &Path, mode: u32) -> std::path::PathBuf {
        let path = dir.join(format!("key-{mode:o}"));
        fs::write(&path, MasterKey::generate().to_base64()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_key_file_others_can_read_is_refused_like_ssh_does() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660, 0o606] {
            let path = key_file(dir.path(), mode);
            let err = format!("{:#}", read(&path, false).unwrap_err());
            assert!(
                err.contains(&format!("permissions {mode:04o}")) && err.contains("too open"),
                "{err}"
            );
            assert!(
                err.contains(&format!("chmod 600 {}", path.display())),
                "{err}"
            );
            assert!(err.contains("--allow-insecure-master-key-file"), "{err}");
            assert!(read(&path, true).is_ok(), "the override starts anyway");
        }
        for mode in [0o600, 0o400] {
            assert!(read(&key_file(dir.path(), mode), false).is_ok());
        }
    }

    #[test]
    fn the_generated_key_file_is_private_and_checked_when_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        assert!(load(None, dir.path(), false).unwrap().is_none());
        let first = generate(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = load(None, dir.path(), false).unwrap().unwrap();
        assert_eq!(again.id(), first.id());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = format!("{:#}", load(None, dir.path(), false).unwrap_err());
        assert!(err.contains("too open"), "{err}");
    }
}
