//! Sessions, login records (flows), and the single-use grants: authorization codes and refresh
//! tokens. Of two concurrent redemptions, on any nodes, exactly one wins.

use super::{PgStore, corrupt};
use crate::store::refresh::{RefreshRecord, RefreshTokenStore};
use crate::store::{CodeRedemption, CodeStore, FlowStore, SessionLogin, SessionRecord, SessionStore, StoreError};

impl SessionStore for PgStore {
    fn put_session(&self, id_hash: &str, record: &SessionRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).map_err(corrupt)?;
        let expires = record.expires_at.min(record.idle_expires_at);
        self.conn()?.execute(
            "INSERT INTO sessions (id_hash, user_id, sid, record, expires_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id_hash) DO UPDATE SET user_id = $2, sid = $3, record = $4, expires_at = $5",
            &[&id_hash, &record.user_id, &record.sid, &json, &expires],
        )?;
        Ok(())
    }

    fn session(&self, id_hash: &str, now_ms: i64) -> Result<Option<SessionRecord>, StoreError> {
        let row = self.conn()?.query_opt(
            "SELECT record FROM sessions WHERE id_hash = $1 AND expires_at > $2",
            &[&id_hash, &now_ms],
        )?;
        row.map(|r| serde_json::from_str(r.get(0)).map_err(corrupt)).transpose()
    }

    fn session_login(&self, id_hash: &str, now_ms: i64) -> Result<Option<SessionLogin>, StoreError> {
        let row = self.conn()?.query_opt(
            "SELECT s.record, u.profile,
                ARRAY(SELECT factor FROM mfa_factors f WHERE f.user_id = s.user_id ORDER BY created_at, factor)
             FROM sessions s LEFT JOIN users u ON u.user_id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2",
            &[&id_hash, &now_ms],
        )?;
        let Some(r) = row else { return Ok(None) };
        let profile: Option<&str> = r.get(1);
        Ok(Some(SessionLogin {
            session: serde_json::from_str(r.get(0)).map_err(corrupt)?,
            user: profile.map(serde_json::from_str).transpose().map_err(corrupt)?,
            factors: r.get(2),
        }))
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.conn()?.execute("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])?;
        Ok(())
    }

    fn delete_session_by_sid(&self, sid: &str) -> Result<bool, StoreError> {
        Ok(self.conn()?.execute("DELETE FROM sessions WHERE sid = $1", &[&sid])? > 0)
    }

    fn session_by_sid(&self, sid: &str, now_ms: i64) -> Result<Option<(String, SessionRecord)>, StoreError> {
        let row = self.conn()?.query_opt(
            "SELECT id_hash, record FROM sessions WHERE sid = $1 AND expires_at > $2",
            &[&sid, &now_ms],
        )?;
        match row {
            Some(r) => Ok(Some((r.get(0), serde_json::from_str(r.get(1)).map_err(corrupt)?))),
            None => Ok(None),
        }
    }
}

impl FlowStore for PgStore {
    fn put_flow(&self, key: &str, value: &str, expires_at_ms: i64) -> Result<(), StoreError> {
        self.conn()?.execute(
            "INSERT INTO flows (key, value, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET value = $2, expires_at = $3",
            &[&key, &value, &expires_at_ms],
        )?;
        Ok(())
    }

    fn flow(&self, key: &str, now_ms: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()?
            .query_opt("SELECT value FROM flows WHERE key = $1 AND expires_at > $2", &[&key, &now_ms])?
            .map(|r| r.get(0)))
    }

    fn take_flow(&self, key: &str, now_ms: i64) -> Result<Option<String>, StoreError> {
        // One statement: of two requests taking the same record, one gets it.
        let row = self
            .conn()?
            .query_opt("DELETE FROM flows WHERE key = $1 RETURNING value, expires_at", &[&key])?;
        Ok(row.and_then(|r| {
            let expires: i64 = r.get(1);
            (expires > now_ms).then(|| r.get(0))
        }))
    }
}

impl CodeStore for PgStore {
    fn put_code(&self, code_hash: &str, record: &str, expires_at_ms: i64) -> Result<(), StoreError> {
        self.conn()?.execute(
            "INSERT INTO authorization_codes (code_hash, record, expires_at) VALUES ($1, $2, $3)",
            &[&code_hash, &record, &expires_at_ms],
        )?;
        Ok(())
    }

    fn redeem_code(&self, code_hash: &str, now_ms: i64) -> Result<CodeRedemption, StoreError> {
        self.tx(|tx| {
            // The row lock: a concurrent redemption waits, then sees the code used.
            let row = tx.query_opt(
                "SELECT record, expires_at, used, refresh_family FROM authorization_codes WHERE code_hash = $1 FOR UPDATE",
                &[&code_hash],
            )?;
            let Some(r) = row else { return Ok(CodeRedemption::Unknown) };
            let (record, expires, used, family): (String, i64, bool, Option<String>) = (r.get(0), r.get(1), r.get(2), r.get(3));
            if used {
                return Ok(CodeRedemption::Reused(family));
            }
            if expires <= now_ms {
                return Ok(CodeRedemption::Unknown);
            }
            // A used code keeps no login data: only what a replay needs (its refresh family).
            tx.execute(
                "UPDATE authorization_codes SET used = TRUE, record = '' WHERE code_hash = $1",
                &[&code_hash],
            )?;
            Ok(CodeRedemption::Fresh(record))
        })
    }

    fn set_code_family(&self, code_hash: &str, family: &str) -> Result<(), StoreError> {
        self.conn()?.execute(
            "UPDATE authorization_codes SET refresh_family = $1 WHERE code_hash = $2",
            &[&family, &code_hash],
        )?;
        Ok(())
    }
}

impl RefreshTokenStore for PgStore {
    fn insert(&self, record: RefreshRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(&record).map_err(corrupt)?;
        self.conn()?.execute(
            "INSERT INTO refresh_tokens (token_hash, family, user_id, record, used, revoked, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &record.token_hash,
                &record.family,
                &record.user_id,
                &json,
                &record.used,
                &record.revoked,
                &record.expires_at,
            ],
        )?;
        Ok(())
    }

    fn get(&self, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        let row = self.conn()?.query_opt(
            "SELECT record, used, revoked FROM refresh_tokens WHERE token_hash = $1",
            &[&token_hash],
        )?;
        let Some(r) = row else { return Ok(None) };
        let mut rec: RefreshRecord = serde_json::from_str(r.get(0)).map_err(corrupt)?;
        rec.used = r.get(1);
        rec.revoked = r.get(2);
        Ok(Some(rec))
    }

    fn mark_used(&self, token_hash: &str) -> Result<bool, StoreError> {
        // Atomic test-and-set: of two concurrent exchanges of one token, exactly one wins.
        let n = self.conn()?.execute(
            "UPDATE refresh_tokens SET used = TRUE WHERE token_hash = $1 AND used = FALSE",
            &[&token_hash],
        )?;
        Ok(n == 1)
    }

    fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        self.conn()?
            .execute("UPDATE refresh_tokens SET revoked = TRUE WHERE family = $1", &[&family])?;
        Ok(())
    }
}
