//! Settings → Secrets: the names of one environment, and Add secret.

use chrono::{DateTime, Utc};
use lumio_core::{DueState, Environment, ExtensionSlug, Role, DEFAULT_DUE_WITHIN_SECS};
use lumio_secrets::SecretHead;
use maud::{html, Markup};

use super::{actor, csrf_field, env_switch, layout, time, value_field, Chrome, Crumb, TokenLabels};
use crate::paths;

/// A failed Add secret: the name as typed (kept) and why. The value is never kept.
pub(crate) struct AddError<'a> {
    pub name: &'a str,
    pub message: String,
}

pub(crate) struct SecretsPage<'a> {
    pub csrf: &'a str,
    pub flash: Option<String>,
    pub slug: &'a ExtensionSlug,
    pub env: Environment,
    /// The token's environment scope: the switch offers only that one.
    pub scope: Option<Environment>,
    pub role: Option<Role>,
    pub secrets: &'a [SecretHead],
    /// Now by the service's clock: what due dates are judged against.
    pub now: DateTime<Utc>,
    pub labels: &'a TokenLabels,
    pub add_error: Option<AddError<'a>>,
}

/// The breadcrumb down to Settings; each page under it adds its own last step.
pub(crate) fn settings_crumbs(slug: &ExtensionSlug, env: Environment) -> Vec<Crumb> {
    vec![
        Crumb::link("Extensions", paths::extensions()),
        Crumb::link(slug.as_str(), paths::extension(slug)),
        Crumb::link("Settings", paths::secrets(slug, env)),
    ]
}

/// The tabs of an extension's pages.
pub(crate) fn tabs(slug: &ExtensionSlug, env: Environment, secrets_current: bool) -> Markup {
    html! {
        nav.tabs aria-label="Extension pages" {
            a href=(paths::secrets(slug, env)) aria-current=[secrets_current.then_some("page")] { "Secrets" }
            a href=(paths::audit(slug, env)) aria-current=[(!secrets_current).then_some("page")] { "Audit log" }
        }
    }
}

/// Whether `role` may change secrets; the service enforces it, this only hides controls.
pub(crate) fn can_write(role: Option<Role>) -> bool {
    role.is_some_and(|role| role >= Role::Developer)
}

pub(crate) fn page(p: SecretsPage<'_>) -> Markup {
    let mut crumbs = settings_crumbs(p.slug, p.env);
    crumbs.push(Crumb::here("Secrets"));
    let chrome = Chrome {
        title: "Secrets",
        crumbs,
        csrf: Some(p.csrf),
        flash: p.flash,
    };
    let slug = p.slug;
    layout(
        &chrome,
        html! {
            div.heading {
                h1 { "Secrets" span.sub { (slug) } }
                (env_switch(p.env, p.scope, |env| paths::secrets(slug, env)))
            }
            (tabs(slug, p.env, true))
            p.hint { "Secrets are per environment and reach this extension's actions through "
                code { "ctx.secrets.get(name)" } " at once, with no redeploy. Values are never shown again." }
            @if p.scope.is_none() {
                p { a #compare-link href=(paths::compare(slug)) { "Compare environments" } }
            }
            @if p.secrets.is_empty() {
                p.empty #secrets-empty { "No secrets in " (p.env) " yet." }
            } @else {
                table.stack #secrets {
                    caption { "Secrets in " (p.env) }
                    thead { tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Version" }
                        th scope="col" { "Expires" }
                        th scope="col" { "Rotate by" }
                        th scope="col" { "Last change" }
                        th scope="col" { "By" }
                    } }
                    tbody {
                        @for secret in p.secrets {
                            tr {
                                th scope="row" data-label="Name" {
                                    a.name href=(paths::secret(slug, &secret.name, p.env)) { (secret.name) }
                                    (due_badge(secret, p.now))
                                }
                                td data-label="Version" { (secret.current_version.unwrap_or(secret.latest_version)) }
                                td data-label="Expires" { (due_date(secret.due_dates().expires_at)) }
                                td data-label="Rotate by" { (due_date(secret.due_dates().rotate_by)) }
                                td data-label="Last change" { (time(&secret.updated_at)) }
                                td data-label="By" { (actor(&secret.updated_by, p.labels)) }
                            }
                        }
                    }
                }
            }
            @if can_write(p.role) {
                (add_form(p.csrf, slug, p.env, p.add_error.as_ref()))
            } @else {
                p.readonly #readonly {
                    "Your token's role (" (p.role.map(|r| r.as_str()).unwrap_or("none"))
                    ") can read names and the audit log. To add or change secrets, sign in with a developer or owner token."
                }
            }
        },
    )
}

/// A badge after the name when a due date is near or past (`due` within 14 days,
/// `overdue`, `expired`); nothing when all is well.
fn due_badge(secret: &SecretHead, now: DateTime<Utc>) -> Markup {
    let state = secret.due_dates().state(now, DEFAULT_DUE_WITHIN_SECS);
    let title = match state {
        DueState::Ok => return html! {},
        DueState::Due => "Expires or is to be rotated within 14 days",
        DueState::Overdue => "Its rotation date has passed: set a new value",
        DueState::Expired => "Its value expired (actions still get it): set a new value",
    };
    html! {
        " " span.badge.(state.as_str()) title=(title) data-due=(state.as_str()) { (state.as_str()) }
    }
}

/// A due date's cell: the day (the full time on hover, and in `datetime`), or a dash for
/// none. The day alone keeps the table narrow enough for the names.
fn due_date(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => html! {
            time datetime=(at.to_rfc3339()) title=(at.format("%Y-%m-%d %H:%M:%S UTC")) {
                (at.format("%Y-%m-%d"))
            }
        },
        None => html! { "–" },
    }
}

/// Add secret, folded until opened (no script); open again after a failed save.
fn add_form(
    csrf: &str,
    slug: &ExtensionSlug,
    env: Environment,
    error: Option<&AddError<'_>>,
) -> Markup {
    let described = if error.is_some() {
        "add-error name-hint"
    } else {
        "name-hint"
    };
    html! {
        details.add #add open[error.is_some()] {
            summary.button { "Add secret" }
            form method="post" action=(paths::secrets_path(slug)) autocomplete="off" {
                (csrf_field(csrf))
                input type="hidden" name="env" value=(env);
                @if let Some(error) = error {
                    p.error #add-error role="alert" { (error.message) }
                }
                label for="name" { "Name" }
                input #name type="text" name="name" required maxlength="256"
                    value=[error.map(|e| e.name)]
                    autocomplete="off" autocapitalize="characters" spellcheck="false"
                    aria-describedby=(described);
                p.hint #name-hint { "Letters, digits and _, e.g. " code { "ESPN_API_KEY" } "." }
                (value_field("value", "Value", Some("value-hint")))
                p.hint #value-hint { "Multi-line values such as PEM keys work. Saved to " (env) "." }
                button.primary type="submit" { "Save" }
            }
        }
    }
}
