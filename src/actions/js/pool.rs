//! An action's pool of sandboxes: taken by an invocation, given back (warm mode) or dropped, and
//! kept filled by a background thread per action, which also drops used sandboxes off the login
//! path.

use std::sync::Weak;
use std::time::{Duration, Instant};

use super::{Inner, MAX_USES, Sandbox, SandboxMode};

impl Inner {
    pub(super) fn take_sandbox(&self, deadline: Instant) -> Result<Sandbox, String> {
        let pooled = self.ready.lock().ok().and_then(|mut r| r.pop());
        match pooled {
            Some(s) => Ok(s),
            // Pool empty (burst, or the refill thread is behind): build one on the spot, within
            // the login's own deadline.
            None => self.build_sandbox(deadline.min(Instant::now() + self.config.build_timeout)),
        }
    }

    /// After an invocation: back to the pool (warm mode, a clean end, nothing pending, not worn
    /// out, the pool not over twice its size) or dropped off the login path.
    pub(super) fn release(&self, mut sandbox: Sandbox, clean: bool) {
        sandbox.uses += 1;
        let reusable = self.config.sandbox == SandboxMode::Warm && clean && sandbox.uses < MAX_USES && !sandbox.runtime.is_job_pending();
        if reusable
            && let Ok(mut r) = self.ready.lock()
            && r.len() < self.config.pool_size * 2
        {
            r.push(sandbox);
            return;
        }
        self.discard(sandbox);
    }

    fn discard(&self, sandbox: Sandbox) {
        // Freeing a runtime costs; the refill thread does it off the login path.
        if let Ok(mut u) = self.used.lock() {
            u.push(sandbox);
        }
        self.wake.notify_one();
    }
}

/// Keeps the pool full and drops used contexts, until the action is dropped.
pub(super) fn refill_loop(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let used: Vec<Sandbox> = inner.used.lock().map(|mut u| std::mem::take(&mut *u)).unwrap_or_default();
        drop(used);
        let missing = inner
            .ready
            .lock()
            .map(|r| inner.config.pool_size.saturating_sub(r.len()))
            .unwrap_or(0);
        for _ in 0..missing {
            match inner.build_ahead() {
                Ok(c) => {
                    if let Ok(mut r) = inner.ready.lock() {
                        r.push(c);
                    }
                }
                Err(e) => {
                    tracing::error!(action = %inner.name, error = %e, "cannot prepare a script context");
                    break;
                }
            }
        }
        let guard = inner.used.lock();
        if let Ok(g) = guard {
            let _ = inner.wake.wait_timeout(g, Duration::from_millis(200));
        }
    }
}
