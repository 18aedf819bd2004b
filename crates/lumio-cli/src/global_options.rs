//! Global options anywhere: `lumio --json --extension x env list` works as gh, wrangler
//! and convex users expect. clap reads these options after the subcommand (they are
//! `global` in each command's arguments), so the ones written before the subcommand are
//! moved after it, ahead of any `--` (after which every word is a value).

use std::ffi::OsString;

/// Options that take a value (as `--name VALUE` or `--name=VALUE`).
const WITH_VALUE: &[&str] = &["--extension", "--env", "--url", "--token", "--ca-cert"];
/// Options that are flags.
const FLAGS: &[&str] = &["--json", "--insecure-http"];

/// The command line with the global options before the subcommand moved after it.
pub fn hoisted(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args = args.into_iter();
    let mut out: Vec<OsString> = args.next().into_iter().collect();
    let mut moved = Vec::new();
    let mut rest = args.peekable();
    while let Some(word) = rest.peek().and_then(|w| w.to_str()).map(str::to_owned) {
        let name = word.split_once('=').map_or(word.as_str(), |(name, _)| name);
        if FLAGS.contains(&word.as_str()) {
            moved.push(rest.next().unwrap_or_default());
        } else if WITH_VALUE.contains(&name) {
            moved.push(rest.next().unwrap_or_default());
            if !word.contains('=') {
                // A missing value stays missing: clap then names the option.
                if let Some(value) = rest.next() {
                    moved.push(value);
                }
            }
        } else {
            break;
        }
    }
    let rest: Vec<OsString> = rest.collect();
    let end = rest.iter().position(|w| w == "--").unwrap_or(rest.len());
    out.extend(rest[..end].iter().cloned());
    out.extend(moved);
    out.extend(rest[end..].iter().cloned());
    out
}

/// Whether the command line asks for `--json` (before any `--`): then even a failure,
/// a command line clap refuses included, prints a JSON error object.
pub fn json_requested(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|word| *word != "--")
        .any(|word| word == "--json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(words: &str) -> Vec<String> {
        hoisted(words.split(' ').map(OsString::from))
            .into_iter()
            .map(|w| w.into_string().unwrap())
            .collect()
    }

    #[test]
    fn options_before_the_subcommand_move_after_it() {
        assert_eq!(
            line("lumio --json --extension x env list"),
            ["lumio", "env", "list", "--json", "--extension", "x"]
        );
        assert_eq!(
            line("lumio --env=production --url http://h audit --limit 5"),
            [
                "lumio",
                "audit",
                "--limit",
                "5",
                "--env=production",
                "--url",
                "http://h"
            ]
        );
    }

    #[test]
    fn values_after_a_double_dash_stay_values() {
        assert_eq!(
            line("lumio --json env set NAME -- --json"),
            ["lumio", "env", "set", "NAME", "--json", "--", "--json"]
        );
    }

    #[test]
    fn json_is_seen_before_a_double_dash_only() {
        let asks = |words: &str| json_requested(&hoisted(words.split(' ').map(OsString::from)));
        assert!(asks("lumio --json env list"));
        assert!(asks("lumio env delete A --json --bogus"));
        assert!(!asks("lumio env set A -- --json"));
        assert!(!asks("lumio env list"));
    }

    #[test]
    fn other_lines_are_unchanged() {
        assert_eq!(
            line("lumio env list --json"),
            ["lumio", "env", "list", "--json"]
        );
        assert_eq!(line("lumio --help"), ["lumio", "--help"]);
        assert_eq!(line("lumio --extension"), ["lumio", "--extension"]);
    }
}
