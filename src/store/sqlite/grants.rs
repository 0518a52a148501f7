//! Single-use grants: authorization codes and refresh tokens (atomic test-and-set).

use rusqlite::{OptionalExtension, params};

use super::Cached;
use super::{SqliteStore, corrupt};
use crate::store::refresh::{RefreshRecord, RefreshTokenStore};
use crate::store::{CodeRedemption, CodeStore, StoreError};

impl CodeStore for SqliteStore {
    fn put_code(&self, code_hash: &str, record: &str, expires_at_ms: i64) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.exec(
            "INSERT INTO authorization_codes (code_hash, record, expires_at) VALUES (?1, ?2, ?3)",
            params![code_hash, record, expires_at_ms],
        )?;
        Ok(())
    }

    fn redeem_code(&self, code_hash: &str, now_ms: i64) -> Result<CodeRedemption, StoreError> {
        let tx = self.begin()?;
        // Expired codes are swept in the background (`sweep_expired`), never here: a sweep on the
        // request path scanned the table on every token request.
        let row: Option<(String, i64, bool, Option<String>)> = tx
            .row(
                "SELECT record, expires_at, used, refresh_family FROM authorization_codes WHERE code_hash = ?1",
                [code_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let result = match row {
            None => CodeRedemption::Unknown,
            Some((_, _, true, family)) => CodeRedemption::Reused(family),
            Some((_, exp, false, _)) if exp <= now_ms => CodeRedemption::Unknown,
            Some((record, _, false, _)) => {
                // A used code keeps no login data: only what a replay needs (its refresh family).
                tx.exec(
                    "UPDATE authorization_codes SET used = 1, record = '' WHERE code_hash = ?1",
                    [code_hash],
                )?;
                CodeRedemption::Fresh(record)
            }
        };
        tx.commit()?;
        Ok(result)
    }

    fn set_code_family(&self, code_hash: &str, family: &str) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.exec(
            "UPDATE authorization_codes SET refresh_family = ?1 WHERE code_hash = ?2",
            params![family, code_hash],
        )?;
        Ok(())
    }
}

impl RefreshTokenStore for SqliteStore {
    fn insert(&self, record: RefreshRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(&record).map_err(corrupt)?;
        let c = self.lock()?;
        c.exec(
            "INSERT INTO refresh_tokens (token_hash, family, record, used, revoked, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                record.token_hash,
                record.family,
                json,
                record.used,
                record.revoked,
                record.expires_at
            ],
        )?;
        Ok(())
    }

    fn get(&self, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        let row: Option<(String, bool, bool)> = self.read(|c| {
            Ok(c.row(
                "SELECT record, used, revoked FROM refresh_tokens WHERE token_hash = ?1",
                [token_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
        })?;
        let Some((json, used, revoked)) = row else { return Ok(None) };
        let mut rec: RefreshRecord = serde_json::from_str(&json).map_err(corrupt)?;
        rec.used = used;
        rec.revoked = revoked;
        Ok(Some(rec))
    }

    fn mark_used(&self, token_hash: &str) -> Result<bool, StoreError> {
        // Atomic test-and-set: of two concurrent exchanges of one token, exactly one wins.
        let c = self.lock()?;
        let n = c.exec(
            "UPDATE refresh_tokens SET used = 1 WHERE token_hash = ?1 AND used = 0",
            [token_hash],
        )?;
        Ok(n == 1)
    }

    fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.exec("UPDATE refresh_tokens SET revoked = 1 WHERE family = ?1", [family])?;
        Ok(())
    }
}
