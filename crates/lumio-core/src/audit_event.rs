//! The events the audit log records and the outcomes it notes. The store keeps both as
//! their wire names; the API (`lumio-api`) sends them as they are.

use serde::{Deserialize, Deserializer, Serialize};

/// What an audit record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum AuditEvent {
    /// An action read a secret (found or not set).
    #[serde(rename = "secret.get")]
    SecretGet,
    /// An action asked for a secret outside its grants.
    #[serde(rename = "secret.denied")]
    SecretDenied,
    /// A secret was set (a new version).
    #[serde(rename = "secret.set")]
    SecretSet,
    /// A secret was set by an import.
    #[serde(rename = "secret.import")]
    SecretImport,
    /// A secret was rolled back to a kept version.
    #[serde(rename = "secret.rollback")]
    SecretRollback,
    /// A secret was deleted (or purged).
    #[serde(rename = "secret.delete")]
    SecretDelete,
    /// A secret was copied from the other environment.
    #[serde(rename = "secret.copy")]
    SecretCopy,
    /// Two environments' secrets were compared.
    #[serde(rename = "secret.compared")]
    SecretCompared,
    /// A secret's egress binding changed.
    #[serde(rename = "secret.binding_changed")]
    SecretBindingChanged,
    /// A secret's expiry or rotation period changed without a new value.
    #[serde(rename = "secret.due_dates_changed")]
    SecretDueDatesChanged,
    /// A fetch carrying a bound secret to another host was refused.
    #[serde(rename = "egress.blocked")]
    EgressBlocked,
    /// An action's answer held a secret's value and was withheld.
    #[serde(rename = "leak.blocked")]
    LeakBlocked,
    /// Code was deployed.
    #[serde(rename = "deploy")]
    Deploy,
    /// A token was created.
    #[serde(rename = "token.create")]
    TokenCreate,
    /// A token was revoked.
    #[serde(rename = "token.revoke")]
    TokenRevoke,
    /// An extension was created.
    #[serde(rename = "extension.create")]
    ExtensionCreate,
    /// A claim code for the extension was issued by staff.
    #[serde(rename = "extension.claim_code")]
    ExtensionClaimCode,
    /// The extension was claimed: its owner token was made.
    #[serde(rename = "extension.claim")]
    ExtensionClaim,
    /// The extension was suspended by staff: its actions do not run.
    #[serde(rename = "extension.suspend")]
    ExtensionSuspend,
    /// The extension was resumed by staff.
    #[serde(rename = "extension.resume")]
    ExtensionResume,
    /// Staff asked for support access.
    #[serde(rename = "access.request")]
    AccessRequest,
    /// An owner approved staff support access.
    #[serde(rename = "access.approve")]
    AccessApprove,
    /// Support access was withdrawn or ended early.
    #[serde(rename = "access.revoke")]
    AccessRevoke,
    /// The extension's audit chain key was exported by its owner.
    #[serde(rename = "audit.key_exported")]
    AuditKeyExported,
    /// Retention removed old audit records and moved the chain's anchor.
    #[serde(rename = "audit.pruned")]
    AuditPruned,
    /// The audit chain was linked again under its key (upgrade from the unkeyed chain).
    #[serde(rename = "audit.chain_keyed")]
    AuditChainKeyed,
    /// A webhook receiver was added.
    #[serde(rename = "webhook.add")]
    WebhookAdd,
    /// A webhook receiver was removed.
    #[serde(rename = "webhook.remove")]
    WebhookRemove,
    /// A test event was sent to a webhook receiver.
    #[serde(rename = "webhook.test")]
    WebhookTest,
    /// An event delivery to a webhook receiver was attempted.
    #[serde(rename = "webhook.delivery")]
    WebhookDelivery,
    /// A delivery was queued again by hand.
    #[serde(rename = "webhook.redeliver")]
    WebhookRedeliver,
    /// A secret expires soon (30, 7 or 1 day notice).
    #[serde(rename = "secret.expiring")]
    SecretExpiring,
    /// A secret reached its expiry.
    #[serde(rename = "secret.expired")]
    SecretExpired,
    /// A secret is due for rotation soon (30, 7 or 1 day notice).
    #[serde(rename = "secret.rotation_due")]
    SecretRotationDue,
    /// A secret reached its rotation date.
    #[serde(rename = "secret.rotation_overdue")]
    SecretRotationOverdue,
}

impl AuditEvent {
    pub const ALL: &'static [AuditEvent] = &[
        Self::SecretGet,
        Self::SecretDenied,
        Self::SecretSet,
        Self::SecretImport,
        Self::SecretRollback,
        Self::SecretDelete,
        Self::SecretCopy,
        Self::SecretCompared,
        Self::SecretBindingChanged,
        Self::SecretDueDatesChanged,
        Self::EgressBlocked,
        Self::LeakBlocked,
        Self::Deploy,
        Self::TokenCreate,
        Self::TokenRevoke,
        Self::ExtensionCreate,
        Self::ExtensionClaimCode,
        Self::ExtensionClaim,
        Self::ExtensionSuspend,
        Self::ExtensionResume,
        Self::AccessRequest,
        Self::AccessApprove,
        Self::AccessRevoke,
        Self::AuditKeyExported,
        Self::AuditPruned,
        Self::AuditChainKeyed,
        Self::WebhookAdd,
        Self::WebhookRemove,
        Self::WebhookTest,
        Self::WebhookDelivery,
        Self::WebhookRedeliver,
        Self::SecretExpiring,
        Self::SecretExpired,
        Self::SecretRotationDue,
        Self::SecretRotationOverdue,
    ];

    /// The wire name, e.g. `secret.get`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SecretGet => "secret.get",
            Self::SecretDenied => "secret.denied",
            Self::SecretSet => "secret.set",
            Self::SecretImport => "secret.import",
            Self::SecretRollback => "secret.rollback",
            Self::SecretDelete => "secret.delete",
            Self::SecretCopy => "secret.copy",
            Self::SecretCompared => "secret.compared",
            Self::SecretBindingChanged => "secret.binding_changed",
            Self::SecretDueDatesChanged => "secret.due_dates_changed",
            Self::EgressBlocked => "egress.blocked",
            Self::LeakBlocked => "leak.blocked",
            Self::Deploy => "deploy",
            Self::TokenCreate => "token.create",
            Self::TokenRevoke => "token.revoke",
            Self::ExtensionCreate => "extension.create",
            Self::ExtensionClaimCode => "extension.claim_code",
            Self::ExtensionClaim => "extension.claim",
            Self::ExtensionSuspend => "extension.suspend",
            Self::ExtensionResume => "extension.resume",
            Self::AccessRequest => "access.request",
            Self::AccessApprove => "access.approve",
            Self::AccessRevoke => "access.revoke",
            Self::AuditKeyExported => "audit.key_exported",
            Self::AuditPruned => "audit.pruned",
            Self::AuditChainKeyed => "audit.chain_keyed",
            Self::WebhookAdd => "webhook.add",
            Self::WebhookRemove => "webhook.remove",
            Self::WebhookTest => "webhook.test",
            Self::WebhookDelivery => "webhook.delivery",
            Self::WebhookRedeliver => "webhook.redeliver",
            Self::SecretExpiring => "secret.expiring",
            Self::SecretExpired => "secret.expired",
            Self::SecretRotationDue => "secret.rotation_due",
            Self::SecretRotationOverdue => "secret.rotation_overdue",
        }
    }

    /// What the event means, for people (`lumio audit --help`, the dashboard).
    pub fn meaning(self) -> &'static str {
        match self {
            Self::SecretGet => "An action read a secret (found or not set).",
            Self::SecretDenied => "An action asked for a secret outside its grants.",
            Self::SecretSet => "A secret was set (a new version).",
            Self::SecretImport => "A secret was set by an import.",
            Self::SecretRollback => "A secret was rolled back to a kept version.",
            Self::SecretDelete => "A secret was deleted (or purged).",
            Self::SecretCopy => "A secret was copied from the other environment.",
            Self::SecretCompared => "Two environments' secrets were compared.",
            Self::SecretBindingChanged => "A secret's egress binding changed.",
            Self::SecretDueDatesChanged => {
                "A secret's expiry or rotation period changed without a new value."
            }
            Self::EgressBlocked => "A fetch carrying a bound secret to another host was refused.",
            Self::LeakBlocked => "An action's answer held a secret's value and was withheld.",
            Self::Deploy => "Code was deployed.",
            Self::TokenCreate => "A token was created.",
            Self::TokenRevoke => "A token was revoked.",
            Self::ExtensionCreate => "An extension was created.",
            Self::ExtensionClaimCode => "A claim code for the extension was issued by staff.",
            Self::ExtensionClaim => "The extension was claimed: its owner token was made.",
            Self::ExtensionSuspend => {
                "The extension was suspended by staff: its actions do not run."
            }
            Self::ExtensionResume => "The extension was resumed by staff.",
            Self::AccessRequest => "Staff asked for support access.",
            Self::AccessApprove => "An owner approved staff support access.",
            Self::AccessRevoke => "Support access was withdrawn or ended early.",
            Self::AuditKeyExported => "The extension's audit chain key was exported by its owner.",
            Self::AuditPruned => {
                "Retention removed old audit records and moved the chain's anchor."
            }
            Self::AuditChainKeyed => {
                "The audit chain was linked again under its key (upgrade from the unkeyed chain)."
            }
            Self::WebhookAdd => "A webhook receiver was added.",
            Self::WebhookRemove => "A webhook receiver was removed.",
            Self::WebhookTest => "A test event was sent to a webhook receiver.",
            Self::WebhookDelivery => "An event delivery to a webhook receiver was attempted.",
            Self::WebhookRedeliver => "A delivery was queued again by hand.",
            Self::SecretExpiring => "A secret expires soon (30, 7 or 1 day notice).",
            Self::SecretExpired => "A secret reached its expiry.",
            Self::SecretRotationDue => "A secret is due for rotation soon (30, 7 or 1 day notice).",
            Self::SecretRotationOverdue => "A secret reached its rotation date.",
        }
    }

    /// Whether a record of this event is also a change event for webhooks. Reads,
    /// refusals, the log's own upkeep and deliveries are not (the store's trigger that
    /// fills the outbox lists the same ones; a store test checks they agree).
    pub const fn is_change_event(self) -> bool {
        !matches!(
            self,
            Self::SecretGet
                | Self::SecretDenied
                | Self::SecretCompared
                | Self::EgressBlocked
                | Self::LeakBlocked
                | Self::AuditPruned
                | Self::AuditChainKeyed
                | Self::WebhookDelivery
                | Self::WebhookTest
        )
    }

    /// The event with this wire name, if there is one.
    pub fn parse(wire: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|event| event.as_str() == wire)
    }
}

/// By wire name. An unknown name is refused with the list of known ones and without
/// echoing the input (a query string may carry anything, a secret included).
impl<'de> Deserialize<'de> for AuditEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = String::deserialize(deserializer)?;
        Self::parse(&wire).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|e| e.as_str()).collect();
            serde::de::Error::custom(format!("unknown event; use one of {}", known.join(", ")))
        })
    }
}

impl std::fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How what an audit record is about turned out (its `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    /// Done as asked (a change, a claim, a system record).
    Ok,
    /// A read found the secret.
    Found,
    /// A read found the secret past its current version's expiry; the action was still
    /// given the value.
    Expired,
    /// A read found no such secret.
    NotSet,
    /// A read outside the action's grants was refused.
    Denied,
    /// A fetch or an answer was stopped because it carried a secret's value.
    Blocked,
    /// An attempt (a webhook delivery) did not succeed.
    Failed,
}

impl AuditOutcome {
    /// The stored name, e.g. `not_set`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Found => "found",
            Self::Expired => "expired",
            Self::NotSet => "not_set",
            Self::Denied => "denied",
            Self::Blocked => "blocked",
            Self::Failed => "failed",
        }
    }
}

impl From<AuditOutcome> for String {
    fn from(outcome: AuditOutcome) -> Self {
        outcome.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::AuditEvent;

    #[test]
    fn wire_names_round_trip() {
        for &event in AuditEvent::ALL {
            assert_eq!(AuditEvent::parse(event.as_str()), Some(event));
            assert_eq!(serde_json::to_value(event).unwrap(), event.as_str());
        }
        assert_eq!(AuditEvent::parse("secret.read"), None);
        let err = serde_json::from_str::<AuditEvent>(r#""sk-live-planted""#).unwrap_err();
        assert!(!err.to_string().contains("sk-live"), "{err}");
        assert!(err.to_string().contains("secret.get"), "{err}");
    }
}
