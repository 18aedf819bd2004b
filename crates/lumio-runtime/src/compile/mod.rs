//! Deploy: strip TypeScript, check imports, load every module once to find its actions.

mod linemap;
pub(crate) mod resolve;
mod strip;

use std::collections::BTreeMap;
use std::sync::Arc;

use lumio_core::SecretName;
use lumio_qjs_bytecode::TrustedBytecode;

use crate::error::DeployError;
use crate::limits::RuntimeLimits;
use crate::sandbox::{Engine, Failure, FoundAction};
use crate::validate::Validator;
use linemap::line_col;
pub(crate) use linemap::LineMap;

/// One uploaded file as JavaScript, with its map back to the TypeScript source and the
/// bytecode invocations load (parsing the JavaScript in every fresh context is too slow).
#[derive(Debug)]
pub struct CompiledModule {
    pub(crate) js: String,
    pub(crate) lines: LineMap,
    pub(crate) bytecode: TrustedBytecode,
}

/// An exported action.
#[derive(Debug, Clone)]
pub struct ActionInfo {
    /// The module's upload path, e.g. `server/functions.ts`.
    pub module: String,
    /// The export's name, e.g. `callExternalApi`.
    pub export: String,
    /// Validators of the arguments, by field name.
    pub args: BTreeMap<String, Validator>,
    /// The secrets it may read (`secrets: [...]`), or `None`: every secret of its
    /// extension and environment. Enforced by the `ctx.secrets.get` native.
    pub grants: Option<Arc<[SecretName]>>,
}

/// An action's argument validators as the deploy-time probe reads them.
#[derive(serde::Deserialize)]
struct Definition {
    args: BTreeMap<String, Validator>,
}

/// Parses a `secrets: [...]` declaration, as the probe read it, into secret names; the
/// error says what to fix.
fn parse_grants(
    action: &str,
    secrets: Result<Vec<String>, String>,
) -> Result<Arc<[SecretName]>, String> {
    let items =
        secrets.map_err(|reason| format!("action {action} cannot be deployed: {reason}"))?;
    let mut grants: Vec<SecretName> = Vec::with_capacity(items.len());
    for text in items {
        let name = SecretName::parse(&text).map_err(|e| {
            format!("action {action} grants {text:?}, which is not a valid secret name: {e}")
        })?;
        if !grants.contains(&name) {
            grants.push(name);
        }
    }
    Ok(grants.into())
}

/// A compiled extension: its modules and actions. Immutable; share it with `Arc`.
#[derive(Clone, Debug)]
pub struct Deployment {
    pub(crate) modules: Arc<BTreeMap<String, CompiledModule>>,
    actions: BTreeMap<String, ActionInfo>,
}

impl Deployment {
    /// Action names (`module:export`), sorted.
    pub fn action_names(&self) -> impl Iterator<Item = &str> {
        self.actions.keys().map(String::as_str)
    }

    /// The action called `name` (`functions:callExternalApi`).
    pub fn action(&self, name: &str) -> Option<&ActionInfo> {
        self.actions.get(name)
    }

    /// The generated JavaScript of a module, for inspection and debugging.
    pub fn module_js(&self, path: &str) -> Option<&str> {
        self.modules.get(path).map(|m| m.js.as_str())
    }
}

/// Compiles an upload (path → TypeScript source) with the default limits.
///
/// Runs each module's top-level code once, under the CPU-time and memory limits: call it
/// from a blocking context (`tokio::task::spawn_blocking`).
pub fn compile(files: BTreeMap<String, String>) -> Result<Deployment, DeployError> {
    compile_with_limits(files, &RuntimeLimits::default())
}

/// [`compile`] with explicit limits for the deploy-time module run.
pub fn compile_with_limits(
    files: BTreeMap<String, String>,
    limits: &RuntimeLimits,
) -> Result<Deployment, DeployError> {
    if files.is_empty() {
        return Err(DeployError::NoFiles);
    }
    for path in files.keys() {
        resolve::check_path(path).map_err(|reason| DeployError::BadPath {
            path: path.clone(),
            reason,
        })?;
    }
    let engine = Engine::new(limits).map_err(|e| DeployError::Evaluation {
        file: files.keys().next().cloned().unwrap_or_default(),
        message: e.to_string(),
    })?;
    let mut modules = BTreeMap::new();
    for (path, source) in &files {
        let stripped = strip::strip(path, source)?;
        for (specifier, offset) in &stripped.imports {
            if resolve::resolve(path, specifier, &files).is_none() {
                let (line, col) = line_col(source, *offset);
                return Err(DeployError::UnknownImport {
                    file: path.clone(),
                    line,
                    col,
                    specifier: specifier.clone(),
                });
            }
        }
        let bytecode = engine
            .compile_module(path, &stripped.js)
            .map_err(|message| DeployError::Evaluation {
                file: path.clone(),
                message,
            })?;
        modules.insert(
            path.clone(),
            CompiledModule {
                js: stripped.js,
                lines: stripped.lines,
                bytecode,
            },
        );
    }
    let modules = Arc::new(modules);
    let found = engine.discover(&modules).map_err(|(file, failure)| {
        let message = match failure {
            Failure::Thrown(thrown) => match thrown.stack {
                Some(stack) if !stack.is_empty() => format!("{}\n{stack}", thrown.error.message),
                _ => thrown.error.message,
            },
            Failure::Stopped(error) => error.message,
        };
        DeployError::Evaluation {
            file,
            message: crate::sandbox::clip(message),
        }
    })?;
    let mut actions = BTreeMap::new();
    for FoundAction {
        module,
        export,
        args_json,
        grants,
    } in found
    {
        let definition: Definition =
            serde_json::from_str(&args_json).map_err(|e| DeployError::Evaluation {
                file: module.clone(),
                message: format!("the args of action {export} are not v validators: {e}"),
            })?;
        let name = format!("{}:{export}", resolve::module_label(&module));
        let grants = match grants.transpose() {
            None => None,
            Some(secrets) => {
                Some(
                    parse_grants(&name, secrets).map_err(|reason| DeployError::BadGrant {
                        file: module.clone(),
                        reason,
                    })?,
                )
            }
        };
        actions.insert(
            name,
            ActionInfo {
                module,
                export,
                args: definition.args,
                grants,
            },
        );
    }
    if actions.is_empty() {
        return Err(DeployError::NoActions);
    }
    Ok(Deployment { modules, actions })
}
