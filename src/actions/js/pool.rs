//! An action's pool of sandboxes: taken by an invocation, given back (warm mode) or dropped, and
//! kept filled by a background thread per action, which also drops used sandboxes off the login
//! path.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Inner, MAX_USES, Sandbox, SandboxMode, mono_ns};

impl Inner {
    pub(super) fn take_sandbox(&self, deadline: Instant) -> Result<Sandbox, String> {
        self.last_take_ns.store(mono_ns(), Ordering::Relaxed);
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

    /// After `idle_trim` without an invocation: the sandboxes beyond `pool_size` go, and the
    /// others' garbage (cycles that reference counting leaves, up to half a sandbox's live size
    /// between two collections) is collected, so that an idle server gives the memory back
    /// (README, Performance, session 11). Runs on the refill thread; a login that comes meanwhile
    /// waits for the collection (a few ms) or builds its own sandbox.
    fn trim(&self) {
        let extra: Vec<Sandbox> = match self.ready.lock() {
            Ok(mut ready) => {
                let keep = self.config.pool_size.min(ready.len());
                let extra = ready.split_off(keep);
                for s in ready.iter() {
                    s.runtime.run_gc();
                }
                extra
            }
            Err(_) => return,
        };
        drop(extra);
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
    // The last take the pool was trimmed after: once per idle period.
    let mut trimmed_after = u64::MAX;
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
        let last_take = inner.last_take_ns.load(Ordering::Relaxed);
        if last_take != trimmed_after && mono_ns().saturating_sub(last_take) >= inner.config.idle_trim.as_nanos() as u64 {
            inner.trim();
            trimmed_after = last_take;
        }
        let guard = inner.used.lock();
        if let Ok(g) = guard {
            let _ = inner.wake.wait_timeout(g, Duration::from_millis(200));
        }
    }
}
