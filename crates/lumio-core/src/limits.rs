//! The limits of SPEC §7, in one place so errors and checks agree.

/// Longest secret name, in bytes (names are ASCII).
pub const MAX_SECRET_NAME_LEN: usize = 256;
/// Largest secret value, in bytes of UTF-8.
pub const MAX_SECRET_VALUE_BYTES: usize = 64 * 1024;
/// Most live secrets one extension may hold in one environment.
pub const MAX_SECRETS_PER_ENVIRONMENT: usize = 1000;
