//! The deploy-time engine: compiles an upload's modules to bytecode and loads each once
//! to find its exported actions, under the same limits as an invocation.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use lumio_qjs_bytecode::deferred::new_context;
use lumio_qjs_bytecode::TrustedBytecode;
use rquickjs::{Context, Ctx, Module, Object, Value};

use super::action_probe::{Definition, Probe};
use super::clock::Clock;
use super::loader::{CompileOnlyLoader, DeploymentLoader, SDK_JS};
use super::quickjs::{caught, internal, new_runtime, Failure, Intrinsics};
use crate::compile::resolve::SDK_SPECIFIER;
use crate::compile::CompiledModule;
use crate::limits::RuntimeLimits;

/// An `action(...)` export found at deploy.
pub struct FoundAction {
    pub module: String,
    pub export: String,
    /// `{"args": {...}}`, read once from the evaluated definition.
    pub args_json: String,
    /// Its `secrets: [...]`, read once from Rust (`None`: none declared; `Err`: a list
    /// that could not be read, a deploy error). What the runtime enforces comes from here,
    /// never from the object later.
    pub grants: Result<Option<Vec<String>>, String>,
}

/// Compiles the embedded SDK; every invocation's context loads this bytecode.
pub fn compile_sdk() -> rquickjs::Result<TrustedBytecode> {
    let rt = rquickjs::Runtime::new()?;
    let context = Context::custom::<Intrinsics>(&rt)?;
    context
        .with(|ctx| TrustedBytecode::compile_module_without_debug_info(&ctx, SDK_SPECIFIER, SDK_JS))
}

/// A QuickJS runtime with the limits applied, for one deploy.
pub struct Engine {
    rt: rquickjs::Runtime,
    clock: Rc<Clock>,
    limits: RuntimeLimits,
    sdk: Rc<TrustedBytecode>,
}

impl Engine {
    pub fn new(limits: &RuntimeLimits) -> rquickjs::Result<Self> {
        let clock = Rc::new(Clock::new(limits.cpu_time));
        let rt = new_runtime(limits, &clock)?;
        Ok(Self {
            rt,
            clock,
            limits: limits.clone(),
            sdk: Rc::new(compile_sdk()?),
        })
    }

    /// Compiles a module's JavaScript to bytecode (at deploy); on failure, why.
    pub fn compile_module(&self, name: &str, js: &str) -> Result<TrustedBytecode, String> {
        self.rt.set_loader(CompileOnlyLoader, CompileOnlyLoader);
        let context = Context::custom::<Intrinsics>(&self.rt).map_err(|e| e.to_string())?;
        let result = context.with(|ctx| {
            TrustedBytecode::compile_module(&ctx, name, js).map_err(|error| {
                if !error.is_exception() {
                    return error.to_string();
                }
                let thrown = ctx.catch();
                let text = |key: &str| {
                    thrown
                        .as_object()
                        .and_then(|o| o.get::<_, Option<String>>(key).ok().flatten())
                };
                match (text("message"), text("stack")) {
                    (Some(message), Some(stack)) => format!("{message}\n{stack}"),
                    (Some(message), None) => message,
                    _ => "the module does not compile".to_owned(),
                }
            })
        });
        drop(context);
        self.collect();
        result
    }

    /// Loads every module once and returns its exported actions; on failure, the module
    /// being loaded and why.
    pub fn discover(
        &self,
        modules: &Arc<BTreeMap<String, CompiledModule>>,
    ) -> Result<Vec<FoundAction>, (String, Failure)> {
        let mut current = String::new();
        let result = self.in_fresh_context(modules, |ctx| {
            let silent =
                "globalThis.console = { log() {}, info() {}, debug() {}, warn() {}, error() {} };";
            ctx.eval::<(), _>(silent)
                .map_err(|e| self.caught(ctx, e, modules))?;
            // Before any module of the upload runs: the probe's intrinsics, and the SDK,
            // which captures its own (a helper imported first must not reach either).
            let probe = Probe::capture(ctx).map_err(|e| self.caught(ctx, e, modules))?;
            self.clock.enter();
            current = SDK_SPECIFIER.to_owned();
            self.import(ctx, SDK_SPECIFIER, modules)?;
            let mut found = Vec::new();
            for name in modules.keys() {
                current.clone_from(name);
                let namespace = self.import(ctx, name, modules)?;
                for export in namespace.keys::<String>() {
                    let export = export.map_err(|e| self.caught(ctx, e, modules))?;
                    let value: Value = namespace
                        .get(&export)
                        .map_err(|e| self.caught(ctx, e, modules))?;
                    let definition = probe
                        .read(&value)
                        .map_err(|e| self.caught(ctx, e, modules))?;
                    if let Some(Definition { args_json, grants }) = definition {
                        found.push(FoundAction {
                            module: name.clone(),
                            export,
                            args_json,
                            grants,
                        });
                    }
                }
            }
            self.clock.leave();
            Ok(found)
        });
        self.collect();
        result.map_err(|failure| (current, failure))
    }

    fn in_fresh_context<T>(
        &self,
        modules: &Arc<BTreeMap<String, CompiledModule>>,
        f: impl FnOnce(&Ctx<'_>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let loader = DeploymentLoader {
            modules: modules.clone(),
            sdk: self.sdk.clone(),
        };
        self.rt.set_loader(loader.clone(), loader);
        let context = new_context(&self.rt).map_err(|e| internal(&e))?;
        let result = context.with(|ctx| f(&ctx));
        // Unreachable from here on; its objects are freed by the next `collect`.
        drop(context);
        result
    }

    fn collect(&self) {
        self.rt.run_gc();
    }

    fn caught(
        &self,
        ctx: &Ctx<'_>,
        error: rquickjs::Error,
        modules: &BTreeMap<String, CompiledModule>,
    ) -> Failure {
        caught(ctx, &self.clock, &self.limits, error, modules)
    }

    /// Imports a module and runs the job queue until its top-level code has finished
    /// (at deploy nothing can be awaited but promises already settled).
    fn import<'js>(
        &self,
        ctx: &Ctx<'js>,
        name: &str,
        modules: &BTreeMap<String, CompiledModule>,
    ) -> Result<Object<'js>, Failure> {
        let promise = Module::import(ctx, name).map_err(|e| self.caught(ctx, e, modules))?;
        while ctx.execute_pending_job() {
            if self.clock.fired() {
                return Err(super::quickjs::cpu_timeout(&self.limits));
            }
        }
        let namespace = match promise.result::<Value>() {
            Some(result) => result.map_err(|e| self.caught(ctx, e, modules))?,
            None => {
                return Err(internal(
                    &"the module's top-level code awaits something that never happens",
                ))
            }
        };
        namespace
            .into_object()
            .ok_or_else(|| internal(&"a module namespace is not an object"))
    }
}
