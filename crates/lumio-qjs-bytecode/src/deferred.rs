//! Contexts whose larger intrinsics are built on first use.
//!
//! Building a context's intrinsics is most of what a fresh QuickJS context costs, and
//! most actions never touch `Map`, `Date` or a typed array. [`new_context`] builds the
//! [`Eager`] set at once and, for each group in [`GROUPS`], puts a configurable accessor
//! on the global object under each name the group defines. The first read or write of
//! any of them removes the group's accessors and builds the real intrinsic in their
//! place, so the action sees the standard objects, just later.

use std::cell::Cell;
use std::rc::Rc;

use rquickjs::context::intrinsic::{
    Date, Eval, Json, MapSet, Promise, Proxy, RegExp, RegExpCompiler, TypedArrays, WeakRef,
};
use rquickjs::context::Intrinsic;
use rquickjs::object::Accessor;
use rquickjs::{Context, Ctx, Exception, Result, Runtime, Value};

/// Built with every context: the compiler (deploys compile in the same kind of context),
/// what bytecode and `async` functions need at load time, and the small rest.
pub type Eager = (Eval, RegExpCompiler, RegExp, Json, Proxy, Promise, WeakRef);

/// One intrinsic built on first use, and every global name it defines.
pub struct Group {
    pub names: &'static [&'static str],
    build: fn(&Ctx<'_>),
}

/// The intrinsics built on first use. `names` must be exactly the globals each defines
/// (a unit test compares them with what QuickJS defines).
pub const GROUPS: &[Group] = &[
    Group {
        names: &["Date"],
        build: build_now::<Date>,
    },
    Group {
        names: &["Map", "Set", "WeakMap", "WeakSet"],
        build: build_now::<MapSet>,
    },
    Group {
        names: &[
            "ArrayBuffer",
            "SharedArrayBuffer",
            "Uint8ClampedArray",
            "Int8Array",
            "Uint8Array",
            "Int16Array",
            "Uint16Array",
            "Int32Array",
            "Uint32Array",
            "BigInt64Array",
            "BigUint64Array",
            "Float16Array",
            "Float32Array",
            "Float64Array",
            "DataView",
            "Atomics",
        ],
        build: build_now::<TypedArrays>,
    },
];

/// A context with the [`Eager`] intrinsics built and every [`GROUPS`] entry deferred.
pub fn new_context(rt: &Runtime) -> Result<Context> {
    let context = Context::custom::<Eager>(rt)?;
    context.with(|ctx| defer_groups(&ctx))?;
    Ok(context)
}

fn defer_groups<'js>(ctx: &Ctx<'js>) -> Result<()> {
    let globals = ctx.globals();
    for group in GROUPS {
        let built = Rc::new(Cell::new(false));
        for &name in group.names {
            let (get_built, set_built) = (built.clone(), built.clone());
            let get = move |ctx: Ctx<'js>| -> Result<Value<'js>> {
                build_once(&ctx, group, &get_built)?;
                ctx.globals().get(name)
            };
            let set = move |ctx: Ctx<'js>, value: Value<'js>| -> Result<()> {
                build_once(&ctx, group, &set_built)?;
                ctx.globals().set(name, value)
            };
            globals.prop(name, Accessor::new(get, set).configurable())?;
        }
    }
    Ok(())
}

/// Builds `group` in this context unless it was built already.
fn build_once(ctx: &Ctx<'_>, group: &Group, built: &Cell<bool>) -> Result<()> {
    if built.replace(true) {
        return Ok(());
    }
    let globals = ctx.globals();
    for &name in group.names {
        // Throws if the action made the name non-configurable; QuickJS must never find
        // one of the names it is about to define already there.
        globals.remove(name)?;
    }
    for &name in group.names {
        if globals.contains_key(name)? {
            return Err(Exception::throw_type(
                ctx,
                &format!("{name} was redefined before its first use"),
            ));
        }
    }
    (group.build)(ctx);
    for &name in group.names {
        let value: Value = globals.get(name)?;
        if value.is_undefined() {
            // QuickJS stops building when an allocation fails.
            return Err(Exception::throw_internal(
                ctx,
                &format!("out of memory while building {name}"),
            ));
        }
    }
    Ok(())
}

/// Adds intrinsic `I` to the context of `ctx`.
#[allow(unsafe_code)]
fn build_now<I: Intrinsic>(ctx: &Ctx<'_>) {
    // SAFETY: `ctx` borrows a live context, and we run on the thread that holds its
    // runtime (any `Ctx` implies that). `build_once`, the only caller, runs this at most
    // once per group and context, after removing every global name the group defines,
    // so QuickJS finds none of them (its autoinit of `Atomics` requires that). The
    // `JS_AddIntrinsic*` functions only create new objects, set the group's own class
    // prototypes (still unset in a context made without the group) and define its
    // globals; a failed allocation leaves an exception pending, which the caller turns
    // into an error.
    unsafe { I::add_intrinsic(ctx.as_raw()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{FromJs, Object};

    fn own_names(ctx: &Ctx<'_>) -> Vec<String> {
        let names: Object = ctx.eval("Object.getOwnPropertyNames(globalThis)").unwrap();
        let mut names: Vec<String> = names
            .as_array()
            .unwrap()
            .iter::<String>()
            .map(|n| n.unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn each_group_lists_exactly_the_names_its_intrinsic_defines() {
        let rt = Runtime::new().unwrap();
        let base = Context::custom::<Eval>(&rt)
            .unwrap()
            .with(|ctx| own_names(&ctx));
        let defined = |full: Vec<String>| -> Vec<String> {
            full.into_iter().filter(|n| !base.contains(n)).collect()
        };
        let expect = |names: &[&str]| {
            let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            names.sort();
            names
        };
        let date = Context::custom::<(Eval, Date)>(&rt)
            .unwrap()
            .with(|c| own_names(&c));
        let map_set = Context::custom::<(Eval, MapSet)>(&rt)
            .unwrap()
            .with(|c| own_names(&c));
        let typed = Context::custom::<(Eval, TypedArrays)>(&rt)
            .unwrap()
            .with(|c| own_names(&c));
        assert_eq!(defined(date), expect(GROUPS[0].names));
        assert_eq!(defined(map_set), expect(GROUPS[1].names));
        assert_eq!(defined(typed), expect(GROUPS[2].names));
    }

    fn eval<T: for<'js> rquickjs::FromJs<'js>>(context: &Context, js: &str) -> T {
        context.with(|ctx| ctx.eval::<T, _>(js)).unwrap()
    }

    #[test]
    fn a_deferred_intrinsic_works_from_its_first_use() {
        let rt = Runtime::new().unwrap();
        let context = new_context(&rt).unwrap();
        let js = "const m = new Map([[1, 'a']]); const s = new WeakSet(); \
                  `${m.get(1)} ${new Set([1, 1, 2]).size} ${s instanceof WeakSet} \
                  ${new Uint8Array([1, 2]).length} ${typeof Atomics.add} \
                  ${new Date(0).toISOString()} ${typeof DataView}`";
        let text: String = eval(&context, js);
        assert_eq!(
            text,
            "a 2 true 2 function 1970-01-01T00:00:00.000Z function"
        );
    }

    #[test]
    fn after_the_first_use_the_globals_are_plain_data_properties() {
        let rt = Runtime::new().unwrap();
        let context = new_context(&rt).unwrap();
        let before: bool = eval(
            &context,
            "typeof Object.getOwnPropertyDescriptor(globalThis, 'Set').get === 'function'",
        );
        assert!(before);
        let after: bool = eval(
            &context,
            "void Map; const d = Object.getOwnPropertyDescriptor(globalThis, 'Set'); \
             d.writable && d.configurable && !d.enumerable && d.value === Set && 'value' in d",
        );
        assert!(after);
    }

    #[test]
    fn assigning_a_deferred_name_builds_the_group_and_keeps_the_value() {
        let rt = Runtime::new().unwrap();
        let context = new_context(&rt).unwrap();
        let text: String = eval(
            &context,
            "globalThis.Map = 7; `${Map} ${typeof Set} ${typeof WeakMap}`",
        );
        assert_eq!(text, "7 function function");
    }

    #[test]
    fn a_name_made_non_configurable_first_is_refused_not_overwritten() {
        let rt = Runtime::new().unwrap();
        let context = new_context(&rt).unwrap();
        let text: String = eval(
            &context,
            "Object.defineProperty(globalThis, 'Map', { value: 1, configurable: false }); \
             let r; try { new Set(); r = 'built'; } catch (e) { r = e.name; } `${r} ${Map}`",
        );
        assert_eq!(text, "TypeError 1");
    }

    #[test]
    fn a_captured_getter_called_later_still_answers() {
        let rt = Runtime::new().unwrap();
        let context = new_context(&rt).unwrap();
        let same: bool = eval(
            &context,
            "const g = Object.getOwnPropertyDescriptor(globalThis, 'Date').get; \
             const D = Date; g.call({}) === D && g() === Date",
        );
        assert!(same);
    }

    #[test]
    fn each_context_builds_its_own_groups() {
        let rt = Runtime::new().unwrap();
        let first = new_context(&rt).unwrap();
        let second = new_context(&rt).unwrap();
        let _: bool = eval(&first, "Map.prototype.polluted = true; true");
        let clean: bool = eval(&second, "new Map().polluted === undefined");
        assert!(clean);
    }

    #[test]
    fn a_context_without_deferred_use_collects_cleanly() {
        let rt = Runtime::new().unwrap();
        for _ in 0..50 {
            let context = new_context(&rt).unwrap();
            let _: i32 = eval(&context, "1 + 1");
            drop(context);
            rt.run_gc();
        }
        let context = new_context(&rt).unwrap();
        let ok: i32 = eval(&context, "new Map([[1, 2]]).get(1)");
        assert_eq!(ok, 2);
    }

    #[test]
    fn out_of_memory_while_building_is_an_error_not_a_crash() {
        let rt = Runtime::new().unwrap();
        let context = new_context(&rt).unwrap();
        let _: () = eval(&context, "globalThis.f = () => new Uint8Array(4).length");
        rt.run_gc();
        rt.set_memory_limit(rt.memory_usage().malloc_size as usize + 2048);
        let thrown = context.with(|ctx| {
            let result = ctx.eval::<i32, _>("f()");
            assert!(result.is_err());
            let thrown = ctx.catch();
            rquickjs::Coerced::<String>::from_js(&ctx, thrown).map(|s| s.0)
        });
        rt.set_memory_limit(0);
        let thrown = thrown.unwrap_or_default();
        assert!(
            thrown.contains("out of memory"),
            "unexpected error: {thrown}"
        );
    }
}
