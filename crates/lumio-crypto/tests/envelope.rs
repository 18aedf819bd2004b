//! The envelope through the public API: what opens, and every way opening must fail.

use lumio_core::SecretValue;
use lumio_crypto::{open, seal, sealed_key_id, CryptoError, MasterKey, SecretPlace};
use proptest::prelude::*;

const PLACE: SecretPlace<'static> = SecretPlace {
    extension_id: 7,
    environment: "production",
    name: "STRIPE_KEY",
    version: 3,
};

fn value(text: &str) -> SecretValue {
    SecretValue::new(text.to_owned()).unwrap()
}

#[test]
fn round_trip() {
    let key = MasterKey::generate();
    for text in [
        "sk-canary-roundtrip",
        "",
        "ünïcödé ✓",
        &"x".repeat(64 * 1024),
    ] {
        let sealed = seal(&key, &PLACE, &value(text));
        assert_eq!(open(&key, &PLACE, &sealed).unwrap().expose(), text);
    }
}

#[test]
fn a_reloaded_key_opens_old_records() {
    let key = MasterKey::generate();
    let sealed = seal(&key, &PLACE, &value("sk-canary-reload"));
    let reloaded = MasterKey::from_base64(&key.to_base64()).unwrap();
    assert_eq!(
        open(&reloaded, &PLACE, &sealed).unwrap().expose(),
        "sk-canary-reload"
    );
}

#[test]
fn two_seals_of_the_same_value_differ() {
    let key = MasterKey::generate();
    let a = seal(&key, &PLACE, &value("same"));
    let b = seal(&key, &PLACE, &value("same"));
    assert_ne!(a, b);
    // Nonces and wrapped DEKs are fresh too, not only the final ciphertext.
    assert_ne!(a[9..21], b[9..21]);
    assert_ne!(a[21..69], b[21..69]);
    assert_ne!(a[69..81], b[69..81]);
}

#[test]
fn another_master_key_is_reported_as_unknown() {
    let (key, other) = (MasterKey::generate(), MasterKey::generate());
    let sealed = seal(&key, &PLACE, &value("sk-canary"));
    assert_eq!(sealed_key_id(&sealed), Some(key.id()));
    assert_eq!(
        open(&other, &PLACE, &sealed),
        Err(CryptoError::UnknownKey(key.id()))
    );
}

#[test]
fn a_forged_key_id_fails_opaquely() {
    let (key, other) = (MasterKey::generate(), MasterKey::generate());
    let mut sealed = seal(&key, &PLACE, &value("sk-canary"));
    sealed[1..9].copy_from_slice(&other.id().0);
    assert_eq!(
        open(&other, &PLACE, &sealed),
        Err(CryptoError::DecryptionFailed)
    );
}

#[test]
fn a_flipped_bit_anywhere_fails() {
    let key = MasterKey::generate();
    let sealed = seal(&key, &PLACE, &value("sk-canary-flip"));
    // Regions: dek nonce, wrapped DEK + tag, value nonce, ciphertext, value tag.
    for (region, range) in [
        ("dek nonce", 9..21),
        ("wrapped dek", 21..53),
        ("dek tag", 53..69),
        ("value nonce", 69..81),
        ("ciphertext", 81..sealed.len() - 16),
        ("value tag", sealed.len() - 16..sealed.len()),
    ] {
        for i in range {
            for bit in [0, 7] {
                let mut bad = sealed.clone();
                bad[i] ^= 1 << bit;
                assert_eq!(
                    open(&key, &PLACE, &bad),
                    Err(CryptoError::DecryptionFailed),
                    "{region} byte {i} bit {bit}"
                );
            }
        }
    }
}

#[test]
fn header_bits_are_told_apart() {
    let key = MasterKey::generate();
    let sealed = seal(&key, &PLACE, &value("sk-canary"));
    let mut format = sealed.clone();
    format[0] = 2;
    assert_eq!(
        open(&key, &PLACE, &format),
        Err(CryptoError::UnsupportedFormat(2))
    );
    let mut id = sealed.clone();
    id[4] ^= 0x10;
    assert!(matches!(
        open(&key, &PLACE, &id),
        Err(CryptoError::UnknownKey(_))
    ));
}

#[test]
fn a_moved_ciphertext_fails() {
    let key = MasterKey::generate();
    let sealed = seal(&key, &PLACE, &value("sk-canary-move"));
    let moves = [
        SecretPlace {
            name: "OTHER_KEY",
            ..PLACE
        },
        SecretPlace {
            environment: "staging",
            ..PLACE
        },
        SecretPlace {
            extension_id: 8,
            ..PLACE
        },
        SecretPlace {
            version: 2,
            ..PLACE
        },
        // Shifting bytes between environment and name must not collide.
        SecretPlace {
            environment: "productionS",
            name: "TRIPE_KEY",
            ..PLACE
        },
    ];
    for place in moves {
        assert_eq!(
            open(&key, &place, &sealed),
            Err(CryptoError::DecryptionFailed),
            "{place:?}"
        );
    }
}

#[test]
fn truncated_or_extended_records_fail() {
    let key = MasterKey::generate();
    let sealed = seal(&key, &PLACE, &value("sk-canary-cut"));
    for len in 0..sealed.len() {
        assert_eq!(
            open(&key, &PLACE, &sealed[..len]),
            Err(CryptoError::DecryptionFailed),
            "length {len}"
        );
    }
    let mut longer = sealed.clone();
    longer.push(0);
    assert_eq!(
        open(&key, &PLACE, &longer),
        Err(CryptoError::DecryptionFailed)
    );
}

#[test]
fn nothing_prints_material() {
    let key = MasterKey::generate();
    let secret = value("sk-canary-debug");
    assert_eq!(format!("{key:?}"), "MasterKey([REDACTED])");
    assert_eq!(format!("{secret:?}"), "[REDACTED]");
    let sealed = seal(&key, &PLACE, &secret);
    let opened = open(&key, &PLACE, &sealed);
    assert!(!format!("{opened:?}").contains("canary"));
    let failed = open(
        &key,
        &SecretPlace {
            version: 9,
            ..PLACE
        },
        &sealed,
    )
    .unwrap_err();
    assert!(!format!("{failed} {failed:?}").contains("canary"));
}

fn place_strategy() -> impl Strategy<Value = (i64, String, String, i64)> {
    (
        any::<i64>(),
        ".{0,16}",
        "[A-Za-z_][A-Za-z0-9_]{0,40}",
        any::<i64>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Up to 16384 chars of at most 4 bytes each: any UTF-8 value up to the 64 KiB limit.
    #[test]
    fn round_trip_any_value_and_place(
        text in proptest::collection::vec(any::<char>(), 0..=16 * 1024)
            .prop_map(String::from_iter),
        (extension_id, environment, name, version) in place_strategy(),
    ) {
        let key = MasterKey::generate();
        let place = SecretPlace { extension_id, environment: &environment, name: &name, version };
        let sealed = seal(&key, &place, &value(&text));
        let opened = open(&key, &place, &sealed).unwrap();
        prop_assert_eq!(opened.expose(), text.as_str());
        let moved = SecretPlace { version: version.wrapping_add(1), ..place };
        prop_assert_eq!(open(&key, &moved, &sealed), Err(CryptoError::DecryptionFailed));
    }
}
