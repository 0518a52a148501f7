//! The login pipeline: event -> ordered actions (each recording commands through its `api`) ->
//! one [`Outcome`]. Issuers read only the outcome.

pub mod api;
pub mod cache;
pub mod command;
pub mod event;
pub mod executor;
pub mod outcome;
pub mod redact;
pub mod services;
pub mod state;
pub mod watch;

use serde::{Deserialize, Serialize};

pub use api::{ApiError, PostChallengeApi, PostLoginApi, SendPhoneMessageApi};
pub use event::Event;
pub use executor::{Action, ActionError, Executor, Resume, Services, TransactionState};
pub use outcome::Outcome;

/// The triggers whose actions idpipe runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// After a successful login (seeds 000, 001).
    PostLogin,
    /// After an MFA challenge (seed 002).
    PostChallenge,
    /// After the challenge of a password reset (seed 003).
    PasswordResetPostChallenge,
    /// Delivers an MFA phone message with the tenant's own provider (`event.message_options`).
    SendPhoneMessage,
}

impl Trigger {
    /// The trigger's name as in the hosted service's configuration (`post-login`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Trigger::PostLogin => "post-login",
            Trigger::PostChallenge => "post-challenge",
            Trigger::PasswordResetPostChallenge => "password-reset-post-challenge",
            Trigger::SendPhoneMessage => "send-phone-message",
        }
    }

    /// Parses a trigger name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Trigger::PostLogin,
            Trigger::PostChallenge,
            Trigger::PasswordResetPostChallenge,
            Trigger::SendPhoneMessage,
        ]
        .into_iter()
        .find(|t| t.name() == s)
    }

    /// The JavaScript handler names for the execute and continue phases.
    pub fn handler_names(self) -> (&'static str, &'static str) {
        match self {
            Trigger::PostLogin => ("onExecutePostLogin", "onContinuePostLogin"),
            Trigger::PostChallenge => ("onExecutePostChallenge", "onContinuePostChallenge"),
            Trigger::PasswordResetPostChallenge => ("onExecutePostChallenge", "onContinuePostChallenge"),
            // No continue phase: the trigger cannot suspend.
            Trigger::SendPhoneMessage => ("onExecuteSendPhoneMessage", "onContinueSendPhoneMessage"),
        }
    }
}

/// Which handler of an action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// `onExecute...`.
    Execute,
    /// `onContinue...`, after a redirect or prompt.
    Continue,
}
