//! `lumio audit`: the extension's audit log in one environment, newest first.

use super::{secret_name, Scoped};
use crate::cli::AuditArgs;
use crate::output;

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
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
