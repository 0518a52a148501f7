//! Users: argon2id passwords, failures counted per username (known or not), profiles and metadata.

use rusqlite::{OptionalExtension, params};

use super::Cached;
use super::{SqliteStore, corrupt};
use crate::pipeline::Outcome;
use crate::pipeline::event::User;
use crate::store::{LockoutPolicy, LoginCheck, StoreError, UserStore, apply_changes};

impl UserStore for SqliteStore {
    fn add_user(&self, username: &str, password: &str, user: &User) -> Result<(), StoreError> {
        let hash = crate::store::argon::hash_password(password)?;
        let profile = serde_json::to_string(user).map_err(corrupt)?;
        let c = self.lock()?;
        match c.exec(
            "INSERT INTO users (user_id, username, password_hash, profile) VALUES (?1, ?2, ?3, ?4)",
            params![user.user_id, username, hash, profile],
        ) {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, Some(msg))) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Err(StoreError::Conflict(if msg.contains("username") { "username" } else { "user id" }))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn import_user(&self, username: &str, password_hash: &str, user: &User) -> Result<bool, StoreError> {
        crate::store::argon::validate_phc(password_hash)?;
        let profile = serde_json::to_string(user).map_err(corrupt)?;
        let c = self.lock()?;
        let n = c.exec(
            "INSERT OR IGNORE INTO users (user_id, username, password_hash, profile) VALUES (?1, ?2, ?3, ?4)",
            params![user.user_id, username, password_hash, profile],
        )?;
        Ok(n == 1)
    }

    fn login(&self, username: &str, password: &str, now_ms: i64, policy: LockoutPolicy) -> Result<LoginCheck, StoreError> {
        // Failures are counted per username whether or not it exists, so that the lockout
        // answers an unknown username exactly like a real one (no account enumeration).
        let key = hex::encode(openssl::sha::sha256(username.as_bytes()));
        let (row, locked_until): (Option<(String, String)>, i64) = self.read(|c| {
            let locked: i64 = c
                .row("SELECT locked_until FROM login_failures WHERE username_hash = ?1", [&key], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(0);
            let row = c
                .row("SELECT password_hash, profile FROM users WHERE username = ?1", [username], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            Ok((row, locked))
        })?;
        if locked_until > now_ms {
            return Ok(LoginCheck::Locked(locked_until));
        }
        // The hash is checked outside the lock: argon2 takes tens of milliseconds.
        let good = crate::store::argon::check_password(row.as_ref().map(|(h, _)| h.as_str()), password)?;
        let tx = self.begin()?;
        let Some((_, profile)) = row.filter(|_| good) else {
            let failed: i64 = tx
                .row("SELECT failed FROM login_failures WHERE username_hash = ?1", [&key], |r| r.get(0))
                .optional()?
                .unwrap_or(0)
                + 1;
            let (failed, locked) = if failed >= i64::from(policy.max_failures) {
                tracing::warn!("username locked after repeated failed logins");
                (0, now_ms + policy.lock_ms)
            } else {
                (failed, 0)
            };
            tx.exec(
                "INSERT INTO login_failures (username_hash, failed, locked_until, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(username_hash) DO UPDATE SET failed = ?2, locked_until = ?3, updated_at = ?4",
                params![key, failed, locked, now_ms],
            )?;
            tx.commit()?;
            return Ok(LoginCheck::Invalid);
        };
        tx.exec("DELETE FROM login_failures WHERE username_hash = ?1", [&key])?;
        // Re-read: metadata may have changed while the hash was being checked.
        let profile: String = tx
            .row("SELECT profile FROM users WHERE username = ?1", [username], |r| r.get(0))
            .unwrap_or(profile);
        let user = crate::store::count_login(&profile, now_ms)?;
        tx.exec(
            "UPDATE users SET profile = ?1 WHERE username = ?2",
            params![serde_json::to_string(&user).map_err(corrupt)?, username],
        )?;
        tx.commit()?;
        Ok(LoginCheck::Ok(Box::new(user)))
    }

    fn user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        let profile: Option<String> = self.read(|c| {
            Ok(c.row("SELECT profile FROM users WHERE user_id = ?1", [user_id], |r| r.get(0))
                .optional()?)
        })?;
        profile.map(|p| serde_json::from_str(&p).map_err(corrupt)).transpose()
    }

    fn user_id_of(&self, username: &str) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(c.row("SELECT user_id FROM users WHERE username = ?1", [username], |r| r.get(0))
                .optional()?)
        })
    }

    fn verify_password(&self, username: &str, password: &str) -> Result<Option<User>, StoreError> {
        let row: Option<(String, String)> = self.read(|c| {
            Ok(
                c.row("SELECT password_hash, profile FROM users WHERE username = ?1", [username], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?,
            )
        })?;
        crate::store::argon::verified_profile(row, password)
    }

    fn apply_metadata(&self, user_id: &str, outcome: &Outcome) -> Result<(), StoreError> {
        if outcome.app_metadata_changes.is_empty() && outcome.user_metadata_changes.is_empty() {
            return Ok(());
        }
        // One transaction: concurrent logins of the same user cannot lose each other's changes.
        let tx = self.begin()?;
        let profile: Option<String> = tx
            .row("SELECT profile FROM users WHERE user_id = ?1", [user_id], |r| r.get(0))
            .optional()?;
        let Some(profile) = profile else { return Ok(()) };
        let mut user: User = serde_json::from_str(&profile).map_err(corrupt)?;
        apply_changes(&outcome.app_metadata_changes, &mut user.app_metadata);
        apply_changes(&outcome.user_metadata_changes, &mut user.user_metadata);
        tx.exec(
            "UPDATE users SET profile = ?1 WHERE user_id = ?2",
            params![serde_json::to_string(&user).map_err(corrupt)?, user_id],
        )?;
        tx.commit()?;
        Ok(())
    }
}
