//! `lumio env set`: `NAME VALUE`, `NAME` with the value on standard input or in
//! `--from-file FILE`, or `A=1 B=2` (several in one atomic step, as `env import`). No
//! value is ever printed, not even in an error about the words around it. Due dates
//! (`--expires-in`/`--expires-at`, `--rotate-every`) are checked before the value is read.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use lumio_api::secrets::{ImportSecrets, Imported, SecretView, SetSecret};
use lumio_core::{SecretName, SecretValue};

use super::{env_bind, env_due, input, secret_name, Scoped};
use crate::cli::{CommonArgs, DueArgs};
use crate::error::CliError;
use crate::output;

pub fn set(
    common: &CommonArgs,
    words: &[String],
    from_file: Option<&Path>,
    allow_host: &[String],
    due: &DueArgs,
) -> anyhow::Result<()> {
    // A secret name never holds '=', so a first word with one starts NAME=VALUE pairs.
    if words.first().is_some_and(|word| word.contains('=')) {
        if from_file.is_some() || !allow_host.is_empty() || !due.is_empty() {
            return Err(CliError::usage(
                "--from-file, --allow-host, --expires-* and --rotate-every go with one secret: `lumio env set NAME`",
            )
            .with_hint("set the pairs first, then `lumio env bind NAME --allow-host HOST` or `lumio env due-dates NAME …`; nothing was set")
            .into());
        }
        return set_pairs(common, words);
    }
    let (name, value) = match words {
        [name] => (name, None),
        [name, value] => (name, Some(value.clone())),
        _ => return Err(too_many_words().into()),
    };
    if value.is_some() && from_file.is_some() {
        return Err(
            CliError::usage("the value is given twice: as VALUE and --from-file")
                .with_hint("drop one of them")
                .into(),
        );
    }
    set_one(common, name, value, from_file, allow_host, due)
}

/// The same words as clap's own refusal of an extra argument (main.rs).
fn too_many_words() -> CliError {
    CliError::usage("too many arguments for `lumio env set NAME [VALUE]`").with_hint(
        "quote a value with spaces, put `--` before one starting with '-', pipe it on \
         standard input, or write NAME=VALUE pairs",
    )
}

fn set_one(
    common: &CommonArgs,
    name: &str,
    value: Option<String>,
    from_file: Option<&Path>,
    allow_host: &[String],
    due: &DueArgs,
) -> anyhow::Result<()> {
    let name = secret_name(name)?;
    let allowed_hosts = (!allow_host.is_empty())
        .then(|| env_bind::allowed_hosts(allow_host))
        .transpose()?;
    let dates = env_due::parse(due)?;
    let scope = Scoped::resolve(common)?;
    // Read after everything else is known, so no one types a secret only to see a typo refused.
    let value = match (value, from_file) {
        (Some(value), _) => input::secret_value_arg(&name, value)?,
        (None, Some(file)) => input::secret_value_from_file(&name, file)?,
        (None, None) => input::secret_value(&name)?,
    };
    let answer: SecretView = scope.client.put(
        &scope.api().secret(&name),
        &SetSecret {
            value: Cow::Borrowed(value.expose()),
            allowed_hosts,
            expires_at: dates.expires_at.map(|at| at.to_rfc3339()),
            expires_in_secs: dates.expires_in_secs,
            rotate_every_secs: dates.rotate_every_secs,
        },
    )?;
    drop(value);
    if scope.json {
        return output::json(&answer);
    }
    let bound = match &answer.allowed_hosts {
        Some(hosts) => format!(
            ", sent only to {}",
            env_bind::hosts_cell(Some(hosts.as_slice()))
        ),
        None => String::new(),
    };
    output::line(format!(
        "Set {name} (version {}) in {}{bound}{}",
        answer.version,
        scope.place(),
        env_due::set_summary(&answer)
    ))
}

/// `A=1 B=2`: every pair checked first, then all set in one step, or none.
fn set_pairs(common: &CommonArgs, words: &[String]) -> anyhow::Result<()> {
    let mut pairs: BTreeMap<SecretName, SecretValue> = BTreeMap::new();
    for (index, word) in words.iter().enumerate() {
        // Only the position is named: the word may be a value.
        let Some((name, value)) = word.split_once('=') else {
            return Err(CliError::usage(format!(
                "argument {} is not NAME=VALUE; with pairs, every argument is one",
                index + 1
            ))
            .with_hint("write each as NAME=VALUE, or set one secret with `lumio env set NAME`")
            .into());
        };
        let name = secret_name(name)?;
        let value = input::secret_value_arg(&name, value.to_owned())?;
        if pairs.insert(name.clone(), value).is_some() {
            return Err(CliError::usage(format!("{name} is given twice"))
                .with_hint("give each name once; nothing was set")
                .into());
        }
    }
    let scope = Scoped::resolve(common)?;
    let body = ImportSecrets {
        secrets: pairs
            .iter()
            .map(|(name, value)| (Cow::Borrowed(name.as_str()), Cow::Borrowed(value.expose())))
            .collect(),
    };
    let answer: Imported = scope.client.post(&scope.api().secrets(), &body)?;
    drop(body);
    drop(pairs);
    if scope.json {
        return output::json(&answer);
    }
    let set: Vec<String> = answer
        .imported
        .iter()
        .map(|item| format!("{} (version {})", output::cell(&item.name), item.version))
        .collect();
    output::line(format!("Set {} in {}", set.join(", "), scope.place()))
}
