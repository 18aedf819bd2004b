//! What a token may do within one extension.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A per-extension role, ordered from least to most powerful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads names, versions and the audit log.
    Viewer,
    /// Also sets, deletes, imports and rolls back secrets, and deploys.
    Developer,
    /// Also creates tokens for the extension and purges secrets.
    Owner,
}

/// The role named is not one of owner, developer, viewer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role {0:?} is unknown; use owner, developer or viewer")]
pub struct UnknownRole(pub String);

impl Role {
    pub fn parse(input: &str) -> Result<Self, UnknownRole> {
        match input {
            "viewer" => Ok(Self::Viewer),
            "developer" => Ok(Self::Developer),
            "owner" => Ok(Self::Owner),
            other => Err(UnknownRole(other.chars().take(32).collect())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Developer => "developer",
            Self::Owner => "owner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
