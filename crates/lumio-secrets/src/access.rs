//! Who may do what. A token is an instance admin or holds one role on one extension, in
//! both environments or (scoped) in one.

use chrono::{DateTime, Utc};
use lumio_core::{Environment, Role};
use lumio_store::{Extension, Grant};

use crate::error::ServiceError;

/// An authenticated token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's public id; recorded as the actor of changes.
    pub token_id: String,
    pub grant: Grant,
    /// The one environment the token may act in; `None`: both.
    pub environment: Option<Environment>,
    /// When the token stops working, so tokens it creates cannot outlive it.
    pub expires_at: Option<DateTime<Utc>>,
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

    /// Allows acting in `environment` unless the token is scoped to the other one. The
    /// environments of a visible extension are no secret, so this is a 403, decided
    /// before anything in the environment is looked at (the answer is the same whether
    /// or not a secret exists there).
    pub fn require_environment(
        &self,
        environment: Environment,
        action: &'static str,
    ) -> Result<(), ServiceError> {
        match self.environment {
            Some(scope) if scope != environment => Err(ServiceError::OutOfScope {
                scope,
                environment,
                action,
            }),
            _ => Ok(()),
        }
    }

    /// [`Self::require`] and [`Self::require_environment`] in one.
    pub fn require_in(
        &self,
        extension: &Extension,
        environment: Environment,
        needed: Role,
        action: &'static str,
    ) -> Result<(), ServiceError> {
        self.require(extension, needed, action)?;
        self.require_environment(environment, action)
    }

    /// Whether this token may act on everything `other` may: no token can make or revoke
    /// one that reaches an environment it cannot.
    pub fn covers_environment(&self, other: Option<Environment>) -> bool {
        match (self.environment, other) {
            (None, _) => true,
            (Some(mine), Some(theirs)) => mine == theirs,
            (Some(_), None) => false,
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
            environment: None,
            expires_at: None,
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

    #[test]
    fn a_scoped_token_stays_in_its_environment() {
        let mut staging = principal(1, Role::Owner);
        staging.environment = Some(Environment::Staging);
        assert!(staging
            .require_in(&ext(1), Environment::Staging, Role::Developer, "set")
            .is_ok());
        let refused = staging
            .require_in(
                &ext(1),
                Environment::Production,
                Role::Viewer,
                "list secrets",
            )
            .unwrap_err();
        assert!(matches!(refused, ServiceError::OutOfScope { .. }));
        assert!(
            refused.to_string().contains("scoped to staging"),
            "{refused}"
        );
        // Another extension stays hidden, scope or not.
        assert!(matches!(
            staging.require_in(&ext(2), Environment::Staging, Role::Viewer, "list"),
            Err(ServiceError::NotFound(_))
        ));
        assert!(staging.covers_environment(Some(Environment::Staging)));
        assert!(!staging.covers_environment(Some(Environment::Production)));
        assert!(!staging.covers_environment(None));
        assert!(principal(1, Role::Owner).covers_environment(None));
    }
}
