//! The native side of `ctx.secrets.get`, `ctx.fetch` and `console`, and the prelude that
//! wraps them into the objects a handler sees.

use std::rc::Rc;

use lumio_core::SecretName;
use lumio_qjs_bytecode::TrustedBytecode;
use rquickjs::{Ctx, Exception, Function, IntoJs, Object, Persistent, Result, Value};

use super::state::{FetchDone, FetchFailure, InvocationState};
use crate::fetch::{FetchError, FetchRequest, FetchResponse};
use crate::host::HostError;
use crate::invocation::LogLevel;

/// The prelude's source, an ES module; workers run its bytecode.
pub const PRELUDE_JS: &str = include_str!("prelude.js");

/// Module name of the prelude. Not importable: the resolver only knows uploaded files and
/// the SDK.
pub const PRELUDE_NAME: &str = "lumio:prelude";

/// Installs `console` and returns the prelude's `makeCtx()`.
pub fn install<'js>(
    ctx: &Ctx<'js>,
    prelude: &TrustedBytecode,
    state: &Rc<InvocationState>,
) -> Result<Function<'js>> {
    let native = Object::new(ctx.clone())?;

    let st = state.clone();
    native.set(
        "secretGet",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, name: String| {
            secret_get(&ctx, &st, &name)
        })?,
    )?;

    let st = state.clone();
    native.set(
        "log",
        Function::new(ctx.clone(), move |level: String, text: String| {
            let level = match level.as_str() {
                "debug" => LogLevel::Debug,
                "warn" => LogLevel::Warn,
                "error" => LogLevel::Error,
                _ => LogLevel::Info,
            };
            st.log(level, text);
        })?,
    )?;

    let st = state.clone();
    native.set(
        "fetch",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  url: String,
                  method: String,
                  headers: Vec<Vec<String>>,
                  body: Option<String>| {
                let headers = headers
                    .into_iter()
                    .filter_map(|pair| match <[String; 2]>::try_from(pair) {
                        Ok([name, value]) => Some((name, value)),
                        Err(_) => None,
                    })
                    .collect();
                start_fetch(
                    &ctx,
                    &st,
                    FetchRequest {
                        url,
                        method,
                        headers,
                        body,
                    },
                )
            },
        )?,
    )?;

    let (module, evaluated) = prelude.load(ctx)?.eval()?;
    evaluated.finish::<()>()?;
    let prelude: Function = module.get("default")?;
    prelude.call((native,))
}

/// Throws a JS `Error` with a `code` the runtime maps to an [`crate::ErrorCode`].
pub fn throw_coded(ctx: &Ctx<'_>, code: &str, message: &str) -> rquickjs::Error {
    match Exception::from_message(ctx.clone(), message) {
        Ok(error) => {
            let _ = error.as_object().set("code", code);
            error.throw()
        }
        Err(err) => err,
    }
}

fn secret_get<'js>(ctx: &Ctx<'js>, state: &InvocationState, name: &str) -> Result<Value<'js>> {
    let limit = state.services.limits.max_secret_gets;
    let gets = state.gets.get();
    if gets >= limit {
        let message = format!(
            "ctx.secrets.get was called more than {limit} times in one invocation; read each secret once and reuse the value"
        );
        return Err(throw_coded(ctx, "limit_exceeded", &message));
    }
    state.gets.set(gets + 1);
    let name = SecretName::parse(name).map_err(|e| Exception::throw_type(ctx, &e.to_string()))?;
    match state.host.secret_get(&name) {
        Ok((value, ticket)) => {
            state.last_ticket.set(Some(ticket));
            match value {
                Some(value) => {
                    state.value_read.set(true);
                    state.remember(&name, &value);
                    rquickjs::String::from_str(ctx.clone(), value.expose())?.into_js(ctx)
                }
                None => Ok(Value::new_null(ctx.clone())),
            }
        }
        Err(HostError::AuditUnavailable(err)) => {
            Err(throw_coded(ctx, "audit_unavailable", &err.to_string()))
        }
        Err(err) => Err(Exception::throw_message(
            ctx,
            &format!("ctx.secrets.get({name}) failed: {err}"),
        )),
    }
}

fn start_fetch<'js>(
    ctx: &Ctx<'js>,
    state: &Rc<InvocationState>,
    request: FetchRequest,
) -> Result<Value<'js>> {
    let (promise, resolve, reject) = ctx.promise()?;
    let id = state.next_fetch_id();
    // The records of every read so far must be committed before a value can leave.
    let durable_up_to = if state.value_read.get() {
        state.last_ticket.get()
    } else {
        None
    };
    let host = state.host.clone();
    let fetcher = state.services.fetcher.clone();
    let tx = state.done_tx.clone();
    let task = state.services.tokio.spawn(async move {
        let result = async {
            if let Some(ticket) = durable_up_to {
                host.audit_durable(ticket)
                    .await
                    .map_err(|e| FetchFailure::Audit(e.to_string()))?;
            }
            fetcher.fetch(request).await.map_err(FetchFailure::Fetch)
        }
        .await;
        let _ = tx.send(FetchDone { id, result });
    });
    let settlers = (
        Persistent::save(ctx, resolve),
        Persistent::save(ctx, reject),
    );
    state
        .pending
        .borrow_mut()
        .insert(id, (settlers, task.abort_handle()));
    promise.into_js(ctx)
}

/// Settles the JS promise of a finished fetch. Returns false if the fetch was unknown.
pub fn finish_fetch<'js>(ctx: &Ctx<'js>, state: &InvocationState, done: FetchDone) -> Result<bool> {
    let Some(((resolve, reject), _)) = state.pending.borrow_mut().remove(&done.id) else {
        return Ok(false);
    };
    let resolve = resolve.restore(ctx)?;
    let reject = reject.restore(ctx)?;
    match done.result {
        Ok(response) => resolve.call::<_, ()>((response_object(ctx, response)?,))?,
        Err(failure) => {
            let (code, message) = match failure {
                FetchFailure::Audit(message) => ("audit_unavailable", message),
                FetchFailure::Fetch(FetchError::Refused(message)) => ("fetch_refused", message),
                FetchFailure::Fetch(FetchError::Failed(message)) => ("fetch_failed", message),
            };
            let error = Exception::from_message(ctx.clone(), &message)?;
            error.as_object().set("code", code)?;
            reject.call::<_, ()>((error,))?;
        }
    }
    Ok(true)
}

fn response_object<'js>(ctx: &Ctx<'js>, response: FetchResponse) -> Result<Object<'js>> {
    let obj = Object::new(ctx.clone())?;
    obj.set("status", response.status)?;
    obj.set("statusText", response.status_text)?;
    obj.set("url", response.url)?;
    let headers: Vec<Vec<String>> = response
        .headers
        .into_iter()
        .map(|(k, v)| vec![k, v])
        .collect();
    obj.set("headers", headers)?;
    obj.set("body", response.body)?;
    Ok(obj)
}
