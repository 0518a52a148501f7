//! The watchdog: every script invocation runs on a worker thread, and the login waits for it
//! only until the action's deadline (plus a short grace). QuickJS's interrupt handler stops
//! interpreted code at the deadline, but a C loop inside a built-in does not look at it; such
//! an invocation is abandoned: the login fails at its deadline, the worker finishes the loop on
//! its own (the sandbox is then discarded), and the next login uses another worker.
//!
//! The api lives on the login thread's stack. The worker reaches it only through an [`ApiSlot`],
//! which the login thread empties before it returns, waiting for a host call in progress: after
//! that, an abandoned script's host calls fail instead of touching freed memory.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// How long past the deadline the login waits before abandoning the invocation (the interrupt
/// handler normally ends it at the deadline with a clear message).
pub(super) const GRACE: Duration = Duration::from_millis(100);
/// Idle workers beyond this many exit after a minute without work.
const KEEP_IDLE: usize = 8;
/// Most workers at once (runaway ones included); further jobs wait for a free one.
const MAX_WORKERS: usize = 256;

/// The api of one invocation, shared by the login thread and the worker.
pub(super) struct ApiSlot<T>(Mutex<Option<T>>);

impl<T> ApiSlot<T> {
    /// A slot holding `current`.
    pub(super) fn new(current: T) -> Self {
        ApiSlot(Mutex::new(Some(current)))
    }

    /// The api while the invocation is live (`None` once abandoned or finished). The guard is
    /// held for the whole host call, so [`ApiSlot::close`] waits for it.
    pub(super) fn lock(&self) -> MutexGuard<'_, Option<T>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Empties the slot (waits for a host call in progress).
    pub(super) fn close(&self) {
        self.lock().take();
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Queue {
    jobs: VecDeque<Job>,
    idle: usize,
    total: usize,
}

struct Workers {
    queue: Mutex<Queue>,
    ready: Condvar,
}

fn workers() -> &'static Workers {
    static W: OnceLock<Workers> = OnceLock::new();
    W.get_or_init(|| Workers {
        queue: Mutex::new(Queue {
            jobs: VecDeque::new(),
            idle: 0,
            total: 0,
        }),
        ready: Condvar::new(),
    })
}

/// Runs `job` on a worker thread (a new one when none is idle).
pub(super) fn submit(job: impl FnOnce() + Send + 'static) -> Result<(), String> {
    let w = workers();
    let mut q = w.queue.lock().map_err(|_| "the script workers are unavailable".to_string())?;
    q.jobs.push_back(Box::new(job));
    if q.idle == 0 && q.total < MAX_WORKERS {
        q.total += 1;
        let spawned = std::thread::Builder::new().name("js-worker".into()).spawn(worker_loop);
        if let Err(e) = spawned {
            q.total -= 1;
            if q.total == 0 {
                q.jobs.pop_back();
                return Err(format!("cannot start a script worker: {e}"));
            }
        }
    }
    drop(q);
    w.ready.notify_one();
    Ok(())
}

fn worker_loop() {
    let w = workers();
    loop {
        let job = {
            let Ok(mut q) = w.queue.lock() else { return };
            loop {
                if let Some(job) = q.jobs.pop_front() {
                    break job;
                }
                q.idle += 1;
                let (guard, timeout) = match w.ready.wait_timeout(q, Duration::from_secs(60)) {
                    Ok(x) => x,
                    Err(_) => return,
                };
                q = guard;
                q.idle -= 1;
                if timeout.timed_out() && q.jobs.is_empty() && q.total > KEEP_IDLE {
                    q.total -= 1;
                    return;
                }
            }
        };
        job();
    }
}

/// How many workers exist (for tests and diagnostics).
pub fn worker_count() -> usize {
    workers().queue.lock().map(|q| q.total).unwrap_or(0)
}

/// Shared ownership of a slot, as the worker's thread-local sees it.
pub(super) type SharedSlot<T> = Arc<ApiSlot<T>>;
