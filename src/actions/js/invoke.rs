//! One invocation of an action: a sandbox from the pool, the handler called with the event
//! and a fresh api, and the invocation's event loop (promise jobs, timers, answers of requests
//! in flight) until the handler settles, never past the deadline.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rquickjs::{CatchResultExt, CaughtError, Function, Value as JsValue};

use super::{Inner, caught_message, host, mono_ns};
use crate::pipeline::{ActionError, Phase, Trigger};

impl Inner {
    /// One invocation: a sandbox, the handler, the promise driven to the end.
    pub(super) fn invoke(&self, trigger: Trigger, phase: Phase, event_json: &str, deadline: Instant) -> Result<(), ActionError> {
        let sandbox = self.take_sandbox(deadline).map_err(ActionError::new)?;
        let (exec, cont) = trigger.handler_names();
        let handler = if phase == Phase::Execute { exec } else { cont };
        let remaining = deadline.saturating_duration_since(Instant::now());
        sandbox
            .deadline_ns
            .store(mono_ns() + remaining.as_nanos() as u64 + 1, Ordering::Relaxed);
        let result = sandbox.ctx.with(|ctx| -> Result<(), (String, Option<String>)> {
            let globals = ctx.globals();
            let invoke: Function = globals.get("__idpipe_invoke").map_err(|e| (e.to_string(), None))?;
            let ret: JsValue = invoke
                .call((trigger.name(), handler, event_json))
                .catch(&ctx)
                .map_err(caught_message)?;
            let missing: JsValue = globals.get("__idpipe_missing").map_err(|e| (e.to_string(), None))?;
            if ret == missing {
                return match phase {
                    Phase::Execute => Ok(()),
                    Phase::Continue => Err((format!("the action does not export {handler}"), None)),
                };
            }
            if let Some(promise) = ret.as_promise() {
                // The event loop: jobs, then timers and answers of requests in flight, until
                // the handler's promise settles or nothing is left to wait for.
                loop {
                    match promise.finish::<JsValue>().catch(&ctx) {
                        Ok(_) => break,
                        Err(CaughtError::Error(rquickjs::Error::WouldBlock)) => {
                            if !wait_for_events(&ctx, deadline)? {
                                return Err(("the action's promise never settled (nothing left to wait for)".to_string(), None));
                            }
                        }
                        Err(e) => return Err(caught_message(e)),
                    }
                }
            }
            Ok(())
        });
        // Timers or requests the invocation left behind: cancelled, and the sandbox is not
        // reused (they could otherwise act during another login).
        let left_behind = sandbox.ctx.with(|ctx| -> usize {
            if !ctx.globals().get::<_, bool>("__idpipe_loaded").unwrap_or(false) {
                return 0; // no timers or fetch without the web globals
            }
            let clear = ctx
                .globals()
                .get::<_, rquickjs::Object>("__idpipe_loop")
                .and_then(|l| l.get::<_, Function>("clear"))
                .and_then(|f| f.call::<_, usize>(()));
            clear.unwrap_or(1)
        });
        sandbox.deadline_ns.store(0, Ordering::Relaxed);
        self.release(sandbox, result.is_ok() && left_behind == 0);
        result.map_err(|(msg, _stack)| {
            if msg.starts_with("Uncaught Null") {
                // Out of memory, QuickJS cannot always allocate its error and throws `null`
                // (its refcounting has freed the memory by now, so usage cannot tell).
                ActionError::new(format!(
                    "the action threw null: it ran out of memory (limit {} MiB), or threw null itself",
                    self.config.memory_limit / (1024 * 1024)
                ))
            } else if Instant::now() >= deadline || msg.contains("interrupted") {
                ActionError::new(format!("the action was stopped at its time limit ({msg})"))
            } else {
                ActionError::new(msg)
            }
        })
    }
}

/// One turn of the event loop with nothing runnable: waits for the next timer or a request's
/// answer (never past `deadline`), delivers the answers and fires the due timers. `false` when
/// there is nothing to wait for.
fn wait_for_events(ctx: &rquickjs::Ctx<'_>, deadline: Instant) -> Result<bool, (String, Option<String>)> {
    let fail = |e: rquickjs::Error| (e.to_string(), None);
    if !ctx.globals().get::<_, bool>("__idpipe_loaded").unwrap_or(false) {
        return Ok(false); // no timers or fetch without the web globals
    }
    let event_loop: rquickjs::Object = ctx.globals().get("__idpipe_loop").map_err(fail)?;
    let next_ms: f64 = event_loop.get::<_, Function>("next").and_then(|f| f.call(())).map_err(fail)?;
    let io = host::io_queue();
    let in_flight = io.as_ref().map_or(0, |q| q.in_flight());
    if next_ms < 0.0 && in_flight == 0 {
        return Ok(false);
    }
    let now = Instant::now();
    if now >= deadline {
        return Err((
            "the action was stopped at its time limit (waiting for timers or requests)".into(),
            None,
        ));
    }
    let left = deadline - now;
    let wait = if next_ms < 0.0 {
        left
    } else {
        Duration::from_millis(next_ms.ceil() as u64).min(left)
    };
    let answers = match &io {
        Some(q) if in_flight > 0 => q.wait(wait),
        _ => {
            std::thread::sleep(wait);
            Vec::new()
        }
    };
    let deliver: Function = event_loop.get("deliver").map_err(fail)?;
    for (id, raw) in answers {
        deliver.call::<_, ()>((id, raw)).catch(ctx).map_err(caught_message)?;
    }
    let fire: Function = event_loop.get("fire").map_err(fail)?;
    fire.call::<_, ()>(()).catch(ctx).map_err(caught_message)?;
    Ok(true)
}
