//! The actions cache behind `api.cache`: string values, scoped per trigger, with expiry.
//!
//! Limits (documented in the README): key 1-256 bytes, value at most 4096 bytes, at most 1000
//! live records per trigger, default lifetime 15 minutes (seed 000; seed 001 says 24 hours, the
//! issue settles on 15 minutes), maximum lifetime 24 hours.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Default lifetime of a record when neither `ttl` nor `expires_at` is given.
pub const DEFAULT_TTL_MS: i64 = 15 * 60 * 1000;
/// No record lives longer than this.
pub const MAX_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Longest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 4096;
/// Most live records per trigger.
pub const MAX_RECORDS_PER_SCOPE: usize = 1000;

/// A stored record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredRecord {
    /// The value.
    pub value: String,
    /// Expiry, ms since the Unix epoch.
    pub expires_at: i64,
}

/// Why a write failed; becomes `{type: "error", code}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The scope already holds the maximum number of live records.
    #[error("CACHE_FULL")]
    Full,
    /// The key to delete does not exist.
    #[error("NOT_FOUND")]
    NotFound,
    /// The backing store failed.
    #[error("STORAGE_ERROR")]
    Storage,
}

/// Storage for the actions cache. The SQLite store implements it too.
pub trait ActionCache: Send + Sync {
    /// A live record, or `None` (expired records are never returned).
    fn get(&self, scope: &str, key: &str, now_ms: i64) -> Option<StoredRecord>;
    /// Stores or replaces a record.
    fn set(&self, scope: &str, key: &str, record: StoredRecord, now_ms: i64) -> Result<(), CacheError>;
    /// Removes a record.
    fn delete(&self, scope: &str, key: &str, now_ms: i64) -> Result<(), CacheError>;
}

/// An in-memory cache (the default for dry runs and tests).
#[derive(Debug, Default)]
pub struct MemoryCache {
    records: Mutex<HashMap<(String, String), StoredRecord>>,
}

impl MemoryCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }
}

impl ActionCache for MemoryCache {
    fn get(&self, scope: &str, key: &str, now_ms: i64) -> Option<StoredRecord> {
        let map = self.records.lock().ok()?;
        map.get(&(scope.to_string(), key.to_string()))
            .filter(|r| r.expires_at > now_ms)
            .cloned()
    }

    fn set(&self, scope: &str, key: &str, record: StoredRecord, now_ms: i64) -> Result<(), CacheError> {
        let mut map = self.records.lock().map_err(|_| CacheError::Storage)?;
        map.retain(|_, r| r.expires_at > now_ms);
        let k = (scope.to_string(), key.to_string());
        if !map.contains_key(&k) && map.keys().filter(|(s, _)| s == scope).count() >= MAX_RECORDS_PER_SCOPE {
            return Err(CacheError::Full);
        }
        map.insert(k, record);
        Ok(())
    }

    fn delete(&self, scope: &str, key: &str, now_ms: i64) -> Result<(), CacheError> {
        let mut map = self.records.lock().map_err(|_| CacheError::Storage)?;
        match map.remove(&(scope.to_string(), key.to_string())) {
            Some(r) if r.expires_at > now_ms => Ok(()),
            _ => Err(CacheError::NotFound),
        }
    }
}
