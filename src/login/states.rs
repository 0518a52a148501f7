//! The states of a login between two HTTP requests, as types whose transitions consume them.
//!
//! ```text
//! NewLogin ──(live session)──► Authenticated ──run──► deliver ──► Answer
//!    │                              ▲                    │
//!    └─await_password─► AwaitingPassword                 └─(redirect)─► Redirected ──resume──► deliver
//!                        │  check_password (consumes it; a wrong password gives it back)
//!                        └──────────────► Authenticated
//! ```
//!
//! A state loaded from the store is bound to the browser that started the login: loading it
//! for another browser fails with [`StateError::ForeignBrowser`] before anything is consumed.
//! Only the engine makes these values (their fields are private), so an impossible transition
//! (running the pipeline of a login that has not authenticated, resuming a login that was not
//! redirected) does not compile:
//!
//! ```no_run
//! # use idpipe::login::{Authenticated, LoginContext, Redirected};
//! // What compiles: an authenticated login runs; a redirected one resumes.
//! async fn go(ctx: &LoginContext, a: Authenticated, r: Redirected) {
//!     ctx.run(a).await;
//!     ctx.resume(r, Default::default()).await;
//! }
//! ```
//!
//! ```compile_fail
//! # use idpipe::login::{LoginContext, NewLogin};
//! // A login whose user has not authenticated cannot run the post-login pipeline.
//! async fn go(ctx: &LoginContext, n: NewLogin) {
//!     ctx.run(n).await;
//! }
//! ```
//!
//! ```compile_fail
//! # use idpipe::login::{AwaitingPassword, LoginContext};
//! // A login waiting for its password cannot be resumed as if an action had redirected it.
//! async fn go(ctx: &LoginContext, p: AwaitingPassword) {
//!     ctx.resume(p, Default::default()).await;
//! }
//! ```
//!
//! ```compile_fail
//! # use idpipe::login::Redirected;
//! // Only the engine makes a state (after checking the store and the browser).
//! let r = Redirected { key: "made-up".to_string() };
//! ```
//!
//! ```compile_fail
//! # use idpipe::login::LoginContext;
//! // The store is not reachable from an async handler: only through `Io`, on the blocking pool.
//! fn peek(ctx: &LoginContext) {
//!     let _ = ctx.store;
//! }
//! ```

use super::records::{Pending, SessionCtx};
use super::request::LoginRequest;
use super::session::hash_secret;
use super::{Io, MAX_PENDING_BYTES};
use crate::pipeline::event::{self, User};
use crate::store::{LoginCheck, StoreError};

/// Why a stored login state cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Unknown, expired or already used.
    #[error("the login state is invalid, has expired or was already used")]
    Expired,
    /// Presented by another browser than the one that started the login.
    #[error("the login state belongs to another browser")]
    ForeignBrowser,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a password was not accepted.
#[derive(Debug)]
pub enum PasswordRefused {
    /// Unknown user or wrong password (not told apart).
    Invalid,
    /// The account is locked after consecutive failures.
    Locked,
}

fn same_browser(presented: Option<&str>, stored: &str) -> bool {
    presented.is_some_and(|h| !stored.is_empty() && crate::util::constant_time_eq(h.as_bytes(), stored.as_bytes()))
}

/// A validated protocol request whose user has not authenticated yet.
#[derive(Debug)]
pub struct NewLogin {
    pub(super) request: LoginRequest,
    pub(super) http: event::Request,
    pub(super) browser: String,
    pub(super) remembered: Option<String>,
}

impl NewLogin {
    /// A login for `request`, from the HTTP request `http`, bound to the browser whose
    /// transaction cookie hashes to `browser_hash`.
    pub fn new(request: LoginRequest, http: event::Request, browser_hash: String) -> Self {
        NewLogin {
            request,
            http,
            browser: browser_hash,
            remembered: None,
        }
    }

    /// The browser's remembered-MFA token (its `idpipe_mfa_rb` cookie), if it has one.
    pub fn with_remembered(mut self, token: Option<String>) -> Self {
        self.remembered = token.filter(|t| t.len() <= 256);
        self
    }

    /// The client IP (for the per-IP limit on started logins).
    pub fn ip(&self) -> &str {
        &self.http.ip
    }

    /// Stores the login until the password arrives: the login page's state key, or `None`
    /// when the login is larger than [`MAX_PENDING_BYTES`].
    pub fn await_password(self, io: &Io) -> Result<Option<String>, StoreError> {
        let key = crate::util::random_hex(16);
        let pending = Pending {
            request: self.request,
            http: self.http,
            browser: self.browser,
            remembered: self.remembered,
        };
        Ok(io.put_pending(&key, pending, MAX_PENDING_BYTES)?.then_some(key))
    }

    /// The login goes on in a live session.
    pub(super) fn in_session(self, user: User, session: SessionCtx) -> Authenticated {
        Authenticated {
            request: self.request,
            http: self.http,
            user,
            session,
            browser: self.browser,
            remembered: self.remembered,
        }
    }
}

/// A login waiting for the password, loaded for the browser that started it.
#[derive(Debug)]
pub struct AwaitingPassword {
    key: String,
    pending: Pending,
}

impl Io {
    /// The login page's state `key`, if it is live and belongs to the browser presenting the
    /// transaction-cookie hash `browser`. Nothing is consumed.
    pub fn awaiting_password(&self, key: &str, browser: Option<&str>) -> Result<AwaitingPassword, StateError> {
        let pending = match self.pending(key) {
            Ok(Some(p)) => p,
            Ok(None) => return Err(StateError::Expired),
            // Unreadable (e.g. written by another release): logged by the engine, told as expired.
            Err(StoreError::Corrupt(_)) => return Err(StateError::Expired),
            Err(e) => return Err(e.into()),
        };
        if !same_browser(browser, &pending.browser) {
            tracing::warn!("a login-page state was presented by another browser than the one that started it");
            return Err(StateError::ForeignBrowser);
        }
        Ok(AwaitingPassword {
            key: key.to_string(),
            pending,
        })
    }

    /// The resume state `key` of a redirected login, if it is live and belongs to the browser
    /// presenting `browser`. Nothing is consumed.
    pub fn redirected(&self, key: &str, browser: Option<&str>) -> Result<Redirected, StateError> {
        let suspended = match self.suspended(key) {
            Ok(Some(s)) => s,
            Ok(None) | Err(StoreError::Corrupt(_)) => return Err(StateError::Expired),
            Err(e) => return Err(e.into()),
        };
        if !same_browser(browser, &suspended.browser) {
            tracing::warn!("a resume state was presented by another browser than the one that started it");
            return Err(StateError::ForeignBrowser);
        }
        Ok(Redirected { key: key.to_string() })
    }
}

impl AwaitingPassword {
    /// The protocol request.
    pub fn request(&self) -> &LoginRequest {
        &self.pending.request
    }

    /// The login page's state key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Checks the password (argon2id, the account lockout). Right: the stored state is
    /// consumed (single use: a second submission cannot start a second login), the browser's
    /// previous session ends (no fixation) and the login is authenticated in a new session.
    /// Wrong: the state is given back for the form to be shown again.
    pub fn check_password(
        self,
        io: &Io,
        username: &str,
        password: &str,
        old_session_cookie: Option<&str>,
    ) -> Result<Result<Authenticated, (AwaitingPassword, PasswordRefused)>, StateError> {
        let policy = io.tenant.login.lockout;
        let mut user = match io.store.login(username, password, io.now_ms(), policy)? {
            LoginCheck::Ok(u) => *u,
            LoginCheck::Invalid => return Ok(Err((self, PasswordRefused::Invalid))),
            LoginCheck::Locked(_) => return Ok(Err((self, PasswordRefused::Locked))),
        };
        if !io.take_pending(&self.key)? {
            return Err(StateError::Expired);
        }
        if let Some(old) = old_session_cookie {
            io.store.delete_session(&hash_secret(old))?;
        }
        io.with_enrolled_factors(&mut user)?;
        tracing::info!(user_id = %user.user_id, client_id = %self.pending.request.client_id(), "password login");
        let session = io.new_session(&user.user_id);
        let Pending {
            request,
            http,
            browser,
            remembered,
        } = self.pending;
        Ok(Ok(Authenticated {
            request,
            http,
            user,
            session,
            browser,
            remembered,
        }))
    }
}

/// A login whose user is authenticated (by a password or a live session); its post-login
/// pipeline has not run yet.
#[derive(Debug)]
pub struct Authenticated {
    pub(super) request: LoginRequest,
    pub(super) http: event::Request,
    pub(super) user: User,
    pub(super) session: SessionCtx,
    pub(super) browser: String,
    pub(super) remembered: Option<String>,
}

/// A login suspended by a redirect action, checked to belong to the presenting browser.
#[derive(Debug)]
pub struct Redirected {
    pub(super) key: String,
}

impl From<StateError> for super::Answered {
    fn from(e: StateError) -> Self {
        use super::{Answer, PageError};
        match e {
            StateError::Expired => Answer::error(
                PageError::BadRequest,
                "invalid_state",
                "The state is invalid, has expired or was already used.",
            ),
            StateError::ForeignBrowser => Answer::error(PageError::Forbidden, "invalid_state", super::FOREIGN_BROWSER),
            StateError::Store(e) => Answer::StoreFailure(e),
        }
        .into()
    }
}
