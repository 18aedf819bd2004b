//! Sealing and opening one secret version.

use std::ops::Range;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{KeyInit, Nonce, Tag};
use lumio_core::SecretValue;
use zeroize::Zeroizing;

use crate::master_key::{KeyId, MasterKey};
use crate::random::fill_random;
use crate::Aes256Gcm;

/// The sealed record format this build writes.
pub const FORMAT_VERSION: u8 = 1;

/// Where a ciphertext belongs. Bound into the AEAD associated data, so a ciphertext
/// copied to another row, extension, environment, name or version fails to open.
#[derive(Debug, Clone, Copy)]
pub struct SecretPlace<'a> {
    /// The owning extension's database id.
    pub extension_id: i64,
    /// `staging`, `production`, or an internal scope such as `lumio-meta`.
    pub environment: &'a str,
    /// The secret's name.
    pub name: &'a str,
    /// The version this ciphertext is for.
    pub version: i64,
}

/// One opaque failure for every way opening can fail, so there is no oracle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Wrong key, tampered bytes, or a ciphertext moved from another place.
    #[error(
        "decryption failed: the record was altered, moved, or sealed under another master key"
    )]
    DecryptionFailed,
    /// Sealed under a master key this process does not hold.
    #[error("record was sealed under master key {0}, which this server was not given")]
    UnknownKey(KeyId),
    /// Written by a newer Lumio.
    #[error("record format {0} is not supported by this version of Lumio; upgrade Lumio")]
    UnsupportedFormat(u8),
}

// Layout of format 1, see the crate docs.
const KEK_ID: Range<usize> = 1..9;
const DEK_NONCE: Range<usize> = 9..21;
const WRAPPED_DEK: Range<usize> = 21..53;
const DEK_TAG: Range<usize> = 53..69;
const VALUE_NONCE: Range<usize> = 69..81;
const HEADER_LEN: usize = 81;
const TAG_LEN: usize = 16;
/// A record of an empty value; anything shorter is truncated.
const MIN_LEN: usize = HEADER_LEN + TAG_LEN;

const DEK_DOMAIN: &[u8] = b"lumio/dek/v1";
const VALUE_DOMAIN: &[u8] = b"lumio/value/v1";

/// Both associated data strings, `domain ++ format ++ kek_id ++ place`, in one buffer:
/// they differ only in the domain, which sits right-aligned in front of the shared tail.
/// Every variable-length field is length-prefixed so no two places encode alike.
struct AssociatedData(Vec<u8>);

impl AssociatedData {
    const SLOT: usize = VALUE_DOMAIN.len();

    fn new(kek_id: &KeyId, place: &SecretPlace<'_>) -> Self {
        let (env, name) = (place.environment.as_bytes(), place.name.as_bytes());
        let mut aad =
            Vec::with_capacity(Self::SLOT + 1 + 8 + 8 + 8 + env.len() + 8 + name.len() + 8);
        aad.extend_from_slice(&[0; Self::SLOT]);
        aad.push(FORMAT_VERSION);
        aad.extend_from_slice(&kek_id.0);
        aad.extend_from_slice(&place.extension_id.to_be_bytes());
        aad.extend_from_slice(&(env.len() as u64).to_be_bytes());
        aad.extend_from_slice(env);
        aad.extend_from_slice(&(name.len() as u64).to_be_bytes());
        aad.extend_from_slice(name);
        aad.extend_from_slice(&place.version.to_be_bytes());
        Self(aad)
    }

    fn with_domain(&mut self, domain: &[u8]) -> &[u8] {
        let start = Self::SLOT - domain.len();
        self.0[start..Self::SLOT].copy_from_slice(domain);
        &self.0[start..]
    }

    fn dek(&mut self) -> &[u8] {
        self.with_domain(DEK_DOMAIN)
    }

    fn value(&mut self) -> &[u8] {
        self.with_domain(VALUE_DOMAIN)
    }
}

/// Seals `value` for `place` under a fresh random DEK wrapped by `key`.
///
/// # Panics
/// If the OS random source fails (see [`MasterKey::generate`]).
#[must_use]
pub fn seal(key: &MasterKey, place: &SecretPlace<'_>, value: &SecretValue) -> Vec<u8> {
    let plaintext = value.expose().as_bytes();
    let kek_id = key.id();
    let mut aad = AssociatedData::new(&kek_id, place);
    // DEK and both nonces in one draw: each OS call costs about as much as the AES work.
    let mut fresh = Zeroizing::new([0u8; 32 + 12 + 12]);
    fill_random(&mut *fresh);
    let (dek, nonces) = fresh.split_at(32);

    // Sized once up front, so no reallocation leaves a plaintext copy behind.
    let mut out = vec![0u8; MIN_LEN + plaintext.len()];
    out[0] = FORMAT_VERSION;
    out[KEK_ID].copy_from_slice(&kek_id.0);
    out[DEK_NONCE].copy_from_slice(&nonces[..12]);
    out[VALUE_NONCE].copy_from_slice(&nonces[12..]);

    out[WRAPPED_DEK].copy_from_slice(dek);
    let dek_nonce = *Nonce::from_slice(&out[DEK_NONCE]);
    let tag = key
        .cipher()
        .encrypt_in_place_detached(&dek_nonce, aad.dek(), &mut out[WRAPPED_DEK])
        .expect("a 32-byte DEK is within AES-GCM limits");
    out[DEK_TAG].copy_from_slice(&tag);

    let value_cipher = Aes256Gcm::new(dek.into());
    let value_nonce = *Nonce::from_slice(&out[VALUE_NONCE]);
    let body_end = out.len() - TAG_LEN;
    let body = &mut out[HEADER_LEN..body_end];
    body.copy_from_slice(plaintext);
    let tag = value_cipher
        .encrypt_in_place_detached(&value_nonce, aad.value(), body)
        .expect("a value within SecretValue limits is within AES-GCM limits");
    out[body_end..].copy_from_slice(&tag);
    out
}

/// Opens a record made by [`seal`] for the same `place` and key.
pub fn open(
    key: &MasterKey,
    place: &SecretPlace<'_>,
    sealed: &[u8],
) -> Result<SecretValue, CryptoError> {
    let kek_id = match sealed_key_id_checked(sealed)? {
        Some(id) if id == key.id() => id,
        Some(id) => return Err(CryptoError::UnknownKey(id)),
        None => return Err(CryptoError::DecryptionFailed),
    };
    if sealed.len() < MIN_LEN {
        return Err(CryptoError::DecryptionFailed);
    }
    let mut aad = AssociatedData::new(&kek_id, place);

    let mut dek = Zeroizing::new([0u8; 32]);
    dek.copy_from_slice(&sealed[WRAPPED_DEK]);
    key.cipher()
        .decrypt_in_place_detached(
            Nonce::from_slice(&sealed[DEK_NONCE]),
            aad.dek(),
            &mut *dek,
            Tag::from_slice(&sealed[DEK_TAG]),
        )
        .map_err(|_| CryptoError::DecryptionFailed)?;

    let value_cipher = Aes256Gcm::new((&*dek).into());
    let body_end = sealed.len() - TAG_LEN;
    let mut plaintext = Zeroizing::new(sealed[HEADER_LEN..body_end].to_vec());
    value_cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(&sealed[VALUE_NONCE]),
            aad.value(),
            &mut plaintext,
            Tag::from_slice(&sealed[body_end..]),
        )
        .map_err(|_| CryptoError::DecryptionFailed)?;
    // `from_bytes` wipes the bytes if it refuses them.
    SecretValue::from_bytes(std::mem::take(&mut *plaintext))
        .map_err(|_| CryptoError::DecryptionFailed)
}

/// The key id a sealed record names, without opening it (for rotation queries).
/// `None` if the record is too short or of a format this build cannot read.
pub fn sealed_key_id(sealed: &[u8]) -> Option<KeyId> {
    sealed_key_id_checked(sealed).ok().flatten()
}

/// The record's key id; `Ok(None)` if it is too short to hold one.
fn sealed_key_id_checked(sealed: &[u8]) -> Result<Option<KeyId>, CryptoError> {
    match sealed.first() {
        None => Ok(None),
        Some(&FORMAT_VERSION) => Ok(sealed
            .get(KEK_ID)
            .map(|id| KeyId(id.try_into().expect("KEK_ID is 8 bytes")))),
        Some(&other) => Err(CryptoError::UnsupportedFormat(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_documented_format() {
        let key = MasterKey::generate();
        let place = SecretPlace {
            extension_id: 1,
            environment: "staging",
            name: "K",
            version: 1,
        };
        let sealed = seal(&key, &place, &SecretValue::new("hello".into()).unwrap());
        assert_eq!(sealed.len(), 1 + 8 + 12 + 48 + 12 + 5 + 16);
        assert_eq!(sealed[0], FORMAT_VERSION);
        assert_eq!(sealed[KEK_ID], key.id().0);
        assert_eq!(sealed_key_id(&sealed), Some(key.id()));
        assert_eq!(sealed_key_id(&sealed[..8]), None);
        assert_eq!(sealed_key_id(&[2; 20]), None);
    }

    #[test]
    fn associated_data_is_domain_then_shared_tail() {
        let id = KeyId([9; 8]);
        let place = SecretPlace {
            extension_id: 1,
            environment: "ab",
            name: "c",
            version: 2,
        };
        let mut aad = AssociatedData::new(&id, &place);
        let tail = [
            &[FORMAT_VERSION][..],
            &[9; 8],
            &1i64.to_be_bytes(),
            &2u64.to_be_bytes(),
            b"ab",
            &1u64.to_be_bytes(),
            b"c",
            &2i64.to_be_bytes(),
        ]
        .concat();
        assert_eq!(aad.dek(), [DEK_DOMAIN, &tail].concat());
        assert_eq!(aad.value(), [VALUE_DOMAIN, &tail].concat());
        assert_eq!(aad.dek(), [DEK_DOMAIN, &tail].concat());
    }

    #[test]
    fn places_encode_unambiguously() {
        let id = KeyId([0; 8]);
        let a = SecretPlace {
            extension_id: 1,
            environment: "ab",
            name: "c",
            version: 1,
        };
        let b = SecretPlace {
            environment: "a",
            name: "bc",
            ..a
        };
        let (mut aad_a, mut aad_b) = (AssociatedData::new(&id, &a), AssociatedData::new(&id, &b));
        assert_ne!(aad_a.value(), aad_b.value());
        assert_ne!(aad_a.dek(), aad_b.dek());
    }
}
