//! Shared counters and one-time IDs: rate-limit events and SAML request IDs.

use std::collections::HashMap;
use std::sync::Mutex;

use rusqlite::{OptionalExtension, params};

use super::Cached;
use super::{SqliteStore, corrupt};
use crate::store::{MfaStore, NameIdStore, RateLimitStore, ReplayStore, StoreError};

/// When the newest rate-limit events were recorded, so that a count with none in its window
/// (the usual case: client authentications that never fail) reads nothing.
///
/// Keys are grouped by the text before their first `:` (a limiter's prefix, e.g. all failed
/// client authentications). The time of a group is raised before each event of the group this
/// store writes; at start-up every group starts from the newest event in the database.
///
/// With one process on the file this is exact. Several processes on one SQLite file (the
/// two-node test) each know only their own events: a process that recorded none of a group in
/// the window answers 0 once, then its first event raises the group and its next counts read
/// everything. So a limit of N per window admits at most N + 1 attempts through each such
/// process (`hit`, the limit checked before the event, always reads; nodes on PostgreSQL read
/// every count).
#[derive(Debug)]
pub(super) struct RateNewest {
    /// The newest event in the database when the store opened.
    at_open: i64,
    /// The newest event recorded since, per group (a few groups: one per limiter).
    groups: Mutex<HashMap<String, i64>>,
}

impl RateNewest {
    /// Reads the newest event's time.
    pub(super) fn read(conn: &rusqlite::Connection) -> Result<Self, StoreError> {
        Ok(RateNewest {
            at_open: conn.row("SELECT COALESCE(MAX(at), ?1) FROM rate_events", [i64::MIN], |r| r.get(0))?,
            groups: Mutex::new(HashMap::new()),
        })
    }

    fn group(key: &str) -> &str {
        key.split_once(':').map_or(key, |(group, _)| group)
    }

    /// Before an event of `key` at `at` is written.
    fn raise(&self, key: &str, at: i64) {
        if let Ok(mut groups) = self.groups.lock() {
            match groups.get_mut(Self::group(key)) {
                Some(newest) => *newest = (*newest).max(at),
                None => {
                    groups.insert(Self::group(key).to_string(), at);
                }
            }
        }
    }

    /// Whether no event of any of `keys` can be later than `since` (false when unsure).
    fn none_after(&self, keys: &[&str], since: i64) -> bool {
        if self.at_open > since {
            return false;
        }
        let Ok(groups) = self.groups.lock() else { return false };
        keys.iter().all(|k| groups.get(Self::group(k)).is_none_or(|&at| at <= since))
    }
}

impl RateLimitStore for SqliteStore {
    fn hit(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> Result<bool, StoreError> {
        self.rate_newest.raise(key, now_ms);
        let tx = self.begin()?;
        let n: i64 = tx.row(
            "SELECT COUNT(*) FROM rate_events WHERE key = ?1 AND at > ?2",
            params![key, now_ms - window_ms],
            |r| r.get(0),
        )?;
        if n >= i64::from(limit) {
            return Ok(false);
        }
        tx.exec("INSERT INTO rate_events (key, at) VALUES (?1, ?2)", params![key, now_ms])?;
        tx.commit()?;
        Ok(true)
    }

    fn count(&self, keys: &[&str], window_ms: i64, now_ms: i64) -> Result<u32, StoreError> {
        if self.rate_newest.none_after(keys, now_ms.saturating_sub(window_ms)) {
            return Ok(0);
        }
        let keys = serde_json::to_string(keys).map_err(corrupt)?;
        let n: i64 = self.read(|c| {
            Ok(c.row(
                "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM rate_events
                 WHERE key IN (SELECT value FROM json_each(?1)) AND at > ?2 GROUP BY key)",
                params![keys, now_ms - window_ms],
                |r| r.get(0),
            )?)
        })?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn record(&self, key: &str, now_ms: i64) -> Result<(), StoreError> {
        self.rate_newest.raise(key, now_ms);
        let c = self.lock()?;
        c.exec("INSERT INTO rate_events (key, at) VALUES (?1, ?2)", params![key, now_ms])?;
        Ok(())
    }
}

impl NameIdStore for SqliteStore {
    fn persistent_name_id(&self, sp: &str, user_id: &str, allow_create: bool, now_ms: i64) -> Result<Option<String>, StoreError> {
        let get = |c: &rusqlite::Connection| -> Result<Option<String>, StoreError> {
            Ok(c.row(
                "SELECT value FROM persistent_name_ids WHERE sp = ?1 AND user_id = ?2",
                params![sp, user_id],
                |r| r.get(0),
            )
            .optional()?)
        };
        if let Some(v) = self.read(get)? {
            return Ok(Some(v));
        }
        if !allow_create {
            return Ok(None);
        }
        let mut bytes = [0u8; 24];
        openssl::rand::rand_bytes(&mut bytes).map_err(|e| StoreError::Internal(e.to_string()))?;
        let value = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
        let c = self.lock()?;
        c.exec(
            "INSERT OR IGNORE INTO persistent_name_ids (sp, user_id, value, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![sp, user_id, value, now_ms],
        )?;
        get(&c)
    }
}

impl ReplayStore for SqliteStore {
    fn remember_request_id(&self, key: &str, expires_at_ms: i64, now_ms: i64) -> Result<bool, StoreError> {
        // One statement: a new ID is inserted, an expired one taken again, a live one left
        // alone (no row changed: a replay).
        let changed = self.lock()?.exec(
            "INSERT INTO request_ids (key, expires_at) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE request_ids.expires_at <= ?3",
            params![key, expires_at_ms, now_ms],
        )?;
        Ok(changed == 1)
    }
}

impl MfaStore for SqliteStore {
    fn enrolled_factors(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT factor FROM mfa_factors WHERE user_id = ?1 ORDER BY created_at, factor")?;
            let rows = st.query_map([user_id], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn factor_secret(&self, user_id: &str, factor: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|c| {
            Ok(c.row(
                "SELECT secret FROM mfa_factors WHERE user_id = ?1 AND factor = ?2",
                params![user_id, factor],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn put_factor(&self, user_id: &str, factor: &str, secret: &[u8], now_ms: i64) -> Result<(), StoreError> {
        let c = self.lock()?;
        c.exec(
            "INSERT INTO mfa_factors (user_id, factor, secret, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user_id, factor) DO UPDATE SET secret = excluded.secret",
            params![user_id, factor, secret, now_ms],
        )?;
        Ok(())
    }

    fn swap_factor_secret(&self, user_id: &str, factor: &str, old: &[u8], new: &[u8]) -> Result<bool, StoreError> {
        let c = self.lock()?;
        let changed = c.exec(
            "UPDATE mfa_factors SET secret = ?4 WHERE user_id = ?1 AND factor = ?2 AND secret = ?3",
            params![user_id, factor, old, new],
        )?;
        Ok(changed == 1)
    }

    fn use_otp_step(&self, user_id: &str, step: i64, now_ms: i64) -> Result<bool, StoreError> {
        let c = self.lock()?;
        let added = c.exec(
            "INSERT OR IGNORE INTO otp_steps (user_id, step, at) VALUES (?1, ?2, ?3)",
            params![user_id, step, now_ms],
        )?;
        Ok(added == 1)
    }

    fn reset_factors(&self, user_id: &str) -> Result<usize, StoreError> {
        let c = self.lock()?;
        Ok(c.exec("DELETE FROM mfa_factors WHERE user_id = ?1", [user_id])?)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{RateLimitStore, ReplayStore, SqliteStore};

    #[test]
    fn request_ids_remembered_before_their_table_was_rebuilt_are_still_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("old.sqlite");
        {
            // A database one migration behind, with a live and an expired request ID.
            let c = rusqlite::Connection::open(&path).expect("open");
            let before = super::super::MIGRATIONS.len() - 1;
            for (i, sql) in super::super::MIGRATIONS[..before].iter().enumerate() {
                c.execute_batch(sql).expect("migration");
                c.pragma_update(None, "user_version", (i + 1) as i64).expect("version");
            }
            c.execute_batch("INSERT INTO request_ids (key, expires_at) VALUES ('sp|live', 9000), ('sp|old', 10)")
                .expect("ids");
        }
        let store = SqliteStore::open(&path).expect("migrated");
        let sql: String = store
            .read(|c| Ok(c.query_row("SELECT sql FROM sqlite_master WHERE name = 'request_ids'", [], |r| r.get(0))?))
            .expect("schema");
        assert!(sql.contains("WITHOUT ROWID"), "{sql}");
        assert!(!store.remember_request_id("sp|live", 9500, 1000).expect("replay"), "a replay");
        assert!(
            store.remember_request_id("sp|old", 9500, 1000).expect("expired"),
            "expired: taken again"
        );
        assert!(store.remember_request_id("sp|new", 9500, 1000).expect("new"));
        assert!(!store.remember_request_id("sp|new", 9500, 1001).expect("replay"));
    }

    #[test]
    fn events_recorded_before_the_store_opened_again_are_still_counted() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("rate.sqlite");
        let store = SqliteStore::open(&path).expect("open");
        store.record("client:c", 10_000).expect("record");
        assert!(store.hit("login:ip", 5, 60_000, 20_000).expect("hit"));
        drop(store);
        let store = SqliteStore::open(&path).expect("open again");
        assert_eq!(store.count(&["client:c"], 60_000, 30_000).expect("count"), 1);
        assert_eq!(store.count(&["login:ip"], 60_000, 30_000).expect("count"), 1);
        assert_eq!(store.count(&["other:x"], 60_000, 30_000).expect("count"), 0);
        // Once the newest event left the window, counts need no query and are 0.
        assert_eq!(store.count(&["client:c", "login:ip"], 60_000, 80_000).expect("count"), 0);
    }

    #[test]
    fn two_processes_on_one_file_admit_at_most_one_more_attempt_each() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("rate.sqlite");
        let (a, b) = (SqliteStore::open(&path).expect("a"), SqliteStore::open(&path).expect("b"));
        for at in [1_000, 1_001, 1_002] {
            b.record("client:c", at).expect("record");
        }
        assert_eq!(b.count(&["client:c"], 60_000, 2_000).expect("count"), 3);
        // `a` has recorded none of the group: it answers 0 once (the bound in the docs)...
        assert_eq!(a.count(&["client:c"], 60_000, 2_000).expect("count"), 0);
        // ...and once it records one, it reads every process's events.
        a.record("client:c", 2_000).expect("record");
        assert_eq!(a.count(&["client:c"], 60_000, 2_001).expect("count"), 4);
        assert_eq!(a.count(&["client:other"], 60_000, 2_001).expect("count"), 0);
    }
}
