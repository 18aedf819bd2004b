//! The error page: what happened and what to do.

use maud::{html, Markup};

use super::{layout, Chrome, Crumb};
use crate::paths;

pub(crate) fn page(title: &str, message: &str, hint: Option<&str>) -> Markup {
    let chrome = Chrome {
        title,
        crumbs: vec![Crumb::link("Extensions", paths::extensions())],
        csrf: None,
        flash: None,
    };
    layout(
        &chrome,
        html! {
            h1 { (title) }
            p.error role="alert" { (message) }
            @if let Some(hint) = hint {
                p.hint { (hint) }
            }
            p { a href=(paths::extensions()) { "Back to your extensions" } }
        },
    )
}
