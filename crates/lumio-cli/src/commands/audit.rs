//! `lumio audit`: the extension's audit log in one environment, newest first.

use std::io::Write;

use chrono::{DateTime, Utc};
use lumio_api::audit::{
    AuditKeyAnswer, AuditPage, AuditQuery, ExportPage, ExportQuery, VerifyAnswer,
};
use lumio_api::{paths, AuditEvent};

use super::{secret_name, Scoped};
use crate::cli::{AuditArgs, AuditCommand, CommonArgs};
use crate::error::{CliError, Failure};
use crate::output;

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        Some(AuditCommand::Verify { common }) => return verify(&common),
        Some(AuditCommand::Export { since, common, .. }) => return export(&common, since),
        Some(AuditCommand::ExportKey { common }) => return export_key(&common),
        None => {}
    }
    let secret = args.secret.as_deref().map(secret_name).transpose()?;
    let event = args.event.as_deref().map(audit_event).transpose()?;
    let scope = Scoped::resolve(&args.common)?;
    let query = AuditQuery {
        limit: Some(i64::from(args.limit)),
        before: args.before,
        secret: secret.as_ref().map(ToString::to_string),
        event,
    };
    let answer: AuditPage = scope.client.get_query(&scope.api().audit(), &query)?;
    if scope.json {
        return output::json(&answer);
    }
    if answer.entries.is_empty() {
        let filtered = secret.is_some() || event.is_some() || args.before.is_some();
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
    let rows: Vec<Vec<String>> = answer
        .entries
        .iter()
        .map(|e| {
            vec![
                output::timestamp(e.at),
                output::cell(&e.event),
                output::opt_cell(e.secret.as_deref()),
                output::opt_cell(e.actor.as_deref()),
                output::opt_cell(e.action.as_deref()),
                output::opt_cell(e.outcome.as_deref()),
                output::opt_cell(e.detail.as_deref()),
            ]
        })
        .collect();
    output::table(
        &[
            "TIME", "EVENT", "SECRET", "ACTOR", "ACTION", "OUTCOME", "DETAIL",
        ],
        &rows,
    )?;
    if let Some(before) = answer.next_before {
        output::note(format!(
            "Older entries: lumio audit --before {before} --limit {}",
            args.limit
        ));
    }
    Ok(())
}

/// An event named with `--event`; refused before any request when the log has no such
/// event, listing the ones it has.
fn audit_event(given: &str) -> anyhow::Result<AuditEvent> {
    AuditEvent::parse(given).ok_or_else(|| {
        let names: Vec<&str> = AuditEvent::ALL.iter().map(|e| e.as_str()).collect();
        CliError::usage(format!(
            "{given:?} is not an audit event; the events are {}",
            names.join(", ")
        ))
        .with_hint("`lumio audit --help` says what each event means")
        .into()
    })
}

/// `lumio audit verify`: exit 0 on an intact chain, 8 naming the first bad record.
fn verify(common: &CommonArgs) -> anyhow::Result<()> {
    let scope = Scoped::resolve(common)?;
    let answer: VerifyAnswer = scope.client.get(&paths::audit_verify(&scope.extension))?;
    if scope.json {
        output::json(&answer)?;
    }
    if answer.ok {
        if !scope.json {
            output::line(format!(
                "The audit log of {} is intact: {} after the retention anchor; head seq {}, hash {}",
                scope.extension,
                output::count(answer.records.unwrap_or(0) as usize, "record"),
                answer
                    .head_seq
                    .map_or_else(|| "null".to_owned(), |seq| seq.to_string()),
                answer.head_hash.as_deref().unwrap_or("")
            ))?;
        }
        return Ok(());
    }
    let (id, seq, kind) = match &answer.first_bad {
        Some(bad) => (bad.id, bad.seq, bad.kind.as_str()),
        None => (None, 0, "changed"),
    };
    let message = match (id, kind) {
        (_, "chain_removed") => {
            "its chain row (head and anchor) was deleted while sealed records remain".to_owned()
        }
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
    .with_json_printed_if(scope.json)
    .into())
}

/// `lumio audit export-key`: the chain key on stdout (hex, one line), so
/// `lumio audit export-key > audit.key` feeds the offline verifier.
fn export_key(common: &CommonArgs) -> anyhow::Result<()> {
    let scope = Scoped::resolve(common)?;
    let answer: AuditKeyAnswer = scope
        .client
        .post(&paths::audit_key(&scope.extension), &serde_json::json!({}))?;
    if scope.json {
        return output::json(&answer);
    }
    output::note(format!(
        "The audit chain key of {} (extension id {}); whoever holds it can forge this \
         chain's links, so keep it where the database's writers cannot reach. Check an \
         export with: python3 verify.py audit.jsonl KEYFILE (docs/audit-chain.md)",
        scope.extension, answer.extension_id
    ));
    output::line(answer.key)
}

/// `lumio audit export --format jsonl`: every page, one record per line.
fn export(common: &CommonArgs, since: Option<String>) -> anyhow::Result<()> {
    let since = since
        .map(|since| {
            DateTime::parse_from_rfc3339(&since)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|_| {
                    CliError::new(format!("--since {since:?} is not an RFC 3339 time"))
                        .with_hint("write it as 2026-01-01T00:00:00Z")
                        .with_failure(Failure::Usage)
                })
        })
        .transpose()?;
    let scope = Scoped::resolve(common)?;
    let path = paths::audit_export(&scope.extension);
    let mut query = ExportQuery {
        since,
        cursor: None,
        limit: Some(1000),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    loop {
        let page: ExportPage = scope.client.get_query(&path, &query)?;
        for record in &page.records {
            writeln!(out, "{}", serde_json::to_string(record)?)?;
        }
        match page.next_cursor {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_checked_and_listed() {
        assert_eq!(audit_event("secret.get").unwrap(), AuditEvent::SecretGet);
        let err = audit_event("secret.read").unwrap_err();
        let cli = err.downcast_ref::<CliError>().unwrap();
        for event in AuditEvent::ALL {
            assert!(cli.message.contains(event.as_str()), "{cli:?}");
            assert!(crate::cli::event_help().contains(event.as_str()));
        }
    }
}
