//! Where a command's settings come from: the credentials saved by `lumio login`, flags and
//! environment variables, and the project's `lumio.json`. Everything is resolved and
//! parsed here, before any request is made, so bad input fails fast.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use lumio_core::{Environment, ExtensionSlug};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::cli::{CommonArgs, ConnArgs};
use crate::error::{CliError, Failure};

/// Where a client looks for the server when nothing else says: where `lumio server`
/// listens by default (`lumio_server::DEFAULT_LISTEN`, checked by a test in `lumio`).
pub const DEFAULT_URL: &str = "http://127.0.0.1:7311";
const CREDENTIALS_FILE: &str = "credentials.json";
const PROJECT_FILE: &str = "lumio.json";

/// What `lumio login` saves. The token is wiped on drop and never printed by `Debug`.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Credentials {
    pub url: String,
    pub token: String,
    /// `lumio login --insecure-http`: plain http to this (non-loopback) URL was allowed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_http: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("url", &self.url)
            .field("token", &"[REDACTED]")
            .field("insecure_http", &self.insecure_http)
            .finish()
    }
}

/// `$LUMIO_CONFIG_DIR`, else `$XDG_CONFIG_HOME/lumio`, else `~/.config/lumio`.
pub fn config_dir() -> anyhow::Result<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("LUMIO_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(dir).join("lumio"));
    }
    if let Some(home) = var("HOME") {
        return Ok(PathBuf::from(home).join(".config").join("lumio"));
    }
    Err(CliError::new("cannot find a configuration directory")
        .with_hint("set LUMIO_CONFIG_DIR (or HOME) to a directory Lumio may write to")
        .into())
}

/// Reads saved credentials; `None` when `lumio login` never ran.
pub fn load_credentials(dir: &Path) -> anyhow::Result<Option<Credentials>> {
    let path = dir.join(CREDENTIALS_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => Zeroizing::new(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    // serde_json's message could quote the file, so only its position is kept.
    let creds = serde_json::from_str(&text).map_err(|err| {
        CliError::new(format!(
            "{} is not valid credentials (line {}, column {})",
            path.display(),
            err.line(),
            err.column()
        ))
        .with_hint("run `lumio login --url URL --token TOKEN` again to rewrite it")
    })?;
    Ok(Some(creds))
}

/// Saves credentials readable by the owner only (file 0600, new directories 0700).
/// Writes a temporary file first so a crash never leaves a half-written one.
pub fn save_credentials(dir: &Path, creds: &Credentials) -> anyhow::Result<PathBuf> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;

    let path = dir.join(CREDENTIALS_FILE);
    let tmp = dir.join(format!(".{CREDENTIALS_FILE}.{}", std::process::id()));
    let json = Zeroizing::new(serde_json::to_vec_pretty(creds)?);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(&json)?;
        file.sync_all()
    });
    if let Err(err) = written.and_then(|()| fs::rename(&tmp, &path)) {
        let _ = fs::remove_file(&tmp);
        return Err(err).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(path)
}

/// Removes the saved credentials (`lumio logout`); returns the file's path.
pub fn forget_credentials(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join(CREDENTIALS_FILE);
    fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    Ok(path)
}

/// The server a command talks to and the token it uses, if any.
pub struct Connection {
    pub url: String,
    pub token: Option<Zeroizing<String>>,
    /// `--ca-cert` / `LUMIO_CA_CERT`: a private CA (or the server's own certificate) to
    /// trust beside the system's.
    pub ca_cert: Option<PathBuf>,
    /// Plain http to a host that is not this machine is allowed (`--insecure-http`, or
    /// saved so by `lumio login --insecure-http` for the saved URL).
    pub insecure_http: bool,
}

impl Connection {
    /// Flags and `LUMIO_URL`/`LUMIO_TOKEN` win over the saved credentials. A saved token is
    /// only sent to the URL it was saved for, so `--url` can never leak it elsewhere.
    pub fn resolve(args: &ConnArgs) -> anyhow::Result<Self> {
        let flag_url = args.url.as_deref().map(normalize_url).transpose()?;
        let flag_token = args.token.clone().filter(|t| !t.is_empty());
        let saved = if flag_url.is_some() && flag_token.is_some() {
            None // A broken credentials file must not block an explicit command line.
        } else {
            load_credentials(&config_dir()?)?
        };
        let saved_url = saved.as_ref().map(|c| normalize_url(&c.url)).transpose()?;
        let url = flag_url
            .or_else(|| saved_url.clone())
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let saved_here = saved
            .as_ref()
            .filter(|_| saved_url.as_deref() == Some(url.as_str()));
        let token = flag_token
            .map(Zeroizing::new)
            .or_else(|| saved_here.map(|saved| Zeroizing::new(saved.token.clone())));
        let insecure_http = args.insecure_http || saved_here.is_some_and(|s| s.insecure_http);
        let ca_cert = args.ca_cert.clone().filter(|p| !p.as_os_str().is_empty());
        Ok(Self {
            url,
            token,
            ca_cert,
            insecure_http,
        })
    }

    /// The token, or an error saying how to get one.
    pub fn require_token(&self) -> anyhow::Result<Zeroizing<String>> {
        self.token.clone().ok_or_else(|| {
            CliError::new(format!("no token for {}", self.url))
                .with_hint(login_hint(&self.url))
                .with_failure(Failure::Auth)
                .into()
        })
    }
}

/// The next step after a missing or refused token.
pub fn login_hint(url: &str) -> String {
    format!("run `lumio login --url {url} --token TOKEN`, or set LUMIO_TOKEN")
}

/// Checks a server URL (`transport::parse_server_url`) and drops trailing slashes so
/// paths can be appended.
pub fn normalize_url(raw: &str) -> anyhow::Result<String> {
    let url = crate::transport::parse_server_url(raw)?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The environment from `--env` / `LUMIO_ENV` (default staging).
pub fn environment(common: &CommonArgs) -> anyhow::Result<Environment> {
    Ok(explicit_environment(common)?.unwrap_or(Environment::Staging))
}

/// The environment from `--env` / `LUMIO_ENV`, if one was given.
pub fn explicit_environment(common: &CommonArgs) -> anyhow::Result<Option<Environment>> {
    let Some(given) = common.environment.as_deref() else {
        return Ok(None);
    };
    Environment::parse(given).map(Some).map_err(|err| {
        CliError::usage(err.to_string())
            .with_hint("pass --env staging or --env production (or set LUMIO_ENV)")
            .into()
    })
}

/// The extension from `--extension`, else `LUMIO_EXTENSION`, else the nearest `lumio.json`.
pub fn extension(common: &CommonArgs) -> anyhow::Result<ExtensionSlug> {
    extension_in(common, None)
}

/// Like [`extension`], but `lumio.json` is first looked for in `dir` and its parents
/// (`lumio deploy DIR`), then in the current directory and its parents.
pub fn extension_in(common: &CommonArgs, dir: Option<&Path>) -> anyhow::Result<ExtensionSlug> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let from_env = std::env::var("LUMIO_EXTENSION").ok();
    // A relative DIR (or one with `..`) has no searchable parents until it is resolved.
    let dir = dir.map(|d| {
        let joined = cwd.join(d);
        fs::canonicalize(&joined).unwrap_or(joined)
    });
    let dirs: Vec<&Path> = dir.as_deref().into_iter().chain([cwd.as_path()]).collect();
    extension_from(common.extension.as_deref(), from_env.as_deref(), &dirs)
}

fn extension_from(
    flag: Option<&str>,
    env: Option<&str>,
    dirs: &[&Path],
) -> anyhow::Result<ExtensionSlug> {
    let (name, source) = if let Some(flag) = flag {
        (flag.to_owned(), "--extension".to_owned())
    } else if let Some(env) = env.filter(|e| !e.is_empty()) {
        (env.to_owned(), "LUMIO_EXTENSION".to_owned())
    } else if let Some(path) = dirs.iter().find_map(|dir| find_project_file(dir)) {
        (read_project_file(&path)?, path.display().to_string())
    } else {
        return Err(CliError::usage("no extension selected")
            .with_hint(
                "pass --extension NAME, set LUMIO_EXTENSION, or add a lumio.json with \
                 {\"extension\": \"NAME\"} to your project directory",
            )
            .into());
    };
    ExtensionSlug::parse(&name).map_err(|err| {
        CliError::usage(err.to_string())
            .with_hint(format!("fix the extension name given by {source}"))
            .into()
    })
}

/// The nearest `lumio.json` in `dir` or one of its parents.
fn find_project_file(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join(PROJECT_FILE))
        .find(|p| p.is_file())
}

fn read_project_file(path: &Path) -> anyhow::Result<String> {
    #[derive(Deserialize)]
    struct Project {
        extension: Option<String>,
    }
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let project: Project = serde_json::from_str(&text).map_err(|err| {
        CliError::usage(format!("{} is not valid JSON: {err}", path.display()))
            .with_hint("it should look like {\"extension\": \"my-ext\"}")
    })?;
    project.extension.ok_or_else(|| {
        CliError::usage(format!("{} has no \"extension\" field", path.display()))
            .with_hint("add one, e.g. {\"extension\": \"my-ext\"}")
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("nested").join("lumio");
        let creds = Credentials {
            url: "http://127.0.0.1:7311".into(),
            token: "lumio_a_b".into(),
            insecure_http: false,
        };
        let path = save_credentials(&conf, &creds).unwrap();
        let loaded = load_credentials(&conf).unwrap().unwrap();
        assert_eq!(
            (loaded.url.as_str(), loaded.token.as_str()),
            ("http://127.0.0.1:7311", "lumio_a_b")
        );
        assert!(!format!("{loaded:?}").contains("lumio_a_b"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&conf), 0o700);
        }
        assert!(load_credentials(dir.path()).unwrap().is_none());
    }

    #[test]
    fn broken_credentials_do_not_echo_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(CREDENTIALS_FILE),
            "{\"token\": lumio_x_secret",
        )
        .unwrap();
        let err = format!("{:#}", load_credentials(dir.path()).unwrap_err());
        assert!(!err.contains("lumio_x_secret"), "{err}");
    }

    #[test]
    fn urls() {
        assert_eq!(normalize_url("http://h:1/").unwrap(), "http://h:1");
        assert_eq!(normalize_url("https://h/").unwrap(), "https://h");
        for bad in ["ftp://h", "h:1", "http://", "https://", ""] {
            assert!(normalize_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn extension_order_and_project_file() {
        let root = tempfile::tempdir().unwrap();
        let sub = root.path().join("a").join("b");
        fs::create_dir_all(&sub).unwrap();
        let none = extension_from(None, None, &[&sub]).unwrap_err();
        assert!(format!("{none}").contains("no extension"));

        fs::write(
            root.path().join("lumio.json"),
            r#"{"extension":"from-file"}"#,
        )
        .unwrap();
        let get = |flag, env| extension_from(flag, env, &[&sub]).unwrap().to_string();
        assert_eq!(get(None, None), "from-file");
        assert_eq!(get(None, Some("from-env")), "from-env");
        assert_eq!(get(Some("from-flag"), Some("from-env")), "from-flag");

        fs::write(
            root.path().join("lumio.json"),
            r#"{"extension":"Bad_Name"}"#,
        )
        .unwrap();
        let err = extension_from(None, None, &[&sub]).unwrap_err();
        assert!(format!("{err}").contains("Bad_Name"));
        fs::write(root.path().join("lumio.json"), "{").unwrap();
        assert!(extension_from(None, None, &[&sub]).is_err());
    }

    #[test]
    fn deploy_dir_is_searched_before_the_current_directory() {
        let root = tempfile::tempdir().unwrap();
        let (project, cwd) = (root.path().join("project"), root.path().join("elsewhere"));
        fs::create_dir_all(&project).unwrap();
        fs::create_dir_all(&cwd).unwrap();
        let get = |dirs: &[&Path]| extension_from(None, None, dirs).unwrap().to_string();
        fs::write(cwd.join("lumio.json"), r#"{"extension":"from-cwd"}"#).unwrap();
        assert_eq!(get(&[&project, &cwd]), "from-cwd");
        fs::write(project.join("lumio.json"), r#"{"extension":"from-dir"}"#).unwrap();
        assert_eq!(get(&[&project, &cwd]), "from-dir");
    }
}
