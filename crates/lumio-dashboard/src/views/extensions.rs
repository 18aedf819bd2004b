//! Dashboard → Extensions, and one extension's overview.

use lumio_core::{Environment, Role};
use lumio_store::Extension;
use maud::{html, Markup};

use super::{layout, time, Chrome, Crumb};
use crate::paths;

/// The extensions the token may see, with its role on each.
pub(crate) fn list(csrf: &str, extensions: &[(Extension, Option<Role>)]) -> Markup {
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
                                @if let Some(role) = role { " · your role: " (role) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// One extension: where its settings and audit log are.
/// `home` is the environment its links open in (the token's scope, else staging).
pub(crate) fn overview(
    csrf: &str,
    extension: &Extension,
    role: Option<Role>,
    home: Environment,
) -> Markup {
    let slug = &extension.slug;
    let chrome = Chrome {
        title: slug.as_str(),
        crumbs: vec![
            Crumb::link("Extensions", paths::extensions()),
            Crumb::here(slug.as_str()),
        ],
        csrf: Some(csrf),
        flash: None,
    };
    layout(
        &chrome,
        html! {
            h1 { (slug) }
            @if let Some(role) = role { p.meta { "Your role: " (role) } }
            h2 { "Settings" }
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
        },
    )
}
