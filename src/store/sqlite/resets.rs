//! Password resets: link tokens (hashed, single use, one live per user) and the password change.

use rusqlite::{OptionalExtension, params};

use super::Cached;
use super::SqliteStore;
use crate::store::{PasswordResetStore, ResetTicket, StoreError};

impl PasswordResetStore for SqliteStore {
    fn reset_target(&self, identifier: &str) -> Result<Option<(String, String)>, StoreError> {
        // The e-mail is not indexed (a scan): never on the writer.
        let row: Option<(String, Option<String>)> = self.read_pooled(|c| {
            Ok(c.row(
                "SELECT user_id, json_extract(profile, '$.email') FROM users
                 WHERE username = ?1 OR lower(json_extract(profile, '$.email')) = lower(?1)
                 ORDER BY username = ?1 DESC LIMIT 1",
                [identifier],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })?;
        Ok(row.and_then(|(id, email)| email.filter(|e| !e.is_empty()).map(|e| (id, e))))
    }

    fn put_reset(&self, token_hash: &str, ticket: &ResetTicket, expires_at_ms: i64) -> Result<(), StoreError> {
        let tx = self.begin()?;
        // A newer request supersedes the earlier links.
        tx.exec("DELETE FROM password_resets WHERE user_id = ?1", [&ticket.user_id])?;
        tx.exec(
            "INSERT INTO password_resets (token_hash, user_id, client_id, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_hash, ticket.user_id, ticket.client_id, expires_at_ms],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn take_reset(&self, token_hash: &str, now_ms: i64) -> Result<Option<ResetTicket>, StoreError> {
        let c = self.lock()?;
        Ok(c.row(
            "DELETE FROM password_resets WHERE token_hash = ?1 AND expires_at > ?2 RETURNING user_id, client_id",
            params![token_hash, now_ms],
            |r| {
                Ok(ResetTicket {
                    user_id: r.get(0)?,
                    client_id: r.get(1)?,
                })
            },
        )
        .optional()?)
    }

    fn reset_valid(&self, token_hash: &str, now_ms: i64) -> Result<bool, StoreError> {
        self.read(|c| {
            Ok(c.row(
                "SELECT 1 FROM password_resets WHERE token_hash = ?1 AND expires_at > ?2",
                params![token_hash, now_ms],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })
    }

    fn set_password(&self, user_id: &str, password_hash: &str, revoke: bool) -> Result<(), StoreError> {
        crate::store::argon::validate_phc(password_hash)?;
        let tx = self.begin()?;
        let username: Option<String> = tx
            .row("SELECT username FROM users WHERE user_id = ?1", [user_id], |r| r.get(0))
            .optional()?;
        let Some(username) = username else {
            return Err(StoreError::Internal("no such user".into()));
        };
        tx.exec(
            "UPDATE users SET password_hash = ?2, failed_logins = 0, locked_until = 0 WHERE user_id = ?1",
            params![user_id, password_hash],
        )?;
        let key = hex::encode(openssl::sha::sha256(username.as_bytes()));
        tx.exec("DELETE FROM login_failures WHERE username_hash = ?1", [&key])?;
        tx.exec("DELETE FROM password_resets WHERE user_id = ?1", [user_id])?;
        if revoke {
            tx.exec("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
            tx.exec(
                "UPDATE refresh_tokens SET revoked = 1 WHERE json_extract(record, '$.user_id') = ?1",
                [user_id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
