//! Refresh tokens: opaque, stored hashed, rotated on every use with reuse detection (a reused
//! old token revokes its whole family), absolute and idle expiry.

use base64::Engine;

use super::OAuthError;
use crate::pipeline::outcome::RefreshTokenChanges;

use crate::store::StoreError;
pub use crate::store::refresh::{MemoryRefreshStore, RefreshRecord, RefreshTokenStore};

/// A store outage during a refresh exchange: the client may retry; nothing was decided.
fn unavailable(e: StoreError) -> OAuthError {
    tracing::error!(error = %e, "refresh-token store unavailable");
    OAuthError::new(
        crate::oidc::OAuthCode::TemporarilyUnavailable,
        "the refresh could not be completed; try again",
    )
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
                OAuthError::new(crate::oidc::OAuthCode::ServerError, "the refresh token could not be stored")
            })?;
        Ok(token)
    }

    /// The family of a token (to revoke it later, e.g. when its authorization code is replayed).
    pub fn family_of(&self, token: &str) -> Result<Option<String>, StoreError> {
        Ok(self.store.get(&hash(token))?.map(|r| r.family))
    }

    /// The record of a token that can still be exchanged (not used, revoked or expired), without
    /// consuming it (introspection, revocation).
    pub fn active(&self, token: &str, now: i64) -> Result<Option<RefreshRecord>, StoreError> {
        Ok(self
            .store
            .get(&hash(token))?
            .filter(|r| !r.used && !r.revoked && now < r.expires_at && now < r.idle_expires_at))
    }

    /// Checks a presented token and consumes it. Reusing an already rotated token revokes the
    /// family. Returns the record, for the pipeline run and the rotation.
    pub fn redeem(&self, token: &str, client_id: &str, now: i64) -> Result<RefreshRecord, OAuthError> {
        let h = hash(token);
        let invalid = |d: &str| OAuthError::new(crate::oidc::OAuthCode::InvalidGrant, d);
        let rec = self
            .store
            .get(&h)
            .map_err(unavailable)?
            .ok_or_else(|| invalid("unknown refresh token"))?;
        if !crate::util::constant_time_eq(rec.client_id.as_bytes(), client_id.as_bytes()) {
            return Err(invalid("the refresh token was issued to another client"));
        }
        if rec.revoked {
            return Err(invalid("the refresh token was revoked"));
        }
        // A store outage answers "try again" and is never read as reuse (which would revoke).
        if rec.used || !self.store.mark_used(&h).map_err(unavailable)? {
            tracing::warn!(family = %rec.family, "refresh token reuse detected; revoking the family");
            self.store.revoke_family(&rec.family).map_err(unavailable)?;
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
    pub fn revoke_family(&self, family: &str) -> Result<(), OAuthError> {
        self.store.revoke_family(family).map_err(unavailable)
    }
}
