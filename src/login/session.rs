//! The SSO session a login runs in: found by the cookie's hash, created after a password,
//! updated once when the pipeline completes.

use super::answer::CookieChange;
use super::records::SessionCtx;
use super::{Io, LoginContext};
use crate::pipeline::Outcome;
use crate::pipeline::event::{AuthenticationMethod, Event};
use crate::pipeline::outcome::CookieMode;
use crate::store::{SessionRecord, StoreError};

/// SHA-256 hex of a secret (session cookies and codes are stored hashed).
pub fn hash_secret(s: &str) -> String {
    hex::encode(openssl::sha::sha256(s.as_bytes()))
}

impl Io {
    /// The live session of a session cookie value, if any.
    pub fn current_session(&self, cookie: Option<&str>) -> Result<Option<SessionCtx>, StoreError> {
        let Some(raw) = cookie.filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        Ok(self.store.session(&hash_secret(raw), self.now_ms())?.map(|record| SessionCtx {
            record,
            cookie: Some(raw.to_string()),
            mfa_remembered: false,
        }))
    }

    /// Applies the outcome's session changes, stores the session and returns its cookie.
    pub(crate) fn commit_session(
        &self,
        s: &mut SessionCtx,
        ev: &Event,
        outcome: &Outcome,
        client_id: &str,
    ) -> Result<CookieChange, StoreError> {
        let now = self.now_ms();
        let r = &mut s.record;
        // What the user completed in this login (MFA, `recordMethod`) is part of the session: the
        // next login through it sees them in `event.authentication.methods`.
        r.methods = ev.authentication.methods.clone();
        let ts = chrono::DateTime::from_timestamp_millis(now)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        for url in &outcome.recorded_methods {
            if !r.methods.iter().any(|m| m.name == *url) {
                r.methods.push(AuthenticationMethod {
                    name: url.clone(),
                    timestamp: ts.clone(),
                    method_type: None,
                });
            }
        }
        let changes = &outcome.session;
        if let Some(e) = changes.expires_at {
            r.expires_at = r.expires_at.min(e);
        }
        r.last_seen = now;
        r.idle_expires_at = (now + self.tenant.sessions.idle as i64 * 1000).min(r.expires_at);
        if let Some(i) = changes.idle_expires_at {
            r.idle_expires_at = r.idle_expires_at.min(i);
        }
        if let Some(mode) = changes.cookie_mode {
            r.persistent = mode == CookieMode::Persistent;
        }
        changes.apply_metadata(&mut r.metadata);
        if !r.clients.iter().any(|c| c == client_id) {
            r.clients.push(client_id.to_string());
        }
        let raw = s.cookie.get_or_insert_with(|| crate::util::random_hex(32)).clone();
        self.store.put_session(&hash_secret(&raw), r)?;
        let max_age = r.persistent.then(|| ((r.expires_at - now) / 1000).max(0));
        Ok(CookieChange::Set { value: raw, max_age })
    }
}

impl LoginContext {
    /// A session for a user who just authenticated with a password.
    pub fn new_session(&self, user_id: &str) -> SessionCtx {
        let now = self.now_ms();
        let l = self.tenant.sessions;
        let ts = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
        SessionCtx {
            record: SessionRecord {
                sid: crate::util::random_hex(16),
                user_id: user_id.to_string(),
                created_at: now,
                last_seen: now,
                expires_at: now + l.absolute as i64 * 1000,
                idle_expires_at: now + l.idle as i64 * 1000,
                persistent: true,
                metadata: Default::default(),
                methods: vec![AuthenticationMethod {
                    name: "pwd".into(),
                    timestamp: ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    method_type: None,
                }],
                clients: vec![],
                saml_participants: vec![],
            },
            cookie: None,
            mfa_remembered: false,
        }
    }
}
