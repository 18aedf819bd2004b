//! The limits users and scripts meet (SPEC §7 and the API's own), in one place so the
//! server's checks, the CLI's early checks and their error messages agree.

/// Longest secret name, in bytes (names are ASCII).
pub const MAX_SECRET_NAME_LEN: usize = 256;
/// Largest secret value, in bytes of UTF-8.
pub const MAX_SECRET_VALUE_BYTES: usize = 64 * 1024;
/// Most live secrets one extension may hold in one environment.
pub const MAX_SECRETS_PER_ENVIRONMENT: usize = 1000;
/// Shortest bearer token accepted (bootstrap tokens included): a few guesses must not
/// find one. 16 characters is what an operator's own random value (e.g. 8 random bytes in
/// hex) comes to; Lumio's own tokens are 87 characters long.
pub const MIN_TOKEN_LEN: usize = 16;
/// Longest token accepted; longer input is refused before it is hashed.
pub const MAX_TOKEN_LEN: usize = 512;
/// Most audit entries one page (of `lumio audit` or the API) holds.
pub const MAX_AUDIT_PAGE: i64 = 1000;
/// Largest file of a deployment: server code this big is almost certainly bundled data.
pub const MAX_DEPLOY_FILE_BYTES: usize = 1 << 20;
/// Most files one deployment holds.
pub const MAX_DEPLOY_FILES: usize = 500;
/// Largest deployment the CLI uploads, all files together (the server's request limit
/// leaves room for JSON escaping on top).
pub const MAX_DEPLOY_BYTES: usize = 8 << 20;
