//! The master key (KEK). It never reaches the store; only its [`KeyId`] does.

use std::fmt;

use aes_gcm::KeyInit;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::random::fill_random;
use crate::Aes256Gcm;

/// Short public fingerprint of a master key: the first 8 bytes of SHA-256("lumio-kek-id" ++ key).
/// Stored beside every ciphertext so the key can rotate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The id of the key with these bytes.
    fn of(key: &[u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"lumio-kek-id")
            .chain_update(key)
            .finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}
impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Why a master key could not be read. Never includes key material.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// Not base64, or not 32 bytes once decoded.
    #[error("the master key must be 32 random bytes encoded as base64 (44 characters); generate one with `head -c32 /dev/urandom | base64`")]
    Malformed,
}

/// A 256-bit master key. Zeroized on drop, `[REDACTED]` in Debug, no Clone of the raw bytes
/// outside this crate. Its bytes and key schedule live in a page of their own that is
/// locked in RAM (see [`KeyMaterial`]), so moving a `MasterKey` never copies them.
pub struct MasterKey {
    material: Box<KeyMaterial>,
    id: KeyId,
    /// Keeps `material`'s page out of swap; `None` where the kernel refused (see
    /// [`MasterKey::memory_locked`]). Declared after `material`, so the bytes are wiped
    /// before the page is unlocked.
    _locked: Option<region::LockGuard>,
}

/// The key and its expanded schedule (which holds the key itself in its first round keys),
/// aligned to a page so that `mlock` covers exactly this and an unlock never touches a
/// neighbour. Both parts wipe themselves on drop (`aes`'s `zeroize` feature).
#[repr(C, align(4096))]
struct KeyMaterial {
    bytes: Zeroizing<[u8; 32]>,
    /// Key schedule computed once: every seal and open wraps or unwraps a DEK with it.
    cipher: Aes256Gcm,
}

impl MasterKey {
    /// Builds the key in its own page, the bytes written there by `fill`: a key built on
    /// the stack and then moved would leave a copy behind that nothing wipes.
    fn build(fill: impl FnOnce(&mut [u8; 32])) -> Self {
        let mut material = Box::new(KeyMaterial {
            bytes: Zeroizing::new([0u8; 32]),
            cipher: Aes256Gcm::new(&[0u8; 32].into()),
        });
        fill(&mut material.bytes);
        material.cipher = Aes256Gcm::new((&*material.bytes).into());
        let id = KeyId::of(&material.bytes);
        // A locked page cannot be swapped out, so the key never lands on a swap device.
        // Refused under a low RLIMIT_MEMLOCK or without the right: the key still works.
        let locked = region::lock(
            std::ptr::from_ref::<KeyMaterial>(&material).cast::<u8>(),
            std::mem::size_of::<KeyMaterial>(),
        )
        .ok();
        Self {
            material,
            id,
            _locked: locked,
        }
    }

    /// Whether the kernel locked this key's page in RAM (out of swap). The server warns
    /// when it did not; the key works either way.
    pub fn memory_locked(&self) -> bool {
        self._locked.is_some()
    }

    /// A fresh key from the OS CSPRNG.
    ///
    /// # Panics
    /// If the OS random source fails, which leaves no safe way to make a key.
    pub fn generate() -> Self {
        Self::build(|bytes| fill_random(bytes))
    }

    /// From base64 text (whitespace around it ignored), as in a key file or LUMIO_MASTER_KEY.
    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        // The decoder's own error names the offending byte, so it is dropped here.
        let decoded = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| MasterKeyError::Malformed)?,
        );
        if decoded.len() != 32 {
            return Err(MasterKeyError::Malformed);
        }
        Ok(Self::build(|bytes| bytes.copy_from_slice(&decoded)))
    }

    /// The same key in a page of its own: a server holds its key file both as the unseal
    /// key and in the keyring.
    pub fn duplicate(&self) -> Self {
        Self::build(|bytes| bytes.copy_from_slice(&*self.material.bytes))
    }

    /// Base64 text for writing a generated key to `<data-dir>/master.key`.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(*self.material.bytes))
    }

    /// This key's public fingerprint, written beside every record it seals.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The ready AES-256-GCM cipher that wraps and unwraps DEKs.
    pub(crate) fn cipher(&self) -> &Aes256Gcm {
        &self.material.cipher
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_keeps_the_id() {
        let key = MasterKey::generate();
        let text = key.to_base64();
        assert_eq!(text.len(), 44);
        let again = MasterKey::from_base64(&format!("  {}\n", text.as_str())).unwrap();
        assert_eq!(again.id(), key.id());
        assert_ne!(MasterKey::generate().id(), key.id());
    }

    #[test]
    fn key_id_is_the_documented_hash() {
        let key = MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let digest = Sha256::digest([&b"lumio-kek-id"[..], &[7u8; 32]].concat());
        assert_eq!(key.id().0, digest[..8]);
        assert_eq!(key.id().to_string(), hex::encode(&digest[..8]));
    }

    #[test]
    fn malformed_keys_are_refused_without_echo() {
        let short = STANDARD.encode([1u8; 31]);
        let long = STANDARD.encode([1u8; 33]);
        for bad in [
            "",
            "not base64 at all!",
            "sk-canary-key-material",
            &short,
            &long,
        ] {
            let err = MasterKey::from_base64(bad).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(shown.contains("base64"), "{shown}");
            if !bad.is_empty() {
                assert!(!shown.contains(bad), "error echoed its input: {shown}");
            }
        }
    }

    #[test]
    fn key_material_has_a_page_of_its_own() {
        assert_eq!(std::mem::align_of::<KeyMaterial>(), 4096);
        let key = MasterKey::generate();
        let at = std::ptr::from_ref::<KeyMaterial>(&key.material) as usize;
        assert_eq!(at % 4096, 0);
        // Moving the key moves the box pointer, never the bytes.
        let moved = key;
        assert_eq!(
            std::ptr::from_ref::<KeyMaterial>(&moved.material) as usize,
            at
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let key = MasterKey::generate();
        let shown = format!("{key:?}");
        assert_eq!(shown, "MasterKey([REDACTED])");
        assert!(!shown.contains(key.to_base64().as_str()));
    }
}
