//! Due dates (issue 28): `lumio env due [--within 14d]` (what needs attention in both
//! environments; exit 1 when something expired or is overdue, for CI), `lumio env
//! due-dates NAME …` (change them without a value), and the parsing and cells that
//! `env set` and `env list` share. Every date is judged by the server's clock.

use chrono::{DateTime, NaiveDate, Utc};
use lumio_api::secrets::{ChangeDueDates, Due, ListQuery, SecretList, SecretView};
use lumio_core::{Environment, Period};
use serde::Serialize;

use super::{parity, secret_name, Scoped};
use crate::cli::{CommonArgs, DueArgs};
use crate::error::{CliError, NeedsAttention};
use crate::output;

/// Due-date flags as the API takes them.
#[derive(Debug, Default)]
pub struct DueFields {
    pub expires_at: Option<DateTime<Utc>>,
    pub expires_in_secs: Option<i64>,
    /// `Some(None)`: `--rotate-every off`.
    pub rotate_every_secs: Option<Option<i64>>,
}

/// Reads the flags, refusing a bad one (exit 2) before anything is sent or read.
pub fn parse(due: &DueArgs) -> anyhow::Result<DueFields> {
    let expires_in_secs = due
        .expires_in
        .as_deref()
        .map(|text| period("--expires-in", text).map(Period::secs))
        .transpose()?;
    let expires_at = due.expires_at.as_deref().map(time).transpose()?;
    let rotate_every_secs = match due.rotate_every.as_deref() {
        None => None,
        Some("off") => Some(None),
        Some(text) => Some(Some(period("--rotate-every", text)?.secs())),
    };
    Ok(DueFields {
        expires_at,
        expires_in_secs,
        rotate_every_secs,
    })
}

fn period(flag: &str, text: &str) -> Result<Period, CliError> {
    Period::parse(text).map_err(|err| {
        let off = if flag == "--rotate-every" {
            ", or `off` to stop rotating"
        } else {
            ""
        };
        CliError::usage(format!("{flag}: {err}"))
            .with_hint(format!("e.g. {flag} 90d{off}; nothing was stored"))
    })
}

/// RFC 3339, or a date alone (midnight UTC).
fn time(text: &str) -> Result<DateTime<Utc>, CliError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.to_utc());
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    let shown: String = text.chars().take(40).collect();
    Err(
        CliError::usage(format!("--expires-at {shown:?} is not a time")).with_hint(
            "give RFC 3339 (2027-01-01T09:00:00Z) or a date (2027-01-01, midnight UTC); nothing was stored",
        ),
    )
}

/// `lumio env due-dates NAME …`: changes them without a new version.
pub fn change(
    common: &CommonArgs,
    name: &str,
    due: &DueArgs,
    no_expiry: bool,
) -> anyhow::Result<()> {
    let name = secret_name(name)?;
    if due.is_empty() && !no_expiry {
        return Err(CliError::usage("nothing to change")
            .with_hint(
                "give --expires-in D, --expires-at T or --no-expiry, and/or --rotate-every D|off",
            )
            .into());
    }
    let fields = parse(due)?;
    let body = ChangeDueDates {
        expires_at: if no_expiry {
            Some(None)
        } else {
            fields.expires_at.map(|at| Some(at.to_rfc3339()))
        },
        expires_in_secs: fields.expires_in_secs,
        rotate_every_secs: fields.rotate_every_secs,
    };
    let scope = Scoped::resolve(common)?;
    let answer: SecretView = scope.client.patch(&scope.api().due_dates(&name), &body)?;
    if scope.json {
        return output::json(&answer);
    }
    output::line(format!(
        "Changed the due dates of {name} in {} (still version {}): {}",
        scope.place(),
        answer.version,
        dates_sentence(&answer)
    ))
}

/// `expires …, rotate every 30d (by …)`, or `no expiry, no rotation`.
fn dates_sentence(view: &SecretView) -> String {
    let expires = match view.expires_at {
        Some(at) => format!("expires {}", output::timestamp(at)),
        None => "no expiry".to_owned(),
    };
    let rotation = match (
        view.rotate_every_secs.and_then(Period::from_secs),
        view.rotate_by,
    ) {
        (Some(every), Some(by)) => format!("rotate every {every} (by {})", output::timestamp(by)),
        (Some(every), None) => format!("rotate every {every}"),
        _ => "no rotation".to_owned(),
    };
    format!("{expires}, {rotation}")
}

/// What `env set` adds to its line for the due dates the set gave.
pub fn set_summary(view: &SecretView) -> String {
    let mut text = String::new();
    if let Some(at) = view.expires_at {
        text.push_str(&format!("; expires {}", output::timestamp(at)));
    }
    if let Some(every) = view.rotate_every_secs.and_then(Period::from_secs) {
        text.push_str(&format!("; rotate every {every}"));
        if let Some(by) = view.rotate_by {
            text.push_str(&format!(" (by {})", output::timestamp(by)));
        }
    }
    text
}

/// A name for `env list`, marked when something is due: `API_KEY (expired)`.
pub fn marked_name(view: &SecretView) -> String {
    match view.due {
        Some(due) if due != Due::Ok => format!("{} ({})", output::cell(&view.name), due.as_str()),
        _ => output::cell(&view.name),
    }
}

/// A due date for a table cell: `2027-01-01 09:00Z`, or `-`.
pub fn date_cell(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "-".to_owned(),
        |at| at.format("%Y-%m-%d %H:%MZ").to_string(),
    )
}

/// After `env list`: how many names need attention, on stderr.
pub fn legend(secrets: &[SecretView]) {
    let marked = secrets
        .iter()
        .filter(|s| s.due.is_some_and(|d| d != Due::Ok))
        .count();
    if marked > 0 {
        output::note(format!(
            "{} due within 14 days, overdue or expired; `lumio env due` lists both environments",
            output::count(marked, "secret")
        ));
    }
}

/// One name `env due` lists.
#[derive(Debug, Serialize)]
struct Attention {
    environment: &'static str,
    name: String,
    version: i64,
    due: Due,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotate_by: Option<DateTime<Utc>>,
}

/// `env due --json`'s answer.
#[derive(Debug, Serialize)]
struct DueReport {
    within_secs: i64,
    /// Whether something expired or is overdue (the exit status is then 1).
    late: bool,
    secrets: Vec<Attention>,
    /// Environments the token may not read (scoped to the other one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    skipped: Vec<&'static str>,
}

/// `lumio env due`: both environments' names that need attention, latest first.
pub fn due(common: &CommonArgs, within: &str) -> anyhow::Result<()> {
    let period = period("--within", within)?;
    let mut report = DueReport {
        within_secs: period.secs(),
        late: false,
        secrets: Vec::new(),
        skipped: Vec::new(),
    };
    let mut json = false;
    let mut place = String::new();
    for environment in [Environment::Staging, Environment::Production] {
        let scope = parity::in_environment(common, environment)?;
        json = scope.json;
        place = scope.extension.to_string();
        let query = ListQuery {
            within: Some(period.to_string()),
        };
        let answer: SecretList = match scope.client.get_query(&scope.api().secrets(), &query) {
            Ok(answer) => answer,
            Err(err) if out_of_scope(&err) => {
                report.skipped.push(environment.as_str());
                continue;
            }
            Err(err) => return Err(err),
        };
        for secret in answer.secrets {
            let Some(due) = secret.due.filter(|d| *d != Due::Ok) else {
                continue;
            };
            report.secrets.push(Attention {
                environment: environment.as_str(),
                name: secret.name,
                version: secret.version,
                due,
                expires_at: secret.expires_at,
                rotate_by: secret.rotate_by,
            });
        }
    }
    // Expired first, then overdue, then due; by environment and name within each.
    report.secrets.sort_by_key(|s| std::cmp::Reverse(s.due));
    report.late = report.secrets.iter().any(|s| s.due.is_late());
    if json {
        output::json(&report)?;
    } else {
        print_report(&report, &place, period)?;
    }
    if report.late {
        Err(NeedsAttention.into())
    } else {
        Ok(())
    }
}

fn print_report(report: &DueReport, extension: &str, within: Period) -> anyhow::Result<()> {
    for environment in &report.skipped {
        output::note(format!(
            "skipped {environment}: your token is scoped to the other environment"
        ));
    }
    if report.secrets.is_empty() {
        return output::line(format!(
            "Nothing in {extension} expires or is to be rotated within {within}."
        ));
    }
    let rows: Vec<Vec<String>> = report
        .secrets
        .iter()
        .map(|s| {
            vec![
                s.environment.to_owned(),
                output::cell(&s.name),
                s.due.as_str().to_owned(),
                date_cell(s.expires_at),
                date_cell(s.rotate_by),
            ]
        })
        .collect();
    output::table(
        &["ENVIRONMENT", "NAME", "STATE", "EXPIRES", "ROTATE BY"],
        &rows,
    )?;
    if report.late {
        output::note(
            "set a new value with `lumio env set NAME --env ENV` (a new version restarts the rotation clock)",
        );
    }
    Ok(())
}

/// The server refused an environment the token is not scoped to.
fn out_of_scope(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<CliError>())
        .any(|cli| cli.code == Some(lumio_api::ErrorCode::Forbidden))
}
