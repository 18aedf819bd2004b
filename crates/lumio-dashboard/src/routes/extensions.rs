//! Dashboard → Extensions → {extension}.

use axum::extract::{Path, State};
use axum::response::Redirect;
use maud::Markup;

use super::{extension_and_role, parse_slug};
use crate::error::PageError;
use crate::forms::home_environment;
use crate::session::SignedIn;
use crate::{paths, views, DashState};

/// The extensions this token may see.
pub(crate) async fn list(
    State(state): State<DashState>,
    signed: SignedIn,
) -> Result<Markup, PageError> {
    let extensions = state.service.list_extensions(&signed.ctx).await?;
    let with_roles: Vec<_> = extensions
        .into_iter()
        .map(|extension| {
            let role = signed.ctx.principal.role_in(&extension);
            (extension, role)
        })
        .collect();
    let staff = signed.ctx.principal.is_admin();
    Ok(views::extensions::list(&signed.csrf, staff, &with_roles))
}

pub(crate) async fn overview(
    State(state): State<DashState>,
    signed: SignedIn,
    Path(ext): Path<String>,
) -> Result<Markup, PageError> {
    let slug = parse_slug(&ext)?;
    let (extension, role) = extension_and_role(&state, &signed, &slug).await?;
    let home = home_environment(&signed.ctx.principal);
    let principal = &signed.ctx.principal;
    // Owners decide on support requests; staff see theirs. Others see none.
    let access = if principal.is_admin() || role == Some(lumio_core::Role::Owner) {
        state.service.list_access(&signed.ctx, &slug).await?.1
    } else {
        Vec::new()
    };
    let labels = state.service.token_labels(&signed.ctx, &slug).await?;
    let flash = state.sessions.take_flash(&signed).await;
    Ok(views::extensions::overview(&views::extensions::Overview {
        csrf: &signed.csrf,
        extension: &extension,
        labels: &labels,
        role,
        staff: principal.is_admin(),
        home,
        access: &access,
        flash: flash.as_deref(),
        now: state.service.now(),
    }))
}

/// Settings has one section today: Secrets.
pub(crate) async fn settings(
    State(state): State<DashState>,
    signed: SignedIn,
    Path(ext): Path<String>,
) -> Result<Redirect, PageError> {
    let slug = parse_slug(&ext)?;
    extension_and_role(&state, &signed, &slug).await?;
    let home = home_environment(&signed.ctx.principal);
    Ok(Redirect::to(&paths::secrets(&slug, home)))
}
