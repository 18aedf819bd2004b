//! Module loading inside a context: uploaded files and the embedded SDK, nothing else.

use std::collections::BTreeMap;
use std::sync::Arc;

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
            return Module::declare(ctx.clone(), name, SDK_JS);
        }
        let module = self
            .modules
            .get(name)
            .ok_or_else(|| Error::new_loading(name))?;
        Module::declare(ctx.clone(), name, module.js.as_str())
    }
}
