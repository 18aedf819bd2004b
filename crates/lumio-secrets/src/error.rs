//! Service errors: each says what happened and what to do. None holds a secret value.

use lumio_audit::AuditUnavailable;
use lumio_core::{Environment, ErrorKind, InvalidHost, InvalidId, UnknownRole};
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
    /// A copy named secrets that are not set in its source; nothing was copied.
    #[error("not set in {extension}/{environment}: {names}; nothing was copied")]
    NotInSource {
        extension: String,
        environment: Environment,
        /// The missing names, comma-separated.
        names: String,
    },
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
    /// An instance admin tried to write or run code in an extension that has an owner.
    #[error("Lumio staff cannot {action} in {extension}: it has an owner, and staff may only list its secret names and read its audit log")]
    StaffNotMember {
        extension: String,
        action: &'static str,
    },
    /// The extension is suspended by the platform's staff.
    #[error("extension {0:?} is suspended; its actions do not run")]
    Suspended(String),
    /// A claim code could not be used (the text says why: used, expired, already owned).
    #[error("{0}")]
    ClaimRefused(String),
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
    /// Well-formed due dates that cannot be applied (an expiry not in the future, a change
    /// that changes nothing); the text says what to give instead.
    #[error("{0}")]
    DueDates(String),
    /// A comparison or copy named one environment twice.
    #[error("both environments are {0}; name two different ones (staging and production)")]
    SameEnvironment(Environment),
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
    /// The audit root key in `lumio_meta` does not open under the master keys held.
    #[error("the audit log's root key (lumio_meta row audit_root_key) cannot be opened with this master key; refusing to start")]
    AuditRootUnreadable,
    /// The unseal key (key file or KMS) could not wrap or unwrap a keyring key.
    #[error(transparent)]
    Unseal(#[from] crate::unseal::UnsealError),
    /// A stored ciphertext could not be opened.
    #[error("a stored secret could not be decrypted: {0}")]
    Crypto(#[from] CryptoError),
}

impl ServiceError {
    /// The sentence shown instead of the message for server-side faults, whose causes
    /// (database errors, paths, keys) are for the operator's log, not the caller.
    pub fn public_message(&self) -> Option<&'static str> {
        match (self.kind(), self) {
            // A change commits with its audit record or not at all.
            (ErrorKind::Unavailable, Self::Audit(_)) => {
                Some("the audit log could not be written, so nothing was changed")
            }
            (ErrorKind::Unavailable, Self::Unseal(_)) => Some(
                "the KMS that wraps Lumio's master keys is unreachable, so nothing was changed; \
                 the server log names the address to check",
            ),
            (
                ErrorKind::Unavailable,
                Self::Store(StoreError::NoAnswer {
                    outcome_unknown: true,
                    ..
                }),
            ) => Some(
                "Lumio's database stopped answering; the change may or may not have been made: \
                 look (for example `lumio env list`) before retrying",
            ),
            (ErrorKind::Unavailable, _) => {
                Some("Lumio's database is unavailable; nothing was changed unless stated otherwise")
            }
            (ErrorKind::Internal, _) => Some("internal error; the server log has the details"),
            _ => None,
        }
    }

    /// The class of this error, which each front end turns into its own status and
    /// wording (the API's codes: `lumio_api::ErrorCode::from`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Unauthorized => ErrorKind::Unauthorized,
            Self::NotFound(_) | Self::NotInSource { .. } => ErrorKind::NotFound,
            Self::Forbidden { .. } | Self::OutOfScope { .. } => ErrorKind::Forbidden,
            Self::InvalidId(_)
            | Self::InvalidRole(_)
            | Self::InvalidHost(_)
            | Self::InvalidValue(_) => ErrorKind::Invalid,
            Self::Conflict(_) | Self::LastAdminToken(_) | Self::ClaimRefused(_) => {
                ErrorKind::Conflict
            }
            Self::StaffNotMember { .. } => ErrorKind::StaffNotMember,
            Self::Suspended(_) => ErrorKind::Suspended,
            Self::Limit(_) => ErrorKind::Limit,
            Self::SameEnvironment(_) | Self::DueDates(_) => ErrorKind::Unprocessable,
            Self::Audit(_)
            | Self::Store(_)
            | Self::Unseal(crate::unseal::UnsealError::Unavailable(_)) => ErrorKind::Unavailable,
            Self::WrongMasterKey { .. }
            | Self::UnfinishedRotation { .. }
            | Self::Unseal(crate::unseal::UnsealError::Refused(_))
            | Self::WeakBootstrapToken(_)
            | Self::AuditRootUnreadable
            | Self::Crypto(_) => ErrorKind::Internal,
        }
    }

    /// What the operator can do about a fault that stops the server from starting
    /// (operator wording: flags and environment variables of `lumio server`).
    pub fn startup_hint(&self) -> Option<&'static str> {
        Some(match self {
            Self::WeakBootstrapToken(_) => "unset LUMIO_BOOTSTRAP_TOKEN to have a token generated into the data directory, or set it to a long random value, e.g. `openssl rand -hex 32`",
            Self::WrongMasterKey { .. } => "start the server with the master key this store was created with (--master-key-file or LUMIO_MASTER_KEY); to rotate to a new key, pass the old one too with --previous-master-key-file",
            Self::UnfinishedRotation { .. } => "finish the rotation: start with the new key as --master-key-file and this one as --previous-master-key-file",
            Self::Unseal(_) => "check --kms-transit, the KMS token (--kms-token-file or LUMIO_KMS_TOKEN) and that the KMS is up and unsealed; or the master key file",
            Self::Crypto(_) => "make sure the server runs with the master key this store was created with",
            Self::AuditRootUnreadable => "start with the master key this store was created with; if it is the right key, restore the lumio_meta row audit_root_key from a backup (deleting it makes a new key, and every audit chain then fails verify)",
            Self::Store(_) => "check that the database is running and reachable, then retry",
            _ => return None,
        })
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
