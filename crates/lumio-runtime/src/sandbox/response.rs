//! The JavaScript side of `ctx.fetch`, built natively: the request read from `(url, init)`
//! and the `Response` a fetch resolves to (`status`, `ok`, `headers.get`, `text()`,
//! `json()`), so no fetch glue has to be parsed in each fresh context.

use std::rc::Rc;

use rquickjs::convert::Coerced;
use rquickjs::{Ctx, Function, Object, Promise, Result, Value};

use crate::fetch::{FetchRequest, FetchResponse};

/// Reads `ctx.fetch(url, { method, headers, body })` as `fetch` in browsers would.
pub fn request<'js>(url: &Value<'js>, init: Option<&Value<'js>>) -> Result<FetchRequest> {
    let options = init.and_then(Value::as_object);
    let field = |name: &str| -> Result<Option<Value<'js>>> {
        let value = match options {
            Some(options) => options.get::<_, Value>(name)?,
            None => return Ok(None),
        };
        Ok((!value.is_undefined()).then_some(value))
    };
    let mut headers = Vec::new();
    if let Some(given) = field("headers")?.as_ref().and_then(Value::as_object) {
        for entry in given.props::<String, Coerced<String>>() {
            let (name, value) = entry?;
            headers.push((name, value.0));
        }
    }
    let method = match field("method")? {
        Some(method) => method.get::<Coerced<String>>()?.0,
        None => "GET".to_owned(),
    };
    if !is_sendable_method(&method) {
        // The method may hold a secret's value: the message does not repeat it.
        let ctx = url.ctx();
        return Err(rquickjs::Exception::throw_type(
            ctx,
            "ctx.fetch: the method is not a valid HTTP method (a token of letters, digits and !#$%&'*+-.^_`|~; CONNECT, TRACE and TRACK are not allowed); use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS",
        ));
    }
    let body = match field("body")? {
        Some(body) if !body.is_null() => Some(body.get::<Coerced<String>>()?.0),
        _ => None,
    };
    Ok(FetchRequest {
        url: url.get::<Coerced<String>>()?.0,
        method,
        headers,
        body,
    })
}

/// Whether `method` may be sent: an RFC 9110 token (anything else would break the
/// request line), and not one of the methods the Fetch standard forbids.
fn is_sendable_method(method: &str) -> bool {
    let token = !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    let forbidden = ["CONNECT", "TRACE", "TRACK"]
        .iter()
        .any(|f| method.eq_ignore_ascii_case(f));
    token && !forbidden
}

/// The object a fetch resolves to. The body stays in Rust until `text()` or `json()`.
pub fn response<'js>(ctx: &Ctx<'js>, response: FetchResponse) -> Result<Object<'js>> {
    let obj = Object::new(ctx.clone())?;
    obj.set("status", response.status)?;
    obj.set("statusText", response.status_text)?;
    obj.set("ok", (200..300).contains(&response.status))?;
    obj.set("url", response.url)?;
    obj.set("headers", headers(ctx, response.headers)?)?;
    let body: Rc<str> = response.body.into();
    let text = body.clone();
    let text = move |ctx: Ctx<'js>| {
        settled(
            &ctx,
            Ok(rquickjs::String::from_str(ctx.clone(), &text)?.into()),
        )
    };
    obj.set("text", Function::new(ctx.clone(), text)?.with_name("text")?)?;
    let json = move |ctx: Ctx<'js>| {
        let parsed = ctx.json_parse(body.as_bytes());
        settled(&ctx, parsed)
    };
    obj.set("json", Function::new(ctx.clone(), json)?.with_name("json")?)?;
    Ok(obj)
}

/// `headers` of a response: case-insensitive `get`, `has` and `forEach`.
fn headers<'js>(ctx: &Ctx<'js>, pairs: Vec<(String, String)>) -> Result<Object<'js>> {
    let entries: Rc<[(String, String)]> = pairs
        .into_iter()
        .map(|(name, value)| (name.to_lowercase(), value))
        .collect();
    let obj = Object::new(ctx.clone())?;
    let all = entries.clone();
    let get = move |name: Coerced<String>| lookup(&all, &name.0);
    obj.set("get", Function::new(ctx.clone(), get)?.with_name("get")?)?;
    let all = entries.clone();
    let has = move |name: Coerced<String>| lookup(&all, &name.0).is_some();
    obj.set("has", Function::new(ctx.clone(), has)?.with_name("has")?)?;
    let for_each = move |callback: Function<'js>| -> Result<()> {
        for (name, value) in entries.iter() {
            callback.call::<_, ()>((value.as_str(), name.as_str()))?;
        }
        Ok(())
    };
    obj.set(
        "forEach",
        Function::new(ctx.clone(), for_each)?.with_name("forEach")?,
    )?;
    Ok(obj)
}

/// The values of header `name`, joined with `, ` as `Headers.get` does.
fn lookup(entries: &[(String, String)], name: &str) -> Option<String> {
    let wanted = name.to_lowercase();
    let values: Vec<&str> = entries
        .iter()
        .filter(|(n, _)| *n == wanted)
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// A promise already settled with `outcome`: a thrown exception becomes the rejection,
/// as in an `async` method.
pub fn settled<'js>(ctx: &Ctx<'js>, outcome: Result<Value<'js>>) -> Result<Promise<'js>> {
    let (promise, resolve, reject) = ctx.promise()?;
    match outcome {
        Ok(value) => resolve.call::<_, ()>((value,))?,
        Err(error) if error.is_exception() => reject.call::<_, ()>((ctx.catch(),))?,
        Err(error) => return Err(error),
    }
    Ok(promise)
}
