//! The bridge between scripts and the typed api: the one native function scripts reach
//! (`__idpipe_host`). The api of the running invocation is lent to it by [`crate::ffi`] (the
//! crate's only `unsafe`).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::super::dispatch::{self, DispatchError};
use super::FetchPolicy;
use crate::ffi::{self, CurrentApi};

thread_local! {
    /// The fetch policy of the invocation running on this thread.
    static FETCH: RefCell<Option<Arc<FetchPolicy>>> = const { RefCell::new(None) };
    /// The requests in flight of the invocation running on this thread.
    static IO: RefCell<Option<Arc<IoQueue>>> = const { RefCell::new(None) };
}

/// Requests one invocation may have in flight at once (each has a thread).
pub(super) const MAX_IN_FLIGHT: usize = 16;

/// Requests an invocation started (`fetch`), each on its own thread, and their answers: the
/// invocation's event loop waits on it together with its timers.
#[derive(Default)]
pub(super) struct IoQueue {
    done: Mutex<Vec<(u64, String)>>,
    ready: Condvar,
    next_id: AtomicU64,
    in_flight: AtomicUsize,
}

impl IoQueue {
    /// Requests started and not yet delivered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The answers that arrived, waiting up to `timeout` for one if none has.
    pub fn wait(&self, timeout: Duration) -> Vec<(u64, String)> {
        let Ok(mut done) = self.done.lock() else { return Vec::new() };
        if done.is_empty() && !timeout.is_zero() {
            done = match self.ready.wait_timeout(done, timeout) {
                Ok((d, _)) => d,
                Err(_) => return Vec::new(),
            };
        }
        let out = std::mem::take(&mut *done);
        self.in_flight.fetch_sub(out.len(), Ordering::Relaxed);
        out
    }

    fn finish(&self, id: u64, answer: String) {
        if let Ok(mut d) = self.done.lock() {
            d.push((id, answer));
        }
        self.ready.notify_all();
    }
}

/// The I/O queue of the invocation running on this thread, if it has started a request.
pub(super) fn io_queue() -> Option<Arc<IoQueue>> {
    IO.with(|q| q.borrow().clone())
}

/// The invocation's I/O queue, made by its first request (most invocations make none).
fn io_queue_for_request() -> Arc<IoQueue> {
    IO.with(|q| q.borrow_mut().get_or_insert_with(|| Arc::new(IoQueue::default())).clone())
}

/// Runs `run` with `api` lent to the host function and `fetch` as the invocation's policy.
pub(super) fn with_invocation<R>(api: CurrentApi<'_, '_>, fetch: Arc<FetchPolicy>, run: impl FnOnce() -> R) -> R {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            FETCH.with(|f| f.borrow_mut().take());
            IO.with(|q| q.borrow_mut().take());
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
    let core = api.core();
    if let Some(level) = method.strip_prefix("console.") {
        let text = args.first().and_then(Value::as_str).unwrap_or_default();
        let text = core.log(level, text);
        tracing::info!(action = %core.trace.action, level, message = %text, "action console");
        return Ok(Value::Null);
    }
    if method == "fetch" {
        // Starts the request on its own thread; its answer reaches the script through the
        // invocation's event loop (so timers and AbortSignal work while it is in flight).
        let Some(fetch) = fetch else {
            return Err("fetch is not available here".to_string());
        };
        let io = io_queue_for_request();
        let url = args.first().and_then(Value::as_str).unwrap_or_default().to_string();
        let init = args.get(1).cloned().unwrap_or(Value::Null);
        let shown = json!({"url": url, "method": init.get("method").cloned().unwrap_or(Value::from("GET"))});
        if let Err(e) = fetch.check(&url, &init) {
            core.trace.commands.push(crate::pipeline::command::Command {
                method: "fetch".into(),
                args: vec![shown],
                error: Some(e.clone()),
            });
            return Err(e);
        }
        core.record("fetch", vec![shown]);
        if io.in_flight() >= MAX_IN_FLIGHT {
            return Err(format!("more than {MAX_IN_FLIGHT} requests in flight in one action"));
        }
        let id = io.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        io.in_flight.fetch_add(1, Ordering::Relaxed);
        let deadline = core.deadline();
        let queue = io.clone();
        let started = std::thread::Builder::new().name("action-fetch".into()).spawn(move || {
            let answer = match fetch.fetch(&url, &init, deadline) {
                Ok(v) => format!("{{\"value\":{v}}}"),
                Err(e) => format!("{{\"error\":{}}}", Value::from(e)),
            };
            queue.finish(id, answer);
        });
        if let Err(e) = started {
            io.in_flight.fetch_sub(1, Ordering::Relaxed);
            return Err(format!("cannot start the request: {e}"));
        }
        return Ok(Value::from(id));
    }
    let r = match api {
        CurrentApi::PostLogin(a) => dispatch::post_login(a, method, args),
        CurrentApi::PostChallenge(a) => dispatch::post_challenge(a, method, args),
        CurrentApi::SendPhoneMessage(a) => dispatch::send_phone_message(a, method, args),
    };
    r.map_err(|e: DispatchError| e.to_string())
}
