//! Loading QuickJS module bytecode without parsing the source again, behind a safe API.
//!
//! Parsing JavaScript is most of what a fresh QuickJS context costs Lumio per invocation;
//! reading bytecode is several times cheaper. QuickJS does not verify bytecode, so loading
//! untrusted bytes is undefined behaviour and `rquickjs::Module::load` is `unsafe`. This
//! crate makes it sound by construction: a [`TrustedBytecode`] can only be produced by
//! [`TrustedBytecode::compile_module`] — QuickJS's own writer, in this process — and its
//! bytes can be neither read out, built from outside, nor persisted.
//!
//! It also builds contexts whose larger intrinsics are added on first use
//! ([`deferred::new_context`]), which needs another `unsafe` call, and runtimes whose
//! allocations are charged to a [`metered::Meter`] ([`metered::new_metered_runtime`]),
//! which needs an `unsafe` allocator.
//!
//! Architecture Invariant: this is the only crate in the workspace with `unsafe` code, and
//! only these items may use it, each `unsafe` with a `SAFETY:` comment:
//! `TrustedBytecode::load`, `deferred::build_now`, and in `metered` the `Allocator` impl of
//! `MeteredAllocator` with its two helpers `MeteredAllocator::free` and `block_size`.

pub mod deferred;
pub mod metered;

use rquickjs::module::Declared;
use rquickjs::{Ctx, Module, Result, WriteOptions};

/// Bytecode of one ES module, written by this process's QuickJS.
///
/// Deliberately no `From<Vec<u8>>`, no `Deserialize`, no accessor for the bytes: the only
/// way in is [`TrustedBytecode::compile_module`]. Stored deployments must keep the source
/// and compile again when loaded.
#[derive(Clone)]
pub struct TrustedBytecode {
    bytes: Box<[u8]>,
}

impl TrustedBytecode {
    /// Compiles `source` as the module `name` (without running it) and writes its bytecode.
    /// `ctx` needs the `Eval` intrinsic (the compiler) and `RegExpCompiler` for literals.
    pub fn compile_module(ctx: &Ctx<'_>, name: &str, source: &str) -> Result<Self> {
        Self::compile(ctx, name, source, WriteOptions::default())
    }

    /// As [`TrustedBytecode::compile_module`], without line numbers and source positions:
    /// cheaper to load, for code whose stack frames nobody maps back to a source line
    /// (the embedded SDK).
    pub fn compile_module_without_debug_info(
        ctx: &Ctx<'_>,
        name: &str,
        source: &str,
    ) -> Result<Self> {
        let options = WriteOptions {
            strip_debug: true,
            strip_source: true,
            ..WriteOptions::default()
        };
        Self::compile(ctx, name, source, options)
    }

    fn compile(ctx: &Ctx<'_>, name: &str, source: &str, options: WriteOptions) -> Result<Self> {
        let module = Module::declare(ctx.clone(), name, source)?;
        let bytes = module.write(options)?;
        Ok(Self {
            bytes: bytes.into_boxed_slice(),
        })
    }

    /// Reads the module into `ctx`, declared but not evaluated, as `Module::declare` would.
    #[allow(unsafe_code)]
    pub fn load<'js>(&self, ctx: &Ctx<'js>) -> Result<Module<'js, Declared>> {
        // SAFETY: `Module::load` requires valid bytecode. `self.bytes` can only come from
        // `compile_module`, i.e. from `JS_WriteObject` of a module, in native endianness, by
        // the QuickJS that is statically linked into this very binary (so the bytecode
        // format and opcode numbering are the ones the reader expects). The bytes are
        // private and immutable, never read from outside the process and never persisted,
        // so nothing else can reach the reader. QuickJS copies what it reads (ROM data is
        // unused in quickjs-ng), so the module does not borrow `self.bytes`.
        unsafe { Module::load(ctx.clone(), &self.bytes) }
    }

    /// Size of the bytecode, for diagnostics.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the bytecode is empty (it never is for a compiled module).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl std::fmt::Debug for TrustedBytecode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrustedBytecode({} bytes)", self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Runtime};

    #[test]
    fn a_compiled_module_loads_and_runs_in_another_context() {
        let rt = Runtime::new().unwrap();
        let bytecode = Context::full(&rt)
            .unwrap()
            .with(|ctx| TrustedBytecode::compile_module(&ctx, "m", "export const x = 6 * 7;"))
            .unwrap();
        assert!(!bytecode.is_empty());
        let x: i32 = Context::full(&rt)
            .unwrap()
            .with(|ctx| {
                let (module, promise) = bytecode.load(&ctx)?.eval()?;
                promise.finish::<()>()?;
                module.get("x")
            })
            .unwrap();
        assert_eq!(x, 42);
    }

    #[test]
    fn a_syntax_error_fails_to_compile() {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        ctx.with(|ctx| {
            assert!(TrustedBytecode::compile_module(&ctx, "m", "export const = ;").is_err())
        });
    }
}
