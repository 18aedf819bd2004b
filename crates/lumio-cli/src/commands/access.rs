//! `lumio access request|list|approve|revoke`: support access for Lumio staff, only with
//! the owner's consent and only for the time given.

use lumio_api::extensions::{AccessList, AccessView, RequestAccess};
use lumio_api::paths;
use lumio_core::TokenLifetime;

use super::connect;
use crate::cli::{AccessCommand, CommonArgs};
use crate::config;
use crate::error::CliError;
use crate::output;

pub fn run(common: &CommonArgs, command: AccessCommand) -> anyhow::Result<()> {
    let extension = config::extension(common)?;
    if let AccessCommand::Request { duration, .. } = &command {
        TokenLifetime::parse(duration).map_err(|err| CliError::usage(err.to_string()))?;
    }
    let client = connect(&common.conn)?;
    let one = |view: AccessView, done: &str| -> anyhow::Result<()> {
        if common.json {
            return output::json(&view);
        }
        output::line(format!(
            "{done} support request {} by {}",
            view.id, view.staff
        ))?;
        if let Some(until) = view.expires_at.filter(|_| view.status == "active") {
            output::note(format!(
                "Staff act as developers in {extension} until {}; end it sooner with \
                 `lumio access revoke {}`.",
                output::timestamp(until),
                output::cell(&view.id)
            ));
        }
        Ok(())
    };
    match command {
        AccessCommand::Request { reason, duration } => {
            let view: AccessView = client.post(
                &paths::access(&extension),
                &RequestAccess { reason, duration },
            )?;
            if common.json {
                return output::json(&view);
            }
            output::line(format!(
                "Asked the owner of {extension} for support access ({})",
                view.id
            ))?;
            output::note(
                "Nothing is granted until an owner runs `lumio access approve ID`; the grant \
                 then lasts the time asked for.",
            );
            Ok(())
        }
        AccessCommand::List => {
            let list: AccessList = client.get(&paths::access(&extension))?;
            if common.json {
                return output::json(&list);
            }
            if list.requests.is_empty() {
                return output::line(format!("No support requests for {extension}."));
            }
            let rows: Vec<Vec<String>> = list
                .requests
                .iter()
                .map(|r| {
                    vec![
                        output::cell(&r.id),
                        output::cell(&r.staff),
                        output::cell(&r.status),
                        format!("{}s", r.duration_secs),
                        r.expires_at
                            .map_or_else(|| "-".to_owned(), output::timestamp),
                        output::cell(&r.reason),
                    ]
                })
                .collect();
            output::table(&["ID", "STAFF", "STATUS", "FOR", "UNTIL", "REASON"], &rows)
        }
        AccessCommand::Approve { id } => {
            let view = client.post(&paths::access_action(&extension, &id, "approve"), &())?;
            one(view, "Approved")
        }
        AccessCommand::Revoke { id } => {
            let view = client.post(&paths::access_action(&extension, &id, "revoke"), &())?;
            one(view, "Revoked")
        }
    }
}
