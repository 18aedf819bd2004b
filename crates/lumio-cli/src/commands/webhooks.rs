//! `lumio webhooks add|list|remove|test|deliveries|redeliver`: receivers of an
//! extension's change events, signed as Standard Webhooks sign them.

use lumio_api::paths;
use lumio_api::webhooks::{
    AddWebhook, AddedWebhook, DeliveriesQuery, DeliveryList, Redelivered, WebhookList,
    WebhookTestResult, WebhookView,
};
use lumio_core::{Environment, EventFilter};

use super::connect;
use crate::cli::{CommonArgs, WebhooksCommand};
use crate::config;
use crate::error::CliError;
use crate::output;

pub fn run(common: &CommonArgs, command: WebhooksCommand) -> anyhow::Result<()> {
    let extension = config::extension(common)?;
    // Checked here too, so a typo is said before a request is made.
    if let WebhooksCommand::Add {
        events: Some(events),
        ..
    } = &command
    {
        EventFilter::parse(events).map_err(|e| CliError::usage(e.to_string()))?;
    }
    let environment = common
        .environment
        .as_deref()
        .map(|env| {
            Environment::parse(env)
                .map(|e| e.to_string())
                .map_err(|e| CliError::usage(e.to_string()))
        })
        .transpose()?;
    let client = connect(&common.conn)?;
    match command {
        WebhooksCommand::Add { receiver, events } => {
            let added: AddedWebhook = client.post(
                &paths::webhooks(&extension),
                &AddWebhook {
                    url: receiver,
                    events,
                    env: environment,
                },
            )?;
            if common.json {
                return output::json(&added);
            }
            let hook = &added.webhook;
            output::line(format!(
                "Added webhook {} for {} ({} events, {})",
                output::cell(&hook.id),
                output::cell(&hook.url),
                output::cell(&hook.events),
                hook.env.as_deref().unwrap_or("both environments")
            ))?;
            output::line(format!("Signing secret: {}", added.signing_secret))?;
            output::note(
                "The signing secret is shown only now: store it with the receiver, which \
                 checks each request's webhook-signature with it (Standard Webhooks).",
            );
            Ok(())
        }
        WebhooksCommand::List => {
            let list: WebhookList = client.get(&paths::webhooks(&extension))?;
            if common.json {
                return output::json(&list);
            }
            if list.webhooks.is_empty() {
                return output::line(format!(
                    "No webhooks for {extension}; add one with `lumio webhooks add URL`."
                ));
            }
            let rows: Vec<Vec<String>> = list
                .webhooks
                .iter()
                .map(|w| {
                    vec![
                        output::cell(&w.id),
                        output::cell(&w.url),
                        output::cell(&w.events),
                        w.env.clone().unwrap_or_else(|| "both".into()),
                        output::timestamp(w.created_at),
                    ]
                })
                .collect();
            output::table(&["ID", "URL", "EVENTS", "ENV", "ADDED"], &rows)
        }
        WebhooksCommand::Remove { id } => {
            let removed: WebhookView = client.delete(&paths::webhook(&extension, &id, None))?;
            if common.json {
                return output::json(&removed);
            }
            output::line(format!(
                "Removed webhook {}; deliveries it was still owed are cancelled",
                output::cell(&removed.id)
            ))
        }
        WebhooksCommand::Test { id } => {
            let result: WebhookTestResult =
                client.post(&paths::webhook(&extension, &id, Some("test")), &())?;
            if common.json {
                output::json(&result)?;
            } else if result.delivered {
                output::line(format!(
                    "Delivered a webhook.test event to {id}: it answered {}",
                    result.status.unwrap_or_default()
                ))?;
            }
            if result.delivered {
                return Ok(());
            }
            Err(CliError::new(format!(
                "the test event to {id} was not delivered: {}",
                result.error.as_deref().unwrap_or("no answer")
            ))
            .with_hint("`lumio webhooks list` shows its URL; the receiver must answer 2xx")
            .into())
        }
        WebhooksCommand::Deliveries { failed, limit } => {
            let list: DeliveryList = client.get_query(
                &paths::webhook_deliveries(&extension),
                &DeliveriesQuery {
                    failed: failed.then_some(true),
                    limit,
                },
            )?;
            if common.json {
                return output::json(&list);
            }
            if list.deliveries.is_empty() {
                return output::line(if failed {
                    "No failed deliveries."
                } else {
                    "No deliveries yet."
                });
            }
            let rows: Vec<Vec<String>> = list
                .deliveries
                .iter()
                .map(|d| {
                    let last = match (&d.last_status, &d.last_error) {
                        (_, Some(error)) => output::cell(error),
                        (Some(status), None) => status.to_string(),
                        (None, None) => "-".to_owned(),
                    };
                    vec![
                        d.id.to_string(),
                        output::cell(&d.event_id),
                        output::cell(&d.event),
                        d.secret.as_deref().map_or_else(|| "-".into(), output::cell),
                        output::cell(&d.webhook),
                        output::cell(&d.state),
                        d.attempts.to_string(),
                        last,
                        d.next_attempt_at
                            .map_or_else(|| "-".into(), output::timestamp),
                    ]
                })
                .collect();
            output::table(
                &[
                    "ID", "EVENT ID", "EVENT", "SECRET", "WEBHOOK", "STATE", "TRIES", "LAST",
                    "NEXT",
                ],
                &rows,
            )
        }
        WebhooksCommand::Redeliver { id } => {
            let queued: Redelivered = client.post(&paths::redeliver(&extension, id), &())?;
            if common.json {
                return output::json(&queued);
            }
            output::line(format!(
                "Queued delivery {} again (same webhook-id, so a receiver that saw it can tell)",
                queued.id
            ))
        }
    }
}
