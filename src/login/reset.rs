//! Password reset on the login engine.
//!
//! 1. A request names a login or email; a user with an email gets a single-use link (a random
//!    token, stored hashed, `[password_reset] link_lifetime_minutes`, superseded by a newer
//!    request and removed by a password change). Unknown users get the same answer.
//! 2. Opening the link (a POST from the link's page, so that mail scanners fetching the link do
//!    not use it) consumes the token and runs the tenant's password-reset post-challenge
//!    actions as a login (`LoginRequest::PasswordReset`): deny, MFA challenges, redirects with
//!    `/continue`, prompts and `transaction.setResultUrl` all work as in post-login.
//! 3. When they complete, a typed `ChoosingPassword` record (bound to the browser) waits for the
//!    new password, checked against the tenant's policy; then the result URL (when allowed) or
//!    the "password changed" page.

use serde::{Deserialize, Serialize};

use super::records::{FlowV1, Suspended, decode, encode};
use super::request::{LoginRequest, ResetLogin};
use super::session::hash_secret;
use super::states::StateError;
use super::{Answer, Answered, Io, LoginContext, PageError};
use crate::pipeline::Trigger;
use crate::pipeline::event;
use crate::store::{ResetTicket, StoreError};

/// How long the new-password page may stay open.
const CHOOSING_LIFETIME_MS: i64 = 15 * 60 * 1000;

fn key(k: &str) -> String {
    format!("reset:{k}")
}

/// A reset whose challenge is met, waiting for the new password.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChoosingPassword {
    /// The user.
    pub user_id: String,
    /// The application the reset started from (empty: none).
    pub client_id: String,
    /// `api.transaction.setResultUrl`, already checked against the allowed URLs.
    pub result_url: Option<String>,
    /// Hash of the transaction cookie of the browser.
    pub browser: String,
}

/// Why a new password is refused (shown on the form).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The two entries differ.
    #[error("The two passwords do not match.")]
    Mismatch,
    /// Shorter than the tenant's minimum.
    #[error("Use at least {0} characters.")]
    TooShort(usize),
    /// Longer than argon2 inputs should be.
    #[error("Use at most 128 characters.")]
    TooLong,
    /// Equal to (or contains) the username or email.
    #[error("Do not use your username or email address.")]
    PersonalInfo,
    /// zxcvbn's score is under the tenant's minimum.
    #[error("This password is too easy to guess. {0}")]
    Weak(String),
}

/// Where the user goes once the password is changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterReset {
    /// The result URL an action set.
    ResultUrl(String),
    /// The "password changed" page, with a link back to the application when known.
    Changed {
        /// The application's name and URL.
        back_to: Option<(String, String)>,
    },
}

impl Io {
    /// A reset request for `identifier` (login or email): `Some((email, link token))` to send
    /// when such a user has an email; `None` otherwise (the caller answers the same either way).
    pub fn request_reset(&self, identifier: &str, client_id: &str) -> Result<Option<(String, String)>, StoreError> {
        let token = crate::util::random_hex(32);
        let Some((user_id, email)) = self.store.reset_target(identifier)? else {
            return Ok(None);
        };
        let ticket = ResetTicket {
            user_id: user_id.clone(),
            client_id: client_id.to_string(),
        };
        let expires = self.now_ms() + self.tenant.password_reset.link_lifetime_ms;
        self.store.put_reset(&hash_secret(&token), &ticket, expires)?;
        tracing::info!(%user_id, "password reset link issued");
        Ok(Some((email, token)))
    }

    /// Whether a link token still works (the link's page says so before the user goes on).
    pub fn reset_link_valid(&self, token: &str) -> Result<bool, StoreError> {
        self.store.reset_valid(&hash_secret(token), self.now_ms())
    }

    /// The new-password step of `k` for the presenting browser (not consumed).
    pub fn choosing(&self, k: &str, browser: Option<&str>) -> Result<ChoosingPassword, StateError> {
        let json = self.store.flow(&key(k), self.now_ms())?.ok_or(StateError::Expired)?;
        let c = match decode(&json) {
            Ok(FlowV1::ChoosingPassword(c)) => *c,
            _ => return Err(StateError::Expired),
        };
        if !browser.is_some_and(|b| crate::util::constant_time_eq(b.as_bytes(), c.browser.as_bytes())) {
            tracing::warn!("a password reset state was presented by another browser than the one that started it");
            return Err(StateError::ForeignBrowser);
        }
        Ok(c)
    }

    /// Checks the new password against the policy, then stores it (argon2id), ends the user's
    /// sessions and refresh tokens (unless configured otherwise), clears the lockout and every
    /// link; the step is consumed.
    pub fn set_new_password(
        &self,
        k: &str,
        c: &ChoosingPassword,
        password: &str,
        confirm: &str,
    ) -> Result<Result<AfterReset, PolicyError>, StoreError> {
        let user = self
            .store
            .user(&c.user_id)?
            .ok_or_else(|| StoreError::Internal("the user of a password reset is gone".into()))?;
        if let Err(e) = self.policy_check(&user, password, confirm) {
            return Ok(Err(e));
        }
        if self.store.take_flow(&key(k), self.now_ms())?.is_none() {
            return Err(StoreError::Internal("the password reset step was already used".into()));
        }
        let hash = hash_password(password)?;
        let revoke = self.tenant.password_reset.revoke_sessions;
        self.store.set_password(&c.user_id, &hash, revoke)?;
        tracing::info!(user_id = %c.user_id, sessions_revoked = revoke, "password changed by a reset");
        Ok(Ok(match &c.result_url {
            Some(u) => AfterReset::ResultUrl(u.clone()),
            None => AfterReset::Changed {
                back_to: self.application_url(&c.client_id),
            },
        }))
    }

    fn policy_check(&self, user: &event::User, password: &str, confirm: &str) -> Result<(), PolicyError> {
        let policy = &self.tenant.password_reset;
        if !crate::util::constant_time_eq(password.as_bytes(), confirm.as_bytes()) {
            return Err(PolicyError::Mismatch);
        }
        let n = password.chars().count();
        if n < policy.min_length {
            return Err(PolicyError::TooShort(policy.min_length));
        }
        if n > 128 {
            return Err(PolicyError::TooLong);
        }
        let lower = password.to_lowercase();
        let personal: Vec<String> = [user.email.as_deref(), user.username.as_deref()]
            .into_iter()
            .flatten()
            .flat_map(|s| [s.to_lowercase(), s.split('@').next().unwrap_or_default().to_lowercase()])
            .filter(|s| s.len() >= 3)
            .collect();
        if personal.iter().any(|p| lower == *p || lower.contains(p.as_str())) {
            return Err(PolicyError::PersonalInfo);
        }
        let inputs: Vec<&str> = personal.iter().map(String::as_str).collect();
        let estimate = zxcvbn::zxcvbn(password, &inputs);
        if (estimate.score() as u8) < policy.min_strength {
            let hint = estimate
                .feedback()
                .and_then(|f| f.warning().map(|w| w.to_string()))
                .unwrap_or_else(|| "Add more words or characters.".into());
            return Err(PolicyError::Weak(hint));
        }
        Ok(())
    }

    /// The application's name and a URL to go back to it: an OIDC app's first redirect URI's
    /// origin, a SAML SP's first callback's origin.
    fn application_url(&self, client_id: &str) -> Option<(String, String)> {
        let t = &self.tenant;
        let (name, url) = if let Some(c) = t.oidc_clients.get(client_id) {
            (c.name.clone(), c.redirect_uris.first()?.clone())
        } else {
            let sp = t.saml_sps.get(client_id)?;
            (sp.name.clone(), sp.callbacks.first()?.clone())
        };
        let origin = url::Url::parse(&url).ok()?.origin().ascii_serialization();
        Some((name, format!("{origin}/")))
    }

    /// Whether `url` may be a result URL: one of the application's own URLs (redirect URIs,
    /// logout URLs, ACS URLs) or of the tenant's `[password_reset] allowed_result_urls`, compared
    /// without the query (the action's `query` option adds one).
    pub fn result_url_allowed(&self, client_id: &str, url: &str) -> bool {
        let Ok(mut u) = url::Url::parse(url) else {
            return false;
        };
        u.set_query(None);
        u.set_fragment(None);
        let t = &self.tenant;
        let mut allowed: Vec<&String> = t.password_reset.allowed_result_urls.iter().collect();
        if let Some(c) = t.oidc_clients.get(client_id) {
            allowed.extend(c.redirect_uris.iter().chain(c.allowed_logout_urls.iter()));
        }
        if let Some(sp) = t.saml_sps.get(client_id) {
            allowed.extend(sp.callbacks.iter());
        }
        allowed.iter().any(|a| url::Url::parse(a).is_ok_and(|a| a.as_str() == u.as_str()))
    }
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    use argon2::password_hash::PasswordHasher;
    let mut salt = [0u8; 16];
    openssl::rand::rand_bytes(&mut salt).map_err(|e| StoreError::Internal(e.to_string()))?;
    crate::store::argon::with_slot(|| argon2::Argon2::default().hash_password_with_salt(password.as_bytes(), &salt))
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Internal(e.to_string()))
}

impl LoginContext {
    /// The link was opened (and its page submitted) in `browser`: the token is consumed and the
    /// password-reset post-challenge actions run.
    pub async fn start_reset(&self, token: String, http: event::Request, browser: String) -> Answered {
        let started = self
            .blocking(move |io| -> Result<Option<(ResetTicket, event::User)>, StoreError> {
                let Some(ticket) = io.store.take_reset(&hash_secret(&token), io.now_ms())? else {
                    return Ok(None);
                };
                let Some(mut user) = io.store.user(&ticket.user_id)? else {
                    return Ok(None);
                };
                io.with_enrolled_factors(&mut user)?;
                Ok(Some((ticket, user)))
            })
            .await
            .and_then(|r| r);
        let (ticket, user) = match started {
            Ok(Some(t)) => t,
            Ok(None) => {
                tracing::info!("a password reset link was used, superseded, expired or unknown");
                return Answer::error(
                    PageError::BadRequest,
                    "invalid_request",
                    "This link has expired or was already used. Ask for a new one.",
                )
                .into();
            }
            Err(e) => return Answer::StoreFailure(e).into(),
        };
        let request = LoginRequest::PasswordReset(ResetLogin {
            client_id: ticket.client_id,
            user_id: ticket.user_id.clone(),
        });
        let mut session = self.new_session(&ticket.user_id);
        session.record.methods.clear();
        let ev = self.post_login_event(&request, http, user, &session.record);
        let tenant = self.tenant.clone();
        let run = super::watchdog::run_pipeline(move || tenant.executor.start(Trigger::PasswordResetPostChallenge, ev)).await;
        match run {
            Ok(tx) => {
                self.deliver_off(Suspended {
                    request,
                    tx,
                    session,
                    browser,
                })
                .await
            }
            Err(e) => self.stopped(&request, &e).into(),
        }
    }
}

impl Io {
    /// Every action ran: the result URL is checked and the new-password step stored.
    pub(super) fn reset_challenge_met(&self, r: ResetLogin, result_url: Option<String>, browser: String) -> Answered {
        let result_url = result_url.filter(|u| {
            let ok = self.result_url_allowed(&r.client_id, u);
            if !ok {
                tracing::warn!(url = %u, client_id = %r.client_id, "transaction.setResultUrl: the URL is not allowed for this application or tenant; ignored");
            }
            ok
        });
        let c = ChoosingPassword {
            user_id: r.user_id,
            client_id: r.client_id,
            result_url,
            browser,
        };
        let k = crate::util::random_hex(16);
        let stored = encode(FlowV1::ChoosingPassword(Box::new(c)))
            .and_then(|json| self.store.put_flow(&key(&k), &json, self.now_ms() + CHOOSING_LIFETIME_MS));
        match stored {
            Ok(()) => Answer::Redirect(format!("/u/reset-password/new?state={k}")).into(),
            Err(e) => Answer::StoreFailure(e).into(),
        }
    }
}
