//! What commands print: aligned tables and short lines for people, the server's JSON for
//! scripts (`--json`). Results go to stdout; notes about them go to stderr.

use std::fmt::Display;
use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// Prints one line on stdout.
pub fn line(text: impl Display) -> anyhow::Result<()> {
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

/// Prints one line on stderr: remarks that should not end up in `$(lumio …)`.
pub fn note(text: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Prints the server's answer (a `lumio_api` type) as pretty JSON.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    line(serde_json::to_string_pretty(value)?)
}

/// Prints rows under headers, columns aligned, the last column unpadded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(render_table(headers, rows).as_bytes())?;
    Ok(())
}

fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let header_row: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let all: Vec<&Vec<String>> = std::iter::once(&header_row).chain(rows).collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|col| {
            all.iter()
                .map(|row| row.get(col).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in all {
        let cells: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(col, width)| {
                let cell = row.get(col).map_or("", String::as_str);
                format!("{cell:<width$}")
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// A string field of a server answer for a table cell; `-` when empty.
/// Control characters are replaced so a stored label cannot drive the terminal.
pub fn cell(text: &str) -> String {
    if text.is_empty() {
        return "-".to_owned();
    }
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// An optional string field for a table cell; `-` when absent (null) or empty.
pub fn opt_cell(text: Option<&str>) -> String {
    text.map_or_else(|| "-".to_owned(), cell)
}

/// "3m ago", "2h ago", "5d ago" within a month; the date after that.
pub fn relative_time(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    match secs {
        s if s < 0 => timestamp(at),
        s if s < 60 => "just now".to_owned(),
        s if s < 3600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3600),
        s if s < 30 * 86_400 => format!("{}d ago", s / 86_400),
        _ => at.format("%Y-%m-%d").to_string(),
    }
}

/// An RFC3339 time in UTC to the second, e.g. `2025-01-31T09:30:00Z`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// "1 secret", "3 secrets".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let rows = vec![
            vec!["API_KEY".into(), "2".into(), "-".into()],
            vec!["A".into(), "10".into(), "tok_x".into()],
        ];
        let text = render_table(&["NAME", "VERSION", "BY"], &rows);
        assert_eq!(
            text,
            "NAME     VERSION  BY\nAPI_KEY  2        -\nA        10       tok_x\n"
        );
    }

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn times() {
        let now = time("2025-03-10T12:00:00Z");
        let rel = |t: &str| relative_time(time(t), now);
        assert_eq!(rel("2025-03-10T11:59:30Z"), "just now");
        assert_eq!(rel("2025-03-10T11:55:00+00:00"), "5m ago");
        assert_eq!(rel("2025-03-10T09:00:00Z"), "3h ago");
        assert_eq!(rel("2025-03-08T12:00:00Z"), "2d ago");
        assert_eq!(rel("2024-01-01T00:00:00Z"), "2024-01-01");
        assert_eq!(rel("2025-03-10T12:00:05Z"), "2025-03-10T12:00:05Z");
        assert_eq!(
            timestamp(time("2025-03-10T13:00:00.123+01:00")),
            "2025-03-10T12:00:00Z"
        );
    }

    #[test]
    fn cells_are_tame() {
        assert_eq!(opt_cell(None), "-");
        assert_eq!(cell(""), "-");
        assert_eq!(cell("a\u{1b}[2Jb"), "a?[2Jb");
    }
}
