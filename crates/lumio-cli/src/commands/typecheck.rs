//! `lumio deploy --typecheck` and `lumio dev`: the project's own TypeScript compiler
//! (`tsc --noEmit -p DIR`) before an upload, so a type error deploys nothing. Lumio strips
//! types without checking them; only the project's `tsc` knows its tsconfig and SDK.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::CliError;

/// The project's TypeScript compiler, found in `node_modules` of the extension's
/// directory or a parent (as Node resolves packages).
pub struct Tsc {
    /// `node_modules/typescript/bin/tsc`, run with `node` (works wherever Node does).
    script: PathBuf,
}

impl Tsc {
    /// The compiler installed for `dir`, or `None`.
    pub fn find(dir: &Path) -> Option<Self> {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        dir.ancestors()
            .map(|d| d.join("node_modules/typescript/bin/tsc"))
            .find(|script| script.is_file())
            .map(|script| Self { script })
    }

    /// The compiler for `dir`, or an error that says how to install it.
    pub fn require(dir: &Path) -> anyhow::Result<Self> {
        Self::find(dir).ok_or_else(|| {
            CliError::new(format!(
                "TypeScript is not installed in {} (no node_modules/typescript), so the code \
                 cannot be type-checked; nothing was deployed",
                dir.display()
            ))
            .with_hint(
                "run `npm install --save-dev typescript` in the extension's directory (with a \
                 tsconfig.json), or deploy without --typecheck",
            )
            .into()
        })
    }

    /// Runs `tsc --noEmit -p DIR`. `Ok(None)`: no errors; `Ok(Some(output))`: type errors,
    /// as tsc printed them. `Err`: tsc could not run, or there is no tsconfig.json (tsc
    /// without one would print its help and exit 0, which is no check at all).
    pub fn check(&self, dir: &Path) -> anyhow::Result<Option<String>> {
        if !dir.join("tsconfig.json").is_file() {
            return Err(CliError::new(format!(
                "{} has no tsconfig.json, so TypeScript has nothing to check; nothing was \
                 deployed",
                dir.display()
            ))
            .with_hint(
                "create one with `npx tsc --init` (its include: server/**/*.ts), or skip the \
                 check: `lumio deploy` without --typecheck, `lumio dev --no-typecheck`",
            )
            .into());
        }
        let out = Command::new("node")
            .arg(&self.script)
            .args(["--noEmit", "--pretty", "false", "-p", "."])
            // Run in DIR: tsc names files relative to it (server/functions.ts(3,7)).
            .current_dir(dir)
            .output()
            .map_err(|err| {
                CliError::new(format!("cannot run TypeScript's compiler with node: {err}"))
                    .with_hint(
                        "install Node.js (https://nodejs.org) and make sure `node` is on PATH",
                    )
            })?;
        if out.status.success() {
            return Ok(None);
        }
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        let text = text.trim_end().to_owned();
        Ok(Some(if text.is_empty() {
            format!("tsc exited with {} and printed nothing", out.status)
        } else {
            text
        }))
    }
}

/// The error of a failed check, after its output was shown: how many errors, and that
/// nothing was deployed.
pub fn failed(output: &str) -> CliError {
    let count = output.lines().filter(|l| l.contains("error TS")).count();
    let what = match count {
        0 => "TypeScript's check failed".to_owned(),
        1 => "TypeScript found 1 error".to_owned(),
        n => format!("TypeScript found {n} errors"),
    };
    CliError::new(format!("{what}; nothing was deployed"))
        .with_hint("fix the code above and deploy again (the active deployment is unchanged)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_in_the_directory_or_a_parent() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("ext");
        std::fs::create_dir_all(&nested).unwrap();
        assert!(Tsc::find(&nested).is_none());
        let err = Tsc::require(&nested).err().unwrap().to_string();
        assert!(err.contains("TypeScript is not installed"), "{err}");
        let bin = root.path().join("node_modules/typescript/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("tsc"), "").unwrap();
        assert!(Tsc::find(&nested).is_some());
    }

    #[test]
    fn no_tsconfig_is_an_error_not_a_pass() {
        let root = tempfile::tempdir().unwrap();
        let tsc = Tsc {
            script: root.path().join("tsc"),
        };
        let err = tsc.check(root.path()).unwrap_err().to_string();
        assert!(err.contains("no tsconfig.json"), "{err}");
    }

    #[test]
    fn the_failure_counts_errors() {
        let out = "a.ts(1,1): error TS2322: x\nb.ts(2,2): error TS2304: y";
        assert!(failed(out).message.starts_with("TypeScript found 2 errors"));
        assert!(failed("boom")
            .message
            .starts_with("TypeScript's check failed"));
    }
}
