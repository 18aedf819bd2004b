//! Settings → Secrets → Compare environments: which names staging and production share,
//! and whether their values match (compared by the service; no value reaches the page).

use axum::extract::{Path, State};
use lumio_core::Environment;
use maud::Markup;

use super::parse_slug;
use crate::error::PageError;
use crate::forms::home_environment;
use crate::session::SignedIn;
use crate::views::compare::ComparePage;
use crate::{views, DashState};

pub(crate) async fn page(
    State(state): State<DashState>,
    signed: SignedIn,
    Path(ext): Path<String>,
) -> Result<Markup, PageError> {
    let slug = parse_slug(&ext)?;
    let diff = state
        .service
        .compare(
            &signed.ctx,
            &slug,
            Environment::Staging,
            Environment::Production,
        )
        .await?;
    Ok(views::compare::page(ComparePage {
        csrf: &signed.csrf,
        slug: &slug,
        home: home_environment(&signed.ctx.principal),
        diff: &diff,
    }))
}
