//! What a login keeps between requests: sessions and flows (the typed login records).

use rusqlite::{OptionalExtension, params};

use super::Cached;
use super::{SqliteStore, corrupt};
use crate::store::{FlowStore, SessionLogin, SessionRecord, SessionStore, StoreError};

impl SessionStore for SqliteStore {
    fn put_session(&self, id_hash: &str, record: &SessionRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).map_err(corrupt)?;
        let c = self.lock()?;
        c.exec(
            "INSERT OR REPLACE INTO sessions (id_hash, user_id, record, expires_at, sid) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id_hash,
                record.user_id,
                json,
                record.expires_at.min(record.idle_expires_at),
                record.sid
            ],
        )?;
        Ok(())
    }

    fn session(&self, id_hash: &str, now_ms: i64) -> Result<Option<SessionRecord>, StoreError> {
        let row: Option<(String, i64)> = self.read(|c| {
            Ok(c.row("SELECT record, expires_at FROM sessions WHERE id_hash = ?1", [id_hash], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
        })?;
        match row {
            Some((json, exp)) if exp > now_ms => serde_json::from_str(&json).map(Some).map_err(corrupt),
            Some(_) => {
                self.delete_session(id_hash)?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    fn session_login(&self, id_hash: &str, now_ms: i64) -> Result<Option<SessionLogin>, StoreError> {
        type Row = (String, i64, Option<String>, String);
        let row: Option<Row> = self.read(|c| {
            Ok(c.row(
                "SELECT s.record, s.expires_at, u.profile,
                    (SELECT json_group_array(factor ORDER BY created_at, factor) FROM mfa_factors WHERE user_id = s.user_id)
                 FROM sessions s LEFT JOIN users u ON u.user_id = s.user_id WHERE s.id_hash = ?1",
                [id_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?)
        })?;
        match row {
            Some((session, exp, profile, factors)) if exp > now_ms => Ok(Some(SessionLogin {
                session: serde_json::from_str(&session).map_err(corrupt)?,
                user: profile.map(|p| serde_json::from_str(&p)).transpose().map_err(corrupt)?,
                factors: serde_json::from_str(&factors).map_err(corrupt)?,
            })),
            Some(_) => {
                self.delete_session(id_hash)?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.exec("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
        Ok(())
    }

    fn delete_session_by_sid(&self, sid: &str) -> Result<bool, StoreError> {
        let c = self.lock()?;
        Ok(c.exec("DELETE FROM sessions WHERE sid = ?1", [sid])? > 0)
    }

    fn session_by_sid(&self, sid: &str, now_ms: i64) -> Result<Option<(String, SessionRecord)>, StoreError> {
        let row: Option<(String, String)> = self.read(|c| {
            Ok(c.row(
                "SELECT id_hash, record FROM sessions WHERE sid = ?1 AND expires_at > ?2",
                params![sid, now_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })?;
        match row {
            Some((hash, json)) => Ok(Some((hash, serde_json::from_str(&json).map_err(corrupt)?))),
            None => Ok(None),
        }
    }
}

impl FlowStore for SqliteStore {
    fn put_flow(&self, key: &str, value: &str, expires_at_ms: i64) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.exec(
            "INSERT OR REPLACE INTO flows (key, value, expires_at) VALUES (?1, ?2, ?3)",
            params![key, value, expires_at_ms],
        )?;
        Ok(())
    }

    fn flow(&self, key: &str, now_ms: i64) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(c.row(
                "SELECT value FROM flows WHERE key = ?1 AND expires_at > ?2",
                params![key, now_ms],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn take_flow(&self, key: &str, now_ms: i64) -> Result<Option<String>, StoreError> {
        let tx = self.begin()?;
        let v: Option<String> = tx
            .row(
                "SELECT value FROM flows WHERE key = ?1 AND expires_at > ?2",
                params![key, now_ms],
                |r| r.get(0),
            )
            .optional()?;
        tx.exec("DELETE FROM flows WHERE key = ?1 OR expires_at <= ?2", params![key, now_ms])?;
        tx.commit()?;
        Ok(v)
    }
}
