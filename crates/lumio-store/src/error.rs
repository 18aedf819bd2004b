/// What went wrong in the store. Messages never include secret material.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row already exists (an extension slug, a token id).
    #[error("{0} already exists")]
    Conflict(String),
    /// Another writer changed the secret first; retry with a fresh head.
    #[error("the secret changed while it was being written; try again")]
    VersionConflict,
    /// The environment would exceed its live-secret limit.
    #[error("this environment would hold {would_hold} secrets; the limit is {limit}. Delete unused secrets first")]
    TooManySecrets { would_hold: usize, limit: usize },
    /// The database URL is not one Lumio can open.
    #[error(
        "database URL must start with postgres://, postgresql:// or sqlite:// (got scheme {0:?})"
    )]
    UnsupportedUrl(String),
    /// The audit record of a change could not be written, so the change was not made.
    #[error("the audit log refused the change's record ({0}); nothing was changed")]
    AuditRefused(String),
    /// The database could not be reached at start: the cause, then a `hint:` line.
    #[error("{0}")]
    Unreachable(String),
    /// The database could not be reached or failed a query. The cause is in the message
    /// and is not also a `source`, so a chain printed with `{:#}` says it once.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A migration failed to apply (the cause in the message only, as above).
    #[error("database migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// The database did not answer within the deadline (it may have stopped answering
    /// without closing its connections). A write's outcome is then unknown.
    #[error("{}", no_answer(*waited, *outcome_unknown))]
    NoAnswer {
        waited: std::time::Duration,
        outcome_unknown: bool,
    },
    /// A row held something this build cannot read.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The call never had a connection (the pool's wait ran out), so the database saw
    /// nothing of it.
    pub fn nothing_sent(&self) -> bool {
        matches!(self, Self::Database(sqlx::Error::PoolTimedOut))
    }
}

fn no_answer(waited: std::time::Duration, outcome_unknown: bool) -> String {
    let waited = waited.as_secs_f32();
    if outcome_unknown {
        format!("the database did not answer within {waited} s; the change may or may not have been made: look before retrying")
    } else {
        format!("the database did not answer within {waited} s")
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        Self::Database(err)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(err)
    }
}
