//! Shared counters and one-time IDs: rate-limit events and SAML request IDs.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::{NameIdStore, RateLimitStore, ReplayStore, StoreError};

impl RateLimitStore for SqliteStore {
    fn hit(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Result<bool, StoreError> {
        let mut c = self.lock()?;
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n: i64 = tx.query_row(
            "SELECT COUNT(*) FROM rate_events WHERE key = ?1 AND at > ?2",
            params![key, now_ms - window_ms],
            |r| r.get(0),
        )?;
        if n >= i64::from(limit) {
            return Ok(false);
        }
        tx.execute("INSERT INTO rate_events (key, at) VALUES (?1, ?2)", params![key, now_ms])?;
        tx.commit()?;
        Ok(true)
    }

    fn count(&self, key: &str, window_ms: i64, now_ms: i64) -> Result<u32, StoreError> {
        let c = self.lock()?;
        let n: i64 = c.query_row(
            "SELECT COUNT(*) FROM rate_events WHERE key = ?1 AND at > ?2",
            params![key, now_ms - window_ms],
            |r| r.get(0),
        )?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn record(&self, key: &str, now_ms: i64) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.execute("INSERT INTO rate_events (key, at) VALUES (?1, ?2)", params![key, now_ms])?;
        Ok(())
    }
}

impl NameIdStore for SqliteStore {
    fn persistent_name_id(&self, sp: &str, user_id: &str, allow_create: bool, now_ms: i64) -> Result<Option<String>, StoreError> {
        let c = self.lock()?;
        let get = |c: &rusqlite::Connection| -> Result<Option<String>, StoreError> {
            Ok(c.query_row(
                "SELECT value FROM persistent_name_ids WHERE sp = ?1 AND user_id = ?2",
                params![sp, user_id],
                |r| r.get(0),
            )
            .optional()?)
        };
        if let Some(v) = get(&c)? {
            return Ok(Some(v));
        }
        if !allow_create {
            return Ok(None);
        }
        let mut bytes = [0u8; 24];
        openssl::rand::rand_bytes(&mut bytes).map_err(|e| StoreError::Internal(e.to_string()))?;
        let value = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
        c.execute(
            "INSERT OR IGNORE INTO persistent_name_ids (sp, user_id, value, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![sp, user_id, value, now_ms],
        )?;
        get(&c)
    }
}

impl ReplayStore for SqliteStore {
    fn remember_request_id(&self, key: &str, expires_at_ms: i64, now_ms: i64) -> Result<bool, StoreError> {
        let mut c = self.lock()?;
        let tx = c.transaction()?;
        tx.execute("DELETE FROM request_ids WHERE key = ?1 AND expires_at <= ?2", params![key, now_ms])?;
        let added = tx.execute(
            "INSERT OR IGNORE INTO request_ids (key, expires_at) VALUES (?1, ?2)",
            params![key, expires_at_ms],
        )?;
        tx.commit()?;
        Ok(added == 1)
    }
}
