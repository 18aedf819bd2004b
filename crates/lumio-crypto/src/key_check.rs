//! A known record sealed at first start, so a server given the wrong master key refuses
//! to start instead of failing on every read.

use lumio_core::SecretValue;

use crate::envelope::{open, seal, CryptoError, SecretPlace};
use crate::master_key::MasterKey;

/// The fixed, public text the key check seals.
const CHECK_TEXT: &str = "lumio key check v1";

/// Where the key check lives: an internal scope no extension can name.
const CHECK_PLACE: SecretPlace<'static> = SecretPlace {
    extension_id: 0,
    environment: "lumio-meta",
    name: "key-check",
    version: 0,
};

fn check_value() -> SecretValue {
    SecretValue::new(CHECK_TEXT.to_owned()).expect("the check text is within limits")
}

/// Seals the key check under `key`, for the store's instance metadata.
#[must_use]
pub fn seal_key_check(key: &MasterKey) -> Vec<u8> {
    seal(key, &CHECK_PLACE, &check_value())
}

/// Succeeds if `sealed` came from [`seal_key_check`] with this same key.
/// [`CryptoError::UnknownKey`] names the key the store was set up with.
pub fn verify_key_check(key: &MasterKey, sealed: &[u8]) -> Result<(), CryptoError> {
    if open(key, &CHECK_PLACE, sealed)? == check_value() {
        Ok(())
    } else {
        Err(CryptoError::DecryptionFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_check_accepts_its_own_key_only() {
        let key = MasterKey::generate();
        let check = seal_key_check(&key);
        assert_eq!(verify_key_check(&key, &check), Ok(()));
        let other = MasterKey::generate();
        assert_eq!(
            verify_key_check(&other, &check),
            Err(CryptoError::UnknownKey(key.id()))
        );
        let mut tampered = check.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            verify_key_check(&key, &tampered),
            Err(CryptoError::DecryptionFailed)
        );
    }

    #[test]
    fn key_check_refuses_a_secret_sealed_elsewhere() {
        let key = MasterKey::generate();
        let value = SecretValue::new(CHECK_TEXT.to_owned()).unwrap();
        let place = SecretPlace {
            extension_id: 1,
            ..CHECK_PLACE
        };
        let sealed = seal(&key, &place, &value);
        assert_eq!(
            verify_key_check(&key, &sealed),
            Err(CryptoError::DecryptionFailed)
        );
    }
}
