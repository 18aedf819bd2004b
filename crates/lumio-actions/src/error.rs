use lumio_secrets::ServiceError;

/// Why a deploy or a management call about actions failed. Never holds a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ActionsError {
    /// Access, lookup or storage failed in the secrets service.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The code did not compile: `file:line:col: message`, or what is missing.
    #[error("{0}")]
    Deploy(String),
    /// The uploaded files are not what a deploy takes.
    #[error("{0}")]
    InvalidUpload(String),
    /// A request's parameter is not one the call takes (a log cursor it never gave).
    #[error("{0}")]
    InvalidRequest(String),
    /// The action runtime could not start or failed internally.
    #[error("the action runtime failed: {0}")]
    Runtime(String),
}

impl From<lumio_store::StoreError> for ActionsError {
    fn from(err: lumio_store::StoreError) -> Self {
        Self::Service(err.into())
    }
}
