//! What a watchdog outside the pipeline needs to know: the deadline of the action running now.
//!
//! Why: QuickJS stops interpreted code at the deadline, but a C loop inside a built-in does not
//! look at the interrupt. Rather than move every invocation to another thread (measured: +60 us
//! per action), the pipeline runs where it is called and reports each action's deadline to the
//! [`ActionWatch`] installed on its thread; the caller (the server) answers the login when that
//! deadline has passed, and leaves the runaway thread to finish on its own. Its result is then
//! dropped, so nothing it did afterwards is committed.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The deadline of the action running on a watched thread.
#[derive(Debug, Default)]
pub struct ActionWatch {
    /// Nanoseconds since [`base`] of the running action's deadline; 0 while none runs.
    deadline_ns: AtomicU64,
    /// Who decided the end: [`RUNNING`], [`COMMITTING`] (the watched thread went on to store
    /// what the pipeline decided) or [`ABANDONED`] (the watcher answered without it).
    phase: AtomicU8,
}

const RUNNING: u8 = 0;
const COMMITTING: u8 = 1;
const ABANDONED: u8 = 2;

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

thread_local! {
    static INSTALLED: RefCell<Option<Arc<ActionWatch>>> = const { RefCell::new(None) };
}

/// Uninstalls the watch when dropped.
#[derive(Debug)]
pub struct Installed(());

impl Drop for Installed {
    fn drop(&mut self) {
        INSTALLED.with(|w| w.borrow_mut().take());
    }
}

impl ActionWatch {
    /// Makes the executor on this thread report to `watch` until the guard is dropped.
    pub fn install(watch: Arc<ActionWatch>) -> Installed {
        INSTALLED.with(|w| *w.borrow_mut() = Some(watch));
        Installed(())
    }

    /// The running action's deadline, if one runs.
    pub fn deadline(&self) -> Option<Instant> {
        match self.deadline_ns.load(Ordering::Acquire) {
            0 => None,
            ns => Some(base() + Duration::from_nanos(ns)),
        }
    }

    /// Whether the running action is past its deadline by more than `grace`.
    pub fn overdue(&self, grace: Duration) -> bool {
        self.deadline().is_some_and(|d| Instant::now() > d + grace)
    }

    /// The watcher gives up on the watched thread: true unless that thread already claimed the
    /// commit ([`claim_commit`]), in which case its result must be awaited instead.
    pub fn abandon(&self) -> bool {
        self.phase
            .compare_exchange(RUNNING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Called by the watched thread before it stores what its pipeline decided (sessions, codes,
/// suspended logins, metadata): true when it may go on, false when the watcher has already
/// answered the login without it (then nothing may be committed). Without a watch, true.
/// Of the watcher's [`ActionWatch::abandon`] and this, exactly one wins.
pub fn claim_commit() -> bool {
    INSTALLED.with(|w| {
        w.borrow().as_ref().is_none_or(|watch| {
            watch
                .phase
                .compare_exchange(RUNNING, COMMITTING, Ordering::AcqRel, Ordering::Acquire)
                .map_or_else(|p| p == COMMITTING, |_| true)
        })
    })
}

/// Reports the deadline of the action about to run (`None` when it ended) to this thread's
/// watch, if one is installed.
pub(crate) fn report(deadline: Option<Instant>) {
    INSTALLED.with(|w| {
        if let Some(watch) = w.borrow().as_ref() {
            let ns = deadline.map_or(0, |d| d.saturating_duration_since(base()).as_nanos().max(1) as u64);
            watch.deadline_ns.store(ns, Ordering::Release);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_watch_the_commit_is_always_claimed() {
        assert!(claim_commit());
    }

    #[test]
    fn an_abandoned_pipeline_cannot_claim_its_commit() {
        let watch = Arc::new(ActionWatch::default());
        let _g = ActionWatch::install(watch.clone());
        assert!(watch.abandon());
        assert!(!claim_commit());
        assert!(!claim_commit(), "still refused");
    }

    #[test]
    fn a_claimed_commit_cannot_be_abandoned() {
        let watch = Arc::new(ActionWatch::default());
        let _g = ActionWatch::install(watch.clone());
        assert!(claim_commit());
        assert!(claim_commit(), "the same thread may claim again");
        assert!(!watch.abandon());
    }

    #[test]
    fn of_a_racing_claim_and_abandonment_exactly_one_wins() {
        for _ in 0..200 {
            let watch = Arc::new(ActionWatch::default());
            let w = watch.clone();
            let worker = std::thread::spawn(move || {
                let _g = ActionWatch::install(w);
                claim_commit()
            });
            let abandoned = watch.abandon();
            let claimed = worker.join().expect("worker");
            assert!(abandoned != claimed, "abandoned {abandoned}, claimed {claimed}");
        }
    }
}
