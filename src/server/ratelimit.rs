//! A sliding-window limiter of login attempts per client IP (in memory, per process): at most
//! `per_minute` attempts in any 60 seconds.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

const WINDOW_MS: i64 = 60_000;

/// Allows `per_minute` attempts per IP in any sliding minute.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    attempts: Mutex<HashMap<IpAddr, VecDeque<i64>>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` attempts per IP per minute.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt; false when the IP already made `per_minute` in the last minute
    /// (refused attempts are not counted, so a blocked client is free again a minute later).
    pub fn allow(&self, ip: IpAddr, now_ms: i64) -> bool {
        let Ok(mut m) = self.attempts.lock() else { return false };
        if m.len() > 100_000 {
            m.retain(|_, q| q.back().is_some_and(|t| *t > now_ms - WINDOW_MS));
        }
        let q = m.entry(ip).or_default();
        while q.front().is_some_and(|t| *t <= now_ms - WINDOW_MS) {
            q.pop_front();
        }
        if q.len() >= self.per_minute as usize {
            return false;
        }
        q.push_back(now_ms);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_ip_in_a_sliding_minute() {
        let l = RateLimiter::new(2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(l.allow(a, 59_000));
        assert!(l.allow(a, 60_500));
        assert!(!l.allow(a, 61_000), "two in the last minute, across a calendar-minute boundary");
        assert!(l.allow(b, 61_000));
        assert!(l.allow(a, 119_001), "the first attempt left the window");
        assert!(!l.allow(a, 119_002));
    }
}
