//! Refresh tokens: opaque, stored hashed, rotated on every use with reuse detection (a reused
//! old token revokes its whole family), absolute and idle expiry.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::OAuthError;
use crate::pipeline::outcome::RefreshTokenChanges;

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
    fn insert(&self, record: RefreshRecord) -> Result<(), String>;
    /// Finds a record by token hash.
    fn get(&self, token_hash: &str) -> Option<RefreshRecord>;
    /// Marks a token used; false when it was already used (a race lost to another exchange).
    fn mark_used(&self, token_hash: &str) -> bool;
    /// Revokes every token of a family.
    fn revoke_family(&self, family: &str);
}

/// In-memory store.
#[derive(Debug, Default)]
pub struct MemoryRefreshStore {
    records: Mutex<HashMap<String, RefreshRecord>>,
}

impl RefreshTokenStore for MemoryRefreshStore {
    fn insert(&self, record: RefreshRecord) -> Result<(), String> {
        let mut m = self
            .records
            .lock()
            .map_err(|_| "the refresh-token map lock is poisoned".to_string())?;
        m.insert(record.token_hash.clone(), record);
        Ok(())
    }
    fn get(&self, token_hash: &str) -> Option<RefreshRecord> {
        self.records.lock().ok()?.get(token_hash).cloned()
    }
    fn mark_used(&self, token_hash: &str) -> bool {
        let Ok(mut m) = self.records.lock() else { return false };
        match m.get_mut(token_hash) {
            Some(r) if !r.used => {
                r.used = true;
                true
            }
            _ => false,
        }
    }
    fn revoke_family(&self, family: &str) {
        if let Ok(mut m) = self.records.lock() {
            m.values_mut().filter(|r| r.family == family).for_each(|r| r.revoked = true);
        }
    }
}

impl<T: RefreshTokenStore + ?Sized> RefreshTokenStore for std::sync::Arc<T> {
    fn insert(&self, record: RefreshRecord) -> Result<(), String> {
        (**self).insert(record)
    }
    fn get(&self, token_hash: &str) -> Option<RefreshRecord> {
        (**self).get(token_hash)
    }
    fn mark_used(&self, token_hash: &str) -> bool {
        (**self).mark_used(token_hash)
    }
    fn revoke_family(&self, family: &str) {
        (**self).revoke_family(family)
    }
}

/// Tenant refresh-token lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct RefreshLimits {
    /// Absolute lifetime of a family (ms).
    pub absolute_ms: i64,
    /// Idle lifetime (ms): a token unused this long expires.
    pub idle_ms: i64,
}

impl Default for RefreshLimits {
    fn default() -> Self {
        RefreshLimits {
            absolute_ms: 30 * 24 * 3600 * 1000,
            idle_ms: 15 * 24 * 3600 * 1000,
        }
    }
}

fn hash(token: &str) -> String {
    openssl::hash::hash(openssl::hash::MessageDigest::sha256(), token.as_bytes())
        .map(hex::encode)
        .unwrap_or_default()
}

fn new_token() -> String {
    let mut b = [0u8; 32];
    // Failing to seed the CSPRNG leaves nothing safe to do.
    openssl::rand::rand_bytes(&mut b).expect("the OpenSSL CSPRNG is unavailable");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// What a grant needs to mint a refresh token.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    /// Subject.
    pub user_id: &'a str,
    /// Client.
    pub client_id: &'a str,
    /// Scopes.
    pub scopes: &'a [String],
    /// API audience.
    pub audience: Option<&'a str>,
    /// Session.
    pub session_id: Option<&'a str>,
    /// When the user authenticated (s): refreshed ID tokens keep it as `auth_time` (OIDC Core 12.2).
    pub auth_time: Option<i64>,
}

/// Issues, rotates and revokes refresh tokens over a store.
pub struct RefreshTokens<S: RefreshTokenStore> {
    /// The store.
    pub store: S,
    /// Lifetimes.
    pub limits: RefreshLimits,
}

impl<S: RefreshTokenStore> RefreshTokens<S> {
    /// Mints the first token of a new family; the actions' expiry changes can only lower limits.
    pub fn issue(&self, grant: &Grant<'_>, changes: &RefreshTokenChanges, now: i64) -> Result<String, OAuthError> {
        let family = crate::util::random_hex(16);
        let expires_at = changes
            .expires_at
            .map_or(now + self.limits.absolute_ms, |e| e.min(now + self.limits.absolute_ms));
        self.mint(grant, &family, now, expires_at, changes, now)
    }

    fn mint(
        &self,
        grant: &Grant<'_>,
        family: &str,
        created_at: i64,
        expires_at: i64,
        changes: &RefreshTokenChanges,
        now: i64,
    ) -> Result<String, OAuthError> {
        let token = new_token();
        let idle = changes
            .idle_expires_at
            .map_or(now + self.limits.idle_ms, |i| i.min(now + self.limits.idle_ms));
        self.store
            .insert(RefreshRecord {
                token_hash: hash(&token),
                family: family.to_string(),
                user_id: grant.user_id.to_string(),
                client_id: grant.client_id.to_string(),
                scopes: grant.scopes.to_vec(),
                audience: grant.audience.map(str::to_string),
                session_id: grant.session_id.map(str::to_string),
                created_at,
                auth_time: grant.auth_time,
                expires_at,
                idle_expires_at: idle.min(expires_at),
                used: false,
                revoked: false,
            })
            .map_err(|e| {
                tracing::error!(error = %e, "cannot store a refresh token");
                OAuthError::new("server_error", "the refresh token could not be stored")
            })?;
        Ok(token)
    }

    /// The family of a token (to revoke it later, e.g. when its authorization code is replayed).
    pub fn family_of(&self, token: &str) -> Option<String> {
        self.store.get(&hash(token)).map(|r| r.family)
    }

    /// Checks a presented token and consumes it. Reusing an already rotated token revokes the
    /// family. Returns the record, for the pipeline run and the rotation.
    pub fn redeem(&self, token: &str, client_id: &str, now: i64) -> Result<RefreshRecord, OAuthError> {
        let h = hash(token);
        let invalid = |d: &str| OAuthError::new("invalid_grant", d);
        let rec = self.store.get(&h).ok_or_else(|| invalid("unknown refresh token"))?;
        if !crate::util::constant_time_eq(rec.client_id.as_bytes(), client_id.as_bytes()) {
            return Err(invalid("the refresh token was issued to another client"));
        }
        if rec.revoked {
            return Err(invalid("the refresh token was revoked"));
        }
        if rec.used || !self.store.mark_used(&h) {
            tracing::warn!(family = %rec.family, "refresh token reuse detected; revoking the family");
            self.store.revoke_family(&rec.family);
            return Err(invalid("refresh token reuse detected; the grant was revoked"));
        }
        if now >= rec.expires_at {
            return Err(invalid("the refresh token has expired"));
        }
        if now >= rec.idle_expires_at {
            return Err(invalid("the refresh token expired after inactivity"));
        }
        Ok(rec)
    }

    /// The successor of a redeemed token (same family, same absolute expiry unless lowered).
    pub fn rotate(&self, old: &RefreshRecord, changes: &RefreshTokenChanges, now: i64) -> Result<String, OAuthError> {
        let grant = Grant {
            user_id: &old.user_id,
            client_id: &old.client_id,
            scopes: &old.scopes,
            audience: old.audience.as_deref(),
            session_id: old.session_id.as_deref(),
            auth_time: old.auth_time,
        };
        let expires_at = changes.expires_at.map_or(old.expires_at, |e| e.min(old.expires_at));
        self.mint(&grant, &old.family, old.created_at, expires_at, changes, now)
    }

    /// Revokes the family of a record (`api.refreshToken.revoke`, session revocation).
    pub fn revoke_family(&self, family: &str) {
        self.store.revoke_family(family);
    }
}
