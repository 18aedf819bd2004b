//! Where the master key comes from: a file, `LUMIO_MASTER_KEY`, or on the embedded default
//! a key generated into the data directory on first start.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{bail, Context};
use lumio_crypto::{Keyring, MasterKey};

use crate::ServerConfig;

/// The current key (see [`load`]) and the previous keys named by the configuration.
pub(crate) fn load_keyring(config: &ServerConfig) -> anyhow::Result<Keyring> {
    let current = load(config.master_key_file.as_deref(), &config.data_dir)?;
    let mut previous = config
        .previous_master_key_files
        .iter()
        .map(|path| read(path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Ok(text) = std::env::var("LUMIO_PREVIOUS_MASTER_KEY") {
        let key = MasterKey::from_base64(&text)
            .context("LUMIO_PREVIOUS_MASTER_KEY is not a valid key")?;
        previous.push(key);
    }
    Ok(Keyring::new(current, previous))
}

/// Loads the key the configuration names, generating `<data_dir>/master.key` if nothing
/// names one and it does not exist yet.
pub(crate) fn load(key_file: Option<&Path>, data_dir: &Path) -> anyhow::Result<MasterKey> {
    if let Some(path) = key_file {
        return read(path);
    }
    if let Ok(text) = std::env::var("LUMIO_MASTER_KEY") {
        return MasterKey::from_base64(&text).context("LUMIO_MASTER_KEY is not a valid key");
    }
    let path = data_dir.join("master.key");
    if path.exists() {
        return read(&path);
    }
    let key = MasterKey::generate();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
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

fn read(path: &Path) -> anyhow::Result<MasterKey> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the master key file {}", path.display()))?;
    if text.trim().is_empty() {
        bail!("the master key file {} is empty", path.display());
    }
    MasterKey::from_base64(&text)
        .with_context(|| format!("the master key file {} is not a valid key", path.display()))
}
