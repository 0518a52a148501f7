//! The bridge between scripts and the typed api: the one native function scripts reach
//! (`__idpipe_host`). The api of the running invocation is lent to it by [`crate::ffi`] (the
//! crate's only `unsafe`).

use std::cell::RefCell;
use std::sync::Arc;

use serde_json::{Value, json};

use super::super::dispatch::{self, DispatchError};
use super::FetchPolicy;
use crate::ffi::{self, CurrentApi};

thread_local! {
    /// The fetch policy of the invocation running on this thread.
    static FETCH: RefCell<Option<Arc<FetchPolicy>>> = const { RefCell::new(None) };
}

/// Runs `run` with `api` lent to the host function and `fetch` as the invocation's policy.
pub(super) fn with_invocation<R>(api: CurrentApi<'_, '_>, fetch: Arc<FetchPolicy>, run: impl FnOnce() -> R) -> R {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            FETCH.with(|f| f.borrow_mut().take());
        }
    }
    FETCH.with(|f| *f.borrow_mut() = Some(fetch));
    let _clear = Clear;
    ffi::with_api(api, run)
}

/// The single native function scripts reach: `__idpipe_host(method, argsJson) -> answerJson`.
pub(super) fn host_call(method: String, args_json: String) -> String {
    let args: Vec<Value> = serde_json::from_str(&args_json).unwrap_or_default();
    let fetch = FETCH.with(|f| f.borrow().clone());
    let answer = ffi::current_api(|api| call(api, fetch, &method, &args))
        .unwrap_or_else(|| Err("the api can only be used while the action runs".to_string()));
    // Written by hand: this runs for every api call of every login.
    match answer {
        Ok(v) => format!("{{\"value\":{v}}}"),
        Err(e) => format!("{{\"error\":{}}}", Value::from(e)),
    }
}

fn call(mut api: CurrentApi<'_, '_>, fetch: Option<Arc<FetchPolicy>>, method: &str, args: &[Value]) -> Result<Value, String> {
    let core = match &mut api {
        CurrentApi::PostLogin(a) => &mut a.core,
        CurrentApi::PostChallenge(a) => &mut a.core,
        CurrentApi::SendPhoneMessage(a) => &mut a.core,
    };
    if let Some(level) = method.strip_prefix("console.") {
        let text = args.first().and_then(Value::as_str).unwrap_or_default();
        let text = core.log(level, text);
        tracing::info!(action = %core.trace.action, level, message = %text, "action console");
        return Ok(Value::Null);
    }
    if method == "fetch" {
        let Some(fetch) = fetch else {
            return Err("fetch is not available here".to_string());
        };
        let url = args.first().and_then(Value::as_str).unwrap_or_default().to_string();
        let init = args.get(1).cloned().unwrap_or(Value::Null);
        let result = fetch.fetch(&url, &init, core.deadline());
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
    let r = match api {
        CurrentApi::PostLogin(a) => dispatch::post_login(a, method, args),
        CurrentApi::PostChallenge(a) => dispatch::post_challenge(a, method, args),
        CurrentApi::SendPhoneMessage(a) => dispatch::send_phone_message(a, method, args),
    };
    r.map_err(|e: DispatchError| e.to_string())
}
