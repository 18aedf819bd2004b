//! `lumio logs`: recent action invocations in one environment, newest first, each with its
//! `console` output (the server has already masked secret values in it).

use lumio_api::actions::{InvocationView, LogLevel, Logs, LogsQuery};

use super::Scoped;
use crate::cli::LogsArgs;
use crate::output;

pub fn run(args: LogsArgs) -> anyhow::Result<()> {
    let scope = Scoped::resolve(&args.common)?;
    let query = LogsQuery {
        limit: Some(args.limit as usize),
    };
    let answer: Logs = scope.client.get_query(&scope.api().logs(), &query)?;
    if scope.json {
        return output::json(&answer);
    }
    if answer.invocations.is_empty() {
        return output::line(format!(
            "No invocations in {} yet (each server process keeps its recent ones in memory). \
             Call an action with `lumio run module:export`.",
            scope.place()
        ));
    }
    output::line(render(&answer.invocations).trim_end())
}

/// One aligned line per invocation (time, action, outcome, duration), then its console
/// lines and error indented beneath it.
fn render(invocations: &[InvocationView]) -> String {
    let heads: Vec<[String; 4]> = invocations
        .iter()
        .map(|inv| {
            [
                output::timestamp(inv.at),
                output::cell(&inv.action),
                output::cell(&inv.outcome),
                duration(inv.duration_ms),
            ]
        })
        .collect();
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
    text
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
    fn invocations_with_console_lines() {
        let answer = json!([
            {"at": "2025-03-10T12:00:01Z", "action": "functions:goodAction", "outcome": "ok",
             "request_id": "r1", "duration_ms": 3.4, "console": [
                {"level": "info", "text": "key [REDACTED:API_KEY]\nsecond line"}], "error": null},
            {"at": "2025-03-10T12:00:00Z", "action": "functions:badAction",
             "request_id": "r2", "outcome": "secret_leak", "duration_ms": 1500.0,
             "console": [], "error": "returned API_KEY\u{1b}[2J"}
        ]);
        let invocations: Vec<InvocationView> = serde_json::from_value(answer).unwrap();
        let text = render(&invocations);
        assert_eq!(
            text,
            "2025-03-10T12:00:01Z  functions:goodAction  ok           3.4 ms\n\
             \x20   [info] key [REDACTED:API_KEY]\n\
             \x20   [info] second line\n\
             2025-03-10T12:00:00Z  functions:badAction   secret_leak  1.50 s\n\
             \x20   error: returned API_KEY?[2J\n"
        );
    }
}
