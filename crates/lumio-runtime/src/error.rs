//! Errors of deploying and of the runtime itself.

/// Why a deployment was refused. Positions are one-based `file:line:col` in the upload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    /// Nothing was uploaded.
    #[error("no files to deploy; put your actions in server/*.ts")]
    NoFiles,
    /// A path is not a deployable file.
    #[error("{path}: {reason}")]
    BadPath {
        /// The uploaded path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The file does not parse (or is not valid TypeScript/JavaScript).
    #[error("{file}:{line}:{col}: {message}")]
    Syntax {
        /// The uploaded path.
        file: String,
        /// One-based line.
        line: u32,
        /// One-based column.
        col: u32,
        /// The parser's message.
        message: String,
    },
    /// An import names neither an uploaded file nor the SDK.
    #[error("{file}:{line}:{col}: cannot import {specifier:?}; import other files of server/ with a relative path (\"./util\") and the SDK as \"@zaflun/lumio-sdk/server\"; npm packages are not available")]
    UnknownImport {
        /// The importing file.
        file: String,
        /// One-based line.
        line: u32,
        /// One-based column.
        col: u32,
        /// The import as written.
        specifier: String,
    },
    /// A module threw while it was loaded at deploy.
    #[error("{file}: loading the module failed: {message}")]
    Evaluation {
        /// The module (or the first in the upload, if unknown).
        file: String,
        /// The error, with TypeScript positions where known.
        message: String,
    },
    /// An action's `secrets: [...]` is not a list of valid secret names.
    #[error("{file}: {reason}")]
    BadGrant {
        /// The module that exports the action.
        file: String,
        /// What is wrong, naming the action and the bad entry.
        reason: String,
    },
    /// No module exports an `action(...)`.
    #[error("no actions exported; export one from a file in server/, e.g. `export const hello = action({{ args: {{}}, handler: async () => \"hi\" }})`")]
    NoActions,
}

/// The runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// `Runtime::new` must run inside a tokio runtime (`ctx.fetch` and the audit use it).
    #[error("the action runtime must be started inside a tokio runtime")]
    NoTokio,
    /// The HTTP client for `ctx.fetch` could not be built.
    #[error("the HTTP client for ctx.fetch could not be built: {0}")]
    Http(String),
    /// A worker thread could not be started.
    #[error("could not start a runtime worker thread: {0}")]
    Thread(String),
}
