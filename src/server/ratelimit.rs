//! A fixed-window limiter of login attempts per client IP (in memory, per process).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Allows `per_minute` attempts per IP in each one-minute window.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` attempts per IP per minute.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt; false when the IP is over its limit for the current minute.
    pub fn allow(&self, ip: IpAddr, now_ms: i64) -> bool {
        let minute = now_ms.div_euclid(60_000);
        let Ok(mut w) = self.windows.lock() else { return false };
        if w.len() > 100_000 {
            w.retain(|_, (m, _)| *m == minute);
        }
        let e = w.entry(ip).or_insert((minute, 0));
        if e.0 != minute {
            *e = (minute, 0);
        }
        e.1 = e.1.saturating_add(1);
        e.1 <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_ip_and_window() {
        let l = RateLimiter::new(2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(l.allow(a, 0));
        assert!(l.allow(a, 1_000));
        assert!(!l.allow(a, 2_000));
        assert!(l.allow(b, 2_000));
        assert!(l.allow(a, 60_000));
    }
}
