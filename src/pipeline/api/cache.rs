//! `api.cache`: get / set / delete on the per-trigger actions cache.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::namespace;
use crate::pipeline::cache::{DEFAULT_TTL_MS, MAX_KEY_BYTES, MAX_TTL_MS, MAX_VALUE_BYTES, StoredRecord};

namespace!(
    /// `api.cache`.
    CacheApi
);

/// What `api.cache.get` returns when a record exists.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CacheRecord {
    /// The cached string.
    pub value: String,
    /// Expiry in ms since the Unix epoch.
    pub expires_at: i64,
}

/// `{type: "success"}` or `{type: "error", code}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CacheWriteResult {
    /// The write happened.
    Success,
    /// The write was refused; `code` says why.
    Error {
        /// `INVALID_KEY`, `INVALID_VALUE`, `VALUE_TOO_LARGE`, `INVALID_OPTIONS`, `CACHE_FULL`,
        /// `NOT_FOUND` or `STORAGE_ERROR`.
        code: String,
    },
}

impl CacheWriteResult {
    fn error(code: &str) -> Self {
        CacheWriteResult::Error { code: code.to_string() }
    }
    fn as_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl CacheApi<'_, '_> {
    fn scope(&self) -> &'static str {
        self.core.trigger.name()
    }

    /// `api.cache.get(key)`: `{value, expires_at}` or `None`; expired records are never returned.
    pub fn get(&mut self, key: &str) -> Option<CacheRecord> {
        let now = self.core.now_ms();
        let found = self.core.services.cache.get(self.scope(), key, now);
        self.core.record("cache.get", vec![Value::from(key)]);
        found.map(|r| CacheRecord {
            value: r.value,
            expires_at: r.expires_at,
        })
    }

    /// `api.cache.set(key, value, {ttl, expires_at})`: string values only; with both options
    /// the earlier expiry wins; never beyond 24 hours.
    pub fn set(&mut self, key: &str, value: &Value, options: Option<&Value>) -> CacheWriteResult {
        let args = vec![Value::from(key), value.clone(), options.cloned().unwrap_or(Value::Null)];
        let result = self.try_set(key, value, options);
        let mut args = args;
        args.push(json!({"result": result.as_json()}));
        self.core.record("cache.set", args);
        result
    }

    fn try_set(&mut self, key: &str, value: &Value, options: Option<&Value>) -> CacheWriteResult {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return CacheWriteResult::error("INVALID_KEY");
        }
        let Some(value) = value.as_str() else {
            return CacheWriteResult::error("INVALID_VALUE");
        };
        if value.len() > MAX_VALUE_BYTES {
            return CacheWriteResult::error("VALUE_TOO_LARGE");
        }
        let now = self.core.now_ms();
        let number = |name: &str| -> Result<Option<f64>, ()> {
            match options.and_then(|o| o.get(name)) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_f64().filter(|n| n.is_finite()).map(Some).ok_or(()),
            }
        };
        let (Ok(ttl), Ok(expires_at)) = (number("ttl"), number("expires_at")) else {
            return CacheWriteResult::error("INVALID_OPTIONS");
        };
        if options.is_some_and(|o| !o.is_object() && !o.is_null()) {
            return CacheWriteResult::error("INVALID_OPTIONS");
        }
        let mut expiry = match (ttl, expires_at) {
            (None, None) => now + DEFAULT_TTL_MS,
            (Some(t), None) => now + t as i64,
            (None, Some(e)) => e as i64,
            (Some(t), Some(e)) => (now + t as i64).min(e as i64),
        };
        expiry = expiry.min(now + MAX_TTL_MS);
        if expiry <= now {
            return CacheWriteResult::error("INVALID_OPTIONS");
        }
        let record = StoredRecord {
            value: value.to_string(),
            expires_at: expiry,
        };
        match self.core.services.cache.set(self.scope(), key, record, now) {
            Ok(()) => CacheWriteResult::Success,
            Err(e) => CacheWriteResult::error(&e.to_string()),
        }
    }

    /// `api.cache.delete(key)`: success when a record was removed, else `{type: "error", code: "NOT_FOUND"}`.
    pub fn delete(&mut self, key: &str) -> CacheWriteResult {
        let now = self.core.now_ms();
        let result = match self.core.services.cache.delete(self.scope(), key, now) {
            Ok(()) => CacheWriteResult::Success,
            Err(e) => CacheWriteResult::error(&e.to_string()),
        };
        self.core
            .record("cache.delete", vec![Value::from(key), json!({"result": result.as_json()})]);
        result
    }
}
