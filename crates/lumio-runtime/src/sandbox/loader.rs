//! Module loading inside a context: uploaded files and the embedded SDK, nothing else,
//! read from the bytecode compiled at deploy (parsing them again would cost more than the
//! rest of an invocation).

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use lumio_qjs_bytecode::TrustedBytecode;
use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::{Ctx, Error, Module, Result};

use crate::compile::resolve::{resolve, SDK_SPECIFIER};
use crate::compile::CompiledModule;

/// The SDK's JavaScript: the same file the npm package ships.
pub const SDK_JS: &str = include_str!("../../../../sdk/server.js");

/// Resolves and loads the modules of one deployment.
#[derive(Clone)]
pub struct DeploymentLoader {
    pub modules: Arc<BTreeMap<String, CompiledModule>>,
    pub sdk: Rc<TrustedBytecode>,
}

impl Resolver for DeploymentLoader {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<String> {
        if self.modules.contains_key(name) {
            return Ok(name.to_owned()); // the runtime importing an entry module by its name
        }
        resolve(base, name, &self.modules).ok_or_else(|| {
            Error::new_resolving_message(
                base,
                name,
                "only uploaded files and the SDK can be imported",
            )
        })
    }
}

impl Loader for DeploymentLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<Module<'js, Declared>> {
        if name == SDK_SPECIFIER {
            return self.sdk.load(ctx);
        }
        let module = self
            .modules
            .get(name)
            .ok_or_else(|| Error::new_loading(name))?;
        module.bytecode.load(ctx)
    }
}

/// Used while compiling a module to bytecode: QuickJS resolves a module's imports as it
/// compiles it, but the bytecode records only the specifiers, so every import may resolve
/// to an empty module here. Imports were checked against the upload before, and they are
/// bound for real when an invocation links the module.
#[derive(Clone)]
pub struct CompileOnlyLoader;

impl Resolver for CompileOnlyLoader {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        _base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<String> {
        Ok(name.to_owned())
    }
}

impl Loader for CompileOnlyLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<Module<'js, Declared>> {
        Module::declare(ctx.clone(), name, "")
    }
}
