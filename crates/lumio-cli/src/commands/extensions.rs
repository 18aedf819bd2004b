//! `lumio extensions create|list|claim|claim-code|suspend|resume|delete`.

use std::io::{IsTerminal, Read};

use anyhow::Context;
use lumio_api::extensions::{
    ClaimCodeView, Claimed, CreateExtension, ExtensionDeleted, ExtensionList, ExtensionView,
    IssueClaimCode, RedeemClaim,
};
use lumio_api::paths;
use lumio_core::{ExtensionSlug, TokenLifetime};
use zeroize::Zeroizing;

use super::{confirm, connect};
use crate::cli::{CommonArgs, ExtensionsCommand};
use crate::client::Client;
use crate::config::{self, Connection, Credentials};
use crate::error::CliError;
use crate::output;

pub fn run(common: &CommonArgs, command: ExtensionsCommand) -> anyhow::Result<()> {
    match command {
        ExtensionsCommand::Create {
            name,
            claim_expires_in,
        } => create(common, &name, claim_expires_in),
        ExtensionsCommand::List => list(common),
        ExtensionsCommand::Claim {
            code,
            label,
            no_save,
        } => claim(common, code, label, no_save),
        ExtensionsCommand::ClaimCode {
            name,
            claim_expires_in,
        } => claim_code(common, &name, claim_expires_in),
        ExtensionsCommand::Suspend { name } => suspension(common, &name, true),
        ExtensionsCommand::Resume { name } => suspension(common, &name, false),
        ExtensionsCommand::Delete { name, yes } => delete(common, &name, yes),
    }
}

fn slug(name: &str) -> anyhow::Result<ExtensionSlug> {
    ExtensionSlug::parse(name).map_err(|err| CliError::usage(err.to_string()).into())
}

/// Checked here so a typo is refused before any request.
fn lifetime(given: Option<String>) -> anyhow::Result<Option<String>> {
    if let Some(text) = &given {
        TokenLifetime::parse(text).map_err(|err| CliError::usage(err.to_string()))?;
    }
    Ok(given)
}

fn create(common: &CommonArgs, name: &str, expires_in: Option<String>) -> anyhow::Result<()> {
    let slug = slug(name)?;
    let claim_expires_in = lifetime(expires_in)?;
    let client = connect(&common.conn)?;
    let created: ClaimCodeView = client.post(
        paths::EXTENSIONS,
        &CreateExtension {
            name: slug.to_string(),
            claim_expires_in,
        },
    )?;
    print_claim_code(common, &created, &format!("Created extension {slug}"))
}

fn claim_code(common: &CommonArgs, name: &str, expires_in: Option<String>) -> anyhow::Result<()> {
    let slug = slug(name)?;
    let claim_expires_in = lifetime(expires_in)?;
    let client = connect(&common.conn)?;
    let issued: ClaimCodeView = client.post(
        &paths::claim_code(&slug),
        &IssueClaimCode { claim_expires_in },
    )?;
    print_claim_code(common, &issued, &format!("New claim code for {slug}"))
}

fn print_claim_code(
    common: &CommonArgs,
    view: &ClaimCodeView,
    headline: &str,
) -> anyhow::Result<()> {
    if common.json {
        return output::json(view);
    }
    output::line(headline)?;
    output::line(&view.claim_code)?;
    output::note(format!(
        "Give this claim code to the extension's owner; it works once, until {}. They run \
         `lumio extensions claim CODE --url URL`, which makes their owner token. Once it is \
         claimed, staff can list secret names and read the audit log there, nothing more.",
        output::timestamp(view.claim_expires_at)
    ));
    Ok(())
}

fn list(common: &CommonArgs) -> anyhow::Result<()> {
    let client = connect(&common.conn)?;
    let answer: ExtensionList = client.get(paths::EXTENSIONS)?;
    if common.json {
        return output::json(&answer);
    }
    if answer.extensions.is_empty() {
        return output::line(
            "No extensions yet. An instance admin creates one with `lumio extensions create NAME`.",
        );
    }
    let rows: Vec<Vec<String>> = answer.extensions.iter().map(row).collect();
    output::table(
        &["NAME", "CREATED", "CLAIMED", "CLAIMED BY", "STATE"],
        &rows,
    )
}

fn row(e: &ExtensionView) -> Vec<String> {
    vec![
        output::cell(&e.name),
        output::timestamp(e.created_at),
        e.claimed_at
            .map_or_else(|| "not yet".to_owned(), output::timestamp),
        output::opt_cell(e.claimed_by.as_deref()),
        if e.suspended_at.is_some() {
            "suspended".to_owned()
        } else {
            "active".to_owned()
        },
    ]
}

fn claim(
    common: &CommonArgs,
    code: Option<String>,
    label: Option<String>,
    no_save: bool,
) -> anyhow::Result<()> {
    let code = match code {
        Some(code) => Zeroizing::new(code),
        None => read_code()?,
    };
    let connection = Connection::resolve(&common.conn)?;
    let client = Client::anonymous(&connection)?;
    let claimed: Claimed = client.post(
        paths::CLAIMS,
        &RedeemClaim {
            code: code.trim().to_owned(),
            label,
        },
    )?;
    if common.json {
        return output::json(&claimed);
    }
    let name = &claimed.extension.name;
    output::line(format!(
        "You own {name} now (owner token {})",
        claimed.token_id
    ))?;
    if no_save {
        output::line(&claimed.token)?;
        output::note("The token is shown once: keep it in a password manager.");
        return Ok(());
    }
    let dir = config::config_dir()?;
    let path = config::save_credentials(
        &dir,
        &Credentials {
            url: connection.url.clone(),
            token: claimed.token.clone(),
            insecure_http: connection.insecure_http,
        },
    )?;
    output::note(format!(
        "Owner token saved to {} (as `lumio login` saves one). Next: \
         `echo '{{\"extension\": \"{name}\"}}' > lumio.json`, then `lumio env set NAME`.",
        path.display()
    ));
    Ok(())
}

fn read_code() -> anyhow::Result<Zeroizing<String>> {
    let text = if std::io::stdin().is_terminal() {
        Zeroizing::new(rpassword::prompt_password("Claim code: ").context("cannot read the code")?)
    } else {
        let mut text = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the claim code from standard input")?;
        text
    };
    if text.trim().is_empty() {
        return Err(CliError::usage("no claim code given")
            .with_hint(
                "pass the code `lumio extensions create` printed: `lumio extensions claim CODE`",
            )
            .into());
    }
    Ok(text)
}

fn suspension(common: &CommonArgs, name: &str, suspend: bool) -> anyhow::Result<()> {
    let slug = slug(name)?;
    let client = connect(&common.conn)?;
    let path = paths::suspension(&slug);
    let view: ExtensionView = if suspend {
        client.put(&path, &serde_json::json!({}))?
    } else {
        client.delete(&path)?
    };
    if common.json {
        return output::json(&view);
    }
    output::line(if suspend {
        format!("Suspended {slug}: its actions answer extension_suspended until `lumio extensions resume {slug}`")
    } else {
        format!("Resumed {slug}")
    })
}

fn delete(common: &CommonArgs, name: &str, yes: bool) -> anyhow::Result<()> {
    let slug = slug(name)?;
    let client = connect(&common.conn)?;
    confirm::destructive(
        &format!(
            "Deleting {slug} destroys every secret version, deployment, token and audit \
             record of it"
        ),
        slug.as_str(),
        yes,
        &format!("lumio extensions delete {slug}"),
    )?;
    let deleted: ExtensionDeleted = client.delete(&paths::extension(&slug))?;
    if common.json {
        return output::json(&deleted);
    }
    output::line(format!("Deleted {slug} and everything of it"))
}
