//! Due dates (issue 28): when a secret's current version expires and how often the secret
//! is to be rotated. As in Azure Key Vault, the expiry belongs to the version it is set
//! with (a new version without one has none: import, rollback and copy carry none), the
//! rotation period to the secret (kept across versions until cleared), and each new
//! version restarts the rotation clock. Times are read from the service's clock.
//!
//! A change without a new value commits with a `secret.due_dates_changed` record; a set
//! that gives due dates says them in its `secret.set` record's detail.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use lumio_core::records::DueSecret;
use lumio_core::{AuditEvent, DueUpdate, Environment, ExtensionSlug, Period, Role, SecretName};
use lumio_store::{DueDatesChange, SecretHead};

use crate::extensions::change_record;
use crate::{RequestContext, SecretsService, ServiceError};

/// When a version expires, as a caller gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// At this moment; it must be in the future.
    At(DateTime<Utc>),
    /// This long after now, by the service's clock (so a client's clock does not matter).
    In(Period),
}

/// The due dates a set gives its new version and the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DueOnSet {
    /// `None`: the new version never expires (an expiry is never carried over).
    pub expires: Option<Expiry>,
    /// `Keep` leaves the secret's period as it is.
    pub rotate_every: DueUpdate<Period>,
}

/// A change of due dates without a new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DueChange {
    pub expires: DueUpdate<Expiry>,
    pub rotate_every: DueUpdate<Period>,
}

/// `at` as the audit log and messages write it: `2027-01-01T00:00:00Z`.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The moment an expiry names, at the stores' precision; refused unless after `now`.
pub(crate) fn expiry_at(
    expires: Expiry,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ServiceError> {
    let at = match expires {
        Expiry::At(at) => at.trunc_subsecs(6),
        Expiry::In(period) => period.after(now).ok_or_else(|| {
            ServiceError::DueDates(format!(
                "an expiry {period} from now is past the last date Lumio can keep; give a shorter one"
            ))
        })?,
    };
    if at <= now {
        return Err(ServiceError::DueDates(format!(
            "the expiry {} is not in the future (it is now {}); give a later --expires-at, or --expires-in such as 90d; nothing was stored",
            stamp(at),
            stamp(now.trunc_subsecs(0))
        )));
    }
    Ok(at)
}

/// What a set's record says of the due dates it gave, after the version: `; expires …`,
/// `; rotate every 30d`, `; rotation off`.
pub(crate) fn set_detail(expires_at: Option<DateTime<Utc>>, rotate: DueUpdate<Period>) -> String {
    let mut detail = String::new();
    if let Some(at) = expires_at {
        detail.push_str(&format!("; expires {}", stamp(at)));
    }
    match rotate {
        DueUpdate::Keep => {}
        DueUpdate::Set(period) => detail.push_str(&format!("; rotate every {period}")),
        DueUpdate::Clear => detail.push_str("; rotation off"),
    }
    detail
}

/// The detail of a `secret.due_dates_changed` record: what changed.
fn change_detail(expires: DueUpdate<DateTime<Utc>>, rotate: DueUpdate<Period>) -> String {
    let mut parts = Vec::new();
    match expires {
        DueUpdate::Keep => {}
        DueUpdate::Set(at) => parts.push(format!("expires {}", stamp(at))),
        DueUpdate::Clear => parts.push("no expiry".to_owned()),
    }
    match rotate {
        DueUpdate::Keep => {}
        DueUpdate::Set(period) => parts.push(format!("rotate every {period}")),
        DueUpdate::Clear => parts.push("rotation off".to_owned()),
    }
    parts.join("; ")
}

impl SecretsService {
    /// Changes a live secret's due dates without a new value: its current version's expiry
    /// and the secret's rotation period. The rotation clock does not move (only a new
    /// version moves it). Commits with a `secret.due_dates_changed` record; returns the
    /// head as it is now.
    #[tracing::instrument(skip_all, fields(extension = %slug, environment = %environment, name = %name))]
    pub async fn change_due_dates(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        name: &SecretName,
        change: DueChange,
    ) -> Result<SecretHead, ServiceError> {
        let extension = self
            .authorized(ctx, slug, environment, Role::Developer, "change due dates")
            .await?;
        if change.expires.is_keep() && change.rotate_every.is_keep() {
            return Err(ServiceError::DueDates(
                "nothing to change: give an expiry (or clear it) or a rotation period (or turn it off)"
                    .to_owned(),
            ));
        }
        let now = self.now_micros();
        let expires_at = match change.expires {
            DueUpdate::Keep => DueUpdate::Keep,
            DueUpdate::Clear => DueUpdate::Clear,
            DueUpdate::Set(expires) => DueUpdate::Set(expiry_at(expires, now)?),
        };
        let audit = change_record(
            ctx,
            extension.id,
            Some(environment),
            AuditEvent::SecretDueDatesChanged,
            Some(name.as_str()),
            Some(change_detail(expires_at, change.rotate_every)),
        );
        let store = &self.inner.store;
        let changes = DueDatesChange {
            expires_at,
            rotate_every: change.rotate_every,
        };
        let changed = store
            .set_due_dates(
                extension.id,
                environment,
                name,
                &changes,
                &ctx.principal.actor(),
                &[audit],
            )
            .await?;
        let not_found =
            || ServiceError::NotFound(format!("secret {name} in {}/{environment}", extension.slug));
        if !changed {
            return Err(not_found());
        }
        self.invalidate(&extension, environment, name);
        store
            .head(extension.id, environment, name)
            .await?
            .ok_or_else(not_found)
    }

    /// Every live secret on the instance with an expiry or a rotation period (extension,
    /// environment, name, version, expiry, rotation date): what the server's own reminder
    /// task reads. No caller's access is checked, so it is never an answer to a request.
    pub async fn due_dates_all(&self) -> Result<Vec<DueSecret>, ServiceError> {
        Ok(self.inner.store.due_dates_all().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn expiries_must_be_in_the_future() {
        let now = at("2030-01-01T00:00:00Z");
        let day = Period::parse("1d").unwrap();
        assert_eq!(
            expiry_at(Expiry::In(day), now).unwrap(),
            at("2030-01-02T00:00:00Z")
        );
        let later = at("2030-06-01T00:00:00Z");
        assert_eq!(expiry_at(Expiry::At(later), now).unwrap(), later);
        for past in [now, at("2029-12-31T23:59:59Z")] {
            let err = expiry_at(Expiry::At(past), now).unwrap_err().to_string();
            assert!(err.contains("not in the future"), "{err}");
            assert!(err.contains("nothing was stored"), "{err}");
        }
    }

    #[test]
    fn details_say_what_was_given() {
        let month = Period::parse("30d").unwrap();
        let expires = Some(at("2027-01-01T00:00:00Z"));
        assert_eq!(
            set_detail(expires, DueUpdate::Set(month)),
            "; expires 2027-01-01T00:00:00Z; rotate every 30d"
        );
        assert_eq!(set_detail(None, DueUpdate::Keep), "");
        assert_eq!(set_detail(None, DueUpdate::Clear), "; rotation off");
        assert_eq!(
            change_detail(DueUpdate::Clear, DueUpdate::Set(month)),
            "no expiry; rotate every 30d"
        );
    }
}
