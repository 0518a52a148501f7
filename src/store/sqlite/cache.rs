//! The actions cache (`api.cache`), scoped per trigger.

use rusqlite::{OptionalExtension, params};

use super::Cached;
use super::SqliteStore;
use crate::pipeline::cache::{ActionCache, CacheError, MAX_RECORDS_PER_SCOPE, StoredRecord};

impl ActionCache for SqliteStore {
    fn get(&self, scope: &str, key: &str, now_ms: i64) -> Option<StoredRecord> {
        self.read(|c| {
            Ok(c.row(
                "SELECT value, expires_at FROM actions_cache WHERE scope = ?1 AND key = ?2 AND expires_at > ?3",
                params![scope, key, now_ms],
                |r| {
                    Ok(StoredRecord {
                        value: r.get(0)?,
                        expires_at: r.get(1)?,
                    })
                },
            )
            .optional()?)
        })
        .ok()
        .flatten()
    }

    fn set(&self, scope: &str, key: &str, record: StoredRecord, now_ms: i64) -> Result<(), CacheError> {
        let tx = self.begin().map_err(|_| CacheError::Storage)?;
        tx.exec("DELETE FROM actions_cache WHERE expires_at <= ?1", [now_ms])
            .map_err(|_| CacheError::Storage)?;
        let exists: bool = tx
            .row(
                "SELECT 1 FROM actions_cache WHERE scope = ?1 AND key = ?2",
                params![scope, key],
                |_| Ok(true),
            )
            .optional()
            .map_err(|_| CacheError::Storage)?
            .unwrap_or(false);
        let count: i64 = tx
            .row("SELECT COUNT(*) FROM actions_cache WHERE scope = ?1", [scope], |r| r.get(0))
            .map_err(|_| CacheError::Storage)?;
        if !exists && count as usize >= MAX_RECORDS_PER_SCOPE {
            return Err(CacheError::Full);
        }
        tx.exec(
            "INSERT OR REPLACE INTO actions_cache (scope, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![scope, key, record.value, record.expires_at],
        )
        .map_err(|_| CacheError::Storage)?;
        tx.commit().map_err(|_| CacheError::Storage)
    }

    fn delete(&self, scope: &str, key: &str, now_ms: i64) -> Result<(), CacheError> {
        let c = self.lock().map_err(|_| CacheError::Storage)?;
        let n = c
            .exec(
                "DELETE FROM actions_cache WHERE scope = ?1 AND key = ?2 AND expires_at > ?3",
                params![scope, key, now_ms],
            )
            .map_err(|_| CacheError::Storage)?;
        if n == 1 { Ok(()) } else { Err(CacheError::NotFound) }
    }
}
