//! Shared counters and one-time IDs (rate-limit events, SAML request IDs, TOTP steps), persistent
//! NameIDs, MFA enrolments and the actions cache.

use super::{PgStore, lock_key};
use crate::pipeline::cache::{ActionCache, CacheError, MAX_RECORDS_PER_SCOPE, StoredRecord};
use crate::store::{MfaStore, NameIdStore, RateLimitStore, ReplayStore, StoreError};

impl RateLimitStore for PgStore {
    fn hit(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Result<bool, StoreError> {
        self.tx(|tx| {
            // The count and the insert of one key are serialized across nodes.
            lock_key(tx, key)?;
            let n: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM rate_events WHERE key = $1 AND at > $2",
                    &[&key, &(now_ms - window_ms)],
                )?
                .get(0);
            if n >= i64::from(limit) {
                return Ok(false);
            }
            tx.execute("INSERT INTO rate_events (key, at) VALUES ($1, $2)", &[&key, &now_ms])?;
            Ok(true)
        })
    }

    fn count(&self, keys: &[&str], window_ms: i64, now_ms: i64) -> Result<u32, StoreError> {
        let n: i64 = self
            .conn()?
            .query_one(
                "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM rate_events
                 WHERE key = ANY($1) AND at > $2 GROUP BY key) counts",
                &[&keys, &(now_ms - window_ms)],
            )?
            .get(0);
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn record(&self, key: &str, now_ms: i64) -> Result<(), StoreError> {
        self.conn()?
            .execute("INSERT INTO rate_events (key, at) VALUES ($1, $2)", &[&key, &now_ms])?;
        Ok(())
    }
}

impl NameIdStore for PgStore {
    fn persistent_name_id(&self, sp: &str, user_id: &str, allow_create: bool, now_ms: i64) -> Result<Option<String>, StoreError> {
        let mut c = self.conn()?;
        let get = "SELECT value FROM persistent_name_ids WHERE sp = $1 AND user_id = $2";
        if let Some(r) = c.query_opt(get, &[&sp, &user_id])? {
            return Ok(Some(r.get(0)));
        }
        if !allow_create {
            return Ok(None);
        }
        let mut bytes = [0u8; 24];
        openssl::rand::rand_bytes(&mut bytes).map_err(|e| StoreError::Internal(e.to_string()))?;
        let value = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
        // Two nodes creating one at once: the first insert wins, both read it.
        c.execute(
            "INSERT INTO persistent_name_ids (sp, user_id, value, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&sp, &user_id, &value, &now_ms],
        )?;
        Ok(c.query_opt(get, &[&sp, &user_id])?.map(|r| r.get(0)))
    }
}

impl ReplayStore for PgStore {
    fn remember_request_id(&self, key: &str, expires_at_ms: i64, now_ms: i64) -> Result<bool, StoreError> {
        // One statement: a new ID is inserted, an expired one taken again, a live one left
        // alone (no row changed: a replay).
        let n = self.conn()?.execute(
            "INSERT INTO request_ids (key, expires_at) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE request_ids.expires_at <= $3",
            &[&key, &expires_at_ms, &now_ms],
        )?;
        Ok(n == 1)
    }
}

impl MfaStore for PgStore {
    fn enrolled_factors(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .conn()?
            .query(
                "SELECT factor FROM mfa_factors WHERE user_id = $1 ORDER BY created_at, factor",
                &[&user_id],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn factor_secret(&self, user_id: &str, factor: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn()?
            .query_opt(
                "SELECT secret FROM mfa_factors WHERE user_id = $1 AND factor = $2",
                &[&user_id, &factor],
            )?
            .map(|r| r.get(0)))
    }

    fn put_factor(&self, user_id: &str, factor: &str, secret: &[u8], now_ms: i64) -> Result<(), StoreError> {
        self.conn()?.execute(
            "INSERT INTO mfa_factors (user_id, factor, secret, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, factor) DO UPDATE SET secret = EXCLUDED.secret",
            &[&user_id, &factor, &secret, &now_ms],
        )?;
        Ok(())
    }

    fn swap_factor_secret(&self, user_id: &str, factor: &str, old: &[u8], new: &[u8]) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "UPDATE mfa_factors SET secret = $4 WHERE user_id = $1 AND factor = $2 AND secret = $3",
            &[&user_id, &factor, &old, &new],
        )?;
        Ok(n == 1)
    }

    fn use_otp_step(&self, user_id: &str, step: i64, now_ms: i64) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "INSERT INTO otp_steps (user_id, step, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&user_id, &step, &now_ms],
        )?;
        Ok(n == 1)
    }

    fn reset_factors(&self, user_id: &str) -> Result<usize, StoreError> {
        Ok(self.conn()?.execute("DELETE FROM mfa_factors WHERE user_id = $1", &[&user_id])? as usize)
    }
}

impl ActionCache for PgStore {
    fn get(&self, scope: &str, key: &str, now_ms: i64) -> Option<StoredRecord> {
        let mut c = self.conn().ok()?;
        c.query_opt(
            "SELECT value, expires_at FROM actions_cache WHERE scope = $1 AND key = $2 AND expires_at > $3",
            &[&scope, &key, &now_ms],
        )
        .ok()?
        .map(|r| StoredRecord {
            value: r.get(0),
            expires_at: r.get(1),
        })
    }

    fn set(&self, scope: &str, key: &str, record: StoredRecord, now_ms: i64) -> Result<(), CacheError> {
        self.tx(|tx| {
            // The per-scope limit holds across nodes: sets of one scope are serialized.
            lock_key(tx, &format!("cache\n{scope}"))?;
            tx.execute(
                "DELETE FROM actions_cache WHERE scope = $1 AND expires_at <= $2",
                &[&scope, &now_ms],
            )?;
            let exists = tx
                .query_opt("SELECT 1 FROM actions_cache WHERE scope = $1 AND key = $2", &[&scope, &key])?
                .is_some();
            let count: i64 = tx
                .query_one("SELECT COUNT(*) FROM actions_cache WHERE scope = $1", &[&scope])?
                .get(0);
            if !exists && count as usize >= MAX_RECORDS_PER_SCOPE {
                return Ok(Err(CacheError::Full));
            }
            tx.execute(
                "INSERT INTO actions_cache (scope, key, value, expires_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (scope, key) DO UPDATE SET value = $3, expires_at = $4",
                &[&scope, &key, &record.value, &record.expires_at],
            )?;
            Ok(Ok(()))
        })
        .map_err(|_| CacheError::Storage)?
    }

    fn delete(&self, scope: &str, key: &str, now_ms: i64) -> Result<(), CacheError> {
        let n = self
            .conn()
            .and_then(|mut c| {
                Ok(c.execute(
                    "DELETE FROM actions_cache WHERE scope = $1 AND key = $2 AND expires_at > $3",
                    &[&scope, &key, &now_ms],
                )?)
            })
            .map_err(|_| CacheError::Storage)?;
        if n == 1 { Ok(()) } else { Err(CacheError::NotFound) }
    }
}
