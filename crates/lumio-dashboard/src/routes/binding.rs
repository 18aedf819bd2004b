//! Allowed hosts of one secret (issue 11, item 2): the hosts `ctx.fetch` may send its
//! value to. Saving changes only the binding, never the value; an empty field unbinds.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use lumio_core::AllowedHosts;

use super::secret::{parse_path, render};
use crate::error::{status_of, PageError};
use crate::forms::{parse_env, SecretForm};
use crate::session::SignedIn;
use crate::{paths, DashState};

pub(crate) async fn save(
    State(state): State<DashState>,
    signed: SignedIn,
    Path((ext, name)): Path<(String, String)>,
    Form(form): Form<SecretForm>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form.csrf)?;
    let (slug, name) = parse_path(&ext, &name)?;
    let env = parse_env(form.env.as_deref())?;
    let hosts: Vec<&str> = form
        .hosts
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|h| !h.is_empty())
        .collect();
    let parsed = match hosts.is_empty() {
        true => Ok(None),
        false => AllowedHosts::parse(&hosts).map(Some),
    };
    let attempt = match parsed {
        Ok(allowed) => state
            .service
            .bind(&signed.ctx, &slug, env, &name, allowed.as_ref())
            .await
            .map(|()| allowed),
        Err(invalid) => Err(invalid.into()),
    };
    match attempt {
        Ok(allowed) => {
            let notice = match allowed {
                Some(hosts) => format!(
                    "{name} in {env} may now be sent only to {}.",
                    hosts.to_strings().join(", ")
                ),
                None => format!("{name} in {env} may now be sent to any host."),
            };
            state.sessions.set_flash(&signed.session_id, notice).await;
            Ok(Redirect::to(&paths::secret(&slug, &name, env)).into_response())
        }
        Err(err) if err.kind() == lumio_secrets::ErrorKind::Invalid => {
            let status = status_of(&err);
            let page = render(
                &state,
                &signed,
                &slug,
                &name,
                env,
                None,
                Some(err.to_string()),
            )
            .await?;
            Ok((status, page).into_response())
        }
        Err(err) => Err(err.into()),
    }
}
