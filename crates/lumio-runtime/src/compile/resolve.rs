//! Module names and import resolution. A module's name is its upload path
//! (`server/lib/util.ts`), so stack traces show the file a developer knows.

use std::collections::BTreeMap;

/// The SDK's import specifier, served from the embedded `sdk/server.js`.
pub const SDK_SPECIFIER: &str = "@zaflun/lumio-sdk/server";

/// Extensions tried for an import without one, in order.
const EXTENSIONS: [&str; 4] = ["ts", "mts", "js", "mjs"];

/// Checks an uploaded path: relative, under `server/`, no `..`, a known extension.
pub fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with("server/") {
        return Err("only files under server/ are deployed".into());
    }
    if path.contains('\\')
        || path
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err("use a relative path with '/' separators and no '.' or '..' segments".into());
    }
    let ext = path
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .unwrap_or_default();
    if !EXTENSIONS.contains(&ext) || path.ends_with(".d.ts") {
        return Err("only .ts, .mts, .js and .mjs files are deployed".into());
    }
    Ok(())
}

/// The action-name prefix of a module: its path under `server/` without extension.
pub fn module_label(path: &str) -> &str {
    let rest = path.strip_prefix("server/").unwrap_or(path);
    rest.rsplit_once('.').map_or(rest, |(stem, _)| stem)
}

/// Resolves `specifier` imported from module `base` to a module name, if it names the SDK
/// or an uploaded file.
pub fn resolve<V>(base: &str, specifier: &str, files: &BTreeMap<String, V>) -> Option<String> {
    if specifier == SDK_SPECIFIER {
        return Some(SDK_SPECIFIER.to_owned());
    }
    if !(specifier.starts_with("./") || specifier.starts_with("../")) {
        return None;
    }
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop(); // the importing file itself
    for seg in specifier.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop()?;
            }
            seg => parts.push(seg),
        }
    }
    let joined = parts.join("/");
    let mut candidates = vec![joined.clone()];
    // TypeScript style: `./util.js` names `util.ts`.
    if let Some(stem) = joined
        .strip_suffix(".js")
        .or_else(|| joined.strip_suffix(".mjs"))
    {
        candidates.extend(["ts", "mts"].iter().map(|ext| format!("{stem}.{ext}")));
    }
    candidates.extend(EXTENSIONS.iter().map(|ext| format!("{joined}.{ext}")));
    candidates.extend(EXTENSIONS.iter().map(|ext| format!("{joined}/index.{ext}")));
    candidates.into_iter().find(|c| files.contains_key(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_imports() {
        let files: BTreeMap<String, ()> = [
            "server/functions.ts",
            "server/util.ts",
            "server/lib/x.ts",
            "server/lib/index.ts",
        ]
        .into_iter()
        .map(|p| (p.to_owned(), ()))
        .collect();
        let r = |base: &str, spec: &str| resolve(base, spec, &files);
        assert_eq!(
            r("server/functions.ts", "./util").as_deref(),
            Some("server/util.ts")
        );
        assert_eq!(
            r("server/functions.ts", "./util.ts").as_deref(),
            Some("server/util.ts")
        );
        assert_eq!(
            r("server/functions.ts", "./util.js").as_deref(),
            Some("server/util.ts")
        );
        assert_eq!(
            r("server/lib/x.ts", "../util").as_deref(),
            Some("server/util.ts")
        );
        assert_eq!(
            r("server/functions.ts", "./lib").as_deref(),
            Some("server/lib/index.ts")
        );
        assert_eq!(
            r("server/functions.ts", SDK_SPECIFIER).as_deref(),
            Some(SDK_SPECIFIER)
        );
        assert_eq!(r("server/functions.ts", "lodash"), None);
        assert_eq!(r("server/functions.ts", "../../etc/passwd"), None);
        assert_eq!(module_label("server/lib/util.ts"), "lib/util");
        assert!(check_path("server/../x.ts").is_err());
        assert!(check_path("client/x.ts").is_err());
    }
}
