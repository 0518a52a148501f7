//! How login steps use tokio's blocking pool. Every step with store I/O runs off the async
//! worker: most on the pool ([`LoginContext::blocking`], [`LoginContext::pipeline`]), which costs
//! a trip to a pool thread and back. A short step that runs no action (the code exchange at
//! `/oauth/token`: one store transaction and two signatures) may instead run on the request's
//! own thread ([`LoginContext::in_place`], tokio's `block_in_place`): tokio first hands the
//! worker's other tasks and its I/O to another pool thread, so nothing waits on the step. That
//! hand-over needs a free pool thread; while the pool is nearly full the step takes the pool's
//! queue like any other (with no thread free, the runtime's I/O would wait for the step).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Io, LoginContext};
use crate::store::StoreError;

/// Threads tokio's blocking pool may run for `cores` cores (besides the async workers): a few
/// per core keep the cores busy, while an unbounded pool under load would hold hundreds of idle
/// threads, each with its own allocator caches.
pub fn max_threads(cores: usize) -> usize {
    (cores * 4).max(8)
}

/// Login steps on the blocking pool (running or queued) against the pool's size.
#[derive(Debug)]
pub(crate) struct PoolUse {
    busy: AtomicUsize,
    limit: usize,
    /// The machine's cores.
    cores: usize,
}

/// One step counted on the pool until dropped.
pub(crate) struct Busy(Arc<PoolUse>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PoolUse {
    /// The use of a pool of [`max_threads`] for this machine's cores.
    pub(crate) fn for_this_machine() -> Arc<Self> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(PoolUse {
            busy: AtomicUsize::new(0),
            limit: max_threads(cores),
            cores,
        })
    }

    /// Counts a step (moved into the step's closure, it ends with it).
    pub(crate) fn enter(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// Whether a pool thread is free to take over the async worker (with one to spare).
    fn spare(&self) -> bool {
        self.busy.load(Ordering::Relaxed) + 2 <= self.limit
    }

    /// Whether fewer steps run than the machine has cores (the caller's own step included):
    /// a core is idle.
    fn idle_core(&self) -> bool {
        self.busy.load(Ordering::Relaxed) < self.cores
    }
}

impl LoginContext {
    /// Runs `f` (a short step that runs no action) on the request's own thread when the pool
    /// can take over the async worker meanwhile, else like [`LoginContext::blocking`] (see the
    /// module). Measured on the OIDC round trip: 2-9 % more round trips per second than a trip
    /// to the pool in 5 of 6 alternated pairs (README, Performance).
    pub async fn in_place<T: Send + 'static>(&self, f: impl FnOnce(&Io) -> T + Send + 'static) -> Result<T, StoreError> {
        let multi_thread =
            tokio::runtime::Handle::try_current().is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_thread && self.pool.spare() {
            // The worker's replacement takes a pool thread while this one is busy.
            let _busy = self.pool.enter();
            let io = Io(self.clone());
            return Ok(tokio::task::block_in_place(move || f(&io)));
        }
        self.blocking(f).await
    }

    /// Starts `job` (a short, CPU-bound part of the calling step, e.g. a signature) on the pool
    /// when a core is idle, so that it runs beside the rest of the step; `false` (the caller
    /// runs it itself) while every core has a step, or outside the runtime. At 1 client this
    /// takes one signature off an OIDC code exchange's latency; under load it changes nothing.
    pub(crate) fn beside(&self, job: Box<dyn FnOnce() + Send>) -> bool {
        if !self.pool.idle_core() {
            return false;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let busy = self.pool.enter();
        runtime.spawn_blocking(move || {
            let _busy = busy;
            job();
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_counted_until_it_ends_and_the_last_threads_are_kept_for_the_hand_over() {
        let pool = Arc::new(PoolUse {
            busy: AtomicUsize::new(0),
            limit: 3,
            cores: 2,
        });
        assert!(pool.spare());
        let first = pool.enter();
        assert!(pool.spare(), "one busy, one free to take over, one to spare");
        assert!(pool.idle_core(), "one step on two cores");
        let second = pool.enter();
        assert!(!pool.spare(), "only one free: it is kept");
        assert!(!pool.idle_core(), "two steps on two cores");
        drop(first);
        assert!(pool.spare());
        drop(second);
        assert_eq!(pool.busy.load(Ordering::Relaxed), 0);
        assert_eq!(max_threads(2), 8);
        assert_eq!(max_threads(4), 16);
    }
}
