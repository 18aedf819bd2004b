//! `lumio deploy [DIR]`: uploads every `DIR/server/**/*.ts` file to one environment. The
//! server compiles them and, only if that succeeds, makes them the active deployment.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::Context;
use lumio_api::actions::{Deploy, DeploymentView, GrantsView};
use lumio_api::ErrorCode;

use super::typecheck::{self, Tsc};
use super::Scoped;
use crate::cli::DeployArgs;
use crate::error::CliError;
use crate::output;

/// Largest single file we upload (the server refuses bigger ones).
const MAX_FILE_BYTES: u64 = lumio_core::MAX_DEPLOY_FILE_BYTES as u64;
/// Largest upload in all.
const MAX_TOTAL_BYTES: u64 = lumio_core::MAX_DEPLOY_BYTES as u64;

pub fn run(args: DeployArgs) -> anyhow::Result<()> {
    let scope = Scoped::resolve_in(&args.common, Some(&args.dir))?;
    if args.typecheck {
        // Before anything is read or sent: a type error deploys nothing.
        let tsc = Tsc::require(&args.dir)?;
        if let Some(errors) = tsc.check(&args.dir)? {
            output::note(&errors);
            return Err(typecheck::failed(&errors).into());
        }
    }
    crate::progress::step("deploying");
    let answer = upload(&scope, &args.dir).map_err(|err| with_deploy_hint(err, &scope.place()))?;
    // Warnings go to stderr in both modes: a grant nothing is set for yet.
    warn_missing(&answer, &scope.place());
    if scope.json {
        return output::json(&answer);
    }
    for line in summary(&answer, &scope.place()) {
        output::line(line)?;
    }
    Ok(())
}

/// Uploads `dir`'s `server/**/*.ts` to the scope's environment; the server's answer. A
/// compile error or refused grant is a [`CliError`] with the code `deploy_error`.
pub(super) fn upload(scope: &Scoped, dir: &Path) -> anyhow::Result<DeploymentView> {
    let files = collect(dir)?;
    scope
        .client
        .post(&scope.api().deployments(), &Deploy { files })
}

/// The warnings about granted names that are not set, on stderr.
pub(super) fn warn_missing(answer: &DeploymentView, place: &str) {
    let grants = answer.grants.as_deref().unwrap_or_default();
    for warning in missing_warnings(grants, place) {
        output::note(warning);
    }
}

/// `Deployed my-ext/staging version 3: functions:a, functions:b`, then a line per action
/// with what it may read.
pub(super) fn summary(answer: &DeploymentView, place: &str) -> Vec<String> {
    let actions: Vec<String> = answer.actions.iter().map(|a| output::cell(a)).collect();
    let head = format!(
        "Deployed {place} version {}: {}",
        answer.version,
        actions.join(", ")
    );
    let grants = answer.grants.as_deref().unwrap_or_default();
    std::iter::once(head).chain(grant_lines(grants)).collect()
}

/// One line per action: `  functions:charge  secrets: STRIPE_KEY` or `… all secrets`.
fn grant_lines(grants: &[GrantsView]) -> Vec<String> {
    let width = grants
        .iter()
        .map(|g| output::cell(&g.action).len())
        .max()
        .unwrap_or(0);
    grants
        .iter()
        .map(|g| {
            let action = output::cell(&g.action);
            let what = match &g.secrets {
                None => "all secrets".to_owned(),
                Some(names) if names.is_empty() => "secrets: none".to_owned(),
                Some(names) => format!(
                    "secrets: {}",
                    names
                        .iter()
                        .map(|n| output::cell(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            format!("  {action:width$}  {what}")
        })
        .collect()
}

/// A warning per granted name that is not set in the environment deployed to.
fn missing_warnings(grants: &[GrantsView], place: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    for g in grants {
        for name in &g.missing {
            let name = output::cell(name);
            warnings.push(format!(
                "warning: {} is granted {name}, which is not set in {place}; \
                 ctx.secrets.get(\"{name}\") returns null until you run `lumio env set {name}`",
                output::cell(&g.action)
            ));
        }
    }
    warnings
}

/// A compile error names `file:line:col`; the hint says what happened to the live code.
fn with_deploy_hint(err: anyhow::Error, place: &str) -> anyhow::Error {
    match err.downcast::<CliError>() {
        Ok(mut cli) if cli.code == Some(ErrorCode::DeployError) => {
            cli.hint.get_or_insert_with(|| {
                format!(
                    "fix it and run `lumio deploy` again; the active deployment of {place} \
                     is unchanged"
                )
            });
            cli.into()
        }
        Ok(cli) => cli.into(),
        Err(err) => err,
    }
}

/// Every `server/**/*.ts` under `dir` (no `.d.ts`, nothing in `node_modules` or
/// dot-directories), keyed by its path relative to `dir` with `/` separators.
fn collect(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    if !dir.is_dir() {
        return Err(
            CliError::usage(format!("{} is not a directory", dir.display()))
                .with_hint("pass the extension's directory: `lumio deploy DIR` (default: .)")
                .into(),
        );
    }
    let server = dir.join("server");
    let layout_hint = "put your actions in server/*.ts, e.g. server/functions.ts exporting \
                       `action({ args: {}, handler: async (ctx) => … })`";
    if !server.is_dir() {
        return Err(CliError::new(format!(
            "{} has no server/ directory, so there is nothing to deploy",
            dir.display()
        ))
        .with_hint(layout_hint)
        .into());
    }
    let mut upload = Upload::default();
    upload.walk(&server, "server")?;
    if upload.files.is_empty() {
        return Err(CliError::new(format!(
            "{} has no .ts files, so there is nothing to deploy",
            server.display()
        ))
        .with_hint(layout_hint)
        .into());
    }
    Ok(upload.files)
}

/// The files found so far and their total size.
#[derive(Default)]
struct Upload {
    files: BTreeMap<String, String>,
    total: u64,
}

impl Upload {
    /// Adds the `.ts` files under `dir`, whose upload path is `rel`.
    fn walk(&mut self, dir: &Path, rel: &str) -> anyhow::Result<()> {
        let entries =
            fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                return Err(
                    CliError::new(format!("{} is not a UTF-8 file name", path.display()))
                        .with_hint("rename it, or move it out of server/")
                        .into(),
                );
            };
            if name.starts_with('.') {
                continue;
            }
            let child = format!("{rel}/{name}");
            // `file_type` does not follow links, so a linked directory cannot make a loop;
            // a linked file is read through its link.
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot read {}", path.display()))?;
            if kind.is_dir() {
                if name != "node_modules" {
                    self.walk(&path, &child)?;
                }
            } else if name.ends_with(".ts") && !name.ends_with(".d.ts") && path.is_file() {
                self.add(&path, child)?;
            }
        }
        Ok(())
    }

    fn add(&mut self, path: &Path, rel: String) -> anyhow::Result<()> {
        let size = fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .len();
        // Checked before reading, so a huge file is refused without loading it.
        check_file_size(&rel, size)?;
        let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        check_file_size(&rel, bytes.len() as u64)?;
        self.total += bytes.len() as u64;
        if self.total > MAX_TOTAL_BYTES {
            return Err(CliError::new(format!(
                "the .ts files under server/ add up to more than {}; nothing was deployed",
                mib(MAX_TOTAL_BYTES)
            ))
            .with_hint("keep data and bundled libraries out of server/")
            .into());
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            CliError::new(format!("{rel} is not UTF-8 text; nothing was deployed"))
                .with_hint("save the file as UTF-8")
        })?;
        self.files.insert(rel, text);
        Ok(())
    }
}

fn check_file_size(rel: &str, size: u64) -> anyhow::Result<()> {
    if size <= MAX_FILE_BYTES {
        return Ok(());
    }
    Err(CliError::new(format!(
        "{rel} is {:.1} MiB; files over {} are not deployed, so nothing was",
        size as f64 / (1u64 << 20) as f64,
        mib(MAX_FILE_BYTES)
    ))
    .with_hint("keep data and bundled libraries out of server/, or split the file")
    .into())
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn collects_ts_files_recursively_and_skips_the_rest() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        for rel in [
            "server/functions.ts",
            "server/lib/http.ts",
            "server/types.d.ts",
            "server/readme.md",
            "server/node_modules/x/index.ts",
            "server/.cache/y.ts",
            "server/lib/node_modules/z.ts",
            "client/app.ts",
        ] {
            write(dir, rel, "export {};");
        }
        let files = collect(dir).unwrap();
        let paths: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(paths, ["server/functions.ts", "server/lib/http.ts"]);
    }

    #[test]
    fn nothing_to_deploy_is_a_clear_error() {
        let root = tempfile::tempdir().unwrap();
        let err = collect(root.path()).unwrap_err().to_string();
        assert!(err.contains("no server/ directory"), "{err}");
        write(root.path(), "server/notes.md", "");
        let err = collect(root.path()).unwrap_err().to_string();
        assert!(err.contains("no .ts files"), "{err}");
        let err = collect(&root.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a directory"), "{err}");
    }

    #[test]
    fn size_limits() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        let big = "x".repeat((MAX_FILE_BYTES + 1) as usize);
        write(dir, "server/big.ts", &big);
        let err = collect(dir).unwrap_err().to_string();
        assert!(
            err.contains("server/big.ts") && err.contains("1 MiB"),
            "{err}"
        );

        fs::remove_file(dir.join("server/big.ts")).unwrap();
        let almost = "x".repeat(MAX_FILE_BYTES as usize);
        for i in 0..9 {
            write(dir, &format!("server/part{i}.ts"), &almost);
        }
        let err = collect(dir).unwrap_err().to_string();
        assert!(err.contains("8 MiB"), "{err}");
    }

    #[test]
    fn a_deploy_error_gets_a_hint_other_errors_keep_theirs() {
        let mut compile = CliError::new("server/functions.ts:3:14: Unexpected token");
        compile.code = Some(ErrorCode::DeployError);
        let err = with_deploy_hint(compile.into(), "my-ext/staging");
        let cli = err.downcast_ref::<CliError>().unwrap();
        assert!(cli.hint.as_deref().unwrap().contains("unchanged"));

        let other = CliError::new("nope").with_hint("keep me");
        let err = with_deploy_hint(other.into(), "my-ext/staging");
        let cli = err.downcast_ref::<CliError>().unwrap();
        assert_eq!(cli.hint.as_deref(), Some("keep me"));
    }
}
