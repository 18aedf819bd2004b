//! The deploy-time probe: reads an exported `action({...})`'s definition once, from Rust.
//! A helper module of the upload runs before the action's own module and may replace any
//! global (`JSON.stringify`, `Array.prototype.*`, `Object.keys`, `Symbol.for`, …), so
//! nothing here calls a global at probe time: the grants (`secrets: [...]`) are read from
//! the object in Rust, and the marker symbol and `JSON.stringify` (for the argument
//! validators only) were captured before any module of the upload ran.
//!
//! A grants list that cannot be read as an array of strings is a deploy error, never
//! "every secret": only a definition without `secrets` (the SDK writes `null` for it)
//! grants everything.

use rquickjs::{Ctx, Function, Object, Value};

/// More names than any action needs; a longer list is refused rather than read.
const MAX_GRANTS: i32 = 1_000;

/// What the probe needs, captured in a fresh context before any module of the upload ran.
pub struct Probe<'js> {
    marker: Value<'js>,
    stringify: Function<'js>,
}

/// An exported action's definition as read at deploy.
pub struct Definition {
    /// `{"args": {...}}`, the argument validators as JSON.
    pub args_json: String,
    /// The declared grants: `Ok(None)` for none declared (every secret), `Err` with what to
    /// fix when the list cannot be read.
    pub grants: Result<Option<Vec<String>>, String>,
}

impl<'js> Probe<'js> {
    /// Captures the intrinsics; call before importing any module of the upload.
    pub fn capture(ctx: &Ctx<'js>) -> rquickjs::Result<Self> {
        Ok(Self {
            marker: ctx.eval("Symbol.for('lumio.action/v1')")?,
            stringify: ctx.eval("JSON.stringify")?,
        })
    }

    /// The definition of `value` if it is an action (`None`: any other export).
    pub fn read(&self, value: &Value<'js>) -> rquickjs::Result<Option<Definition>> {
        let Some(object) = value.as_object() else {
            return Ok(None);
        };
        let marked: Value = object.get(self.marker.clone())?;
        if marked.as_bool() != Some(true) {
            return Ok(None);
        }
        let args: Value = object.get("args")?;
        let args: Option<String> = self.stringify.call((args,))?;
        let args_json = match args {
            Some(args) => format!("{{\"args\":{args}}}"),
            None => "{}".to_owned(),
        };
        let secrets: Value = object.get("secrets")?;
        Ok(Some(Definition {
            args_json,
            grants: read_grants(&secrets),
        }))
    }
}

/// The names in a `secrets` value, read without calling any JavaScript but the
/// array's own element accessors.
fn read_grants<'js>(secrets: &Value<'js>) -> Result<Option<Vec<String>>, String> {
    const EXAMPLE: &str = "e.g. secrets: [\"STRIPE_KEY\"]";
    if secrets.is_undefined() || secrets.is_null() {
        return Ok(None);
    }
    let unreadable = || format!("its secrets must be a plain array of secret names, {EXAMPLE}");
    if !secrets.is_array() {
        return Err(unreadable());
    }
    let array: &Object = secrets.as_object().ok_or_else(unreadable)?;
    // A getter that throws leaves its exception pending: it is taken, and the list refused.
    let refused = |_| {
        let _ = secrets.ctx().catch();
        unreadable()
    };
    let length = array
        .get::<_, Value>("length")
        .map_err(refused)?
        .as_int()
        .ok_or_else(unreadable)?;
    if !(0..=MAX_GRANTS).contains(&length) {
        return Err(format!(
            "its secrets list has {length} entries; at most {MAX_GRANTS} are allowed"
        ));
    }
    let mut names = Vec::with_capacity(length as usize);
    for i in 0..length {
        let item: Value = array.get(i as u32).map_err(refused)?;
        match item.as_string().map(rquickjs::String::to_string) {
            Some(Ok(name)) => names.push(name),
            _ => {
                return Err(format!(
                "its secrets must be secret names (strings); entry {i} is not a string, {EXAMPLE}"
            ))
            }
        }
    }
    Ok(Some(names))
}
