//! The sign-in page: one token field.

use maud::{html, Markup};

use super::{csrf_field, layout, Chrome};
use crate::paths;

/// `notice` explains why the user is here (signed out, session expired); `error` is a
/// failed attempt. The token field is never pre-filled.
pub(crate) fn page(csrf: &str, notice: Option<&str>, error: Option<&str>) -> Markup {
    let chrome = Chrome {
        title: "Sign in",
        crumbs: Vec::new(),
        csrf: None,
        flash: notice.map(str::to_owned),
    };
    layout(
        &chrome,
        html! {
            section.card.narrow {
                h1 { "Sign in to Lumio" }
                form method="post" action=(paths::sign_in()) {
                    (csrf_field(csrf))
                    label for="token" { "Token" }
                    input #token type="password" name="token" required
                        autocomplete="off" spellcheck="false"
                        aria-describedby=(if error.is_some() { "token-error token-hint" } else { "token-hint" });
                    p.hint #token-hint {
                        "An instance-admin token (in " code { "admin-token" }
                        " in the server's data directory) or one made with "
                        code { "lumio tokens create" } "."
                    }
                    @if let Some(error) = error {
                        p.error #token-error role="alert" { (error) }
                    }
                    button.primary type="submit" { "Sign in" }
                }
            }
        },
    )
}
