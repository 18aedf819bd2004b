//! `lumio audit`: the extension's audit log in one environment, newest first.

use std::io::Write;

use super::{secret_name, Scoped};
use crate::cli::{AuditArgs, AuditCommand, CommonArgs};
use crate::error::{CliError, Failure};
use crate::output;

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        Some(AuditCommand::Verify { common }) => return verify(&common),
        Some(AuditCommand::Export { since, common, .. }) => return export(&common, since),
        None => {}
    }
    let secret = args.secret.as_deref().map(secret_name).transpose()?;
    let scope = Scoped::resolve(&args.common)?;
    let mut query = vec![("limit", args.limit.to_string())];
    if let Some(secret) = &secret {
        query.push(("secret", secret.to_string()));
    }
    if let Some(event) = &args.event {
        query.push(("event", event.clone()));
    }
    if let Some(before) = args.before {
        query.push(("before", before.to_string()));
    }
    let answer = scope.client.get_query(&scope.path("/audit"), &query)?;
    if scope.json {
        return output::json(&answer);
    }
    let entries = output::items(&answer, "entries");
    if entries.is_empty() {
        let filtered = secret.is_some() || args.event.is_some() || args.before.is_some();
        return output::line(format!(
            "No audit entries in {}{}",
            scope.place(),
            if filtered {
                " match these filters"
            } else {
                " yet"
            }
        ));
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                output::timestamp(&e["at"]),
                output::cell(&e["event"]),
                output::cell(&e["secret"]),
                output::cell(&e["actor"]),
                output::cell(&e["action"]),
                output::cell(&e["outcome"]),
                output::cell(&e["detail"]),
            ]
        })
        .collect();
    output::table(
        &[
            "TIME", "EVENT", "SECRET", "ACTOR", "ACTION", "OUTCOME", "DETAIL",
        ],
        &rows,
    )?;
    if let Some(before) = answer["next_before"].as_u64() {
        output::note(format!(
            "Older entries: lumio audit --before {before} --limit {}",
            args.limit
        ));
    }
    Ok(())
}

/// `/api/v1/extensions/{ext}/audit/{rest}`: the chain covers the whole extension.
fn chain_path(scope: &Scoped, rest: &str) -> String {
    format!("/api/v1/extensions/{}/audit/{rest}", scope.extension)
}

/// `lumio audit verify`: exit 0 on an intact chain, 8 naming the first bad record.
fn verify(common: &CommonArgs) -> anyhow::Result<()> {
    let scope = Scoped::resolve(common)?;
    let answer = scope.client.get(&chain_path(&scope, "verify"))?;
    if scope.json {
        output::json(&answer)?;
    }
    if answer["ok"].as_bool() == Some(true) {
        if !scope.json {
            output::line(format!(
                "The audit log of {} is intact: {} after the retention anchor; head seq {}, hash {}",
                scope.extension,
                output::count(answer["records"].as_u64().unwrap_or(0) as usize, "record"),
                answer["head_seq"],
                answer["head_hash"].as_str().unwrap_or("")
            ))?;
        }
        return Ok(());
    }
    let bad = &answer["first_bad"];
    let seq = bad["seq"].as_i64().unwrap_or(0);
    let kind = bad["kind"].as_str().unwrap_or("changed");
    let message = match (bad["id"].as_i64(), kind) {
        (Some(id), _) => format!("record {id} (seq {seq}) was {kind}"),
        (None, "truncated") => format!("the records from seq {seq} on were removed"),
        (None, _) => format!("the record at seq {seq} was {kind}"),
    };
    Err(CliError::new(format!(
        "the audit log of {} was tampered with: {message}",
        scope.extension
    ))
    .with_hint("compare with your last exported head hash and restore the log from a backup")
    .with_failure(Failure::Tampered)
    .into())
}

/// `lumio audit export --format jsonl`: every page, one record per line.
fn export(common: &CommonArgs, since: Option<String>) -> anyhow::Result<()> {
    if let Some(since) = &since {
        chrono::DateTime::parse_from_rfc3339(since).map_err(|_| {
            CliError::new(format!("--since {since:?} is not an RFC 3339 time"))
                .with_hint("write it as 2026-01-01T00:00:00Z")
                .with_failure(Failure::Usage)
        })?;
    }
    let scope = Scoped::resolve(common)?;
    let path = chain_path(&scope, "export");
    let mut cursor: Option<u64> = None;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    loop {
        let mut query = vec![("limit", "1000".to_owned())];
        if let Some(since) = &since {
            query.push(("since", since.clone()));
        }
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_string()));
        }
        let page = scope.client.get_query(&path, &query)?;
        for record in output::items(&page, "records") {
            writeln!(out, "{}", serde_json::to_string(record)?)?;
        }
        match page["next_cursor"].as_u64() {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.flush()?;
    Ok(())
}
