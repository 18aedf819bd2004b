//! The audit log of one extension and environment: newest first, filtered, paged.

use lumio_api::AuditEvent;
use lumio_core::{Environment, ExtensionSlug};
use lumio_secrets::AuditEntry;
use maud::{html, Markup};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::secrets::{settings_crumbs, tabs};
use super::{actor, env_switch, layout, time, Chrome, Crumb, TokenLabels};
use crate::paths;

/// A short label for each event in the filter; a new event fails to compile until it
/// has one, so the filter offers every event the log records.
fn label(event: AuditEvent) -> &'static str {
    match event {
        AuditEvent::SecretGet => "Read by an action",
        AuditEvent::SecretDenied => "Read denied",
        AuditEvent::SecretSet => "Set",
        AuditEvent::SecretImport => "Imported",
        AuditEvent::SecretRollback => "Rolled back",
        AuditEvent::SecretDelete => "Deleted",
        AuditEvent::SecretCopy => "Copied",
        AuditEvent::SecretCompared => "Compared",
        AuditEvent::SecretBindingChanged => "Binding changed",
        AuditEvent::SecretDueDatesChanged => "Due dates changed",
        AuditEvent::EgressBlocked => "Egress blocked",
        AuditEvent::LeakBlocked => "Leak blocked",
        AuditEvent::Deploy => "Deployed",
        AuditEvent::TokenCreate => "Token created",
        AuditEvent::TokenRevoke => "Token revoked",
        AuditEvent::ExtensionCreate => "Extension created",
        AuditEvent::ExtensionClaimCode => "Claim code issued",
        AuditEvent::ExtensionClaim => "Claimed",
        AuditEvent::ExtensionSuspend => "Suspended",
        AuditEvent::ExtensionResume => "Resumed",
        AuditEvent::AccessRequest => "Support access requested",
        AuditEvent::AccessApprove => "Support access approved",
        AuditEvent::AccessRevoke => "Support access ended",
        AuditEvent::AuditKeyExported => "Audit key exported",
        AuditEvent::AuditPruned => "Audit log pruned",
        AuditEvent::AuditChainKeyed => "Audit chain keyed",
        AuditEvent::WebhookAdd => "Webhook added",
        AuditEvent::WebhookRemove => "Webhook removed",
        AuditEvent::WebhookTest => "Webhook tested",
        AuditEvent::WebhookDelivery => "Webhook delivery",
        AuditEvent::WebhookRedeliver => "Webhook redelivered",
        AuditEvent::SecretExpiring => "Expiring soon",
        AuditEvent::SecretExpired => "Expired",
        AuditEvent::SecretRotationDue => "Rotation due soon",
        AuditEvent::SecretRotationOverdue => "Rotation overdue",
    }
}

pub(crate) struct AuditPage<'a> {
    pub csrf: &'a str,
    pub slug: &'a ExtensionSlug,
    pub env: Environment,
    /// The token's environment scope: the switch offers only that one.
    pub scope: Option<Environment>,
    pub secret: &'a str,
    pub event: &'a str,
    /// Whether this is a later page (shows a link back to the newest).
    pub paged: bool,
    pub entries: &'a [AuditEntry],
    pub labels: &'a TokenLabels,
    /// The `before` of the next (older) page, if there is one.
    pub next_before: Option<i64>,
}

/// What a query value keeps unencoded (RFC 3986 unreserved characters).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn enc(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// The audit URL with the current filters and an optional `before`.
fn url(p: &AuditPage<'_>, env: Environment, before: Option<i64>) -> String {
    let mut url = paths::audit(p.slug, env);
    if !p.secret.is_empty() {
        url.push_str(&format!("&secret={}", enc(p.secret)));
    }
    if !p.event.is_empty() {
        url.push_str(&format!("&event={}", enc(p.event)));
    }
    if let Some(before) = before {
        url.push_str(&format!("&before={before}"));
    }
    url
}

pub(crate) fn page(p: AuditPage<'_>) -> Markup {
    let mut crumbs = settings_crumbs(p.slug, p.env);
    crumbs.push(Crumb::here("Audit log"));
    let chrome = Chrome {
        title: "Audit log",
        crumbs,
        csrf: Some(p.csrf),
        flash: None,
    };
    let filtered = !p.secret.is_empty() || !p.event.is_empty();
    layout(
        &chrome,
        html! {
            div.heading {
                h1 { "Audit log" span.sub { (p.slug) } }
                (env_switch(p.env, p.scope, |env| url(&p, env, None)))
            }
            (tabs(p.slug, p.env, false))
            form.filters method="get" action=(paths::audit_path(p.slug)) {
                input type="hidden" name="env" value=(p.env);
                div.field {
                    label for="filter-secret" { "Secret name" }
                    input #filter-secret type="text" name="secret" value=(p.secret)
                        autocomplete="off" spellcheck="false";
                }
                div.field {
                    label for="filter-event" { "Event" }
                    select #filter-event name="event" {
                        option value="" selected[p.event.is_empty()] { "All events" }
                        @for &event in AuditEvent::ALL {
                            option value=(event.as_str()) selected[p.event == event.as_str()] {
                                (label(event)) " (" (event.as_str()) ")"
                            }
                        }
                    }
                }
                div.field.submit {
                    button type="submit" { "Filter" }
                    @if filtered { a href=(paths::audit(p.slug, p.env)) { "Clear" } }
                }
            }
            @if p.entries.is_empty() {
                p.empty #audit-empty {
                    "No entries"
                    @if !p.secret.is_empty() { " for secret " code { (p.secret) } }
                    @if !p.event.is_empty() { " with event " code { (p.event) } }
                    " in " (p.env) "."
                }
            } @else {
                table.stack #audit {
                    caption { "Audit log of " (p.slug) " in " (p.env) ", newest first" }
                    thead { tr {
                        th scope="col" { "Time" }
                        th scope="col" { "Event" }
                        th scope="col" { "Secret" }
                        th scope="col" { "By" }
                        th scope="col" { "Outcome" }
                        th scope="col" { "Detail" }
                        th scope="col" { "Request" }
                    } }
                    tbody {
                        @for entry in p.entries {
                            @let r = &entry.record;
                            tr {
                                td data-label="Time" { (time(&r.at)) }
                                td data-label="Event" { span.event { (r.event.as_str()) } }
                                td data-label="Secret" { @if let Some(name) = &r.secret_name { code { (name) } } }
                                td data-label="By" {
                                    @if let Some(action) = &r.action { "action " code { (action) } }
                                    @else if let Some(by) = &r.actor { (actor(by, p.labels)) }
                                }
                                td data-label="Outcome" { (r.outcome.as_deref().unwrap_or("")) }
                                td data-label="Detail" { (r.detail.as_deref().unwrap_or("")) }
                                td data-label="Request" { @if let Some(id) = &r.request_id { code.small { (id) } } }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Pages" {
                @if p.paged { a href=(url(&p, p.env, None)) { "← Newest" } }
                @if let Some(before) = p.next_before {
                    a #older href=(url(&p, p.env, Some(before))) { "Older entries →" }
                }
            }
        },
    )
}
