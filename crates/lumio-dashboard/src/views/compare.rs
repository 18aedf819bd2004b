//! Compare environments: names only in staging, only in production, with different
//! values, and with the same value. Names only; the service never hands this a value.

use lumio_core::{Environment, ExtensionSlug, SecretName};
use lumio_secrets::EnvironmentDiff;
use maud::{html, Markup};

use super::secrets::{settings_crumbs, tabs};
use super::{layout, Chrome, Crumb};
use crate::paths;

pub(crate) struct ComparePage<'a> {
    pub csrf: &'a str,
    pub slug: &'a ExtensionSlug,
    /// The environment the tabs and breadcrumb lead back to.
    pub home: Environment,
    pub diff: &'a EnvironmentDiff,
}

pub(crate) fn page(p: ComparePage<'_>) -> Markup {
    let mut crumbs = settings_crumbs(p.slug, p.home);
    crumbs.push(Crumb::link("Secrets", paths::secrets(p.slug, p.home)));
    crumbs.push(Crumb::here("Compare environments"));
    let chrome = Chrome {
        title: "Compare environments",
        crumbs,
        csrf: Some(p.csrf),
        flash: None,
    };
    let diff = p.diff;
    layout(
        &chrome,
        html! {
            div.heading {
                h1 { "Compare environments" span.sub { (p.slug) } }
            }
            (tabs(p.slug, p.home, true))
            p.hint { "Staging and production compared on the server: values are never shown, only whether they match." }
            @if diff.is_equal() {
                p #compare-summary { "Staging and production are the same." }
            } @else {
                p #compare-summary { "Staging and production differ. Copy values across with "
                    code { "lumio env copy NAME --from staging --to production" } "." }
            }
            (group("only-in-staging", "Only in staging", &diff.only_in_first))
            (group("only-in-production", "Only in production", &diff.only_in_second))
            (group("differ", "Different values", &diff.differ))
            (group("equal", "Same value", &diff.equal))
        },
    )
}

/// One list of names under its heading; "None" when empty.
fn group(id: &str, heading: &str, names: &[SecretName]) -> Markup {
    html! {
        section.compare id=(id) {
            h2 { (heading) " (" (names.len()) ")" }
            @if names.is_empty() {
                p.empty { "None." }
            } @else {
                ul { @for name in names { li { code { (name) } } } }
            }
        }
    }
}
