//! The native side of `ctx.secrets.get` and `ctx.fetch`, and the `ctx` object a handler
//! gets. All native: a fresh context parses no glue code.

use std::rc::Rc;
use std::sync::atomic::Ordering;

use lumio_core::SecretName;
use rquickjs::function::Opt;
use rquickjs::{Ctx, Exception, Function, IntoJs, Object, Persistent, Result, Value};

use super::current::Current;
use super::denied::{Denial, MAX_DENIED_NAMES};
use super::globals;
use super::response;
use super::state::{FetchDone, FetchFailure, InvocationState, Wake};
use super::timers;
use crate::egress::Blocked;
use crate::fetch::{FetchError, FetchRequest};
use crate::host::HostError;
use crate::worker::Event;

/// Installs `console`, `btoa`, `atob` and the timers: once per warm context.
pub fn install_globals(ctx: &Ctx<'_>, current: &Rc<Current>) -> Result<()> {
    globals::install(ctx, current)?;
    timers::install(ctx, current)
}

/// A new `ctx` for one invocation's handler. Its functions act for whichever invocation
/// is running when they are called (see [`Current`]).
pub fn ctx_object<'js>(ctx: &Ctx<'js>, current: &Rc<Current>) -> Result<Object<'js>> {
    let now = current.clone();
    let get = move |ctx: Ctx<'js>, name: Value<'js>| {
        let state = now.state(&ctx)?;
        match name.as_string() {
            Some(name) => secret_get(&ctx, &state, &name.to_string()?),
            None => Err(Exception::throw_type(
                &ctx,
                "ctx.secrets.get(name) takes the secret's name as a string",
            )),
        }
    };
    let secrets = Object::new(ctx.clone())?;
    secrets.set("get", Function::new(ctx.clone(), get)?.with_name("get")?)?;

    let now = current.clone();
    let fetch = move |ctx: Ctx<'js>, url: Value<'js>, init: Opt<Value<'js>>| {
        let state = now.state(&ctx)?;
        // Like an `async` function: a bad argument rejects rather than throws.
        match response::request(&url, init.0.as_ref()) {
            Ok(request) => start_fetch(&ctx, &state, request),
            Err(error) => response::settled(&ctx, Err(error))?.into_js(&ctx),
        }
    };
    let js_ctx = Object::new(ctx.clone())?;
    js_ctx.set("secrets", secrets)?;
    js_ctx.set(
        "fetch",
        Function::new(ctx.clone(), fetch)?.with_name("fetch")?,
    )?;
    Ok(js_ctx)
}

/// Throws a JS `Error` with a `code` the runtime maps to an [`crate::ErrorCode`], and
/// remembers it as the platform's: a script setting the same `code` on its own error
/// gets `action_error`, since only the platform reports platform failures.
pub fn throw_coded(
    ctx: &Ctx<'_>,
    state: &InvocationState,
    code: &str,
    message: &str,
) -> rquickjs::Error {
    state.platform_error(code, message, None);
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
        return Err(throw_coded(ctx, state, "limit_exceeded", &message));
    }
    state.gets.set(gets + 1);
    let name = SecretName::parse(name).map_err(|e| Exception::throw_type(ctx, &e.to_string()))?;
    if !state.grants.allows(&name) {
        return Err(deny(ctx, state, &name));
    }
    match state.host.secret_get(&name) {
        Ok(value) => {
            state.count_read(&name, value.is_some());
            match value {
                Some(current) => {
                    state.value_read.set(true);
                    state.remember(&name, &current);
                    rquickjs::String::from_str(ctx.clone(), current.value.expose())?.into_js(ctx)
                }
                None => Ok(Value::new_null(ctx.clone())),
            }
        }
        Err(HostError::AuditUnavailable(err)) => Err(throw_coded(
            ctx,
            state,
            "audit_unavailable",
            &err.to_string(),
        )),
        // Not the action's fault: the caller gets 503 `unavailable`, and may retry.
        Err(HostError::Unavailable(_)) => Err(throw_coded(
            ctx,
            state,
            "unavailable",
            &format!("ctx.secrets.get({name}) could not reach the secret store; try again shortly"),
        )),
    }
}

/// Refuses a read outside the action's grants: counts it for the invocation's
/// `secret.denied` records and throws an error naming the name and the grants, no value.
/// Past the limit of distinct refused names, the error is `limit_exceeded`.
fn deny(ctx: &Ctx<'_>, state: &InvocationState, name: &SecretName) -> rquickjs::Error {
    if state.denied.borrow_mut().count(name) == Denial::OverLimit {
        // One message for every name: the platform's own errors are remembered by text.
        let message = format!(
            "ctx.secrets.get was denied for more than {MAX_DENIED_NAMES} names outside action {}'s secrets: [...] in one invocation; read only the names it declares",
            state.grants.action
        );
        return throw_coded(ctx, state, "limit_exceeded", &message);
    }
    let grants = state.grants.names.as_deref().unwrap_or_default();
    let list = if grants.is_empty() {
        "no secrets (secrets: [])".to_owned()
    } else {
        grants
            .iter()
            .map(SecretName::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let message = format!(
        "ctx.secrets.get(\"{name}\") was denied: action {} may read only {list}; add \"{name}\" to its secrets: [...] and deploy again",
        state.grants.action
    );
    throw_coded(ctx, state, "secret_denied", &message)
}

fn start_fetch<'js>(
    ctx: &Ctx<'js>,
    state: &Rc<InvocationState>,
    request: FetchRequest,
) -> Result<Value<'js>> {
    // The records of every read so far must be committed before a value can leave.
    if let Err(err) = state.record_reads() {
        let thrown = throw_coded(ctx, state, "audit_unavailable", &err.to_string());
        return response::settled(ctx, Err(thrown))?.into_js(ctx);
    }
    let (promise, resolve, reject) = ctx.promise()?;
    let id = state.next_fetch_id();
    let durable_up_to = if state.value_read.get() {
        state.last_ticket.get()
    } else {
        None
    };
    let host = state.host.clone();
    let egress = state.egress_guard();
    let fetcher = state.services.fetcher.clone();
    let waker = state.waker.clone();
    let ended = state.ended.clone();
    let task = state.services.tokio.spawn(async move {
        let result = async {
            if let Some(ticket) = durable_up_to {
                host.audit_durable(ticket)
                    .await
                    .map_err(|e| FetchFailure::Audit(e.to_string()))?;
            }
            if ended.load(Ordering::Acquire) {
                return Err(FetchFailure::Fetch(FetchError::Failed(
                    "the invocation ended before the request was sent".into(),
                )));
            }
            fetcher
                .fetch(request, egress)
                .await
                .map_err(FetchFailure::Fetch)
        }
        .await;
        // The worker may have ended the invocation meanwhile; then nobody listens.
        let _ = waker.tx.send(Event::Wake(Wake {
            slot: waker.slot,
            done: FetchDone { id, result },
        }));
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

/// The next step after a fetch refused for its destination's address or scheme.
const PRIVATE_ADDRESS_HINT: &str = "ctx.fetch reaches only public http(s) addresses; a \
     server on this machine or network needs `lumio server --allow-private-fetch` \
     (development only)";
/// The next step after a fetch refused by a secret's egress binding (not the address hint:
/// the host may be public and still not allowed).
const EGRESS_HINT: &str = "send the secret only to the hosts its binding allows, or change \
     them with `lumio env bind NAME --allow-host HOST`";
/// The next step after a fetch the action did not catch.
const FETCH_FAILED_HINT: &str = "the action did not catch this ctx.fetch error; check the \
     host and that it is up, or catch the error in the action";

/// Queues the `egress.blocked` record of a refused fetch; later egress waits for it too.
fn record_blocked(state: &InvocationState, blocked: &Blocked) {
    match state
        .host
        .record_egress_blocked(&blocked.secret, &blocked.host)
    {
        Ok(ticket) => state.note_ticket(ticket),
        // Refused either way; nothing was sent.
        Err(err) => {
            tracing::warn!(secret = %blocked.secret, error = %err, "an egress.blocked record could not be queued")
        }
    }
}

/// Settles the JS promise of a finished fetch. Returns false if the fetch was unknown.
pub fn finish_fetch<'js>(ctx: &Ctx<'js>, state: &InvocationState, done: FetchDone) -> Result<bool> {
    let Some(((resolve, reject), _)) = state.pending.borrow_mut().remove(&done.id) else {
        return Ok(false);
    };
    let resolve = resolve.restore(ctx)?;
    let reject = reject.restore(ctx)?;
    match done.result {
        Ok(response) => resolve.call::<_, ()>((response::response(ctx, response)?,))?,
        Err(failure) => {
            let (code, message, hint) = match failure {
                FetchFailure::Audit(message) => ("audit_unavailable", message, None),
                FetchFailure::Fetch(FetchError::Refused(message)) => {
                    ("fetch_refused", message, Some(PRIVATE_ADDRESS_HINT))
                }
                FetchFailure::Fetch(FetchError::Egress(blocked)) => {
                    record_blocked(state, &blocked);
                    ("fetch_refused", blocked.to_string(), Some(EGRESS_HINT))
                }
                FetchFailure::Fetch(FetchError::Failed(message)) => {
                    ("fetch_failed", message, Some(FETCH_FAILED_HINT))
                }
            };
            state.platform_error(code, &message, hint);
            let error = Exception::from_message(ctx.clone(), &message)?;
            error.as_object().set("code", code)?;
            reject.call::<_, ()>((error,))?;
        }
    }
    Ok(true)
}
