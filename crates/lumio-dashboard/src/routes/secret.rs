//! One secret: details and history, Replace value, Roll back, and Delete (after a
//! confirmation page).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use lumio_core::{Environment, ExtensionSlug, SecretName};
use lumio_secrets::ServiceError;
use maud::Markup;

use super::{extension_and_role, is_input_error, parse_name, parse_slug};
use crate::error::PageError;
use crate::forms::{parse_env, take_value, EnvQuery, SecretForm};
use crate::session::SignedIn;
use crate::views::secret::SecretPage;
use crate::{paths, views, DashState};

pub(super) fn parse_path(ext: &str, name: &str) -> Result<(ExtensionSlug, SecretName), PageError> {
    Ok((parse_slug(ext)?, parse_name(name)?))
}

pub(crate) async fn detail(
    State(state): State<DashState>,
    signed: SignedIn,
    Path((ext, name)): Path<(String, String)>,
    Query(query): Query<EnvQuery>,
) -> Result<Markup, PageError> {
    let (slug, name) = parse_path(&ext, &name)?;
    let env = query.environment_for(&signed.ctx.principal)?;
    render(&state, &signed, &slug, &name, env, None, None).await
}

/// The page, with an error shown at Replace value or (`binding_error`) at Allowed hosts.
pub(super) async fn render(
    state: &DashState,
    signed: &SignedIn,
    slug: &ExtensionSlug,
    name: &SecretName,
    env: Environment,
    error: Option<String>,
    binding_error: Option<String>,
) -> Result<Markup, PageError> {
    let (_, role) = extension_and_role(state, signed, slug).await?;
    let history = state.service.history(&signed.ctx, slug, env, name).await?;
    let heads = state.service.list(&signed.ctx, slug, env).await?;
    let allowed_hosts = heads
        .iter()
        .find(|head| &head.name == name)
        .and_then(|head| head.allowed_hosts.as_ref());
    let labels = state.service.token_labels(&signed.ctx, slug).await?;
    Ok(views::secret::page(SecretPage {
        allowed_hosts,
        binding_error,
        csrf: &signed.csrf,
        scope: signed.ctx.principal.environment,
        flash: state.sessions.take_flash(signed).await,
        slug,
        env,
        role,
        history: &history,
        labels: &labels,
        error,
    }))
}

/// Replace value → Save: a new version. A refused value shows its error inline.
pub(crate) async fn replace(
    State(state): State<DashState>,
    signed: SignedIn,
    Path((ext, name)): Path<(String, String)>,
    Form(mut form): Form<SecretForm>,
) -> Result<Response, PageError> {
    let value = take_value(&mut form.value);
    signed.check_csrf(&form.csrf)?;
    let (slug, name) = parse_path(&ext, &name)?;
    let env = parse_env(form.env.as_deref())?;
    let attempt = match value {
        Err(err) => Err(ServiceError::InvalidValue(err.to_string())),
        Ok(value) => {
            state
                .service
                .set(&signed.ctx, &slug, env, &name, &value)
                .await
        }
    };
    match attempt {
        Ok(summary) => {
            let notice = format!(
                "Replaced the value of {name} in {env} (version {}).",
                summary.version
            );
            state.sessions.set_flash(&signed.session_id, notice).await;
            Ok(Redirect::to(&paths::secret(&slug, &name, env)).into_response())
        }
        Err(err) if is_input_error(&err) => {
            let page = render(
                &state,
                &signed,
                &slug,
                &name,
                env,
                Some(err.to_string()),
                None,
            )
            .await?;
            Ok((crate::error::status_of(&err), page).into_response())
        }
        Err(err) => Err(err.into()),
    }
}

/// "Delete NAME from ENV?" — shown only for a secret that exists.
pub(crate) async fn confirm_delete(
    State(state): State<DashState>,
    signed: SignedIn,
    Path((ext, name)): Path<(String, String)>,
    Query(query): Query<EnvQuery>,
) -> Result<Markup, PageError> {
    let (slug, name) = parse_path(&ext, &name)?;
    let env = query.environment_for(&signed.ctx.principal)?;
    let history = state
        .service
        .history(&signed.ctx, &slug, env, &name)
        .await?;
    if history.current_version.is_none() {
        return Err(ServiceError::NotFound(format!("secret {name} in {slug}/{env}")).into());
    }
    Ok(views::secret::confirm_delete(
        &signed.csrf,
        &slug,
        &name,
        env,
    ))
}

pub(crate) async fn delete(
    State(state): State<DashState>,
    signed: SignedIn,
    Path((ext, name)): Path<(String, String)>,
    Form(form): Form<SecretForm>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    let (slug, name) = parse_path(&ext, &name)?;
    let env = parse_env(form.env.as_deref())?;
    state
        .service
        .delete(&signed.ctx, &slug, env, &name, false)
        .await?;
    let notice = format!("Deleted {name} from {env}.");
    state.sessions.set_flash(&signed.session_id, notice).await;
    Ok(Redirect::to(&paths::secrets(&slug, env)).into_response())
}

pub(crate) async fn rollback(
    State(state): State<DashState>,
    signed: SignedIn,
    Path((ext, name)): Path<(String, String)>,
    Form(form): Form<SecretForm>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    let (slug, name) = parse_path(&ext, &name)?;
    let env = parse_env(form.env.as_deref())?;
    let version = form
        .version
        .ok_or_else(|| ServiceError::InvalidValue("choose a version to roll back to".to_owned()))?;
    let summary = state
        .service
        .rollback(&signed.ctx, &slug, env, &name, version)
        .await?;
    let notice = format!(
        "Rolled {name} back to version {version}; it is now version {}.",
        summary.version
    );
    state.sessions.set_flash(&signed.session_id, notice).await;
    Ok(Redirect::to(&paths::secret(&slug, &name, env)).into_response())
}
