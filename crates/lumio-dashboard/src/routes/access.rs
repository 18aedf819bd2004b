//! Support access on an extension's overview: owners approve or end staff requests.

use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::Form;

use super::parse_slug;
use crate::error::PageError;
use crate::forms::CsrfForm;
use crate::session::SignedIn;
use crate::{paths, DashState};

/// `POST …/access/{id}/approve` and `…/revoke`: one service call each.
pub(crate) async fn decide(
    State(state): State<DashState>,
    signed: SignedIn,
    Path((ext, id, verb)): Path<(String, String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, PageError> {
    signed.check_csrf(&form.csrf)?;
    let slug = parse_slug(&ext)?;
    let service = &state.service;
    let (request, notice) = match verb.as_str() {
        "approve" => (
            service.approve_access(&signed.ctx, &slug, &id).await?,
            "Approved",
        ),
        "revoke" => (
            service.revoke_access(&signed.ctx, &slug, &id).await?,
            "Ended",
        ),
        _ => return Err(lumio_secrets::ServiceError::NotFound("page".into()).into()),
    };
    let notice = format!("{notice} support access for {}.", request.staff);
    state.sessions.set_flash(&signed.session_id, notice).await;
    Ok(Redirect::to(&paths::extension(&slug)))
}
