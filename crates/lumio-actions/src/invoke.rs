//! Running an action for a client: the client plane.

use std::sync::Arc;

use lumio_core::{AuditEvent, AuditOutcome, Environment, ExtensionSlug};
use lumio_runtime::{ActionError, ErrorCode};
use lumio_store::AuditRecord;

use crate::host::ActionHost;
use crate::logs::Finished;
use crate::ActionsService;

/// What the caller gets back.
#[derive(Debug, Clone)]
pub struct InvokeOutcome {
    pub result: Result<serde_json::Value, ActionError>,
    /// `secret.denied` records the invocation's refused reads wrote (the server limits
    /// how many one client address can cause).
    pub denied_records: u32,
}

fn not_found(action: &str) -> InvokeOutcome {
    InvokeOutcome {
        result: Err(ActionError::new(
            ErrorCode::NotFound,
            format!("no action {action:?} is deployed here; deploy with `lumio deploy` and call it as module:export"),
        )),
        denied_records: 0,
    }
}

impl ActionsService {
    /// Runs `action` of the active deployment with `args`. Unknown extensions, missing
    /// deployments and unknown actions all answer `not_found` alike.
    pub async fn invoke(
        &self,
        slug: &ExtensionSlug,
        environment: Environment,
        action: &str,
        args: serde_json::Value,
        request_id: &str,
    ) -> InvokeOutcome {
        let secrets = &self.inner.secrets;
        let extension = match secrets.find_extension(slug).await {
            Ok(Some(extension)) => extension,
            Ok(None) => return not_found(action),
            Err(err) => return unavailable(err.to_string()),
        };
        // Secrets changed and code deployed through another server just before this call
        // must be seen: one barrier through the change feed for both caches (none on SQLite,
        // whose feed is local and immediate).
        if let Some(marker) = secrets.sync_marker() {
            tokio::join!(
                secrets.caught_up_to(marker),
                self.inner.active.caught_up_to(marker)
            );
        }
        let deployment = match self.active(extension.id, environment).await {
            Ok(Some(deployment)) => deployment,
            Ok(None) => return not_found(action),
            Err(err) => return unavailable(err.to_string()),
        };
        let host = Arc::new(ActionHost {
            secrets: secrets.clone(),
            handle: tokio::runtime::Handle::current(),
            extension_id: extension.id,
            environment,
            action: action.to_owned(),
            request_id: request_id.to_owned(),
            reads: Default::default(),
            expired: Default::default(),
        });
        let tenant = extension.id.to_string();
        let invocation = self
            .inner
            .runtime
            .invoke(&tenant, deployment, action, args, host.clone())
            .await;
        for name in &invocation.leak_blocked {
            let record = AuditRecord {
                at: self.inner.secrets.now(),
                extension_id: extension.id,
                environment: Some(environment),
                event: AuditEvent::LeakBlocked,
                secret_name: Some(name.as_str().to_owned()),
                actor: None,
                action: Some(action.to_owned()),
                request_id: Some(request_id.to_owned()),
                outcome: Some(AuditOutcome::Blocked.into()),
                detail: Some(
                    "the action's result held the secret's value; the caller got an error"
                        .to_owned(),
                ),
            };
            if let Err(err) = secrets.audit().record(record).await {
                tracing::error!(%err, action, request_id, "could not record a blocked leak");
            }
        }
        if let Some(stack) = &invocation.stack {
            let stack = log_safe(stack);
            tracing::warn!(extension = %slug, %environment, action, request_id, %stack, "action failed");
        }
        let (outcome, error) = match &invocation.result {
            Ok(_) => ("ok".to_owned(), None),
            Err(err) => (err.code.as_str().to_owned(), Some(err.message.clone())),
        };
        let mut console = host.expiry_warnings();
        console.extend(invocation.console);
        self.inner.logs.enqueue(Finished {
            extension_id: extension.id,
            environment,
            at: self.inner.secrets.now(),
            action: action.to_owned(),
            request_id: request_id.to_owned(),
            outcome,
            duration_ms: invocation.duration.as_secs_f64() * 1000.0,
            console,
            error,
            reads: host.take_reads(),
        });
        InvokeOutcome {
            result: invocation.result,
            denied_records: invocation.denied_records,
        }
    }
}

fn unavailable(reason: String) -> InvokeOutcome {
    tracing::error!(%reason, "could not prepare an invocation");
    InvokeOutcome {
        result: Err(ActionError::new(
            ErrorCode::Internal,
            "Lumio could not load this action right now; try again shortly",
        )),
        denied_records: 0,
    }
}

/// `text` with control characters escaped, so that what a script threw cannot forge log
/// lines (`\n2026-… INFO …`) or drive the operator's terminal (`\x1b[2J`).
fn log_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str(" | "),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::log_safe;

    #[test]
    fn thrown_text_cannot_forge_log_lines_or_escape_sequences() {
        let forged = "bad\n2026-12-01T00:00:00Z  INFO lumio: admin signed in\x1b[2J\r";
        let safe = log_safe(forged);
        assert!(
            !safe.contains('\n') && !safe.contains('\r') && !safe.contains('\x1b'),
            "{safe}"
        );
        assert!(safe.contains("\\u{1b}[2J"), "{safe}");
        assert_eq!(
            log_safe("Error: boom\n    at handler (server/functions.ts:3:9)"),
            "Error: boom |     at handler (server/functions.ts:3:9)"
        );
    }
}
