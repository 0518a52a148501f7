//! Shared counters and one-time IDs: rate-limit events and SAML request IDs.

use rusqlite::{OptionalExtension, params};

use super::Cached;
use super::{SqliteStore, corrupt};
use crate::store::{MfaStore, NameIdStore, RateLimitStore, ReplayStore, StoreError};

impl RateLimitStore for SqliteStore {
    fn hit(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Result<bool, StoreError> {
        let tx = self.begin()?;
        let n: i64 = tx.row(
            "SELECT COUNT(*) FROM rate_events WHERE key = ?1 AND at > ?2",
            params![key, now_ms - window_ms],
            |r| r.get(0),
        )?;
        if n >= i64::from(limit) {
            return Ok(false);
        }
        tx.exec("INSERT INTO rate_events (key, at) VALUES (?1, ?2)", params![key, now_ms])?;
        tx.commit()?;
        Ok(true)
    }

    fn count(&self, keys: &[&str], window_ms: i64, now_ms: i64) -> Result<u32, StoreError> {
        let keys = serde_json::to_string(keys).map_err(corrupt)?;
        let n: i64 = self.read(|c| {
            Ok(c.row(
                "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM rate_events
                 WHERE key IN (SELECT value FROM json_each(?1)) AND at > ?2 GROUP BY key)",
                params![keys, now_ms - window_ms],
                |r| r.get(0),
            )?)
        })?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn record(&self, key: &str, now_ms: i64) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.exec("INSERT INTO rate_events (key, at) VALUES (?1, ?2)", params![key, now_ms])?;
        Ok(())
    }
}

impl NameIdStore for SqliteStore {
    fn persistent_name_id(&self, sp: &str, user_id: &str, allow_create: bool, now_ms: i64) -> Result<Option<String>, StoreError> {
        let get = |c: &rusqlite::Connection| -> Result<Option<String>, StoreError> {
            Ok(c.row(
                "SELECT value FROM persistent_name_ids WHERE sp = ?1 AND user_id = ?2",
                params![sp, user_id],
                |r| r.get(0),
            )
            .optional()?)
        };
        if let Some(v) = self.read(get)? {
            return Ok(Some(v));
        }
        if !allow_create {
            return Ok(None);
        }
        let mut bytes = [0u8; 24];
        openssl::rand::rand_bytes(&mut bytes).map_err(|e| StoreError::Internal(e.to_string()))?;
        let value = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
        let c = self.lock()?;
        c.exec(
            "INSERT OR IGNORE INTO persistent_name_ids (sp, user_id, value, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![sp, user_id, value, now_ms],
        )?;
        get(&c)
    }
}

impl ReplayStore for SqliteStore {
    fn remember_request_id(&self, key: &str, expires_at_ms: i64, now_ms: i64) -> Result<bool, StoreError> {
        // One statement: a new ID is inserted, an expired one taken again, a live one left
        // alone (no row changed: a replay).
        let changed = self.lock()?.exec(
            "INSERT INTO request_ids (key, expires_at) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE request_ids.expires_at <= ?3",
            params![key, expires_at_ms, now_ms],
        )?;
        Ok(changed == 1)
    }
}

impl MfaStore for SqliteStore {
    fn enrolled_factors(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT factor FROM mfa_factors WHERE user_id = ?1 ORDER BY created_at, factor")?;
            let rows = st.query_map([user_id], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn factor_secret(&self, user_id: &str, factor: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|c| {
            Ok(c.row(
                "SELECT secret FROM mfa_factors WHERE user_id = ?1 AND factor = ?2",
                params![user_id, factor],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn put_factor(&self, user_id: &str, factor: &str, secret: &[u8], now_ms: i64) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.exec(
            "INSERT INTO mfa_factors (user_id, factor, secret, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user_id, factor) DO UPDATE SET secret = excluded.secret",
            params![user_id, factor, secret, now_ms],
        )?;
        Ok(())
    }

    fn swap_factor_secret(&self, user_id: &str, factor: &str, old: &[u8], new: &[u8]) -> Result<bool, StoreError> {
        let c = self.lock()?;
        let changed = c.exec(
            "UPDATE mfa_factors SET secret = ?4 WHERE user_id = ?1 AND factor = ?2 AND secret = ?3",
            params![user_id, factor, old, new],
        )?;
        Ok(changed == 1)
    }

    fn use_otp_step(&self, user_id: &str, step: i64, now_ms: i64) -> Result<bool, StoreError> {
        let c = self.lock()?;
        let added = c.exec(
            "INSERT OR IGNORE INTO otp_steps (user_id, step, at) VALUES (?1, ?2, ?3)",
            params![user_id, step, now_ms],
        )?;
        Ok(added == 1)
    }

    fn reset_factors(&self, user_id: &str) -> Result<usize, StoreError> {
        let c = self.lock()?;
        Ok(c.exec("DELETE FROM mfa_factors WHERE user_id = ?1", [user_id])?)
    }
}
