//! The ports of the pipeline: the clock, the limits, the user directory and the actions cache
//! the executor and the api use (what a host plugs in).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::cache::{ActionCache, MemoryCache};
use super::event::Identity;

/// Source of the current time (injectable for tests and `--now`).
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that stands still until moved.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock at `ms`.
    pub fn new(ms: i64) -> Self {
        FixedClock(AtomicI64::new(ms))
    }
    /// Moves the clock forward.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Looks users up for `api.authentication.setPrimaryUser`.
pub trait UserDirectory: Send + Sync {
    /// The identities of a user, or `None` when the user does not exist.
    fn identities_of(&self, user_id: &str) -> Option<Vec<Identity>>;
}

/// Tenant limits the pipeline enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time limit of one action handler.
    pub action_timeout: Duration,
    /// Longest session lifetime (caps `session.setExpiresAt` / `setIdleExpiresAt`).
    pub session_max_lifetime_ms: i64,
    /// Longest refresh-token lifetime (caps `refreshToken.setExpiresAt` / `setIdleExpiresAt`).
    pub refresh_token_max_lifetime_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            action_timeout: Duration::from_secs(5),
            session_max_lifetime_ms: 30 * 24 * 3600 * 1000,
            refresh_token_max_lifetime_ms: 365 * 24 * 3600 * 1000,
        }
    }
}

/// What the pipeline needs from the outside world.
#[derive(Clone)]
pub struct Services {
    /// Storage of `api.cache`.
    pub cache: Arc<dyn ActionCache>,
    /// User lookup for `setPrimaryUser`; `None` refuses it.
    pub users: Option<Arc<dyn UserDirectory>>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Limits.
    pub limits: Limits,
    /// MFA factors enabled in the tenant.
    pub enabled_factors: Vec<String>,
}

impl Default for Services {
    fn default() -> Self {
        Services {
            cache: Arc::new(MemoryCache::new()),
            users: None,
            clock: Arc::new(SystemClock),
            limits: Limits::default(),
            enabled_factors: super::api::authentication_factors().iter().map(|s| s.to_string()).collect(),
        }
    }
}
