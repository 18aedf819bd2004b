//! `lumio env bind NAME --allow-host HOST… | --clear`: the hosts a secret's value may be
//! sent to by `ctx.fetch`, changed without the value. Also the host parsing and display
//! `env set --allow-host` and `env list` share.

use lumio_api::secrets::{BindingView, SetBinding};
use lumio_core::AllowedHosts;

use super::{secret_name, Scoped};
use crate::cli::CommonArgs;
use crate::error::CliError;
use crate::output;

pub fn bind(
    common: &CommonArgs,
    name: &str,
    allow_host: &[String],
    clear: bool,
) -> anyhow::Result<()> {
    let name = secret_name(name)?;
    let hosts = if clear {
        None
    } else {
        Some(allowed_hosts(allow_host)?)
    };
    let scope = Scoped::resolve(common)?;
    let path = scope.api().binding(&name);
    let answer: BindingView = match hosts {
        Some(allowed_hosts) => scope.client.put(&path, &SetBinding { allowed_hosts })?,
        None => scope.client.delete(&path)?,
    };
    if scope.json {
        return output::json(&answer);
    }
    match &answer.allowed_hosts {
        Some(hosts) => output::line(format!(
            "Bound {name} in {}: ctx.fetch may send its value only to {}",
            scope.place(),
            hosts_cell(Some(hosts.as_slice()))
        )),
        None => output::line(format!(
            "Unbound {name} in {}: ctx.fetch may send its value to any host",
            scope.place()
        )),
    }
}

/// The hosts as the server will store them (lowercase, deduplicated), or an error naming
/// the bad one before anything is sent.
pub fn allowed_hosts(hosts: &[String]) -> anyhow::Result<Vec<String>> {
    let parsed = AllowedHosts::parse(hosts).map_err(|err| {
        CliError::usage(err.to_string()).with_hint(
            "give each host alone, e.g. --allow-host api.stripe.com --allow-host '*.example.com'",
        )
    })?;
    Ok(parsed.to_strings())
}

/// A secret's binding for a table cell: `api.stripe.com, *.example.com`, or `any`.
pub fn hosts_cell(allowed_hosts: Option<&[String]>) -> String {
    match allowed_hosts {
        Some(hosts) => hosts.join(", "),
        None => "any".to_owned(),
    }
}
