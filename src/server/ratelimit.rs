//! Sliding-minute limits over the store's shared counters ([`crate::store::RateLimitStore`]), so
//! that every node counts the same events: login submissions per IP, logins started per IP,
//! failed client authentications per client and per IP. A store failure refuses (fails closed).
//! Called on the blocking pool with the store of a [`crate::login::Io`].

use crate::store::Store;

const WINDOW_MS: i64 = 60_000;

/// At most `per_minute` events per key in any sliding minute, counted in the store.
pub struct RateLimiter {
    prefix: &'static str,
    per_minute: u32,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("prefix", &self.prefix)
            .field("per_minute", &self.per_minute)
            .finish()
    }
}

impl RateLimiter {
    /// A limiter of `per_minute` events per key; `prefix` keeps its keys apart from other limiters'.
    pub fn new(prefix: &'static str, per_minute: u32) -> Self {
        RateLimiter { prefix, per_minute }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }

    /// Counts an event; false when the key already had `per_minute` in the last minute.
    pub fn allow(&self, store: &dyn Store, key: &str, now_ms: i64) -> bool {
        store.hit(&self.key(key), self.per_minute, WINDOW_MS, now_ms).unwrap_or_else(|e| {
            tracing::error!(error = %e, "rate limit store unavailable: refused");
            false
        })
    }

    /// Whether any of the keys already had `per_minute` events in the last minute (nothing
    /// counted; the keys are read at once).
    pub fn exceeded(&self, store: &dyn Store, keys: &[&str], now_ms: i64) -> bool {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        store
            .count(&keys, WINDOW_MS, now_ms)
            .map(|n| n >= self.per_minute)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "rate limit store unavailable: refused");
                true
            })
    }

    /// Counts an event without checking (a failure, counted after the fact).
    pub fn record(&self, store: &dyn Store, key: &str, now_ms: i64) {
        if let Err(e) = store.record(&self.key(key), now_ms) {
            tracing::error!(error = %e, "rate limit store unavailable: event not counted");
        }
    }
}
