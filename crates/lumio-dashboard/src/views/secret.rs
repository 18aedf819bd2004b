//! One secret: replace its value, its history with rollback, and the delete confirmation.

use lumio_core::{AllowedHosts, Environment, ExtensionSlug, Role, SecretName};
use lumio_secrets::SecretHistory;
use maud::{html, Markup};

use super::secrets::{can_write, settings_crumbs, tabs};
use super::{actor, csrf_field, env_switch, layout, time, value_field, Chrome, Crumb, TokenLabels};
use crate::paths;

pub(crate) struct SecretPage<'a> {
    pub csrf: &'a str,
    pub flash: Option<String>,
    pub slug: &'a ExtensionSlug,
    pub env: Environment,
    /// The token's environment scope: the switch offers only that one.
    pub scope: Option<Environment>,
    pub role: Option<Role>,
    pub history: &'a SecretHistory,
    pub labels: &'a TokenLabels,
    /// Why the last Replace failed; the value is never kept.
    pub error: Option<String>,
    /// Where `ctx.fetch` may send the value; `None`: anywhere.
    pub allowed_hosts: Option<&'a AllowedHosts>,
    /// Why the last Allowed hosts save failed.
    pub binding_error: Option<String>,
}

fn crumbs(slug: &ExtensionSlug, name: &SecretName, env: Environment) -> Vec<Crumb> {
    let mut crumbs = settings_crumbs(slug, env);
    crumbs.push(Crumb::link("Secrets", paths::secrets(slug, env)));
    crumbs.push(Crumb::here(name.as_str()));
    crumbs
}

pub(crate) fn page(p: SecretPage<'_>) -> Markup {
    let name = &p.history.name;
    let slug = p.slug;
    let live = p.history.current_version.is_some();
    let writable = can_write(p.role);
    let chrome = Chrome {
        title: name.as_str(),
        crumbs: crumbs(slug, name, p.env),
        csrf: Some(p.csrf),
        flash: p.flash,
    };
    layout(
        &chrome,
        html! {
            div.heading {
                h1 { code { (name) } span.sub { (p.env) } }
                (env_switch(p.env, p.scope, |env| paths::secret(slug, name, env)))
            }
            (tabs(slug, p.env, true))
            @match p.history.current_version {
                Some(version) => p.meta { "Current version: " (version) },
                None => p.notice.warn { "This secret is deleted in " (p.env)
                    ": actions get null. Its kept versions can be restored below." },
            }
            @if writable && live {
                section.card {
                    h2 { "Replace value" }
                    form method="post" action=(paths::secret_path(slug, name)) autocomplete="off" {
                        (csrf_field(p.csrf))
                        input type="hidden" name="env" value=(p.env);
                        @if let Some(error) = &p.error {
                            p.error #replace-error role="alert" { (error) }
                        }
                        (value_field("value", "New value", p.error.as_ref().map(|_| "replace-error")))
                        button.primary type="submit" { "Save" }
                    }
                }
            }
            @if live {
                (binding_card(&p.history.name, p.slug, p.env, p.csrf, p.allowed_hosts, p.binding_error.as_deref(), writable))
            }
            section {
                h2 { "History" }
                table.stack #history {
                    caption { "Versions of " (name) ", newest first" }
                    thead { tr {
                        th scope="col" { "Version" }
                        th scope="col" { "Created" }
                        th scope="col" { "By" }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    } }
                    tbody {
                        @for version in &p.history.versions {
                            tr {
                                td data-label="Version" { (version.version) @if version.current { " " span.badge { "current" } } }
                                td data-label="Created" { (time(&version.created_at)) }
                                td data-label="By" { (actor(&version.created_by, p.labels)) }
                                td.controls {
                                    @if writable && !version.current {
                                        form.inline method="post" action=(paths::rollback_path(slug, name)) {
                                            (csrf_field(p.csrf))
                                            input type="hidden" name="env" value=(p.env);
                                            input type="hidden" name="version" value=(version.version);
                                            button type="submit" { "Roll back to version " (version.version) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if writable && live {
                section.danger-zone {
                    h2 { "Delete" }
                    p { "Actions get null from their next read. Versions are kept, so you can restore one later." }
                    a.button.danger #delete href=(paths::delete(slug, name, p.env)) { "Delete " (name) "…" }
                }
            }
            p { a href=(paths::secrets(slug, p.env)) { "← All secrets in " (p.env) } }
        },
    )
}

/// "Delete NAME from ENV?" — the confirmation step before a delete.
pub(crate) fn confirm_delete(
    csrf: &str,
    slug: &ExtensionSlug,
    name: &SecretName,
    env: Environment,
) -> Markup {
    let mut crumbs = crumbs(slug, name, env);
    if let Some(last) = crumbs.last_mut() {
        last.href = Some(paths::secret(slug, name, env));
    }
    crumbs.push(Crumb::here("Delete"));
    let chrome = Chrome {
        title: "Delete secret",
        crumbs,
        csrf: Some(csrf),
        flash: None,
    };
    layout(
        &chrome,
        html! {
            section.card.narrow {
                h1 { "Delete " code { (name) } " from " (env) "?" }
                p { "Actions reading " code { (name) } " get null from their next call. "
                    "Its versions are kept; you can restore one from the history." }
                form method="post" action=(paths::delete_path(slug, name)) {
                    (csrf_field(csrf))
                    input type="hidden" name="env" value=(env);
                    div.actions {
                        button.danger #confirm-delete type="submit" { "Delete secret" }
                        a.button href=(paths::secret(slug, name, env)) { "Cancel" }
                    }
                }
            }
        },
    )
}

/// Allowed hosts: shown to every role, editable by writers.
fn binding_card(
    name: &SecretName,
    slug: &ExtensionSlug,
    env: Environment,
    csrf: &str,
    allowed_hosts: Option<&AllowedHosts>,
    error: Option<&str>,
    writable: bool,
) -> Markup {
    let current = allowed_hosts
        .map(|hosts| hosts.to_strings().join(" "))
        .unwrap_or_default();
    html! {
        section.card #binding {
            h2 { "Allowed hosts" }
            @match allowed_hosts {
                Some(_) => p { "ctx.fetch may send this value only to: " code { (current) } },
                None => p { "Unbound: ctx.fetch may send this value to any host." },
            }
            @if writable {
                form method="post" action=(paths::binding_path(slug, name)) {
                    (csrf_field(csrf))
                    input type="hidden" name="env" value=(env);
                    @if let Some(error) = error {
                        p.error #binding-error role="alert" { (error) }
                    }
                    label for="hosts" { "Hosts (exact, or *.example.com; empty: any host)" }
                    input #hosts type="text" name="hosts" value=(current) autocomplete="off"
                        spellcheck="false";
                    button type="submit" { "Save hosts" }
                }
            }
        }
    }
}
