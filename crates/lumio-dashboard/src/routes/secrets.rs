//! Settings → Secrets: the list of one environment, and Add secret.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use lumio_core::{Environment, ExtensionSlug, SecretName};
use maud::Markup;

use super::{extension_and_role, is_input_error, parse_slug};
use crate::error::PageError;
use crate::forms::{parse_env, take_value, AddForm, EnvQuery};
use crate::session::SignedIn;
use crate::views::secrets::{AddError, SecretsPage};
use crate::{paths, views, DashState};

pub(crate) async fn list(
    State(state): State<DashState>,
    signed: SignedIn,
    Path(ext): Path<String>,
    Query(query): Query<EnvQuery>,
) -> Result<Markup, PageError> {
    let slug = parse_slug(&ext)?;
    let env = query.environment_for(&signed.ctx.principal)?;
    render(&state, &signed, &slug, env, None).await
}

/// The Secrets page, with a failed Add's error when there is one.
async fn render(
    state: &DashState,
    signed: &SignedIn,
    slug: &ExtensionSlug,
    env: Environment,
    add_error: Option<AddError<'_>>,
) -> Result<Markup, PageError> {
    let (_, role) = extension_and_role(state, signed, slug).await?;
    let secrets = state.service.list(&signed.ctx, slug, env).await?;
    let labels = state.service.token_labels(&signed.ctx, slug).await?;
    Ok(views::secrets::page(SecretsPage {
        csrf: &signed.csrf,
        scope: signed.ctx.principal.environment,
        flash: state.sessions.take_flash(signed).await,
        slug,
        env,
        role,
        secrets: &secrets,
        now: state.service.now(),
        labels: &labels,
        add_error,
    }))
}

/// Add secret → Save. On success, back to the list with a notice (post/redirect/get); on
/// a bad name or value, the same page with the error inline, the name kept and the value
/// field empty.
pub(crate) async fn add(
    State(state): State<DashState>,
    signed: SignedIn,
    Path(ext): Path<String>,
    Form(mut form): Form<AddForm>,
) -> Result<Response, PageError> {
    let value = take_value(&mut form.value);
    signed.check_csrf(&form.csrf)?;
    let slug = parse_slug(&ext)?;
    let env = parse_env(form.env.as_deref())?;
    let name_input = form.name.trim();
    let attempt = match value {
        Err(err) => Err(lumio_secrets::ServiceError::InvalidValue(err.to_string())),
        Ok(value) => match SecretName::parse(name_input) {
            Err(err) => Err(err.into()),
            Ok(name) => state
                .service
                .set(&signed.ctx, &slug, env, &name, &value)
                .await
                .map(|summary| (name, summary.version)),
        },
    };
    match attempt {
        Ok((name, version)) => {
            // "Add secret" with a name already set makes a new version: say so, rather
            // than let it pass for an addition.
            let notice = if version > 1 {
                format!("Saved {name} in {env} (version {version}): it replaced version {} as the current value, which stays in its history.", version - 1)
            } else {
                format!("Saved {name} in {env} (version {version}).")
            };
            state.sessions.set_flash(&signed.session_id, notice).await;
            Ok(Redirect::to(&paths::secrets(&slug, env)).into_response())
        }
        Err(err) if is_input_error(&err) => {
            let add_error = AddError {
                name: name_input,
                message: err.to_string(),
            };
            let page = render(&state, &signed, &slug, env, Some(add_error)).await?;
            Ok((crate::error::status_of(&err), page).into_response())
        }
        Err(err) => Err(err.into()),
    }
}
