//! `lumio logs`: recent action invocations in one environment, newest first, each with its
//! `console` output (the server has already masked secret values in it).

use serde_json::Value;

use super::Scoped;
use crate::cli::LogsArgs;
use crate::output;

pub fn run(args: LogsArgs) -> anyhow::Result<()> {
    let scope = Scoped::resolve(&args.common)?;
    let answer = scope
        .client
        .get_query(&scope.path("/logs"), &[("limit", args.limit.to_string())])?;
    if scope.json {
        return output::json(&answer);
    }
    let invocations = output::items(&answer, "invocations");
    if invocations.is_empty() {
        return output::line(format!(
            "No invocations in {} yet (each server process keeps its recent ones in memory). \
             Call an action with `lumio run module:export`.",
            scope.place()
        ));
    }
    output::line(render(invocations).trim_end())
}

/// One aligned line per invocation (time, action, outcome, duration), then its console
/// lines and error indented beneath it.
fn render(invocations: &[Value]) -> String {
    let heads: Vec<[String; 4]> = invocations
        .iter()
        .map(|inv| {
            [
                output::timestamp(&inv["at"]),
                output::cell(&inv["action"]),
                output::cell(&inv["outcome"]),
                duration(&inv["duration_ms"]),
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
        for entry in output::items(inv, "console") {
            let level = output::cell(&entry["level"]);
            for line in entry["text"].as_str().unwrap_or_default().lines() {
                text.push_str(&format!("    [{level}] {}\n", tame(line)));
            }
        }
        if let Some(error) = inv["error"].as_str().filter(|e| !e.is_empty()) {
            text.push_str(&format!("    error: {}\n", tame(error)));
        }
    }
    text
}

/// "12.3 ms", "1.50 s"; `-` when the server sent none.
fn duration(value: &Value) -> String {
    match value.as_f64() {
        Some(ms) if ms >= 1000.0 => format!("{:.2} s", ms / 1000.0),
        Some(ms) => format!("{ms:.1} ms"),
        None => "-".to_owned(),
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
             "duration_ms": 3.4, "console": [
                {"level": "log", "text": "key [REDACTED:API_KEY]\nsecond line"}], "error": null},
            {"at": "2025-03-10T12:00:00Z", "action": "functions:badAction",
             "outcome": "secret_leak", "duration_ms": 1500.0, "console": [],
             "error": "returned API_KEY\u{1b}[2J"}
        ]);
        let text = render(answer.as_array().unwrap());
        assert_eq!(
            text,
            "2025-03-10T12:00:01Z  functions:goodAction  ok           3.4 ms\n\
             \x20   [log] key [REDACTED:API_KEY]\n\
             \x20   [log] second line\n\
             2025-03-10T12:00:00Z  functions:badAction   secret_leak  1.50 s\n\
             \x20   error: returned API_KEY?[2J\n"
        );
    }
}
