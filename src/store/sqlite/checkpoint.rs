//! WAL checkpoints off the request path. With SQLite's default, the commit that takes the WAL
//! past 1,000 pages copies them into the database file (and syncs it) while its request waits;
//! under load that was every ~200 round trips. Here a thread of the store runs a passive
//! checkpoint every [`INTERVAL`] on its own connection (it never blocks readers or the writer),
//! so a page written many times in between (an index's last page, a busy session) is copied
//! once. The writer keeps SQLite's own checkpoint as a backstop at [`BACKSTOP_PAGES`], should
//! this thread ever fall behind.

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use rusqlite::Connection;

use crate::store::StoreError;

/// How often the WAL is checkpointed.
pub const INTERVAL: Duration = Duration::from_millis(500);
/// The writer's own automatic checkpoint (SQLite's default is 1,000 pages).
pub const BACKSTOP_PAGES: i64 = 10_000;

/// The running checkpointer: dropping it (with the store) ends its thread at once.
#[derive(Debug)]
pub(super) struct Checkpointer {
    _stop: Sender<()>,
}

impl Checkpointer {
    /// Starts the thread on a connection of its own to the database at `path`.
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (stop, stopped) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&conn, &stopped))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { _stop: stop })
    }
}

fn run(conn: &Connection, stopped: &Receiver<()>) {
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        // (busy, pages in the WAL, pages checkpointed): a busy or partial checkpoint is finished
        // by the next one.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{SessionRecord, SessionStore, SqliteStore};

    /// Pages committed to the WAL reach the database file without another write (the writer
    /// alone would not checkpoint before 10,000 pages), and the WAL is not left to grow.
    #[test]
    fn the_wal_is_checkpointed_in_the_background() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.sqlite");
        let store = SqliteStore::open(&path).expect("open");
        let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        std::thread::sleep(super::INTERVAL * 3);
        let before = size();
        let record = SessionRecord {
            sid: "sid".into(),
            user_id: "auth0|1".into(),
            created_at: 0,
            last_seen: 0,
            expires_at: i64::MAX / 2,
            idle_expires_at: i64::MAX / 2,
            persistent: true,
            metadata: serde_json::Map::from_iter([("pad".to_string(), "x".repeat(3000).into())]),
            methods: vec![],
            clients: vec![],
            saml_participants: vec![],
        };
        for i in 0..200 {
            store.put_session(&format!("h{i}"), &record).expect("put");
        }
        let deadline = std::time::Instant::now() + super::INTERVAL * 10;
        while size() < before + 200 * 3000 && std::time::Instant::now() < deadline {
            std::thread::sleep(super::INTERVAL / 5);
        }
        assert!(size() >= before + 200 * 3000, "db file {} bytes (was {before})", size());
    }
}
