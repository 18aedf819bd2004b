//! `lumio init [DIR]`: a new extension project that deploys and type-checks as it is:
//! `lumio.json`, `server/functions.ts`, `tsconfig.json` and `package.json`. Every file is
//! checked before any is written, so an existing project is never half overwritten.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use lumio_core::ExtensionSlug;

use crate::cli::InitArgs;
use crate::error::{CliError, Failure};
use crate::output;

/// The actions a new project starts with: one that runs as it is, one that reads a secret.
const FUNCTIONS_TS: &str = include_str!("../../templates/init/functions.ts");
/// The same tsconfig.json the examples and the README give (`scripts/test` checks that
/// the three agree and that a project made by `lumio init` type-checks with it).
const TSCONFIG_JSON: &str = include_str!("../../../../examples/seed/tsconfig.json");
/// The SDK as the README installs it (`sdk/package.json`'s version).
const SDK_PACKAGE: (&str, &str) = ("@zaflun/lumio-sdk", "^0.1.0");
/// The TypeScript the SDK is checked with (`sdk/package.json`'s devDependencies).
const TYPESCRIPT: (&str, &str) = ("typescript", "^7.0.2");

pub fn run(args: InitArgs) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let dir = cwd.join(&args.dir);
    let slug = slug(args.extension.as_deref(), &dir)?;
    let files = files(&slug);
    refuse_existing(&dir, &args.dir, &files)?;
    for (rel, text) in &files {
        write_new(&dir.join(rel), text)?;
    }
    output::line(next_steps(&args.dir, &slug))
}

/// The extension's name: `--extension`, else the directory's own name, checked as the
/// server checks it.
fn slug(flag: Option<&str>, dir: &Path) -> anyhow::Result<ExtensionSlug> {
    let (name, source) = match flag {
        Some(name) => (name.to_owned(), "--extension".to_owned()),
        None => {
            let resolved = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
            let name = resolved
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (
                name,
                format!("the directory's name ({})", resolved.display()),
            )
        }
    };
    ExtensionSlug::parse(&name).map_err(|err| {
        CliError::usage(format!("{err} (from {source})"))
            .with_hint(
                "pass --extension NAME: 1-63 lowercase letters, digits and '-', starting \
                 with a letter, e.g. lumio init --extension my-ext",
            )
            .into()
    })
}

/// Each file of the project, by path relative to its directory. The JSON files are
/// written out by hand to keep their keys in the order people write them.
fn files(slug: &ExtensionSlug) -> Vec<(&'static str, String)> {
    // A slug is `[a-z0-9-]` only, so it needs no escaping inside a JSON string.
    let slug = slug.as_str();
    let (sdk, sdk_version) = SDK_PACKAGE;
    let (typescript, typescript_version) = TYPESCRIPT;
    vec![
        ("lumio.json", format!("{{\"extension\": \"{slug}\"}}\n")),
        ("server/functions.ts", FUNCTIONS_TS.to_owned()),
        ("tsconfig.json", TSCONFIG_JSON.to_owned()),
        (
            "package.json",
            format!(
                r#"{{
  "name": "{slug}",
  "private": true,
  "type": "module",
  "scripts": {{
    "typecheck": "tsc"
  }},
  "devDependencies": {{
    "{sdk}": "{sdk_version}",
    "{typescript}": "{typescript_version}"
  }}
}}
"#
            ),
        ),
    ]
}

/// Fails, naming every file that is already there (as `shown`, the directory the user
/// typed), before anything is written.
fn refuse_existing(dir: &Path, shown: &Path, files: &[(&str, String)]) -> anyhow::Result<()> {
    let existing: Vec<String> = files
        .iter()
        .filter(|(rel, _)| dir.join(rel).symlink_metadata().is_ok())
        .map(|(rel, _)| display(shown, rel))
        .collect();
    let (names, verb) = match existing.as_slice() {
        [] => return Ok(()),
        [one] => (one.clone(), "exists"),
        [first @ .., last] => (format!("{} and {last}", first.join(", ")), "exist"),
    };
    Err(
        CliError::new(format!("{names} already {verb}; lumio init wrote nothing"))
            .with_failure(Failure::Conflict)
            .with_hint(
                "run lumio init in a new or empty directory (lumio init my-ext), or move \
                 those files away",
            )
            .into(),
    )
}

/// `rel` inside the directory as the user typed it (`my-ext/lumio.json`, or `lumio.json`
/// for `.`).
fn display(shown: &Path, rel: &str) -> String {
    if shown == Path::new(".") {
        rel.to_owned()
    } else {
        shown.join(rel).display().to_string()
    }
}

/// Writes a file that must not exist yet (another process may have made it since the check).
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// What to run next, from the directory `lumio init` ran in.
fn next_steps(dir: &Path, slug: &ExtensionSlug) -> String {
    let slug = slug.as_str();
    let mut steps: Vec<(String, &str)> = Vec::new();
    if dir != Path::new(".") {
        steps.push((format!("cd {}", dir.display()), ""));
    }
    steps.extend([
        (
            "npm install".to_owned(),
            "TypeScript and the SDK's types, for your editor and tsc",
        ),
        (
            String::new(),
            "(until the SDK is on npm: npm install --save-dev PATH/TO/lumio/sdk)",
        ),
        (
            "npx tsc".to_owned(),
            "type-check server/ (tsconfig.json: strict, no output)",
        ),
        (
            format!("lumio extensions create {slug}"),
            "once, as an instance admin, if it does not exist yet",
        ),
        ("lumio deploy".to_owned(), "upload server/ to staging"),
        (
            r#"lumio run functions:hello '{"name": "Ada"}'"#.to_owned(),
            "",
        ),
    ]);
    let mut text = format!(
        "Created extension project {slug}: lumio.json, server/functions.ts, tsconfig.json, package.json.\nNext:"
    );
    for (command, comment) in &steps {
        let line = match *comment {
            "" => format!("\n  {command}"),
            _ => format!("\n  {command:<34} # {comment}"),
        };
        text.push_str(&line);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_the_sdks_package_json() {
        let sdk: serde_json::Value =
            serde_json::from_str(include_str!("../../../../sdk/package.json")).unwrap();
        assert_eq!(SDK_PACKAGE.0, sdk["name"]);
        assert_eq!(
            SDK_PACKAGE.1,
            format!("^{}", sdk["version"].as_str().unwrap())
        );
        let pinned = sdk["devDependencies"][TYPESCRIPT.0].as_str().unwrap();
        assert_eq!(TYPESCRIPT.1, format!("^{pinned}"));
    }

    #[test]
    fn the_name_comes_from_the_flag_or_the_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("weather-app");
        assert_eq!(slug(None, &dir).unwrap().as_str(), "weather-app");
        assert_eq!(slug(Some("other"), &dir).unwrap().as_str(), "other");
        let bad = slug(None, &root.path().join("Weather_App")).unwrap_err();
        let bad = bad.downcast_ref::<CliError>().unwrap();
        assert_eq!(bad.failure, Failure::Usage);
        assert!(bad.message.contains("Weather_App"), "{bad:?}");
        assert!(
            bad.hint.as_deref().unwrap().contains("--extension"),
            "{bad:?}"
        );
    }

    #[test]
    fn the_project_names_its_extension() {
        use serde_json::json;
        let files = files(&ExtensionSlug::parse("my-ext").unwrap());
        let json = |rel: &str| -> serde_json::Value {
            serde_json::from_str(&files.iter().find(|(r, _)| *r == rel).unwrap().1).unwrap()
        };
        assert_eq!(json("lumio.json"), json!({"extension": "my-ext"}));
        assert_eq!(json("package.json")["type"], "module");
        assert_eq!(json("package.json")["private"], true);
        assert!(json("tsconfig.json")["compilerOptions"]["strict"] == true);
    }
}
