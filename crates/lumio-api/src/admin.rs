//! `/api/v1/admin/master-key`: the master keyring's state and online rotation (instance
//! admins). Key ids only: no key material is ever in an answer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MasterKeyStatus {
    /// The id (16 hex digits) of the key new versions are sealed under.
    pub current_key: String,
    /// Every key id the answering server holds, the current one first.
    pub held_keys: Vec<String>,
    /// A rotation is rewrapping the stored versions (on this or another server).
    pub rotating: bool,
    /// The key the latest rotation moved to, if any ran.
    pub rotation_key: Option<String>,
}
