//! Refresh-token records and their store (the issuer's logic is in `oidc::refresh`).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::StoreError;

/// One stored refresh token (only its hash is kept).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefreshRecord {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// All tokens rotated from one grant share a family.
    pub family: String,
    /// Subject.
    pub user_id: String,
    /// Client it was issued to.
    pub client_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// API audience, if any.
    pub audience: Option<String>,
    /// Session it belongs to.
    pub session_id: Option<String>,
    /// When the family was created (ms).
    pub created_at: i64,
    /// When the user authenticated (s), for the `auth_time` of refreshed ID tokens.
    #[serde(default)]
    pub auth_time: Option<i64>,
    /// Absolute expiry (ms).
    pub expires_at: i64,
    /// Idle expiry (ms).
    pub idle_expires_at: i64,
    /// Already exchanged (rotated away).
    pub used: bool,
    /// Revoked.
    pub revoked: bool,
}

/// Storage of refresh tokens; the SQLite store implements it too.
pub trait RefreshTokenStore: Send + Sync {
    /// Stores a record; an error means the token must not be handed out.
    fn insert(&self, record: RefreshRecord) -> Result<(), StoreError>;
    /// Finds a record by token hash.
    fn get(&self, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError>;
    /// Marks a token used; `Ok(false)` when it was already used (a race lost to another
    /// exchange). An error is an outage, never reuse.
    fn mark_used(&self, token_hash: &str) -> Result<bool, StoreError>;
    /// Revokes every token of a family.
    fn revoke_family(&self, family: &str) -> Result<(), StoreError>;
}

/// In-memory store.
#[derive(Debug, Default)]
pub struct MemoryRefreshStore {
    records: Mutex<HashMap<String, RefreshRecord>>,
}

impl MemoryRefreshStore {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, RefreshRecord>>, StoreError> {
        self.records
            .lock()
            .map_err(|_| StoreError::Unavailable("the refresh-token map lock is poisoned".into()))
    }
}

impl RefreshTokenStore for MemoryRefreshStore {
    fn insert(&self, record: RefreshRecord) -> Result<(), StoreError> {
        self.lock()?.insert(record.token_hash.clone(), record);
        Ok(())
    }
    fn get(&self, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        Ok(self.lock()?.get(token_hash).cloned())
    }
    fn mark_used(&self, token_hash: &str) -> Result<bool, StoreError> {
        Ok(match self.lock()?.get_mut(token_hash) {
            Some(r) if !r.used => {
                r.used = true;
                true
            }
            _ => false,
        })
    }
    fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        self.lock()?
            .values_mut()
            .filter(|r| r.family == family)
            .for_each(|r| r.revoked = true);
        Ok(())
    }
}

impl<T: RefreshTokenStore + ?Sized> RefreshTokenStore for std::sync::Arc<T> {
    fn insert(&self, record: RefreshRecord) -> Result<(), StoreError> {
        (**self).insert(record)
    }
    fn get(&self, token_hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        (**self).get(token_hash)
    }
    fn mark_used(&self, token_hash: &str) -> Result<bool, StoreError> {
        (**self).mark_used(token_hash)
    }
    fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        (**self).revoke_family(family)
    }
}
