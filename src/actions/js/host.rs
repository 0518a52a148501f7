//! The bridge between scripts and the typed api: the one native function scripts reach
//! (`__idpipe_host`), the api of the invocation running on this thread, and bytecode loading.
//! All of the JS runtime's `unsafe` lives here and in `alloc.rs`, each with its SAFETY reason.

#![allow(unsafe_code)]

use std::sync::Arc;

use rquickjs::{Ctx, Module};
use serde_json::{Value, json};

use super::super::dispatch::{self, DispatchError};
use super::FetchPolicy;
use crate::pipeline::{PostChallengeApi, PostLoginApi};

/// The api of the invocation running on this thread, reachable from the host function.
/// Lifetimes are erased (`()`): the pointer is only used while the borrow it came from lives.
pub(super) enum CurrentApi {
    PostLogin(*mut ()),
    PostChallenge(*mut ()),
}

struct Current {
    api: CurrentApi,
    fetch: Arc<FetchPolicy>,
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Current>> = const { std::cell::RefCell::new(None) };
}

/// Clears the thread's current api when the invocation ends, however it ends.
pub(super) struct CurrentGuard;

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().take());
    }
}

/// The single native function scripts reach: `__idpipe_host(method, argsJson) -> answerJson`.
pub(super) fn host_call(method: String, args_json: String) -> String {
    let args: Vec<Value> = serde_json::from_str(&args_json).unwrap_or_default();
    let answer = CURRENT.with(|c| {
        let mut slot = c.borrow_mut();
        let Some(cur) = slot.as_mut() else {
            return Err("the api can only be used while the action runs".to_string());
        };
        // SAFETY: the pointer was taken from a `&mut` api that outlives the invocation, and the
        // guard clears it before that borrow ends. Scripts run synchronously on this thread.
        let core = unsafe {
            match cur.api {
                CurrentApi::PostLogin(p) => &mut (*(p as *mut PostLoginApi<'_>)).core,
                CurrentApi::PostChallenge(p) => &mut (*(p as *mut PostChallengeApi<'_>)).core,
            }
        };
        if let Some(level) = method.strip_prefix("console.") {
            let text = args.first().and_then(Value::as_str).unwrap_or_default();
            let text = core.log(level, text);
            tracing::info!(action = %core.trace.action, level, message = %text, "action console");
            return Ok(Value::Null);
        }
        if method == "fetch" {
            let url = args.first().and_then(Value::as_str).unwrap_or_default().to_string();
            let init = args.get(1).cloned().unwrap_or(Value::Null);
            let result = cur.fetch.fetch(&url, &init, core.deadline());
            let shown = json!({"url": url, "method": init.get("method").cloned().unwrap_or(Value::from("GET"))});
            match &result {
                Ok(r) => core.record("fetch", vec![shown, json!({"status": r["status"]})]),
                Err(e) => {
                    core.trace.commands.push(crate::pipeline::command::Command {
                        method: "fetch".into(),
                        args: vec![shown],
                        error: Some(e.clone()),
                    });
                }
            }
            return result;
        }
        // SAFETY: as above.
        let r = unsafe {
            match cur.api {
                CurrentApi::PostLogin(p) => dispatch::post_login(&mut *(p as *mut PostLoginApi<'_>), &method, &args),
                CurrentApi::PostChallenge(p) => dispatch::post_challenge(&mut *(p as *mut PostChallengeApi<'_>), &method, &args),
            }
        };
        r.map_err(|e: DispatchError| e.to_string())
    });
    // Written by hand: this runs for every api call of every login.
    match answer {
        Ok(v) => format!("{{\"value\":{v}}}"),
        Err(e) => format!("{{\"error\":{}}}", Value::from(e)),
    }
}

/// Makes `api` the current invocation's api on this thread until the guard is dropped.
pub(super) fn enter(api: CurrentApi, fetch: Arc<FetchPolicy>) -> CurrentGuard {
    CURRENT.with(|c| *c.borrow_mut() = Some(Current { api, fetch }));
    CurrentGuard
}

/// Loads module bytecode made by [`Module::write`] at start-up.
pub(super) fn load_module<'js>(ctx: &Ctx<'js>, bytecode: &[u8]) -> rquickjs::Result<Module<'js, rquickjs::module::Declared>> {
    // SAFETY: the bytes were produced by `Module::write` of this same QuickJS build in this
    // process (the prelude, the warm-up and each action are compiled at start-up).
    unsafe { Module::load(ctx.clone(), bytecode) }
}
