//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed
//! by the bytes after `whsec_` in the signing secret.

use base64::Engine;
use hmac::{Hmac, Mac};
use lumio_secrets::SecretValue;
use sha2::Sha256;

/// The `webhook-signature` header's value.
pub(crate) fn sign(secret: &SecretValue, id: &str, timestamp: i64, body: &str) -> String {
    let text = secret.expose();
    let encoded = text.strip_prefix("whsec_").unwrap_or(text);
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", b64.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn matches_the_standard_webhooks_reference_example() {
        let secret = SecretValue::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()).unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
