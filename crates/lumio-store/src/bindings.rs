//! Egress-binding SQL both backends share (`$1` extension, `$2` environment, `$3` name).

/// Sets (`$4` the column, NULL clears) the egress binding of a live secret; `$5` when,
/// `$6` who. A metadata change: no version is written.
pub(crate) const SET_BINDING: &str = "UPDATE ext_secret_heads \
     SET allowed_hosts = $4, updated_at = $5, updated_by = $6 \
     WHERE extension_id = $1 AND environment = $2 AND name = $3 \
       AND current_version IS NOT NULL";
