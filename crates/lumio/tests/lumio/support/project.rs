//! Extension projects on disk for `lumio deploy`: copies of `examples/` in a temporary
//! directory, with their code adapted to the test (fake API URL, extra files).

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// `examples/NAME` of the repository.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// A project directory of the test's own.
pub struct Project {
    dir: TempDir,
}

impl Project {
    /// An empty project.
    pub fn empty() -> Self {
        Self {
            dir: TempDir::new().unwrap(),
        }
    }

    /// A copy of `examples/NAME` (its `lumio.json` included).
    pub fn from_example(name: &str) -> Self {
        let project = Self::empty();
        copy_dir(&example(name), project.path());
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The project path as a command-line argument.
    pub fn arg(&self) -> &str {
        self.path().to_str().expect("temporary paths are UTF-8")
    }

    /// Writes `rel` (e.g. `server/debug.ts`), creating its directories.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    pub fn remove(&self, rel: &str) {
        fs::remove_file(self.path().join(rel)).unwrap();
    }

    /// Replaces `from` with `to` in every `.ts` file under `server/`; panics if `from`
    /// appears nowhere, so a changed example cannot silently make a test pointless.
    pub fn rewrite(&self, from: &str, to: &str) {
        let mut hits = 0;
        for path in files(&self.path().join("server")) {
            let text = fs::read_to_string(&path).unwrap();
            if text.contains(from) {
                hits += 1;
                fs::write(&path, text.replace(from, to)).unwrap();
            }
        }
        assert!(hits > 0, "{from:?} appears in no file of the project");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// `import … from "@zaflun/lumio-sdk/server"` type-checks against the repository's SDK
/// (`sdk/server.d.ts`) through a `paths` entry: nothing is published or linked.
pub fn tsconfig() -> String {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../sdk/server.d.ts")
        .canonicalize()
        .expect("sdk/server.d.ts");
    serde_json::json!({
        "compilerOptions": {
            "target": "ES2022",
            "module": "ES2022",
            "moduleResolution": "bundler",
            "lib": ["ES2022"],
            "types": [],
            "strict": true,
            "noEmit": true,
            "paths": { "@zaflun/lumio-sdk/server": [sdk] }
        },
        "include": ["server/**/*.ts"]
    })
    .to_string()
}

impl Project {
    /// Installs TypeScript 5 from the npm registry into the project (`node_modules`), as
    /// a developer's `npm install --save-dev typescript` would. `false` when npm is not
    /// installed on a developer's machine (said loudly; under LUMIO_REQUIRE=1 it fails).
    pub fn install_typescript(&self) -> bool {
        let npm = std::process::Command::new("npm").arg("--version").output();
        if !npm.is_ok_and(|out| out.status.success()) {
            lumio_store::testing::skip_unless_required(
                "a TypeScript test: `npm` (Node.js) is not installed",
                None,
            );
            return false;
        }
        if !self.path().join("package.json").exists() {
            self.write("package.json", "{\"private\": true}\n");
        }
        let out = std::process::Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--save-dev",
                "typescript@5",
            ])
            .current_dir(self.path())
            .output()
            .expect("run npm");
        assert!(
            out.status.success(),
            "npm install typescript@5 failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        true
    }
}
