//! The SSO session a login runs in: found by the cookie's hash, created after a password,
//! updated once when the pipeline completes.

use super::answer::CookieChange;
use super::records::SessionCtx;
use super::{Io, LoginContext};
use crate::pipeline::Outcome;
use crate::pipeline::event::{AuthenticationMethod, Event, User};
use crate::pipeline::outcome::CookieMode;
use crate::store::{SessionLogin, SessionRecord, StoreError};

/// SHA-256 hex of a secret (session cookies and codes are stored hashed).
pub fn hash_secret(s: &str) -> String {
    hex::encode(openssl::sha::sha256(s.as_bytes()))
}

/// A live session, its user (`None` when deleted since) and the user's enrolled factors.
pub type SessionWithUser = (SessionCtx, Option<User>, Vec<String>);

impl Io {
    /// The live session of a session cookie value, if any.
    pub fn current_session(&self, cookie: Option<&str>) -> Result<Option<SessionCtx>, StoreError> {
        let Some(raw) = cookie.filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        Ok(self
            .store
            .session(&hash_secret(raw), self.now_ms())?
            .map(|record| SessionCtx::found(record, raw)))
    }

    /// [`Io::current_session`] with its user (`None` when deleted since) and the user's
    /// enrolled factors, read at once ([`crate::store::SessionStore::session_login`]).
    pub fn session_login(&self, cookie: Option<&str>) -> Result<Option<SessionWithUser>, StoreError> {
        let Some(raw) = cookie.filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        Ok(self
            .store
            .session_login(&hash_secret(raw), self.now_ms())?
            .map(|SessionLogin { session, user, factors }| (SessionCtx::found(session, raw), user, factors)))
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
        let before = s.stored.take().filter(|_| s.cookie.is_some());
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
        if !before.is_some_and(|b| only_touched(b, r, self.tenant.sessions.idle)) {
            self.store.put_session(&hash_secret(&raw), r)?;
        }
        let max_age = r.persistent.then(|| ((r.expires_at - now) / 1000).max(0));
        Ok(CookieChange::Set { value: raw, max_age })
    }
}

/// Whether a session used again changed only by sliding its idle expiry forward by less than
/// a tenth of the idle lifetime (at most a minute): then it is not written again. SSO round trips
/// through one session (an SPA's silent renewals, many apps in a row) write it at most once a
/// minute; the stored idle expiry is at most that much earlier than exact.
fn only_touched(mut before: SessionRecord, after: &SessionRecord, idle_seconds: u64) -> bool {
    let window = (idle_seconds as i64 * 100).min(60_000);
    let slide = after.idle_expires_at - before.idle_expires_at;
    before.last_seen = after.last_seen;
    before.idle_expires_at = after.idle_expires_at;
    before == *after && (0..window).contains(&slide)
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
            stored: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> SessionRecord {
        SessionRecord {
            sid: "sid".into(),
            user_id: "u1".into(),
            created_at: 0,
            last_seen: 1_000,
            expires_at: 86_400_000,
            idle_expires_at: 1_000 + 3_600_000,
            persistent: false,
            metadata: Default::default(),
            methods: vec![],
            clients: vec!["app".into()],
            saml_participants: vec![],
        }
    }

    fn used_at(now: i64) -> SessionRecord {
        let mut r = record();
        r.last_seen = now;
        r.idle_expires_at = now + 3_600_000;
        r
    }

    #[test]
    fn a_session_used_again_within_the_window_is_not_written() {
        assert!(only_touched(record(), &used_at(1_000), 3600));
        assert!(only_touched(record(), &used_at(59_999), 3600));
    }

    #[test]
    fn a_session_is_written_once_its_idle_expiry_would_lag_by_the_window() {
        assert!(!only_touched(record(), &used_at(61_000), 3600));
        // A short idle lifetime has a shorter window (a tenth of it).
        let mut short = record();
        short.idle_expires_at = 1_000 + 60_000;
        let mut later = short.clone();
        later.last_seen = 7_500;
        later.idle_expires_at = 7_500 + 60_000;
        assert!(!only_touched(short, &later, 60));
    }

    #[test]
    fn a_changed_session_is_always_written() {
        let mut meta = used_at(2_000);
        meta.metadata.insert("k".into(), "v".into());
        assert!(!only_touched(record(), &meta, 3600));
        let mut client = used_at(2_000);
        client.clients.push("other".into());
        assert!(!only_touched(record(), &client, 3600));
        let mut shorter = used_at(2_000);
        shorter.idle_expires_at = 500_000;
        assert!(!only_touched(record(), &shorter, 3600), "an earlier idle expiry set by an action");
        let mut persistent = used_at(2_000);
        persistent.persistent = true;
        assert!(!only_touched(record(), &persistent, 3600));
    }
}
