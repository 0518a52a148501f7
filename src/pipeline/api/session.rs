//! `api.session`: the SSO session's expiry, cookie mode, metadata, revocation. The expiry helpers
//! are shared with `api.refreshToken`.

use serde_json::Value;

use super::{ApiCore, ApiError, namespace};
use crate::pipeline::outcome::{CookieMode, FailureKind, SessionMetadataOp, SessionRevoke};

namespace!(
    /// `api.session`.
    SessionApi
);

pub(super) fn parse_iso_ms(s: Option<&str>) -> Option<i64> {
    s.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.timestamp_millis())
}

/// Validates an absolute expiry and caps it at `base + max`; several calls: the earliest wins.
pub(super) fn earliest_capped(
    core: &ApiCore<'_>,
    method: &'static str,
    value: f64,
    base_ms: i64,
    max_ms: i64,
    current: Option<i64>,
) -> Result<i64, ApiError> {
    if !value.is_finite() || value <= core.now_ms() as f64 {
        return Err(ApiError::InvalidArgument {
            method,
            reason: "must be a time in the future, in ms since the Unix epoch".into(),
        });
    }
    let capped = (value as i64).min(base_ms.saturating_add(max_ms));
    Ok(current.map_or(capped, |c| c.min(capped)))
}

/// Which expiry an expiry setter lowers.
#[derive(Clone, Copy)]
pub(super) enum Expiry {
    SessionAbsolute,
    SessionIdle,
    RefreshAbsolute,
    RefreshIdle,
}

/// The shared body of the four expiry setters: validate, cap, keep the earliest, record.
pub(super) fn set_expiry(core: &mut ApiCore<'_>, method: &'static str, value: f64, base_ms: i64, which: Expiry) -> Result<(), ApiError> {
    let limits = &core.services.limits;
    let (max, current) = match which {
        Expiry::SessionAbsolute => (limits.session_max_lifetime_ms, core.outcome.session.expires_at),
        Expiry::SessionIdle => (limits.session_max_lifetime_ms, core.outcome.session.idle_expires_at),
        Expiry::RefreshAbsolute => (limits.refresh_token_max_lifetime_ms, core.outcome.refresh_token.expires_at),
        Expiry::RefreshIdle => (limits.refresh_token_max_lifetime_ms, core.outcome.refresh_token.idle_expires_at),
    };
    match earliest_capped(core, method, value, base_ms, max, current) {
        Ok(v) => {
            core.record(method, vec![Value::from(value)]);
            let slot = match which {
                Expiry::SessionAbsolute => &mut core.outcome.session.expires_at,
                Expiry::SessionIdle => &mut core.outcome.session.idle_expires_at,
                Expiry::RefreshAbsolute => &mut core.outcome.refresh_token.expires_at,
                Expiry::RefreshIdle => &mut core.outcome.refresh_token.idle_expires_at,
            };
            *slot = Some(v);
            Ok(())
        }
        Err(e) => Err(core.refuse(method, vec![Value::from(value)], e, true)),
    }
}

impl SessionApi<'_, '_> {
    fn session_base(&self) -> i64 {
        parse_iso_ms(self.core.event.session.as_ref().and_then(|s| s.created_at.as_deref())).unwrap_or_else(|| self.core.now_ms())
    }

    /// `api.session.revoke(reason, {preserveRefreshTokens})`: the login fails after this action and
    /// the session (and, unless preserved, its refresh tokens) is revoked.
    pub fn revoke(&mut self, reason: &str, options: Option<&Value>) -> &mut Self {
        let preserve = options
            .and_then(|o| o.get("preserveRefreshTokens"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.core
            .record("session.revoke", vec![Value::from(reason), options.cloned().unwrap_or(Value::Null)]);
        self.core.outcome.session.revoke = Some(SessionRevoke {
            reason: reason.to_string(),
            preserve_refresh_tokens: preserve,
        });
        self.core.fail(FailureKind::SessionRevoked, "access_denied", reason);
        self
    }

    /// `api.session.setCookieMode("persistent" | "non-persistent")`.
    pub fn set_cookie_mode(&mut self, mode: &str) -> Result<&mut Self, ApiError> {
        const M: &str = "session.setCookieMode";
        let args = vec![Value::from(mode)];
        let parsed = match mode {
            "persistent" => CookieMode::Persistent,
            "non-persistent" => CookieMode::NonPersistent,
            _ => {
                let e = ApiError::InvalidArgument {
                    method: M,
                    reason: "mode must be 'persistent' or 'non-persistent'".into(),
                };
                return Err(self.core.refuse(M, args, e, true));
            }
        };
        self.core.record(M, args);
        self.core.outcome.session.cookie_mode = Some(parsed);
        Ok(self)
    }

    /// `api.session.setExpiresAt(ms)`: earliest call wins, capped at the tenant's session maximum.
    pub fn set_expires_at(&mut self, absolute_ms: f64) -> Result<&mut Self, ApiError> {
        let base = self.session_base();
        set_expiry(self.core, "session.setExpiresAt", absolute_ms, base, Expiry::SessionAbsolute)?;
        Ok(self)
    }

    /// `api.session.setIdleExpiresAt(ms)`: earliest call wins, capped at the session maximum.
    pub fn set_idle_expires_at(&mut self, idle_ms: f64) -> Result<&mut Self, ApiError> {
        let base = self.session_base();
        set_expiry(self.core, "session.setIdleExpiresAt", idle_ms, base, Expiry::SessionIdle)?;
        Ok(self)
    }

    /// `api.session.setMetadata(key, value)`: string, number or boolean; `null` deletes the key.
    pub fn set_metadata(&mut self, key: &str, value: Value) -> Result<&mut Self, ApiError> {
        const M: &str = "session.setMetadata";
        let args = vec![Value::from(key), value.clone()];
        if key.is_empty() {
            let e = ApiError::InvalidArgument {
                method: M,
                reason: "key must not be empty".into(),
            };
            return Err(self.core.refuse(M, args, e, true));
        }
        let op = match value {
            Value::Null => SessionMetadataOp::Delete { key: key.to_string() },
            Value::String(_) | Value::Number(_) | Value::Bool(_) => SessionMetadataOp::Set {
                key: key.to_string(),
                value,
            },
            _ => {
                let e = ApiError::InvalidArgument {
                    method: M,
                    reason: "value must be a string, number, boolean or null".into(),
                };
                return Err(self.core.refuse(M, args, e, true));
            }
        };
        self.core.record(M, args);
        self.core.outcome.session.metadata_ops.push(op);
        Ok(self)
    }

    /// `api.session.deleteMetadata(key)`.
    pub fn delete_metadata(&mut self, key: &str) -> &mut Self {
        self.core.record("session.deleteMetadata", vec![Value::from(key)]);
        self.core
            .outcome
            .session
            .metadata_ops
            .push(SessionMetadataOp::Delete { key: key.to_string() });
        self
    }

    /// `api.session.evictMetadata()`: deletes every key.
    pub fn evict_metadata(&mut self) -> &mut Self {
        self.core.record("session.evictMetadata", vec![]);
        self.core.outcome.session.metadata_ops.push(SessionMetadataOp::Evict);
        self
    }
}
