//! The SQLite store (rusqlite, bundled SQLite): on disk, migrated at open, WAL journal.

use std::path::Path;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rusqlite::{Connection, OptionalExtension, params};

use super::refresh::{RefreshRecord, RefreshTokenStore};
use super::{
    CodeRedemption, CodeStore, FlowStore, LockoutPolicy, LoginCheck, Maintenance, RateLimitStore, ReplayStore, SessionRecord, SessionStore,
    StoreError, TransactionStore, UserStore, apply_changes,
};
use crate::pipeline::cache::{ActionCache, CacheError, MAX_RECORDS_PER_SCOPE, StoredRecord};
use crate::pipeline::event::User;
use crate::pipeline::{Outcome, TransactionState};

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        profile TEXT NOT NULL,
        failed_logins INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE transactions (
        resume_state TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        expires_at INTEGER NOT NULL
     );
     CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        family TEXT NOT NULL,
        record TEXT NOT NULL,
        used INTEGER NOT NULL DEFAULT 0,
        revoked INTEGER NOT NULL DEFAULT 0
     );
     CREATE INDEX refresh_tokens_family ON refresh_tokens(family);
     CREATE TABLE actions_cache (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
     );",
    "ALTER TABLE users ADD COLUMN locked_until INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        record TEXT NOT NULL,
        expires_at INTEGER NOT NULL
     );
     CREATE INDEX sessions_user ON sessions(user_id);
     CREATE TABLE flows (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        expires_at INTEGER NOT NULL
     );
     CREATE TABLE authorization_codes (
        code_hash TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used INTEGER NOT NULL DEFAULT 0,
        refresh_family TEXT
     );",
    "ALTER TABLE sessions ADD COLUMN sid TEXT;
     CREATE INDEX sessions_sid ON sessions(sid);",
    "CREATE TABLE request_ids (
        key TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
     );
     CREATE INDEX request_ids_expiry ON request_ids(expires_at);
     CREATE TABLE login_failures (
        username_hash TEXT PRIMARY KEY,
        failed INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
     );
     CREATE INDEX login_failures_updated ON login_failures(updated_at);",
    "CREATE INDEX authorization_codes_expiry ON authorization_codes(expires_at);
     CREATE INDEX flows_expiry ON flows(expires_at);
     CREATE INDEX sessions_expiry ON sessions(expires_at);
     CREATE INDEX transactions_expiry ON transactions(expires_at);
     CREATE INDEX actions_cache_expiry ON actions_cache(expires_at);
     ALTER TABLE refresh_tokens ADD COLUMN expires_at INTEGER;
     UPDATE refresh_tokens SET expires_at = json_extract(record, '$.expires_at');
     CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at);",
    "CREATE TABLE rate_events (
        key TEXT NOT NULL,
        at INTEGER NOT NULL
     );
     CREATE INDEX rate_events_key ON rate_events(key, at);
     CREATE INDEX rate_events_at ON rate_events(at);",
];

/// The schema version a freshly migrated database has (the number of migrations).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// SQLite-backed store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// An in-memory database (tests, dry runs).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL + NORMAL: commits are not fsynced one by one (a crash can lose the last few
        // commits but never corrupts the database); checkpoints still sync.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let tx = conn.transaction()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }

    /// The schema version (number of migrations applied).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let c = self.lock()?;
        Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Unavailable("the connection lock is poisoned".into()))
    }
}

impl UserStore for SqliteStore {
    fn add_user(&self, username: &str, password: &str, user: &User) -> Result<(), StoreError> {
        let mut salt = [0u8; 16];
        openssl::rand::rand_bytes(&mut salt).map_err(|e| StoreError::Internal(e.to_string()))?;
        let hash = Argon2::default()
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let profile = serde_json::to_string(user).map_err(corrupt)?;
        let c = self.lock()?;
        match c.execute(
            "INSERT INTO users (user_id, username, password_hash, profile) VALUES (?1, ?2, ?3, ?4)",
            params![user.user_id, username, hash.to_string(), profile],
        ) {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, Some(msg))) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Err(StoreError::Conflict(if msg.contains("username") { "username" } else { "user id" }))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn import_user(&self, username: &str, password_hash: &str, user: &User) -> Result<bool, StoreError> {
        argon2::password_hash::phc::PasswordHash::new(password_hash).map_err(|e| StoreError::Internal(e.to_string()))?;
        let profile = serde_json::to_string(user).map_err(corrupt)?;
        let c = self.lock()?;
        let n = c.execute(
            "INSERT OR IGNORE INTO users (user_id, username, password_hash, profile) VALUES (?1, ?2, ?3, ?4)",
            params![user.user_id, username, password_hash, profile],
        )?;
        Ok(n == 1)
    }

    fn login(&self, username: &str, password: &str, now_ms: i64, policy: LockoutPolicy) -> Result<LoginCheck, StoreError> {
        // Failures are counted per username whether or not it exists, so that the lockout
        // answers an unknown username exactly like a real one (no account enumeration).
        let key = hex::encode(openssl::sha::sha256(username.as_bytes()));
        let (row, locked_until): (Option<(String, String)>, i64) = {
            let c = self.lock()?;
            let locked: i64 = c
                .query_row("SELECT locked_until FROM login_failures WHERE username_hash = ?1", [&key], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(0);
            let row = c
                .query_row("SELECT password_hash, profile FROM users WHERE username = ?1", [username], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            (row, locked)
        };
        if locked_until > now_ms {
            return Ok(LoginCheck::Locked(locked_until));
        }
        // The hash is checked outside the lock: argon2 takes tens of milliseconds.
        let good = match &row {
            Some((hash, _)) => {
                let parsed = argon2::password_hash::phc::PasswordHash::new(hash).map_err(corrupt)?;
                Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
            }
            None => {
                // Why hash anyway: an unknown user must cost as much time as a wrong password.
                let _ = Argon2::default().hash_password_with_salt(password.as_bytes(), b"idpipe-no-such-user");
                false
            }
        };
        let mut c = self.lock()?;
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let Some((_, profile)) = row.filter(|_| good) else {
            let failed: i64 = tx
                .query_row("SELECT failed FROM login_failures WHERE username_hash = ?1", [&key], |r| r.get(0))
                .optional()?
                .unwrap_or(0)
                + 1;
            let (failed, locked) = if failed >= i64::from(policy.max_failures) {
                tracing::warn!("username locked after repeated failed logins");
                (0, now_ms + policy.lock_ms)
            } else {
                (failed, 0)
            };
            tx.execute(
                "INSERT INTO login_failures (username_hash, failed, locked_until, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(username_hash) DO UPDATE SET failed = ?2, locked_until = ?3, updated_at = ?4",
                params![key, failed, locked, now_ms],
            )?;
            tx.commit()?;
            return Ok(LoginCheck::Invalid);
        };
        tx.execute("DELETE FROM login_failures WHERE username_hash = ?1", [&key])?;
        // Re-read: metadata may have changed while the hash was being checked.
        let profile: String = tx
            .query_row("SELECT profile FROM users WHERE username = ?1", [username], |r| r.get(0))
            .unwrap_or(profile);
        let mut user: User = serde_json::from_str(&profile).map_err(corrupt)?;
        user.logins_count = Some(user.logins_count.unwrap_or(0) + 1);
        let ts = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
        user.last_login = Some(ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        tx.execute(
            "UPDATE users SET profile = ?1 WHERE username = ?2",
            params![serde_json::to_string(&user).map_err(corrupt)?, username],
        )?;
        tx.commit()?;
        Ok(LoginCheck::Ok(Box::new(user)))
    }

    fn user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        let c = self.lock()?;
        let profile: Option<String> = c
            .query_row("SELECT profile FROM users WHERE user_id = ?1", [user_id], |r| r.get(0))
            .optional()?;
        profile.map(|p| serde_json::from_str(&p).map_err(corrupt)).transpose()
    }

    fn verify_password(&self, username: &str, password: &str) -> Result<Option<User>, StoreError> {
        let row: Option<(String, String)> = {
            let c = self.lock()?;
            c.query_row("SELECT password_hash, profile FROM users WHERE username = ?1", [username], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?
        };
        let Some((hash, profile)) = row else {
            // Why hash anyway: an unknown user must cost as much time as a wrong password.
            let _ = Argon2::default().hash_password_with_salt(password.as_bytes(), b"idpipe-no-such-user");
            return Ok(None);
        };
        let parsed = argon2::password_hash::phc::PasswordHash::new(&hash).map_err(corrupt)?;
        if Argon2::default().verify_password(password.as_bytes(), &parsed).is_err() {
            return Ok(None);
        }
        serde_json::from_str(&profile).map(Some).map_err(corrupt)
    }

    fn apply_metadata(&self, user_id: &str, outcome: &Outcome) -> Result<(), StoreError> {
        if outcome.app_metadata_changes.is_empty() && outcome.user_metadata_changes.is_empty() {
            return Ok(());
        }
        let mut c = self.lock()?;
        // One transaction: concurrent logins of the same user cannot lose each other's changes.
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let profile: Option<String> = tx
            .query_row("SELECT profile FROM users WHERE user_id = ?1", [user_id], |r| r.get(0))
            .optional()?;
        let Some(profile) = profile else { return Ok(()) };
        let mut user: User = serde_json::from_str(&profile).map_err(corrupt)?;
        apply_changes(&outcome.app_metadata_changes, &mut user.app_metadata);
        apply_changes(&outcome.user_metadata_changes, &mut user.user_metadata);
        tx.execute(
            "UPDATE users SET profile = ?1 WHERE user_id = ?2",
            params![serde_json::to_string(&user).map_err(corrupt)?, user_id],
        )?;
        tx.commit()?;
        Ok(())
    }
}

impl TransactionStore for SqliteStore {
    fn save(&self, state: &TransactionState, expires_at_ms: i64) -> Result<(), StoreError> {
        let json = serde_json::to_string(state).map_err(corrupt)?;
        let c = self.lock()?;
        c.execute(
            "INSERT OR REPLACE INTO transactions (resume_state, state, expires_at) VALUES (?1, ?2, ?3)",
            params![state.resume_state, json, expires_at_ms],
        )?;
        Ok(())
    }

    fn take(&self, resume_state: &str, now_ms: i64) -> Result<Option<TransactionState>, StoreError> {
        let mut c = self.lock()?;
        let tx = c.transaction()?;
        let row: Option<(String, i64)> = tx
            .query_row(
                "SELECT state, expires_at FROM transactions WHERE resume_state = ?1",
                [resume_state],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        tx.execute(
            "DELETE FROM transactions WHERE resume_state = ?1 OR expires_at <= ?2",
            params![resume_state, now_ms],
        )?;
        tx.commit()?;
        match row {
            Some((json, exp)) if exp > now_ms => serde_json::from_str(&json).map(Some).map_err(corrupt),
            _ => Ok(None),
        }
    }
}

impl SessionStore for SqliteStore {
    fn put_session(&self, id_hash: &str, record: &SessionRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).map_err(corrupt)?;
        let c = self.lock()?;
        c.execute(
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
        let c = self.lock()?;
        let row: Option<(String, i64)> = c
            .query_row("SELECT record, expires_at FROM sessions WHERE id_hash = ?1", [id_hash], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match row {
            Some((json, exp)) if exp > now_ms => serde_json::from_str(&json).map(Some).map_err(corrupt),
            Some(_) => {
                c.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
        Ok(())
    }

    fn delete_session_by_sid(&self, sid: &str) -> Result<bool, StoreError> {
        let c = self.lock()?;
        Ok(c.execute("DELETE FROM sessions WHERE sid = ?1", [sid])? > 0)
    }

    fn session_by_sid(&self, sid: &str, now_ms: i64) -> Result<Option<(String, SessionRecord)>, StoreError> {
        let c = self.lock()?;
        let row: Option<(String, String)> = c
            .query_row(
                "SELECT id_hash, record FROM sessions WHERE sid = ?1 AND expires_at > ?2",
                params![sid, now_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((hash, json)) => Ok(Some((hash, serde_json::from_str(&json).map_err(corrupt)?))),
            None => Ok(None),
        }
    }
}

impl Maintenance for SqliteStore {
    fn sweep_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut c = self.lock()?;
        let tx = c.transaction()?;
        let mut n = 0;
        n += tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now_ms])?;
        n += tx.execute("DELETE FROM flows WHERE expires_at <= ?1", [now_ms])?;
        n += tx.execute("DELETE FROM transactions WHERE expires_at <= ?1", [now_ms])?;
        n += tx.execute("DELETE FROM actions_cache WHERE expires_at <= ?1", [now_ms])?;
        n += tx.execute("DELETE FROM request_ids WHERE expires_at <= ?1", [now_ms])?;
        // Every window is at most a minute long.
        n += tx.execute("DELETE FROM rate_events WHERE at <= ?1", [now_ms - 60_000])?;
        n += tx.execute(
            "DELETE FROM login_failures WHERE locked_until <= ?1 AND updated_at <= ?2",
            params![now_ms, now_ms - 24 * 3600 * 1000],
        )?;
        n += tx.execute(
            "DELETE FROM authorization_codes WHERE expires_at <= ?1",
            [now_ms - 24 * 3600 * 1000],
        )?;
        n += tx.execute("DELETE FROM refresh_tokens WHERE expires_at <= ?1", [now_ms])?;
        tx.commit()?;
        Ok(n as u64)
    }
}

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

impl FlowStore for SqliteStore {
    fn put_flow(&self, key: &str, value: &str, expires_at_ms: i64) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.execute(
            "INSERT OR REPLACE INTO flows (key, value, expires_at) VALUES (?1, ?2, ?3)",
            params![key, value, expires_at_ms],
        )?;
        Ok(())
    }

    fn flow(&self, key: &str, now_ms: i64) -> Result<Option<String>, StoreError> {
        let c = self.lock()?;
        Ok(c.query_row(
            "SELECT value FROM flows WHERE key = ?1 AND expires_at > ?2",
            params![key, now_ms],
            |r| r.get(0),
        )
        .optional()?)
    }

    fn take_flow(&self, key: &str, now_ms: i64) -> Result<Option<String>, StoreError> {
        let mut c = self.lock()?;
        let tx = c.transaction()?;
        let v: Option<String> = tx
            .query_row(
                "SELECT value FROM flows WHERE key = ?1 AND expires_at > ?2",
                params![key, now_ms],
                |r| r.get(0),
            )
            .optional()?;
        tx.execute("DELETE FROM flows WHERE key = ?1 OR expires_at <= ?2", params![key, now_ms])?;
        tx.commit()?;
        Ok(v)
    }
}

impl CodeStore for SqliteStore {
    fn put_code(&self, code_hash: &str, record: &str, expires_at_ms: i64) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.execute(
            "INSERT INTO authorization_codes (code_hash, record, expires_at) VALUES (?1, ?2, ?3)",
            params![code_hash, record, expires_at_ms],
        )?;
        Ok(())
    }

    fn redeem_code(&self, code_hash: &str, now_ms: i64) -> Result<CodeRedemption, StoreError> {
        let mut c = self.lock()?;
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Expired codes are swept in the background (`sweep_expired`), never here: a sweep on the
        // request path scanned the table on every token request.
        let row: Option<(String, i64, bool, Option<String>)> = tx
            .query_row(
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
                tx.execute(
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
        c.execute(
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
        c.execute(
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
        let c = self.lock()?;
        let row: Option<(String, bool, bool)> = c
            .query_row(
                "SELECT record, used, revoked FROM refresh_tokens WHERE token_hash = ?1",
                [token_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((json, used, revoked)) = row else { return Ok(None) };
        let mut rec: RefreshRecord = serde_json::from_str(&json).map_err(corrupt)?;
        rec.used = used;
        rec.revoked = revoked;
        Ok(Some(rec))
    }

    fn mark_used(&self, token_hash: &str) -> Result<bool, StoreError> {
        // Atomic test-and-set: of two concurrent exchanges of one token, exactly one wins.
        let c = self.lock()?;
        let n = c.execute(
            "UPDATE refresh_tokens SET used = 1 WHERE token_hash = ?1 AND used = 0",
            [token_hash],
        )?;
        Ok(n == 1)
    }

    fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.execute("UPDATE refresh_tokens SET revoked = 1 WHERE family = ?1", [family])?;
        Ok(())
    }
}

impl ActionCache for SqliteStore {
    fn get(&self, scope: &str, key: &str, now_ms: i64) -> Option<StoredRecord> {
        let c = self.lock().ok()?;
        c.query_row(
            "SELECT value, expires_at FROM actions_cache WHERE scope = ?1 AND key = ?2 AND expires_at > ?3",
            params![scope, key, now_ms],
            |r| {
                Ok(StoredRecord {
                    value: r.get(0)?,
                    expires_at: r.get(1)?,
                })
            },
        )
        .optional()
        .ok()?
    }

    fn set(&self, scope: &str, key: &str, record: StoredRecord, now_ms: i64) -> Result<(), CacheError> {
        let mut c = self.lock().map_err(|_| CacheError::Storage)?;
        let tx = c.transaction().map_err(|_| CacheError::Storage)?;
        tx.execute("DELETE FROM actions_cache WHERE expires_at <= ?1", [now_ms])
            .map_err(|_| CacheError::Storage)?;
        let exists: bool = tx
            .query_row(
                "SELECT 1 FROM actions_cache WHERE scope = ?1 AND key = ?2",
                params![scope, key],
                |_| Ok(true),
            )
            .optional()
            .map_err(|_| CacheError::Storage)?
            .unwrap_or(false);
        let count: i64 = tx
            .query_row("SELECT COUNT(*) FROM actions_cache WHERE scope = ?1", [scope], |r| r.get(0))
            .map_err(|_| CacheError::Storage)?;
        if !exists && count as usize >= MAX_RECORDS_PER_SCOPE {
            return Err(CacheError::Full);
        }
        tx.execute(
            "INSERT OR REPLACE INTO actions_cache (scope, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![scope, key, record.value, record.expires_at],
        )
        .map_err(|_| CacheError::Storage)?;
        tx.commit().map_err(|_| CacheError::Storage)
    }

    fn delete(&self, scope: &str, key: &str, now_ms: i64) -> Result<(), CacheError> {
        let c = self.lock().map_err(|_| CacheError::Storage)?;
        let n = c
            .execute(
                "DELETE FROM actions_cache WHERE scope = ?1 AND key = ?2 AND expires_at > ?3",
                params![scope, key, now_ms],
            )
            .map_err(|_| CacheError::Storage)?;
        if n == 1 { Ok(()) } else { Err(CacheError::NotFound) }
    }
}
