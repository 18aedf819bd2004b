//! Templates (maud): one module per page, all sharing [`layout`]. maud escapes every
//! interpolated string; nothing here uses `PreEscaped`, so keep it that way.

pub(crate) mod audit;
pub(crate) mod compare;
pub(crate) mod error;
pub(crate) mod extensions;
pub(crate) mod secret;
pub(crate) mod secrets;
pub(crate) mod sign_in;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lumio_core::Environment;
use maud::{html, Markup, DOCTYPE};

use crate::paths;

/// One step of the breadcrumb: a label and, except for the current page, a link.
pub(crate) struct Crumb {
    pub label: String,
    pub href: Option<String>,
}

impl Crumb {
    pub fn link(label: impl Into<String>, href: String) -> Self {
        Self {
            label: label.into(),
            href: Some(href),
        }
    }

    pub fn here(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            href: None,
        }
    }
}

/// What every signed-in page shows around its content.
pub(crate) struct Chrome<'a> {
    pub title: &'a str,
    pub crumbs: Vec<Crumb>,
    /// The session's CSRF token, for the sign-out form; `None` when signed out.
    pub csrf: Option<&'a str>,
    /// A one-time notice from the previous action.
    pub flash: Option<String>,
}

/// The page skeleton: head, top bar with sign-out, breadcrumb, notice, content.
pub(crate) fn layout(chrome: &Chrome<'_>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (chrome.title) " · Lumio" }
                link rel="stylesheet" href=(paths::stylesheet());
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href=(paths::extensions()) { "Lumio" }
                    @if let Some(csrf) = chrome.csrf {
                        form.signout method="post" action=(paths::sign_out()) {
                            input type="hidden" name="csrf" value=(csrf);
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                @if !chrome.crumbs.is_empty() {
                    nav.crumbs aria-label="Breadcrumb" {
                        ol {
                            @for crumb in &chrome.crumbs {
                                li {
                                    @if let Some(href) = &crumb.href {
                                        a href=(href) { (crumb.label) }
                                    } @else {
                                        span aria-current="page" { (crumb.label) }
                                    }
                                }
                            }
                        }
                    }
                }
                main #main {
                    @if let Some(flash) = &chrome.flash {
                        p.notice role="status" { (flash) }
                    }
                    (content)
                }
            }
        }
    }
}

/// The staging / production switch: links to `href(env)`, the current one marked. A token
/// scoped to one environment (`scope`) is offered only that one.
pub(crate) fn env_switch(
    current: Environment,
    scope: Option<Environment>,
    href: impl Fn(Environment) -> String,
) -> Markup {
    html! {
        nav.switch aria-label="Environment" {
            @for env in Environment::ALL.into_iter().filter(|env| scope.is_none_or(|s| s == *env)) {
                @let label = if env == Environment::Staging { "Staging" } else { "Production" };
                @if env == current {
                    a.on href=(href(env)) aria-current="page" { (label) }
                } @else {
                    a href=(href(env)) { (label) }
                }
            }
        }
    }
}

/// A timestamp as people read it, with the exact value for machines.
pub(crate) fn time(at: &DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S UTC")) }
    }
}

/// The labels of an extension's tokens by id ([`lumio_secrets::SecretsService::token_labels`]).
pub(crate) type TokenLabels = HashMap<String, String>;

/// Who did something, as people know them: a token by its label, staff as staff, and a
/// token no longer live (so without a label here) by its id.
pub(crate) fn actor(by: &str, labels: &TokenLabels) -> Markup {
    if let Some(staff) = by.strip_prefix("staff:") {
        html! { "Lumio staff (" (staff) ")" }
    } else if let Some(label) = labels.get(by) {
        html! { (label) }
    } else {
        html! { "token " code.small { (by) } }
    }
}

/// The hidden CSRF field every form carries.
pub(crate) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// The masked multi-line value field: never pre-filled.
pub(crate) fn value_field(id: &str, label: &str, described_by: Option<&str>) -> Markup {
    html! {
        label for=(id) { (label) }
        textarea.masked id=(id) name="value" rows="3" required
            autocomplete="off" autocapitalize="off" autocorrect="off" spellcheck="false"
            aria-describedby=[described_by] {}
    }
}
