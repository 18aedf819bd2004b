//! Service errors: each says what happened and what to do. None holds a secret value.

use lumio_audit::AuditUnavailable;
use lumio_core::{Environment, InvalidHost, InvalidId, UnknownRole};
use lumio_crypto::CryptoError;
use lumio_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No valid token was presented.
    #[error("missing or invalid token")]
    Unauthorized,
    /// The thing does not exist — or the caller may not know it exists.
    #[error("{0} not found")]
    NotFound(String),
    /// The caller can see the extension but its role cannot do this.
    #[error("your token's role ({role}) cannot {action}; it needs {needed}")]
    Forbidden {
        role: &'static str,
        action: &'static str,
        needed: &'static str,
    },
    /// The token is scoped to the other environment.
    #[error("your token is scoped to {scope}; it cannot {action} in {environment}")]
    OutOfScope {
        scope: Environment,
        environment: Environment,
        action: &'static str,
    },
    /// Revoking this token would leave no admin token without scope or expiry.
    #[error("token {0} is the last admin token without an environment scope or expiry; revoking it would lock every admin out")]
    LastAdminToken(String),
    /// `LUMIO_BOOTSTRAP_TOKEN` is too weak to become the first admin token.
    #[error("LUMIO_BOOTSTRAP_TOKEN is refused: {0}")]
    WeakBootstrapToken(String),
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    #[error(transparent)]
    InvalidRole(#[from] UnknownRole),
    #[error(transparent)]
    InvalidHost(#[from] InvalidHost),
    #[error("{0}")]
    InvalidValue(String),
    /// Something named already exists, or a concurrent change won (the text says which).
    #[error("{0}")]
    Conflict(String),
    /// A limit of SPEC §7 would be passed.
    #[error("{0}")]
    Limit(String),
    /// The audit log cannot be written, so the operation is refused or unconfirmed.
    #[error(transparent)]
    Audit(#[from] AuditUnavailable),
    /// The database failed.
    #[error("the database is unavailable: {0}")]
    Store(StoreError),
    /// The server was started with a master key other than the store's.
    #[error("this store was created with master key {expected}, but the server was given key {given}; refusing to start")]
    WrongMasterKey { expected: String, given: String },
    /// A master-key rotation was interrupted and the server was started with only the old
    /// key: secrets already moved to the new key would not open.
    #[error("some secret versions are already sealed under a newer master key than {key}: a master-key rotation was interrupted; refusing to start")]
    UnfinishedRotation { key: String },
    /// A stored ciphertext could not be opened.
    #[error("a stored secret could not be decrypted: {0}")]
    Crypto(#[from] CryptoError),
}

impl ServiceError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            Self::Unauthorized => "pass a token with --token or LUMIO_TOKEN, or run `lumio login --url URL --token TOKEN`",
            Self::NotFound(what) if what.starts_with("extension") => {
                "run `lumio extensions list` to see the extensions your token can reach"
            }
            Self::NotFound(what) if what.starts_with("token") => {
                "run `lumio tokens list` to see the tokens you may revoke"
            }
            Self::NotFound(_) => "run `lumio env list` to see the secrets of this environment",
            Self::Forbidden { .. } => "ask an owner of the extension for a token with a stronger role",
            Self::OutOfScope { .. } => "use a token for that environment (`lumio tokens create … --env ENV`) or one without an environment scope",
            Self::LastAdminToken(_) => "create another admin token first (`lumio tokens create --admin`), sign in with it, then revoke this one",
            Self::WeakBootstrapToken(_) => "unset LUMIO_BOOTSTRAP_TOKEN to have a token generated into the data directory, or set it to a long random value, e.g. `openssl rand -hex 32`",
            Self::Limit(_) => "delete secrets you no longer use with `lumio env delete NAME`",
            Self::Audit(_) => "check the database behind Lumio; the operation can be retried once it is back",
            Self::Store(_) => "check that the database is running and reachable, then retry",
            Self::WrongMasterKey { .. } => "start the server with the master key this store was created with (--master-key-file or LUMIO_MASTER_KEY); to rotate to a new key, pass the old one too with --previous-master-key-file",
            Self::UnfinishedRotation { .. } => "finish the rotation: start with the new key as --master-key-file and this one as --previous-master-key-file",
            Self::Crypto(_) => "make sure the server runs with the master key this store was created with",
            _ => return None,
        };
        Some(hint.to_owned())
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            StoreError::TooManySecrets { .. } => Self::Limit(err.to_string()),
            StoreError::AuditRefused(reason) => {
                Self::Audit(AuditUnavailable(format!("{reason}; nothing was changed")))
            }
            other => Self::Store(other),
        }
    }
}
