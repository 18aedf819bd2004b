//! The classes of failure every front end tells apart. Each edge gives a kind its own
//! status and wording: the API's code table is `lumio_api::ErrorCode::from`.

/// The class of a service error. One kind has one HTTP status everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Unauthorized,
    NotFound,
    Forbidden,
    /// Malformed or invalid input.
    Invalid,
    /// Already exists, or a concurrent change won.
    Conflict,
    /// Valid, but over a limit of SPEC §7.
    Limit,
    /// Well-formed, but it cannot be done as asked (e.g. an environment compared with
    /// itself).
    Unprocessable,
    /// Staff outside a claimed extension.
    StaffNotMember,
    /// The extension is suspended.
    Suspended,
    /// The database or the audit log is unavailable; retrying may work.
    Unavailable,
    /// A fault of the server or its set-up; the cause is for the operator's log only.
    Internal,
}
