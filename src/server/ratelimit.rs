//! Sliding-window limiters (in memory, per process): at most `per_minute` events per key in any
//! 60 seconds. Keys are client IPs (login submissions, logins started) or `client:`/`ip:`
//! prefixed names (failed client authentications at the token endpoint).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

const WINDOW_MS: i64 = 60_000;
/// Past this many keys, idle ones are dropped (bounded memory whatever the traffic).
const MAX_KEYS: usize = 100_000;

/// Allows `per_minute` events per key in any sliding minute.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    events: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` events per key per minute.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            events: Mutex::new(HashMap::new()),
        }
    }

    fn with_queue<R>(&self, key: &str, now_ms: i64, f: impl FnOnce(&mut VecDeque<i64>, usize) -> R) -> Option<R> {
        let mut m = self.events.lock().ok()?;
        if m.len() > MAX_KEYS {
            m.retain(|_, q| q.back().is_some_and(|t| *t > now_ms - WINDOW_MS));
        }
        let q = m.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| *t <= now_ms - WINDOW_MS) {
            q.pop_front();
        }
        Some(f(q, self.per_minute as usize))
    }

    /// Counts an event; false when the key already had `per_minute` in the last minute
    /// (refused events are not counted, so a blocked client is free again a minute later).
    pub fn allow(&self, key: &str, now_ms: i64) -> bool {
        self.with_queue(key, now_ms, |q, max| {
            if q.len() >= max {
                return false;
            }
            q.push_back(now_ms);
            true
        })
        .unwrap_or(false)
    }

    /// Whether the key already had `per_minute` events in the last minute (nothing counted).
    pub fn exceeded(&self, key: &str, now_ms: i64) -> bool {
        self.with_queue(key, now_ms, |q, max| q.len() >= max).unwrap_or(true)
    }

    /// Counts an event without checking (e.g. a failure, counted after the fact).
    pub fn record(&self, key: &str, now_ms: i64) {
        self.with_queue(key, now_ms, |q, _| q.push_back(now_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_in_a_sliding_minute() {
        let l = RateLimiter::new(2);
        let (a, b) = ("10.0.0.1", "10.0.0.2");
        assert!(l.allow(a, 59_000));
        assert!(l.allow(a, 60_500));
        assert!(!l.allow(a, 61_000), "two in the last minute, across a calendar-minute boundary");
        assert!(l.allow(b, 61_000));
        assert!(l.allow(a, 119_001), "the first attempt left the window");
        assert!(!l.allow(a, 119_002));
    }

    #[test]
    fn failures_recorded_after_the_fact_block_the_key() {
        let l = RateLimiter::new(2);
        assert!(!l.exceeded("client:web", 0));
        l.record("client:web", 0);
        l.record("client:web", 1);
        assert!(l.exceeded("client:web", 2));
        assert!(!l.exceeded("client:other", 2));
        assert!(!l.exceeded("client:web", 60_002), "free again a minute later");
    }
}
