//! `api.refreshToken`: the refresh token's expiry and revocation.

use serde_json::Value;

use super::session::{Expiry, parse_iso_ms, set_expiry};
use super::{ApiError, namespace};
use crate::pipeline::outcome::FailureKind;

namespace!(
    /// `api.refreshToken`.
    RefreshTokenApi
);

impl RefreshTokenApi<'_, '_> {
    fn token_base(&self) -> i64 {
        let created = self
            .core
            .event
            .refresh_token
            .as_ref()
            .and_then(|t| t.get("created_at"))
            .and_then(Value::as_str);
        parse_iso_ms(created).unwrap_or_else(|| self.core.now_ms())
    }

    /// `api.refreshToken.revoke(reason)`: only in a refresh-token exchange; the exchange fails and
    /// the token is revoked.
    pub fn revoke(&mut self, reason: &str) -> Result<&mut Self, ApiError> {
        const M: &str = "refreshToken.revoke";
        let args = vec![Value::from(reason)];
        if self.core.event.transaction.protocol != "oauth2-refresh-token" {
            let e = ApiError::NotAllowed {
                method: M,
                reason: "only during a refresh-token exchange (protocol oauth2-refresh-token)".into(),
            };
            return Err(self.core.refuse(M, args, e, true));
        }
        self.core.record(M, args);
        self.core.outcome.refresh_token.revoke = Some(reason.to_string());
        self.core.fail(FailureKind::RefreshTokenRevoked, "invalid_grant", reason);
        Ok(self)
    }

    /// `api.refreshToken.setExpiresAt(ms)`: earliest wins, capped at the tenant maximum.
    pub fn set_expires_at(&mut self, absolute_ms: f64) -> Result<&mut Self, ApiError> {
        let base = self.token_base();
        set_expiry(self.core, "refreshToken.setExpiresAt", absolute_ms, base, Expiry::RefreshAbsolute)?;
        Ok(self)
    }

    /// `api.refreshToken.setIdleExpiresAt(ms)`: earliest wins, capped at the tenant maximum.
    pub fn set_idle_expires_at(&mut self, idle_ms: f64) -> Result<&mut Self, ApiError> {
        let base = self.token_base();
        set_expiry(self.core, "refreshToken.setIdleExpiresAt", idle_ms, base, Expiry::RefreshIdle)?;
        Ok(self)
    }
}
