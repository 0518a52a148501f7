//! Users (argon2id passwords, failures counted per username, metadata) and password resets.

use super::{PgStore, corrupt, lock_key};
use crate::pipeline::Outcome;
use crate::pipeline::event::User;
use crate::store::{LockoutPolicy, LoginCheck, PasswordResetStore, ResetTicket, StoreError, UserStore, apply_changes, argon};

fn unique_violation(e: &r2d2_postgres::postgres::Error) -> Option<&'static str> {
    let db = e.as_db_error()?;
    (db.code() == &r2d2_postgres::postgres::error::SqlState::UNIQUE_VIOLATION).then(|| {
        if db.constraint().is_some_and(|c| c.contains("username")) {
            "username"
        } else {
            "user id"
        }
    })
}

impl UserStore for PgStore {
    fn add_user(&self, username: &str, password: &str, user: &User) -> Result<(), StoreError> {
        let hash = argon::hash_password(password)?;
        let profile = serde_json::to_string(user).map_err(corrupt)?;
        match self.conn()?.execute(
            "INSERT INTO users (user_id, username, password_hash, profile) VALUES ($1, $2, $3, $4)",
            &[&user.user_id, &username, &hash, &profile],
        ) {
            Ok(_) => Ok(()),
            Err(e) => Err(unique_violation(&e).map_or_else(|| e.into(), StoreError::Conflict)),
        }
    }

    fn import_user(&self, username: &str, password_hash: &str, user: &User) -> Result<bool, StoreError> {
        argon::validate_phc(password_hash)?;
        let profile = serde_json::to_string(user).map_err(corrupt)?;
        let n = self.conn()?.execute(
            "INSERT INTO users (user_id, username, password_hash, profile) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&user.user_id, &username, &password_hash, &profile],
        )?;
        Ok(n == 1)
    }

    fn login(&self, username: &str, password: &str, now_ms: i64, policy: LockoutPolicy) -> Result<LoginCheck, StoreError> {
        let key = hex::encode(openssl::sha::sha256(username.as_bytes()));
        let (row, locked_until) = {
            let mut c = self.conn()?;
            let locked: i64 = c
                .query_opt("SELECT locked_until FROM login_failures WHERE username_hash = $1", &[&key])?
                .map_or(0, |r| r.get(0));
            let row: Option<String> = c
                .query_opt("SELECT password_hash FROM users WHERE username = $1", &[&username])?
                .map(|r| r.get(0));
            (row, locked)
        };
        if locked_until > now_ms {
            return Ok(LoginCheck::Locked(locked_until));
        }
        // Checked without holding a connection: argon2 takes tens of milliseconds.
        let good = argon::check_password(row.as_deref(), password)?;
        self.tx(|tx| {
            // Concurrent attempts on one username (on any node) count one after the other.
            lock_key(tx, &key)?;
            if !good {
                let failed: i32 = tx
                    .query_opt("SELECT failed FROM login_failures WHERE username_hash = $1", &[&key])?
                    .map_or(0, |r| r.get(0))
                    + 1;
                let (failed, locked) = if failed >= policy.max_failures as i32 {
                    tracing::warn!("username locked after repeated failed logins");
                    (0, now_ms + policy.lock_ms)
                } else {
                    (failed, 0)
                };
                tx.execute(
                    "INSERT INTO login_failures (username_hash, failed, locked_until, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (username_hash) DO UPDATE SET failed = $2, locked_until = $3, updated_at = $4",
                    &[&key, &failed, &locked, &now_ms],
                )?;
                return Ok(LoginCheck::Invalid);
            }
            tx.execute("DELETE FROM login_failures WHERE username_hash = $1", &[&key])?;
            let Some(profile) = tx.query_opt("SELECT profile FROM users WHERE username = $1 FOR UPDATE", &[&username])? else {
                return Ok(LoginCheck::Invalid);
            };
            let user = crate::store::count_login(profile.get(0), now_ms)?;
            tx.execute(
                "UPDATE users SET profile = $1 WHERE username = $2",
                &[&serde_json::to_string(&user).map_err(corrupt)?, &username],
            )?;
            Ok(LoginCheck::Ok(Box::new(user)))
        })
    }

    fn user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        let row = self
            .conn()?
            .query_opt("SELECT profile FROM users WHERE user_id = $1", &[&user_id])?;
        row.map(|r| serde_json::from_str(r.get(0)).map_err(corrupt)).transpose()
    }

    fn user_id_of(&self, username: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()?
            .query_opt("SELECT user_id FROM users WHERE username = $1", &[&username])?
            .map(|r| r.get(0)))
    }

    fn verify_password(&self, username: &str, password: &str) -> Result<Option<User>, StoreError> {
        let row: Option<(String, String)> = self
            .conn()?
            .query_opt("SELECT password_hash, profile FROM users WHERE username = $1", &[&username])?
            .map(|r| (r.get(0), r.get(1)));
        argon::verified_profile(row, password)
    }

    fn apply_metadata(&self, user_id: &str, outcome: &Outcome) -> Result<(), StoreError> {
        if outcome.app_metadata_changes.is_empty() && outcome.user_metadata_changes.is_empty() {
            return Ok(());
        }
        self.tx(|tx| {
            // The row lock: concurrent logins of the same user cannot lose each other's changes.
            let Some(row) = tx.query_opt("SELECT profile FROM users WHERE user_id = $1 FOR UPDATE", &[&user_id])? else {
                return Ok(());
            };
            let mut user: User = serde_json::from_str(row.get(0)).map_err(corrupt)?;
            apply_changes(&outcome.app_metadata_changes, &mut user.app_metadata);
            apply_changes(&outcome.user_metadata_changes, &mut user.user_metadata);
            tx.execute(
                "UPDATE users SET profile = $1 WHERE user_id = $2",
                &[&serde_json::to_string(&user).map_err(corrupt)?, &user_id],
            )?;
            Ok(())
        })
    }
}

impl PasswordResetStore for PgStore {
    fn reset_target(&self, identifier: &str) -> Result<Option<(String, String)>, StoreError> {
        let row = self.conn()?.query_opt(
            "SELECT user_id, (profile::jsonb)->>'email' FROM users
             WHERE username = $1 OR lower((profile::jsonb)->>'email') = lower($1)
             ORDER BY (username = $1) DESC LIMIT 1",
            &[&identifier],
        )?;
        Ok(row.and_then(|r| {
            let email: Option<String> = r.get(1);
            email.filter(|e| !e.is_empty()).map(|e| (r.get(0), e))
        }))
    }

    fn put_reset(&self, token_hash: &str, ticket: &ResetTicket, expires_at_ms: i64) -> Result<(), StoreError> {
        self.tx(|tx| {
            // A newer request supersedes the earlier links.
            tx.execute("DELETE FROM password_resets WHERE user_id = $1", &[&ticket.user_id])?;
            tx.execute(
                "INSERT INTO password_resets (token_hash, user_id, client_id, expires_at) VALUES ($1, $2, $3, $4)",
                &[&token_hash, &ticket.user_id, &ticket.client_id, &expires_at_ms],
            )?;
            Ok(())
        })
    }

    fn take_reset(&self, token_hash: &str, now_ms: i64) -> Result<Option<ResetTicket>, StoreError> {
        Ok(self
            .conn()?
            .query_opt(
                "DELETE FROM password_resets WHERE token_hash = $1 AND expires_at > $2 RETURNING user_id, client_id",
                &[&token_hash, &now_ms],
            )?
            .map(|r| ResetTicket {
                user_id: r.get(0),
                client_id: r.get(1),
            }))
    }

    fn reset_valid(&self, token_hash: &str, now_ms: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn()?
            .query_opt(
                "SELECT 1 FROM password_resets WHERE token_hash = $1 AND expires_at > $2",
                &[&token_hash, &now_ms],
            )?
            .is_some())
    }

    fn set_password(&self, user_id: &str, password_hash: &str, revoke: bool) -> Result<(), StoreError> {
        argon::validate_phc(password_hash)?;
        self.tx(|tx| {
            let Some(row) = tx.query_opt("SELECT username FROM users WHERE user_id = $1 FOR UPDATE", &[&user_id])? else {
                return Err(StoreError::Internal("no such user".into()));
            };
            let username: String = row.get(0);
            tx.execute(
                "UPDATE users SET password_hash = $2 WHERE user_id = $1",
                &[&user_id, &password_hash],
            )?;
            let key = hex::encode(openssl::sha::sha256(username.as_bytes()));
            tx.execute("DELETE FROM login_failures WHERE username_hash = $1", &[&key])?;
            tx.execute("DELETE FROM password_resets WHERE user_id = $1", &[&user_id])?;
            if revoke {
                tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])?;
                tx.execute("UPDATE refresh_tokens SET revoked = TRUE WHERE user_id = $1", &[&user_id])?;
            }
            Ok(())
        })
    }
}
