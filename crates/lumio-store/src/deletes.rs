//! Delete SQL both backends share (`$1` extension, `$2` environment, `$3` name).

/// Soft delete: the head loses its current version and its egress binding (a secret set
/// again under the name starts unbound, like a new one); `$4` when, `$5` who.
pub(crate) const SOFT_DELETE: &str = "UPDATE ext_secret_heads \
     SET current_version = NULL, allowed_hosts = NULL, updated_at = $4, updated_by = $5 \
     WHERE extension_id = $1 AND environment = $2 AND name = $3 \
       AND current_version IS NOT NULL";

/// Purge, first statement: on PostgreSQL it waits for any writer holding the head, so the
/// next statement's fresh snapshot also sees the version that writer added.
pub(crate) const PURGE_HEAD: &str = "DELETE FROM ext_secret_heads \
     WHERE extension_id = $1 AND environment = $2 AND name = $3";

/// Purge, second statement: every kept version.
pub(crate) const PURGE_VERSIONS: &str =
    "DELETE FROM ext_secrets WHERE extension_id = $1 AND environment = $2 AND name = $3";
