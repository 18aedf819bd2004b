//! Reading the invocation log: the newest page, or the invocations after a cursor,
//! waiting for some when there are none yet.
//!
//! A waiting reader is woken at once when this process's writer commits a batch; other
//! servers' batches are found by reading again every [`POLL_EVERY`]. A short poll rather
//! than the PostgreSQL change feed: it costs one indexed query per waiting follower
//! (a handful of developers), where announcing every batch on the feed would cost every
//! server a notification per batch under load, and it also catches the moment a batch
//! that was held back behind another transaction becomes readable.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lumio_core::{Environment, ExtensionSlug, Role};
use lumio_secrets::RequestContext;
use lumio_store::{LogPosition, LogQuery};
use tokio::time::Instant;

use super::{InvocationLog, LogsPage};
use crate::{ActionsError, ActionsService};

/// How often a waiting reader looks for other servers' invocations.
pub(crate) const POLL_EVERY: Duration = Duration::from_millis(250);
/// How soon a read whose rows are held back behind an older transaction asks again.
const HELD_BACK_RETRY: Duration = Duration::from_millis(20);
/// The longest a read waits for this server's queued invocations to be written, and
/// then for rows held back behind an older transaction.
const SETTLE_AT_MOST: Duration = Duration::from_secs(1);
/// The longest a reader may wait.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Which invocations a reader wants.
#[derive(Debug, Clone, Default)]
pub struct LogsRequest {
    pub limit: usize,
    /// A cursor from an earlier page: the invocations after it, oldest first. `None`:
    /// the newest, newest first.
    pub after: Option<String>,
    /// Only this action (`module:export`).
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    /// With `after`: how long to wait when nothing follows the cursor yet.
    pub wait: Duration,
}

impl ActionsService {
    /// A page of the environment's invocations with their masked console output and
    /// reads (see [`LogsRequest`]).
    pub async fn logs(
        &self,
        ctx: &RequestContext,
        slug: &ExtensionSlug,
        environment: Environment,
        request: &LogsRequest,
    ) -> Result<LogsPage, ActionsError> {
        let after = match request.after.as_deref() {
            None => None,
            Some(text) => Some(text.parse::<LogPosition>().map_err(|()| {
                ActionsError::InvalidRequest(format!(
                    "{:?} is not a cursor this server gave; pass the `cursor` of an earlier \
                     answer as `after`, or leave `after` out for the newest invocations",
                    text.chars().take(64).collect::<String>()
                ))
            })?),
        };
        let extension = self.inner.secrets.visible_extension(ctx, slug).await?;
        ctx.principal
            .require_member(&extension, Role::Viewer, "read logs")?;
        let query = LogQuery {
            extension_id: extension.id,
            environment,
            after,
            action: request.action.as_deref(),
            since: request.since,
            limit: i64::try_from(request.limit).unwrap_or(i64::MAX),
        };
        // This server's own invocations made before the call are in the answer.
        self.inner.logs.settled(SETTLE_AT_MOST).await;
        let settle_until = Instant::now() + SETTLE_AT_MOST;
        let deadline = Instant::now() + request.wait.min(MAX_WAIT);
        let mut committed = self.inner.logs.committed();
        let mut held_since: Option<Instant> = None;
        loop {
            // Marked seen before reading: a batch committed during the read wakes the wait.
            committed.borrow_and_update();
            let page = self.inner.secrets.invocation_logs(&query).await?;
            let now = Instant::now();
            // Committed rows wait behind an older transaction for a moment (PostgreSQL):
            // read again shortly rather than answer without them, for a second; then at
            // the poll's pace.
            if page.held_back {
                let since = *held_since.get_or_insert(now);
                if now < since + SETTLE_AT_MOST && now < settle_until.max(deadline) {
                    tokio::time::sleep(HELD_BACK_RETRY).await;
                    continue;
                }
            } else {
                held_since = None;
            }
            let waiting = after.is_some() && page.invocations.is_empty();
            if !waiting || now >= deadline {
                return Ok(LogsPage {
                    invocations: page
                        .invocations
                        .into_iter()
                        .map(InvocationLog::from_row)
                        .collect(),
                    cursor: page.cursor.to_string(),
                });
            }
            let poll = (now + POLL_EVERY).min(deadline);
            tokio::select! {
                changed = committed.changed() => {
                    if changed.is_err() {
                        // The writer is gone (shutting down): only the poll is left.
                        tokio::time::sleep_until(poll).await;
                    }
                }
                _ = tokio::time::sleep_until(poll) => {}
            }
        }
    }
}
