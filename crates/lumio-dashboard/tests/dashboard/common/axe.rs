//! axe-core, the accessibility engine browsers' own audits use, run inside the page.
//! It comes from npm: `tests/axe/package-lock.json` pins it, and the first run installs
//! it with `npm ci` into the test's target directory. Without npm the check is skipped
//! loudly, or fails with `LUMIO_REQUIRE_BROWSER=1` (as CI sets).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::browser::Browser;

/// The engine's source, to inject into each page.
pub struct Axe(String);

/// Impacts that fail the test; `minor` and `moderate` are reported by axe but allowed.
const FAILING: [&str; 2] = ["serious", "critical"];

impl Axe {
    /// Loads axe-core (installing it on first use); `None` after a loud warning when npm
    /// is missing and `LUMIO_REQUIRE_BROWSER` is not `1`.
    pub fn load() -> Option<Axe> {
        let script = match installed() {
            Ok(path) => path,
            Err(why) => {
                lumio_store::testing::skip_unless_required(
                    &format!("axe-core checks: {why}"),
                    Some("LUMIO_REQUIRE_BROWSER"),
                );
                return None;
            }
        };
        let source = std::fs::read_to_string(&script)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", script.display()));
        Some(Axe(source))
    }

    /// Runs axe on the current page; the serious and critical violations, one line each
    /// (rule, impact, the elements it names).
    pub async fn violations(&self, browser: &Browser) -> Vec<String> {
        // A WebDriver script is not subject to the page's CSP, so the engine can be
        // injected although the dashboard allows no script of its own.
        browser.eval(&format!("{};\nreturn null;", self.0)).await;
        let report = browser
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, { resultTypes: ['violations'] })\
                   .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact,\
                     targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5) }))))\
                   .catch(e => done([{ id: 'axe-error', impact: 'critical', targets: [String(e)] }]));",
                Vec::new(),
            )
            .await
            .expect("axe.run");
        let Value::Array(found) = report else {
            panic!("axe answered {report}");
        };
        found
            .into_iter()
            .filter(|v| FAILING.contains(&v["impact"].as_str().unwrap_or("")))
            .map(|v| format!("{} ({}): {}", v["id"], v["impact"], v["targets"]))
            .collect()
    }
}

/// `axe.min.js`, from `LUMIO_AXE_JS`, or installed from the lockfile with `npm ci`.
fn installed() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("LUMIO_AXE_JS") {
        return Ok(PathBuf::from(path));
    }
    let pinned = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/axe");
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("axe");
    let script = home.join("node_modules/axe-core/axe.min.js");
    let lock = std::fs::read(pinned.join("package-lock.json")).map_err(|e| e.to_string())?;
    // Reinstall when the lockfile changed since the last install.
    if script.is_file() && std::fs::read(home.join("package-lock.json")).ok() == Some(lock.clone())
    {
        return Ok(script);
    }
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    std::fs::copy(pinned.join("package.json"), home.join("package.json"))
        .map_err(|e| e.to_string())?;
    std::fs::write(home.join("package-lock.json"), &lock).map_err(|e| e.to_string())?;
    let status = Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(&home)
        .status()
        .map_err(|err| format!("npm cannot run ({err}): install Node.js and npm"))?;
    if !status.success() || !script.is_file() {
        return Err(format!(
            "`npm ci` in {} failed ({status}): axe-core could not be installed",
            home.display()
        ));
    }
    Ok(script)
}
