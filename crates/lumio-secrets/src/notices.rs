//! Expiry and rotation reminders: 30 days, 7 days and 1 day before a secret's expiry or
//! rotation date, and at it, each sent once (as a change event, through its audit record).
//! A secret first seen inside a window gets only the latest notice due (one set to expire
//! in 5 days hears "7 days", not "30 days" as well).

use chrono::{DateTime, Duration, Utc};
use lumio_core::records::DueSecret;
use lumio_core::{AuditEvent, AuditOutcome, SYSTEM_ACTOR};
use lumio_store::{AuditRecord, DueNotice};

use crate::{SecretsService, ServiceError};

/// How long before the due time each notice goes out, latest first.
const NOTICES: [(&str, i64); 4] = [("due", 0), ("1d", 1), ("7d", 7), ("30d", 30)];

/// The latest notice due by `now` for a date `due_at`, if any.
pub(crate) fn notice_due(now: DateTime<Utc>, due_at: DateTime<Utc>) -> Option<&'static str> {
    NOTICES
        .iter()
        .find(|(_, days)| now >= due_at - Duration::days(*days))
        .map(|(notice, _)| *notice)
}

/// The event and wording of a notice.
fn words(kind: &str, notice: &str, version: i64, due_at: DateTime<Utc>) -> (AuditEvent, String) {
    let at = due_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let before = match notice {
        "1d" => "in 1 day",
        "7d" => "in 7 days",
        _ => "in 30 days",
    };
    match (kind, notice) {
        ("expiry", "due") => (
            AuditEvent::SecretExpired,
            format!("version {version} expired at {at}"),
        ),
        ("expiry", _) => (
            AuditEvent::SecretExpiring,
            format!("version {version} expires at {at} ({before})"),
        ),
        (_, "due") => (
            AuditEvent::SecretRotationOverdue,
            format!("version {version} was due for rotation at {at}"),
        ),
        _ => (
            AuditEvent::SecretRotationDue,
            format!("version {version} is due for rotation at {at} ({before})"),
        ),
    }
}

impl SecretsService {
    /// Sends the notices due now (each once, across every server on the store); how many.
    pub async fn send_due_notices(&self) -> Result<u64, ServiceError> {
        let now = self.now_micros();
        let mut sent = 0;
        for secret in self.due_dates_all().await? {
            let dates = [
                ("expiry", secret.expires_at),
                ("rotation", secret.rotate_by),
            ];
            for (kind, due_at) in dates {
                let Some(due_at) = due_at else { continue };
                let Some(notice) = notice_due(now, due_at) else {
                    continue;
                };
                if self.send_notice(&secret, kind, due_at, notice, now).await? {
                    sent += 1;
                }
            }
        }
        Ok(sent)
    }

    async fn send_notice(
        &self,
        secret: &DueSecret,
        kind: &'static str,
        due_at: DateTime<Utc>,
        notice: &'static str,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let (event, detail) = words(kind, notice, secret.version, due_at);
        let record = AuditRecord {
            // When it happened, on the system clock as every record (a test's clock may
            // be days ahead, past the audit log's prepared partitions).
            at: Utc::now(),
            extension_id: secret.extension_id,
            environment: Some(secret.environment),
            event,
            secret_name: Some(secret.name.as_str().to_owned()),
            actor: Some(SYSTEM_ACTOR.to_owned()),
            action: None,
            request_id: None,
            outcome: Some(AuditOutcome::Ok.into()),
            detail: Some(detail),
        };
        let row = DueNotice {
            extension_id: secret.extension_id,
            environment: secret.environment,
            name: secret.name.as_str().to_owned(),
            kind,
            due_at,
            notice,
            sent_at: now,
        };
        Ok(self.inner.store.record_notice(&row, &[record]).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_notice_due_is_chosen() {
        let due = DateTime::parse_from_rfc3339("2030-03-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let at = |days_before: i64| due - Duration::days(days_before);
        assert_eq!(notice_due(at(40), due), None);
        assert_eq!(notice_due(at(30), due), Some("30d"));
        assert_eq!(notice_due(at(8), due), Some("30d"));
        assert_eq!(notice_due(at(5), due), Some("7d"));
        assert_eq!(notice_due(at(1), due), Some("1d"));
        assert_eq!(notice_due(due, due), Some("due"));
        assert_eq!(notice_due(due + Duration::days(90), due), Some("due"));
    }
}
