//! The PostgreSQL store (rust-postgres behind an r2d2 pool), for several `idpipe serve` nodes on
//! one database. Schema migrations are versioned in `idpipe_migrations` and applied at open under
//! an advisory lock, so that nodes starting together migrate once. Single-use records stay
//! atomic across nodes: one statement (`DELETE ... RETURNING`, `UPDATE ... WHERE used = FALSE`,
//! `INSERT ... ON CONFLICT`), a row lock (`FOR UPDATE`) or a transaction-scoped advisory lock per
//! key (rate windows, lockout counters).
//!
//! JSON documents (profiles, sessions, login records) are `TEXT`, not `jsonb`: they come back
//! byte for byte, with their keys in the order they were written.

mod conn;
mod grants;
mod guards;
mod users;

use r2d2_postgres::PostgresConnectionManager;
use r2d2_postgres::postgres::NoTls;

use conn::{Manager, PgConn, PgTx};

use super::{Maintenance, StoreError};

/// Schema migrations, applied in order; the index + 1 is the version.
const MIGRATIONS: &[&str] = &["CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        profile TEXT NOT NULL
     );
     CREATE TABLE login_failures (
        username_hash TEXT PRIMARY KEY,
        failed INTEGER NOT NULL DEFAULT 0,
        locked_until BIGINT NOT NULL DEFAULT 0,
        updated_at BIGINT NOT NULL
     );
     CREATE INDEX login_failures_updated ON login_failures (updated_at);
     CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        sid TEXT NOT NULL,
        record TEXT NOT NULL,
        expires_at BIGINT NOT NULL
     );
     CREATE INDEX sessions_user ON sessions (user_id);
     CREATE INDEX sessions_sid ON sessions (sid);
     CREATE INDEX sessions_expiry ON sessions (expires_at);
     CREATE TABLE flows (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        expires_at BIGINT NOT NULL
     );
     CREATE INDEX flows_expiry ON flows (expires_at);
     CREATE TABLE authorization_codes (
        code_hash TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        used BOOLEAN NOT NULL DEFAULT FALSE,
        refresh_family TEXT
     );
     CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);
     CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        family TEXT NOT NULL,
        user_id TEXT NOT NULL,
        record TEXT NOT NULL,
        used BOOLEAN NOT NULL DEFAULT FALSE,
        revoked BOOLEAN NOT NULL DEFAULT FALSE,
        expires_at BIGINT NOT NULL
     );
     CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
     CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
     CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
     CREATE TABLE actions_cache (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (scope, key)
     );
     CREATE INDEX actions_cache_expiry ON actions_cache (expires_at);
     CREATE TABLE request_ids (
        key TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
     );
     CREATE INDEX request_ids_expiry ON request_ids (expires_at);
     CREATE TABLE rate_events (
        key TEXT NOT NULL,
        at BIGINT NOT NULL
     );
     CREATE INDEX rate_events_key ON rate_events (key, at);
     CREATE INDEX rate_events_at ON rate_events (at);
     CREATE TABLE persistent_name_ids (
        sp TEXT NOT NULL,
        user_id TEXT NOT NULL,
        value TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (sp, user_id)
     );
     CREATE TABLE mfa_factors (
        user_id TEXT NOT NULL,
        factor TEXT NOT NULL,
        secret BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (user_id, factor)
     );
     CREATE TABLE otp_steps (
        user_id TEXT NOT NULL,
        step BIGINT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (user_id, step)
     );
     CREATE INDEX otp_steps_at ON otp_steps (at);
     CREATE TABLE password_resets (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        client_id TEXT NOT NULL,
        expires_at BIGINT NOT NULL
     );
     CREATE INDEX password_resets_user ON password_resets (user_id);
     CREATE INDEX password_resets_expiry ON password_resets (expires_at);"];

/// The schema version a freshly migrated database has.
pub const PG_SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Connections kept by the pool of one node.
const POOL_SIZE: u32 = 16;

/// The key of the advisory lock that serializes migrations across nodes.
const MIGRATION_LOCK: i64 = 0x6964_7069_7065_0001;

type Pool = r2d2::Pool<Manager>;

/// PostgreSQL-backed store.
pub struct PgStore {
    pool: Pool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl From<r2d2_postgres::postgres::Error> for StoreError {
    fn from(e: r2d2_postgres::postgres::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Unavailable(format!("no database connection: {e}"))
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl PgStore {
    /// Connects (`postgres://...` or `host=... user=...`) and migrates the schema, once across
    /// nodes starting together.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let config: r2d2_postgres::postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("invalid database URL: {e}")))?;
        let manager = Manager(PostgresConnectionManager::new(config, NoTls));
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(manager)?;
        let store = PgStore { pool };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.pool.get()?;
        c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let result = (|| -> Result<(), StoreError> {
            c.client.batch_execute(
                "CREATE TABLE IF NOT EXISTS idpipe_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )?;
            let current: i64 = c.query_one("SELECT COALESCE(MAX(version), 0) FROM idpipe_migrations", &[])?.get(0);
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
                let mut tx = c.client.transaction()?;
                tx.batch_execute(sql)?;
                tx.execute("INSERT INTO idpipe_migrations (version) VALUES ($1)", &[&((i + 1) as i64)])?;
                tx.commit()?;
                tracing::info!(version = i + 1, "database migrated");
            }
            Ok(())
        })();
        c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
        result
    }

    /// The schema version (number of migrations applied).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .pool
            .get()?
            .query_one("SELECT COALESCE(MAX(version), 0) FROM idpipe_migrations", &[])?
            .get(0))
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in a transaction, committed when it returns `Ok`.
    fn tx<T>(&self, f: impl FnOnce(&mut PgTx<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut c: r2d2::PooledConnection<Manager> = self.conn()?;
        let conn: &mut PgConn = &mut c;
        let mut tx = conn.transaction()?;
        let v = f(&mut tx)?;
        tx.commit()?;
        Ok(v)
    }
}

/// Serializes the transactions that name `key` (until commit), across nodes.
fn lock_key(tx: &mut PgTx<'_>, key: &str) -> Result<(), StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", &[&key])?;
    Ok(())
}

impl Maintenance for PgStore {
    fn ping(&self) -> Result<(), StoreError> {
        self.conn()?.query_one("SELECT 1", &[])?;
        Ok(())
    }

    fn sweep_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        let day = 24 * 3600 * 1000;
        self.tx(|tx| {
            let mut n = 0;
            n += tx.execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now_ms])?;
            n += tx.execute("DELETE FROM flows WHERE expires_at <= $1", &[&now_ms])?;
            n += tx.execute("DELETE FROM actions_cache WHERE expires_at <= $1", &[&now_ms])?;
            n += tx.execute("DELETE FROM request_ids WHERE expires_at <= $1", &[&now_ms])?;
            n += tx.execute("DELETE FROM otp_steps WHERE at <= $1", &[&(now_ms - 3_600_000)])?;
            n += tx.execute("DELETE FROM rate_events WHERE at <= $1", &[&(now_ms - 60_000)])?;
            n += tx.execute(
                "DELETE FROM login_failures WHERE locked_until <= $1 AND updated_at <= $2",
                &[&now_ms, &(now_ms - day)],
            )?;
            n += tx.execute("DELETE FROM authorization_codes WHERE expires_at <= $1", &[&(now_ms - day)])?;
            n += tx.execute("DELETE FROM refresh_tokens WHERE expires_at <= $1", &[&now_ms])?;
            n += tx.execute("DELETE FROM password_resets WHERE expires_at <= $1", &[&now_ms])?;
            Ok(n)
        })
    }
}
