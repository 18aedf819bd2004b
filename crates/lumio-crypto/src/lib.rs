//! Envelope encryption for Lumio secrets (SPEC §5). This crate does no IO.
//!
//! Sealed record layout, version 1 (all one byte string, stored as-is by the store):
//! `[format u8 = 1][kek_id 8][dek_nonce 12][wrapped_dek 32+16][value_nonce 12][ciphertext + tag 16]`
//! The DEK is sealed under the master key with AAD = `b"lumio/dek/v1" ++ format ++ kek_id ++ place`;
//! the value is sealed under the DEK with AAD = `b"lumio/value/v1" ++ format ++ kek_id ++ place`,
//! where `place` = `extension_id` (i64 BE) ++ `environment` and `name` (each a u64 BE
//! length then UTF-8 bytes) ++ `version` (i64 BE).
//!
//! Every DEK and nonce comes fresh from the OS CSPRNG. Opening fails with one opaque
//! [`CryptoError::DecryptionFailed`] for any tampering, truncation or move; only an
//! unknown key id or a newer format is told apart, as neither depends on secret data.

mod envelope;
mod key_check;
mod keyring;
mod master_key;
mod random;

pub use envelope::{open, seal, sealed_key_id, CryptoError, SecretPlace, FORMAT_VERSION};
pub use key_check::{seal_key_check, verify_key_check};
pub use keyring::Keyring;
pub use master_key::{KeyId, MasterKey, MasterKeyError};

/// AES-256-GCM built on the encryption-only AES key schedule: GCM never runs AES
/// backwards, and a schedule is expanded for every DEK, so the inverse one is skipped.
type Aes256Gcm = aes_gcm::AesGcm<aes::Aes256Enc, aes_gcm::aead::consts::U12>;
