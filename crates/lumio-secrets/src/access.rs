//! Who may do what. A token is an instance admin or holds one role on one extension, in
//! both environments or (scoped) in one.

use chrono::{DateTime, Utc};
use lumio_core::{Environment, Role};
use lumio_store::{Extension, Grant};

use crate::error::ServiceError;

/// An authenticated token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's public id.
    pub token_id: String,
    /// The token's label; an admin is recorded as `staff:<label>`.
    pub label: String,
    pub grant: Grant,
    /// The one environment the token may act in; `None`: both.
    pub environment: Option<Environment>,
    /// When the token stops working, so tokens it creates cannot outlive it.
    pub expires_at: Option<DateTime<Utc>>,
    /// Support access that owners approved for this admin token: (extension id, until).
    pub support: Vec<(i64, DateTime<Utc>)>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        matches!(self.grant, Grant::Admin)
    }

    /// Who made a change, as the audit log and listings show it: a member token's id, or
    /// `staff:<label>` for an instance admin, so an owner never meets a bare id they
    /// cannot look up.
    pub fn actor(&self) -> String {
        if self.is_admin() {
            format!("staff:{}", self.label)
        } else {
            self.token_id.clone()
        }
    }

    /// Whether the token may know that extension `extension_id` exists: admins see every
    /// extension, members their own.
    pub fn reaches(&self, extension_id: i64) -> bool {
        match self.grant {
            Grant::Admin => true,
            Grant::Extension {
                extension_id: id, ..
            } => id == extension_id,
        }
    }

    /// The role this principal holds in `extension`. Staff count as owners of an
    /// extension nobody has claimed yet; once it has an owner they only see its names and
    /// audit log (viewer), or work as developers while an owner-approved support grant
    /// lasts.
    pub fn role_in(&self, extension: &Extension) -> Option<Role> {
        match self.grant {
            Grant::Admin if !extension.is_claimed() => Some(Role::Owner),
            Grant::Admin if self.has_support(extension.id, Utc::now()) => Some(Role::Developer),
            Grant::Admin => Some(Role::Viewer),
            Grant::Extension { extension_id, role } if extension_id == extension.id => Some(role),
            Grant::Extension { .. } => None,
        }
    }

    /// Whether an owner-approved support grant on the extension is in force at `now`.
    pub fn has_support(&self, extension_id: i64, now: DateTime<Utc>) -> bool {
        self.support
            .iter()
            .any(|&(id, until)| id == extension_id && until > now)
    }

    /// Staff in a claimed extension without a support grant: outside it.
    fn is_staff_outside(&self, extension: &Extension) -> bool {
        self.is_admin() && extension.is_claimed() && !self.has_support(extension.id, Utc::now())
    }

    /// Whether the extension is visible at all; an invisible one must look missing.
    pub fn can_see(&self, extension: &Extension) -> bool {
        self.reaches(extension.id)
    }

    /// Allows `action` on `extension` if the role is at least `needed`. A caller with no
    /// role on it gets the same answer as for a missing extension; staff outside a claimed
    /// extension get `staff_not_member`.
    pub fn require(
        &self,
        extension: &Extension,
        needed: Role,
        action: &'static str,
    ) -> Result<(), ServiceError> {
        match self.role_in(extension) {
            None => Err(ServiceError::NotFound(format!(
                "extension {:?}",
                extension.slug.as_str()
            ))),
            Some(role) if role >= needed => Ok(()),
            Some(_) if self.is_staff_outside(extension) => Err(ServiceError::StaffNotMember {
                extension: extension.slug.as_str().to_owned(),
                action,
            }),
            Some(role) => Err(ServiceError::Forbidden {
                role: role.as_str(),
                action,
                needed: needed.as_str(),
            }),
        }
    }

    /// [`Self::require`] for what only members may do, whatever the role needed: staff
    /// outside a claimed extension are refused even where a viewer is not (its logs).
    pub fn require_member(
        &self,
        extension: &Extension,
        needed: Role,
        action: &'static str,
    ) -> Result<(), ServiceError> {
        if self.is_staff_outside(extension) {
            return Err(ServiceError::StaffNotMember {
                extension: extension.slug.as_str().to_owned(),
                action,
            });
        }
        self.require(extension, needed, action)
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
            claimed_at: None,
            claimed_by: None,
            suspended_at: None,
        }
    }

    fn claimed(id: i64) -> Extension {
        Extension {
            claimed_at: Some(chrono::Utc::now()),
            claimed_by: Some("owner".into()),
            ..ext(id)
        }
    }

    fn principal(extension_id: i64, role: Role) -> Principal {
        Principal {
            token_id: "t".into(),
            label: "t".into(),
            grant: Grant::Extension { extension_id, role },
            environment: None,
            expires_at: None,
            support: Vec::new(),
        }
    }

    fn admin() -> Principal {
        Principal {
            token_id: "a".into(),
            label: "ops".into(),
            grant: Grant::Admin,
            environment: None,
            expires_at: None,
            support: Vec::new(),
        }
    }

    #[test]
    fn staff_own_unclaimed_extensions_and_only_look_into_claimed_ones() {
        let staff = admin();
        assert_eq!(staff.actor(), "staff:ops");
        assert!(staff.require(&ext(1), Role::Owner, "create tokens").is_ok());
        assert!(staff.require(&claimed(1), Role::Viewer, "list").is_ok());
        for needed in [Role::Developer, Role::Owner] {
            assert!(matches!(
                staff.require(&claimed(1), needed, "deploy"),
                Err(ServiceError::StaffNotMember { .. })
            ));
        }
        assert!(matches!(
            staff.require_member(&claimed(1), Role::Viewer, "read logs"),
            Err(ServiceError::StaffNotMember { .. })
        ));
        // An approved grant makes a developer, until it ends.
        let now = Utc::now();
        let mut helping = admin();
        helping.support = vec![(1, now + chrono::Duration::hours(1)), (2, now)];
        assert!(helping
            .require(&claimed(1), Role::Developer, "deploy")
            .is_ok());
        assert!(matches!(
            helping.require(&claimed(1), Role::Owner, "create tokens"),
            Err(ServiceError::Forbidden { .. })
        ));
        assert!(matches!(
            helping.require(&claimed(2), Role::Developer, "deploy"),
            Err(ServiceError::StaffNotMember { .. })
        ));
        // Members are recorded by their token id.
        assert_eq!(principal(1, Role::Owner).actor(), "t");
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
