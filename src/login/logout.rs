//! Single logout across a session's participants (SAML Core 3.7, front channel): the session
//! ends at once; then the browser carries a signed LogoutRequest to each other SAML SP that
//! has a logout URL, one after the other, and comes back with its LogoutResponse; at the end
//! the one who started the logout is answered (a LogoutResponse whose status says whether
//! every participant confirmed: `Success`, or `Success` + `PartialLogout`; or the OIDC
//! redirect; or the logged-out page). The chain between two requests is a typed record bound
//! to the browser, like a login.

use serde::{Deserialize, Serialize};

use super::Io;
use super::records::{FlowV1, decode, encode};
use super::states::StateError;
use crate::store::{SamlParticipant, SessionRecord, StoreError};

/// How long a participant may take to answer.
const CHAIN_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// Who is answered when the chain ends.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogoutFinish {
    /// The SP that sent the LogoutRequest: a LogoutResponse to its logout URL.
    Saml {
        /// Its client id.
        client_id: String,
        /// Its logout URL.
        callback: String,
        /// Its LogoutRequest's ID.
        in_response_to: String,
        /// Its RelayState.
        relay_state: Option<String>,
    },
    /// A registered URL (OIDC logout).
    Redirect {
        /// The URL.
        url: String,
    },
    /// The logged-out page.
    Page,
}

/// The LogoutRequest the browser carries now.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingLogout {
    /// The participant.
    pub client_id: String,
    /// The ID of the LogoutRequest sent to it.
    pub request_id: String,
}

/// A single logout in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogoutChain {
    /// Hash of the transaction cookie of the browser that carries it.
    pub browser: String,
    /// The ended session's id (the SessionIndex every participant received).
    pub sid: String,
    /// Participants still to be told.
    pub remaining: Vec<SamlParticipant>,
    /// The one being told now.
    pub pending: Option<PendingLogout>,
    /// Whether a participant failed or refused.
    pub partial: bool,
    /// Front-channel logout URLs of OIDC applications, loaded in iframes before the end.
    #[serde(default)]
    pub frontchannel: Vec<String>,
    /// Who is answered at the end.
    pub finish: LogoutFinish,
}

fn key(k: &str) -> String {
    format!("logout:{k}")
}

impl LogoutChain {
    /// A chain for the participants of an ended session (the initiator excluded), keeping
    /// only those with a logout URL (`has_logout_url`).
    pub fn new(
        browser: String,
        session: &SessionRecord,
        initiator: Option<&str>,
        has_logout_url: impl Fn(&str) -> bool,
        finish: LogoutFinish,
    ) -> Self {
        let remaining = session
            .saml_participants
            .iter()
            .filter(|p| Some(p.client_id.as_str()) != initiator && has_logout_url(&p.client_id))
            .cloned()
            .collect();
        LogoutChain {
            browser,
            sid: session.sid.clone(),
            remaining,
            pending: None,
            partial: false,
            frontchannel: Vec::new(),
            finish,
        }
    }

    /// Records the answer of the pending participant: `confirmed` when it answered the request
    /// it was sent (`in_response_to`) with Success.
    pub fn answered(&mut self, client_id: &str, in_response_to: Option<&str>, success: bool) -> Result<(), StateError> {
        match self.pending.take() {
            Some(p) if p.client_id == client_id && Some(p.request_id.as_str()) == in_response_to => {
                self.partial |= !success;
                Ok(())
            }
            other => {
                self.pending = other;
                Err(StateError::Expired)
            }
        }
    }
}

impl Io {
    /// Stores a chain under a new key and returns the key (the RelayState of the next step).
    pub fn put_logout(&self, chain: &LogoutChain) -> Result<String, StoreError> {
        let k = crate::util::random_hex(16);
        self.store.put_flow(
            &key(&k),
            &encode(FlowV1::LoggingOut(Box::new(chain.clone())))?,
            self.now_ms() + CHAIN_LIFETIME_MS,
        )?;
        Ok(k)
    }

    /// Takes the chain of `k` (single use) if it belongs to the presenting browser; another
    /// browser is refused before anything is consumed.
    pub fn take_logout(&self, k: &str, browser: Option<&str>) -> Result<LogoutChain, StateError> {
        let json = self.store.flow(&key(k), self.now_ms())?.ok_or(StateError::Expired)?;
        let chain = match decode(&json)? {
            FlowV1::LoggingOut(c) => *c,
            _ => return Err(StateError::Expired),
        };
        let same = browser.is_some_and(|b| crate::util::constant_time_eq(b.as_bytes(), chain.browser.as_bytes()));
        if !same {
            tracing::warn!("a logout chain was presented by another browser than the one carrying it");
            return Err(StateError::ForeignBrowser);
        }
        self.store.take_flow(&key(k), self.now_ms())?.ok_or(StateError::Expired)?;
        Ok(chain)
    }
}
