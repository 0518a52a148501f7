//! Runs a pipeline off the async workers (tokio's blocking pool) and answers the login at the running action's deadline
//! even when the action does not stop (a built-in whose C loop ignores the interrupt): the
//! blocking thread is left to finish on its own and its result is dropped. Nothing it did
//! afterwards is committed: a step that stores what the pipeline decided first claims the
//! commit ([`crate::pipeline::watch::claim_commit`]); of that claim and the watcher's
//! abandonment exactly one wins. See `pipeline::watch`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::pipeline::watch::ActionWatch;

/// How long past an action's deadline the login waits before answering without it (the
/// interrupt handler normally ends the action at the deadline with a clear trace entry).
pub const GRACE: Duration = Duration::from_millis(100);

/// Why a watched pipeline gave no result.
#[derive(Debug, thiserror::Error)]
pub enum PipelineStop {
    /// An action ran past its deadline and was abandoned.
    #[error("an action ran past its deadline and was abandoned")]
    Abandoned,
    /// The blocking task failed (panicked).
    #[error("the pipeline task failed: {0}")]
    Failed(String),
}

/// Runs `f` (which runs the executor) on the blocking pool under an [`ActionWatch`].
pub async fn run_pipeline<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, PipelineStop> {
    let watch = Arc::new(ActionWatch::default());
    let installed = watch.clone();
    // The request's span goes along, so that what the pipeline logs carries the request id.
    let span = tracing::Span::current();
    let mut handle = tokio::task::spawn_blocking(move || {
        let _guard = ActionWatch::install(installed);
        span.in_scope(f)
    });
    loop {
        // Between actions there is no deadline: look again shortly.
        let wake = watch
            .deadline()
            .map_or_else(|| Instant::now() + Duration::from_millis(20), |d| d + GRACE);
        tokio::select! {
            r = &mut handle => return r.map_err(|e| PipelineStop::Failed(e.to_string())),
            _ = tokio::time::sleep_until(wake.into()) => {
                if watch.overdue(GRACE) && watch.abandon() {
                    tracing::warn!("an action ran past its deadline and did not stop: the login is answered without it");
                    return Err(PipelineStop::Abandoned);
                }
            }
        }
    }
}
