//! Who may do what. A token is an instance admin or holds one role on one extension.

use lumio_core::Role;
use lumio_store::{Extension, Grant};

use crate::error::ServiceError;

/// An authenticated token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's public id; recorded as the actor of changes.
    pub token_id: String,
    pub grant: Grant,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        matches!(self.grant, Grant::Admin)
    }

    /// The role this principal holds on `extension`, admins counting as owners.
    pub fn role_on(&self, extension_id: i64) -> Option<Role> {
        match self.grant {
            Grant::Admin => Some(Role::Owner),
            Grant::Extension {
                extension_id: id,
                role,
            } if id == extension_id => Some(role),
            Grant::Extension { .. } => None,
        }
    }

    /// Whether the extension is visible at all; an invisible one must look missing.
    pub fn can_see(&self, extension: &Extension) -> bool {
        self.role_on(extension.id).is_some()
    }

    /// Allows `action` on `extension` if the role is at least `needed`. A caller with no
    /// role on it gets the same answer as for a missing extension.
    pub fn require(
        &self,
        extension: &Extension,
        needed: Role,
        action: &'static str,
    ) -> Result<(), ServiceError> {
        match self.role_on(extension.id) {
            None => Err(ServiceError::NotFound(format!(
                "extension {:?}",
                extension.slug.as_str()
            ))),
            Some(role) if role >= needed => Ok(()),
            Some(role) => Err(ServiceError::Forbidden {
                role: role.as_str(),
                action,
                needed: needed.as_str(),
            }),
        }
    }

    /// Only instance admins pass.
    pub fn require_admin(&self, action: &'static str) -> Result<(), ServiceError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden {
                role: match self.grant {
                    Grant::Extension { role, .. } => role.as_str(),
                    Grant::Admin => "admin",
                },
                action,
                needed: "an instance admin token",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumio_core::ExtensionSlug;

    fn ext(id: i64) -> Extension {
        Extension {
            id,
            slug: ExtensionSlug::parse("ext").unwrap(),
            created_at: chrono::Utc::now(),
        }
    }

    fn principal(extension_id: i64, role: Role) -> Principal {
        Principal {
            token_id: "t".into(),
            grant: Grant::Extension { extension_id, role },
        }
    }

    #[test]
    fn roles_are_ordered_and_scoped() {
        let viewer = principal(1, Role::Viewer);
        assert!(viewer.require(&ext(1), Role::Viewer, "list").is_ok());
        assert!(matches!(
            viewer.require(&ext(1), Role::Developer, "set"),
            Err(ServiceError::Forbidden { .. })
        ));
        let owner = principal(1, Role::Owner);
        assert!(owner.require(&ext(1), Role::Developer, "set").is_ok());
        assert!(matches!(
            owner.require(&ext(2), Role::Viewer, "list"),
            Err(ServiceError::NotFound(_))
        ));
        assert!(owner.require_admin("create extensions").is_err());
    }
}
