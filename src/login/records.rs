//! What a login keeps between two HTTP requests, as typed, versioned records: a login waiting for
//! the password, a pipeline suspended by a redirect action, an authorization code's grant.
//! Nothing here holds `event.secrets` (re-read from the tenant on resume).

use serde::{Deserialize, Serialize};

use super::request::{LoginRequest, OidcLogin};
use super::{FLOW_LIFETIME_MS, Io};
use crate::pipeline::event::{self, Event};
use crate::pipeline::{Outcome, TransactionState};
use crate::store::{SessionRecord, StoreError};

/// A login waiting for the login page.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pending {
    /// The protocol request.
    pub request: LoginRequest,
    /// The HTTP request that started it (`event.request`).
    pub http: event::Request,
    /// Hash of the transaction cookie of the browser that started it.
    pub browser: String,
    /// The browser's remembered-MFA token, if it presented one.
    #[serde(default)]
    pub remembered: Option<String>,
}

/// The session a login runs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionCtx {
    /// The session.
    pub record: SessionRecord,
    /// The cookie value of an existing session (`None` for a login that just authenticated:
    /// the cookie is minted when the pipeline completes).
    pub cookie: Option<String>,
    /// The browser was remembered after MFA for this user (`allowRememberBrowser`).
    #[serde(default)]
    pub mfa_remembered: bool,
    /// The session as read from the store in this request (not kept with a suspended login):
    /// an unchanged session is not written again.
    #[serde(skip)]
    pub stored: Option<SessionRecord>,
}

impl SessionCtx {
    /// A session read from the store under the cookie value `raw`.
    pub fn found(record: SessionRecord, raw: &str) -> Self {
        SessionCtx {
            stored: Some(record.clone()),
            record,
            cookie: Some(raw.to_string()),
            mfa_remembered: false,
        }
    }
}

/// A pipeline suspended by a redirect action.
#[derive(Debug, Serialize, Deserialize)]
pub struct Suspended {
    /// The protocol request.
    pub request: LoginRequest,
    /// The pipeline state (without `event.secrets`).
    pub tx: TransactionState,
    /// The session.
    pub session: SessionCtx,
    /// Hash of the transaction cookie of the browser the login belongs to.
    pub browser: String,
}

/// What an authorization code stands for (stored hashed, single use, without secrets).
#[derive(Debug, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The OIDC request.
    pub login: OidcLogin,
    /// Session id (`sid`).
    pub sid: String,
    /// When the user authenticated (s).
    pub auth_time: i64,
    /// The event as the last action saw it: only its `user` and `authentication` (what the
    /// tokens are built from).
    pub event: Event,
    /// The pipeline outcome.
    pub outcome: Outcome,
}

/// A login between two HTTP requests, in the store. Versioned: a record written by another
/// release is recognised (and refused clearly) instead of misread.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "v", content = "login")]
pub enum StoredFlow {
    /// Version 1.
    #[serde(rename = "1")]
    V1(FlowV1),
}

/// The states of version 1.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FlowV1 {
    /// Waiting for the password (the login page's `state`).
    AwaitingPassword(Box<Pending>),
    /// Redirected by an action, waiting for `/continue` (the resume state).
    Redirected(Box<Suspended>),
    /// A single logout going from one session participant to the next.
    LoggingOut(Box<super::logout::LogoutChain>),
    /// Waiting for a second factor (challenge, picker or enrolment).
    AwaitingMfa(Box<super::mfa::MfaPending>),
    /// Showing a custom prompt (`api.prompt.render`), waiting for its submission.
    Prompting(Box<Suspended>),
    /// A password reset whose challenge is met, waiting for the new password.
    ChoosingPassword(Box<super::reset::ChoosingPassword>),
}

fn pending_key(state: &str) -> String {
    format!("login:{state}")
}

fn suspended_key(resume_state: &str) -> String {
    format!("continue:{resume_state}")
}

pub(super) fn encode(flow: FlowV1) -> Result<String, StoreError> {
    serde_json::to_string(&StoredFlow::V1(flow)).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn decode(json: &str) -> Result<FlowV1, StoreError> {
    match serde_json::from_str::<StoredFlow>(json) {
        Ok(StoredFlow::V1(f)) => Ok(f),
        Err(e) => {
            tracing::error!(error = %e, "a stored login cannot be read");
            Err(StoreError::Corrupt(format!("a stored login: {e}")))
        }
    }
}

impl Io {
    /// Stores a pending login under its login-page state; refuses one over `max_bytes`.
    pub(crate) fn put_pending(&self, state: &str, p: Pending, max_bytes: usize) -> Result<bool, StoreError> {
        let json = encode(FlowV1::AwaitingPassword(Box::new(p)))?;
        if json.len() > max_bytes {
            return Ok(false);
        }
        self.store.put_flow(&pending_key(state), &json, self.now_ms() + FLOW_LIFETIME_MS)?;
        Ok(true)
    }

    /// The pending login of a login-page state (not consumed).
    pub(crate) fn pending(&self, state: &str) -> Result<Option<Pending>, StoreError> {
        match self.store.flow(&pending_key(state), self.now_ms())? {
            Some(json) => match decode(&json)? {
                FlowV1::AwaitingPassword(p) => Ok(Some(*p)),
                _ => Err(StoreError::Corrupt("a login-page state names another kind of record".into())),
            },
            None => Ok(None),
        }
    }

    /// Consumes a pending login (single use); false when it is gone.
    pub(crate) fn take_pending(&self, state: &str) -> Result<bool, StoreError> {
        Ok(self.store.take_flow(&pending_key(state), self.now_ms())?.is_some())
    }

    /// Stores a suspended pipeline under its resume state.
    pub(crate) fn put_suspended(&self, s: Suspended) -> Result<(), StoreError> {
        let key = suspended_key(&s.tx.resume_state);
        let json = encode(FlowV1::Redirected(Box::new(s)))?;
        self.store.put_flow(&key, &json, self.now_ms() + FLOW_LIFETIME_MS)
    }

    fn suspended_of(json: Option<String>) -> Result<Option<Suspended>, StoreError> {
        match json {
            Some(json) => match decode(&json)? {
                FlowV1::Redirected(s) => Ok(Some(*s)),
                _ => Err(StoreError::Corrupt("a resume state names another kind of record".into())),
            },
            None => Ok(None),
        }
    }

    /// The suspended pipeline of a resume state (not consumed).
    pub(crate) fn suspended(&self, resume_state: &str) -> Result<Option<Suspended>, StoreError> {
        Self::suspended_of(self.store.flow(&suspended_key(resume_state), self.now_ms())?)
    }

    /// Consumes a suspended pipeline (single use).
    pub(crate) fn take_suspended(&self, resume_state: &str) -> Result<Option<Suspended>, StoreError> {
        Self::suspended_of(self.store.take_flow(&suspended_key(resume_state), self.now_ms())?)
    }
}
