//! `console`, `btoa` and `atob` as native functions: a fresh context gets them without
//! parsing or loading any JavaScript.

use std::rc::Rc;

use base64::Engine as _;
use rquickjs::convert::Coerced;
use rquickjs::function::Rest;
use rquickjs::{Ctx, Exception, Function, Object, Result, Value};

use super::current::Current;
use crate::invocation::LogLevel;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Defines `console`, `btoa` and `atob` on the global object.
pub fn install<'js>(ctx: &Ctx<'js>, current: &Rc<Current>) -> Result<()> {
    let console = Object::new(ctx.clone())?;
    for (name, level) in [
        ("log", LogLevel::Info),
        ("info", LogLevel::Info),
        ("debug", LogLevel::Debug),
        ("warn", LogLevel::Warn),
        ("error", LogLevel::Error),
    ] {
        let now = current.clone();
        let write = move |ctx: Ctx<'js>, args: Rest<Value<'js>>| -> Result<()> {
            let state = now.state(&ctx)?;
            let mut line = String::new();
            for (i, value) in args.0.iter().enumerate() {
                if i > 0 {
                    line.push(' ');
                }
                line.push_str(&format(&ctx, value)?);
            }
            state.log(level, line);
            Ok(())
        };
        console.set(name, Function::new(ctx.clone(), write)?.with_name(name)?)?;
    }
    let globals = ctx.globals();
    globals.set("console", console)?;
    globals.set("btoa", Function::new(ctx.clone(), btoa)?.with_name("btoa")?)?;
    globals.set("atob", Function::new(ctx.clone(), atob)?.with_name("atob")?)?;
    Ok(())
}

/// One console argument as text: strings as they are, errors with their stack, other
/// objects as JSON (or `String(value)` if they cannot be), the rest as `String(value)`.
fn format<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Result<String> {
    if let Some(text) = value.as_string() {
        return text.to_string();
    }
    if value.is_error() {
        let text = to_string(value)?;
        let stack: Value = value.get::<Object>()?.get("stack")?;
        if !stack.get::<Coerced<bool>>()?.0 {
            return Ok(text);
        }
        return Ok(format!("{text}\n{}", to_string(&stack)?));
    }
    if value.is_object() && !value.is_function() {
        return match ctx.json_stringify(value.clone()) {
            // `JSON.stringify` gave `undefined`, which `join` turns into nothing.
            Ok(None) => Ok(String::new()),
            Ok(Some(json)) => json.to_string(),
            Err(error) if error.is_exception() => {
                let _ = ctx.catch();
                to_string(value)
            }
            Err(error) => Err(error),
        };
    }
    to_string(value)
}

/// `String(value)`, which (unlike the `ToString` operation) also accepts symbols.
fn to_string(value: &Value<'_>) -> Result<String> {
    if let Some(symbol) = value.as_symbol() {
        let description = symbol.description()?;
        let description = match description.as_string() {
            Some(text) => text.to_string()?,
            None => String::new(),
        };
        return Ok(format!("Symbol({description})"));
    }
    Ok(value.get::<Coerced<String>>()?.0)
}

/// `btoa` as in browsers: a Latin-1 string in, base64 out.
fn btoa(ctx: Ctx<'_>, input: Coerced<String>) -> Result<String> {
    let mut bytes = Vec::with_capacity(input.0.len());
    for ch in input.0.chars() {
        let Ok(byte) = u8::try_from(u32::from(ch)) else {
            return Err(Exception::throw_message(
                &ctx,
                "btoa: the string has characters outside Latin-1",
            ));
        };
        bytes.push(byte);
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// `atob` as in browsers, leniently: whitespace and `=` are ignored anywhere, and
/// incomplete trailing bits are dropped. Latin-1 string out.
fn atob(ctx: Ctx<'_>, input: Coerced<String>) -> Result<String> {
    let mut out = String::new();
    let mut bits = 0u32;
    let mut value = 0u32;
    for ch in input.0.chars().filter(|&c| c != '=' && !is_js_space(c)) {
        let Some(index) = ALPHABET.iter().position(|&a| char::from(a) == ch) else {
            return Err(Exception::throw_message(
                &ctx,
                "atob: the string is not valid base64",
            ));
        };
        // Only the last 14 bits are ever read.
        value = ((value << 6) | index as u32) & 0x3fff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(char::from(((value >> bits) & 255) as u8));
        }
    }
    Ok(out)
}

/// JavaScript's `\s`: what a regular expression counts as white space.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(script: &str) -> String {
        let rt = rquickjs::Runtime::new().unwrap();
        let context = rquickjs::Context::full(&rt).unwrap();
        context.with(|ctx| {
            let globals = ctx.globals();
            globals
                .set("b64", Function::new(ctx.clone(), btoa))
                .unwrap();
            globals
                .set("unb64", Function::new(ctx.clone(), atob))
                .unwrap();
            ctx.eval::<String, _>(script).unwrap()
        })
    }

    #[test]
    fn btoa_and_atob_work_on_latin1_like_browsers() {
        assert_eq!(eval("b64('user:p\\u00e4ss')"), "dXNlcjpw5HNz");
        assert_eq!(eval("b64('ab')"), "YWI=");
        assert_eq!(eval("unb64(' dXNl\\ncjpw5HNz ')"), "user:p\u{e4}ss");
        assert_eq!(eval("unb64('YWI=')"), "ab");
        assert_eq!(
            eval("try { b64('\\u20ac'); 'no' } catch (e) { e.message }"),
            "btoa: the string has characters outside Latin-1"
        );
        assert_eq!(
            eval("try { unb64('a*b'); 'no' } catch (e) { e.message }"),
            "atob: the string is not valid base64"
        );
    }
}
