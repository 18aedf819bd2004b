//! `lumio logs`: action invocations in one environment, through any server on the
//! database, each with its `console` output (the server has already masked secret values
//! in it) and the names of the secrets it read; `--follow` keeps printing new ones.
//!
//! [`follow`] and [`render_invocation`] are for other commands too (`lumio dev`).

use chrono::{DateTime, Utc};
use lumio_api::actions::{InvocationView, LogLevel, Logs, LogsQuery};
use lumio_core::TokenLifetime;

use super::Scoped;
use crate::cli::LogsArgs;
use crate::error::CliError;
use crate::output;

/// How long one follow request waits on the server for new invocations (it allows 30 s).
const FOLLOW_WAIT_SECS: u32 = 25;
/// Invocations per follow request at most.
const FOLLOW_PAGE: usize = 200;

/// Which invocations to follow.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this action (`module:export`).
    pub action: Option<String>,
    /// Only invocations at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// How many of the most recent (matching) invocations come first; 0: only new ones.
    pub recent: usize,
}

pub fn run(args: LogsArgs) -> anyhow::Result<()> {
    let scope = Scoped::resolve(&args.common)?;
    let filter = Filter {
        action: args.action,
        since: args.since.as_deref().map(parse_since).transpose()?,
        recent: args.limit as usize,
    };
    if args.follow {
        let json = scope.json;
        return follow(&scope, &filter, |invocation| {
            if json {
                output::line(serde_json::to_string(invocation)?)
            } else {
                output::line(render_invocation(invocation).trim_end())
            }
        });
    }
    let answer: Logs = scope
        .client
        .get_query(&scope.api().logs(), &filter.query(None))?;
    if scope.json {
        return output::json(&answer);
    }
    if answer.invocations.is_empty() {
        return output::line(format!(
            "No invocations in {} yet. Call an action with `lumio run module:export`, \
             or watch for them with `lumio logs --follow`.",
            scope.place()
        ));
    }
    output::line(render(&answer.invocations).trim_end())
}

impl Filter {
    fn query(&self, after: Option<&str>) -> LogsQuery {
        LogsQuery {
            limit: Some(if after.is_some() {
                FOLLOW_PAGE
            } else {
                self.recent.clamp(1, FOLLOW_PAGE)
            }),
            after: after.map(str::to_owned),
            action: self.action.clone(),
            since: self.since,
            wait: after.map(|_| FOLLOW_WAIT_SECS),
        }
    }
}

/// Follows one environment's invocation log through any server on the database: calls
/// `out` with each invocation, oldest first, beginning with the most recent
/// `filter.recent` and then each new one as it is written (within about a second).
/// Returns only with an error: a request's, or the first `out` returns (say, stdout
/// closed); Ctrl-C ends the process.
pub(super) fn follow(
    scope: &Scoped,
    filter: &Filter,
    mut out: impl FnMut(&InvocationView) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let path = scope.api().logs();
    let newest: Logs = scope.client.get_query(&path, &filter.query(None))?;
    if filter.recent > 0 {
        newest.invocations.iter().rev().try_for_each(&mut out)?;
    }
    let mut cursor = newest.cursor;
    loop {
        let page: Logs = scope
            .client
            .get_query(&path, &filter.query(Some(&cursor)))?;
        page.invocations.iter().try_for_each(&mut out)?;
        cursor = page.cursor;
    }
}

/// `--since`: an RFC 3339 time, or a duration back from now.
fn parse_since(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(at.with_timezone(&Utc));
    }
    let back = TokenLifetime::parse(text).map_err(|_| {
        CliError::usage(format!(
            "--since {:?} is neither an RFC 3339 time nor a duration",
            text.chars().take(40).collect::<String>()
        ))
        .with_hint("e.g. --since 10m, --since 2h or --since 2026-12-07T17:00:00Z")
    })?;
    let back = chrono::Duration::from_std(back.duration()).unwrap_or(chrono::Duration::MAX);
    Ok(Utc::now() - back)
}

/// One aligned line per invocation (time, action, outcome, duration), then its reads,
/// console lines and error indented beneath it.
fn render(invocations: &[InvocationView]) -> String {
    let heads: Vec<[String; 4]> = invocations.iter().map(head).collect();
    let width = |col: usize| {
        heads
            .iter()
            .map(|h| h[col].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let mut text = String::new();
    for (inv, [at, action, outcome, took]) in invocations.iter().zip(heads) {
        text.push_str(&format!(
            "{at:<w0$}  {action:<w1$}  {outcome:<w2$}  {took}\n"
        ));
        body(inv, &mut text);
    }
    text
}

/// One invocation as `lumio logs --follow` prints it: its line (time, action, outcome,
/// duration), then its reads, console lines and error indented beneath it, each line
/// ending in a newline. Control characters from the action's output are replaced.
pub(super) fn render_invocation(invocation: &InvocationView) -> String {
    let [at, action, outcome, took] = head(invocation);
    let mut text = format!("{at}  {action}  {outcome}  {took}\n");
    body(invocation, &mut text);
    text
}

fn head(inv: &InvocationView) -> [String; 4] {
    [
        output::timestamp(inv.at),
        output::cell(&inv.action),
        output::cell(&inv.outcome),
        duration(inv.duration_ms),
    ]
}

fn body(inv: &InvocationView, text: &mut String) {
    for read in &inv.reads {
        text.push_str(&format!(
            "    read {}: {}\n",
            tame(&read.name),
            tame(&read.outcome)
        ));
    }
    for entry in &inv.console {
        let level = level_name(entry.level);
        for line in entry.text.lines() {
            text.push_str(&format!("    [{level}] {}\n", tame(line)));
        }
    }
    if let Some(error) = inv.error.as_deref().filter(|e| !e.is_empty()) {
        text.push_str(&format!("    error: {}\n", tame(error)));
    }
}

/// The level as the wire names it.
fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// "12.3 ms", "1.50 s".
fn duration(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

/// Console text comes from user code: control characters must not drive the terminal.
fn tame(line: &str) -> String {
    line.chars()
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invocations_with_reads_and_console_lines() {
        let answer = json!([
            {"id": "0-2", "at": "2025-03-10T12:00:01Z", "action": "functions:goodAction",
             "outcome": "ok", "request_id": "r1", "duration_ms": 3.4, "console": [
                {"level": "info", "text": "key [REDACTED:API_KEY]\nsecond line"}], "error": null,
             "reads": [{"name": "API_KEY", "outcome": "found"},
                       {"name": "OTHER", "outcome": "not set"}]},
            {"id": "0-1", "at": "2025-03-10T12:00:00Z", "action": "functions:badAction",
             "request_id": "r2", "outcome": "secret_leak", "duration_ms": 1500.0,
             "console": [], "error": "returned API_KEY\u{1b}[2J", "reads": []}
        ]);
        let invocations: Vec<InvocationView> = serde_json::from_value(answer).unwrap();
        let text = render(&invocations);
        assert_eq!(
            text,
            "2025-03-10T12:00:01Z  functions:goodAction  ok           3.4 ms\n\
             \x20   read API_KEY: found\n\
             \x20   read OTHER: not set\n\
             \x20   [info] key [REDACTED:API_KEY]\n\
             \x20   [info] second line\n\
             2025-03-10T12:00:00Z  functions:badAction   secret_leak  1.50 s\n\
             \x20   error: returned API_KEY?[2J\n"
        );
        assert_eq!(
            render_invocation(&invocations[1]),
            "2025-03-10T12:00:00Z  functions:badAction  secret_leak  1.50 s\n\
             \x20   error: returned API_KEY?[2J\n"
        );
    }

    #[test]
    fn since_takes_a_time_or_a_duration() {
        let at = parse_since("2026-12-07T17:00:00Z").unwrap();
        assert_eq!(output::timestamp(at), "2026-12-07T17:00:00Z");
        let back = Utc::now() - parse_since("10m").unwrap();
        assert!((599..=601).contains(&back.num_seconds()), "{back}");
        let err = parse_since("yesterday").unwrap_err().to_string();
        assert!(
            err.contains("neither an RFC 3339 time nor a duration"),
            "{err}"
        );
    }
}
