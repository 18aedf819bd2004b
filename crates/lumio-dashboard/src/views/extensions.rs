//! Dashboard → Extensions, and one extension's overview.

use lumio_core::{Environment, Role};
use lumio_secrets::{AccessRequest, Extension};
use maud::{html, Markup};

use super::{actor, layout, time, Chrome, Crumb, TokenLabels};
use crate::paths;

/// The extensions the token may see, with its role on each (`staff`: an instance admin,
/// who has no role in them and is said to be staff instead).
pub(crate) fn list(csrf: &str, staff: bool, extensions: &[(Extension, Option<Role>)]) -> Markup {
    let chrome = Chrome {
        title: "Extensions",
        crumbs: vec![Crumb::here("Extensions")],
        csrf: Some(csrf),
        flash: None,
    };
    layout(
        &chrome,
        html! {
            h1 { "Extensions" }
            @if extensions.is_empty() {
                p.empty { "Your token cannot see any extension yet. An instance admin creates them with "
                    code { "lumio extensions create NAME" } "." }
            } @else {
                ul.cards {
                    @for (extension, role) in extensions {
                        li.card {
                            a.title href=(paths::extension(&extension.slug)) { (extension.slug) }
                            p.meta {
                                "Created " (time(&extension.created_at))
                                @if staff { " · you are Lumio staff" }
                                @else if let Some(role) = role { " · your role: " (role) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// What one extension's overview shows.
pub(crate) struct Overview<'a> {
    pub csrf: &'a str,
    pub extension: &'a Extension,
    pub role: Option<Role>,
    /// The viewer is an instance admin (shown as staff).
    pub staff: bool,
    /// The environment its links open in (the token's scope, else staging).
    pub home: Environment,
    /// Support requests, for owners and staff.
    pub access: &'a [AccessRequest],
    pub labels: &'a TokenLabels,
    pub flash: Option<&'a str>,
    /// Now, by the service's clock: which support grants are still in force.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// One extension: where its settings and audit log are, who owns it, and support access.
pub(crate) fn overview(page: &Overview<'_>) -> Markup {
    let slug = &page.extension.slug;
    let chrome = Chrome {
        title: slug.as_str(),
        crumbs: vec![
            Crumb::link("Extensions", paths::extensions()),
            Crumb::here(slug.as_str()),
        ],
        csrf: Some(page.csrf),
        flash: page.flash.map(str::to_owned),
    };
    let home = page.home;
    layout(
        &chrome,
        html! {
            h1 { (slug) }
            @if page.staff {
                p.meta { "You are Lumio staff (an instance admin), not a member of this extension." }
            } @else if let Some(role) = page.role {
                p.meta { "Your role here: " (role) }
            }
            p.meta {
                @match (&page.extension.claimed_at, &page.extension.claimed_by) {
                    (Some(at), by) => { "Claimed " (time(at)) @if let Some(by) = by { " by " (actor(by, page.labels)) } "." }
                    (None, _) => { "Not claimed yet: staff can still act in it." }
                }
                @if page.extension.suspended_at.is_some() { " Suspended: its actions do not run." }
            }
            h2 { a #settings href=(paths::settings(slug)) { "Settings" } }
            ul.cards {
                li.card {
                    a.title href=(paths::secrets(slug, home)) { "Secrets" }
                    p.meta { "API keys, tokens and passwords your actions read with "
                        code { "ctx.secrets.get(name)" } ", per environment." }
                }
                li.card {
                    a.title href=(paths::audit(slug, home)) { "Audit log" }
                    p.meta { "Every read by an action and every change, newest first." }
                }
            }
            @if page.role == Some(Role::Owner) || page.staff {
                (support_access(page))
            }
        },
    )
}

/// Staff requests for support access: owners approve or end them here.
fn support_access(page: &Overview<'_>) -> Markup {
    let now = page.now;
    let slug = &page.extension.slug;
    let owner = page.role == Some(Role::Owner) && !page.staff;
    html! {
        h2 { "Support access" }
        @if page.access.is_empty() {
            p.empty { "No requests. Lumio staff cannot change anything here unless you approve a request." }
        } @else {
            table.stack #support {
                caption { "Support requests from Lumio staff" }
                thead { tr {
                    th scope="col" { "Staff" } th scope="col" { "Reason" } th scope="col" { "Status" }
                    th scope="col" { "Until" } th scope="col" { span.visually-hidden { "Decision" } }
                } }
                tbody {
                    @for request in page.access {
                        tr {
                            td data-label="Staff" { (actor(&request.staff, page.labels)) }
                            td data-label="Reason" { (request.reason) }
                            td data-label="Status" { (request.status(now)) }
                            td data-label="Until" { @if let Some(until) = &request.expires_at { (time(until)) } @else { "-" } }
                            td.controls {
                                @if owner && request.approved_at.is_none() && request.revoked_at.is_none() {
                                    (decision(page.csrf, &paths::access_decision(slug, &request.id, "approve"), "Approve"))
                                }
                                @if request.revoked_at.is_none() && (request.approved_at.is_none() || request.active_at(now)) {
                                    (decision(page.csrf, &paths::access_decision(slug, &request.id, "revoke"), if request.approved_at.is_some() { "End now" } else { "Decline" }))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn decision(csrf: &str, action: &str, label: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            (super::csrf_field(csrf))
            button type="submit" { (label) }
        }
    }
}
