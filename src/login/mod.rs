//! The login transaction as a library, independent of HTTP: from a validated protocol request
//! to the answer for the application. One orchestrator owns building the event, running the
//! pipeline off the async workers (under the watchdog), storing and resuming suspensions as
//! typed records, committing (metadata changes, the session, recorded methods) and producing a
//! typed [`Answer`]. The server only extracts, calls, and maps the answer to HTTP.
//!
//! ```text
//! start ──(live session)──────────────► run ──► deliver ──► Answer (SAML POST / OIDC callback / error)
//!   │                                    ▲          │
//!   └─(no session)─► await_password ─────┘          └─(redirect action)─► stored ─► resume ─► deliver
//! ```

mod answer;
pub mod authorize;
pub mod code_grant;
mod event;
mod issue;
pub mod logout;
pub mod mfa;
pub mod pool;
pub mod prompt;
pub mod records;
pub mod refresh;
pub mod request;
pub mod reset;
mod saml_issue;
mod session;
mod states;
mod steps;
pub mod watchdog;

use std::sync::Arc;

pub use answer::{Answer, Answered, CookieChange, PageError};
pub use records::{CodeRecord, Pending, SessionCtx, Suspended};
pub use refresh::{RefreshRequest, RefreshResult, refresh_grant};
pub use request::{LoginRequest, OidcLogin, SamlLogin};
pub use session::hash_secret;
pub use states::{Authenticated, AwaitingPassword, NewLogin, PasswordRefused, Redirected, StateError};
pub use steps::{FOREIGN_BROWSER, Start};

use crate::config::Tenant;
use crate::store::Store;

/// How long the login page may take, and how long a redirect action may keep the user away.
pub const FLOW_LIFETIME_MS: i64 = 15 * 60 * 1000;
/// Largest pending login stored before the user authenticated (the protocol request and the
/// HTTP request's query), in bytes.
pub const MAX_PENDING_BYTES: usize = 16 * 1024;
/// Authorization-code lifetime.
pub const CODE_LIFETIME_MS: i64 = 60 * 1000;

/// What a login needs: the tenant (actions, clients, keys, lifetimes) and the store. The store
/// is private: it is reached only through [`Io`], which only [`LoginContext::blocking`] (and
/// the pipeline runner, and [`LoginContext::in_place`] after handing the worker's tasks to
/// another thread) hands out, so no store call can run on an async worker (a network database
/// cannot stall the runtime) and the compiler checks it.
#[derive(Clone)]
pub struct LoginContext {
    /// The tenant.
    pub tenant: Arc<Tenant>,
    store: Arc<dyn Store>,
    /// Keys of the MFA secrets (from the server secret).
    pub mfa_keys: mfa::codes::MfaKeys,
    /// The steps on the blocking pool ([`pool`]).
    pool: Arc<pool::PoolUse>,
}

/// The login engine with its store, on the blocking pool: every store call of the engine and
/// of the server goes through one of these, and only [`LoginContext::blocking`] (or the
/// pipeline runner, or [`LoginContext::in_place`]) makes one.
pub struct Io(LoginContext);

impl std::ops::Deref for Io {
    type Target = LoginContext;
    fn deref(&self) -> &LoginContext {
        &self.0
    }
}

impl Io {
    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.0.store
    }

    /// The store, shared (for the issuers' refresh-token store).
    pub(crate) fn store_arc(&self) -> Arc<dyn Store> {
        self.0.store.clone()
    }
}

impl LoginContext {
    /// A login engine over a tenant and a store; `server_key` (from the server secret, the same
    /// on every node) keys the MFA secrets.
    pub fn new(tenant: Arc<Tenant>, store: Arc<dyn Store>, server_key: &[u8; 32]) -> Self {
        LoginContext {
            tenant,
            store,
            mfa_keys: mfa::codes::MfaKeys::new(server_key),
            pool: pool::PoolUse::for_this_machine(),
        }
    }

    /// Now in milliseconds, from the executor's clock (tests can fix it).
    pub fn now_ms(&self) -> i64 {
        self.tenant.executor.services().clock.now_ms()
    }

    /// Runs `f` (store I/O of a login step) on the blocking pool: the explicit boundary between
    /// the async HTTP side and the synchronous store, so that a slow database never holds an
    /// async worker.
    pub async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Io) -> T + Send + 'static) -> Result<T, crate::store::StoreError> {
        let io = Io(self.clone());
        let busy = self.pool.enter();
        // The request's span goes along, so that what the step logs carries the request id.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _busy = busy;
            span.in_scope(|| f(&io))
        })
        .await
        .map_err(|e| crate::store::StoreError::Unavailable(format!("the store task failed: {e}")))
    }

    /// Runs `f` (a pipeline and the store I/O around it) on the blocking pool under the
    /// watchdog ([`watchdog::run_pipeline`]).
    pub async fn pipeline<T: Send + 'static>(&self, f: impl FnOnce(&Io) -> T + Send + 'static) -> Result<T, watchdog::PipelineStop> {
        let io = Io(self.clone());
        let busy = self.pool.enter();
        watchdog::run_pipeline(move || {
            let _busy = busy;
            f(&io)
        })
        .await
    }

    /// Now.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.now_ms()).unwrap_or_default()
    }
}
