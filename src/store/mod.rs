//! Persistent state behind traits, so SQLite (the embedded default) and a future PostgreSQL
//! implementation are interchangeable: users, login transactions, refresh tokens and the actions
//! cache. Secrets are stored hashed (argon2 passwords, SHA-256 refresh tokens).

mod sqlite;

pub use sqlite::SqliteStore;

use serde_json::{Map, Value};

use crate::pipeline::event::User;
use crate::pipeline::{Outcome, TransactionState};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Db(String),
    /// A stored value could not be (de)serialized.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The username or user id is taken.
    #[error("a user with this {0} already exists")]
    Duplicate(&'static str),
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

/// Users and their credentials.
pub trait UserStore: Send + Sync {
    /// Adds a user with a password (stored as an argon2 hash).
    fn add_user(&self, username: &str, password: &str, user: &User) -> Result<(), StoreError>;
    /// A user by id.
    fn user(&self, user_id: &str) -> Result<Option<User>, StoreError>;
    /// Checks a username and password; `None` for a wrong password or unknown user (callers must
    /// not tell the two apart).
    fn verify_password(&self, username: &str, password: &str) -> Result<Option<User>, StoreError>;
    /// Applies the outcome's aggregated metadata changes once, in one database transaction.
    fn apply_metadata(&self, user_id: &str, outcome: &Outcome) -> Result<(), StoreError>;
}

/// Login transactions suspended between HTTP requests (redirects, prompts, MFA).
pub trait TransactionStore: Send + Sync {
    /// Stores a transaction under its resume state, until `expires_at_ms`.
    fn save(&self, state: &TransactionState, expires_at_ms: i64) -> Result<(), StoreError>;
    /// Takes a transaction out (a state can be used once); expired ones are not returned.
    fn take(&self, resume_state: &str, now_ms: i64) -> Result<Option<TransactionState>, StoreError>;
}

/// Applies metadata changes (`null` removes) to a metadata object.
pub(crate) fn apply_changes(changes: &Map<String, Value>, target: &mut Map<String, Value>) {
    for (k, v) in changes {
        if v.is_null() {
            target.shift_remove(k);
        } else {
            target.insert(k.clone(), v.clone());
        }
    }
}
