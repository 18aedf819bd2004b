//! The one source of key and nonce bytes: the OS CSPRNG.

/// Fills `buf` from the OS CSPRNG.
///
/// # Panics
/// If the OS random source fails. Sealing with a predictable key or nonce would be worse
/// than stopping, and a working OS never fails here.
pub(crate) fn fill_random(buf: &mut [u8]) {
    getrandom::getrandom(buf).expect("the OS random number generator failed");
}
