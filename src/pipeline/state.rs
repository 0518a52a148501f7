//! The state of a transaction between two HTTP requests: where it stands, why it is suspended,
//! and how the user came back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Trigger;
use super::api::Factor;
use super::event::{Event, JsonMap};
use super::outcome::Outcome;

/// Challenge or enrolment.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MfaMode {
    /// `challengeWith` / `challengeWithAny`.
    Challenge,
    /// `enrollWith` / `enrollWithAny`.
    Enroll,
}

/// An MFA step the user must complete before the pipeline goes on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MfaRequirement {
    /// Challenge or enrolment.
    pub mode: MfaMode,
    /// Whether a factor picker is shown (the `...Any` methods with more than one usable factor).
    pub picker: bool,
    /// The factors asked for, default first.
    pub requested: Vec<Factor>,
    /// Those the user can actually use (enabled, and enrolled for a challenge / not yet enrolled
    /// for an enrolment).
    pub usable: Vec<Factor>,
}

/// Why the pipeline is waiting for the user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Suspension {
    /// `api.redirect.sendUserTo`: the browser goes to `url`; `/continue` resumes the same action.
    Redirect {
        /// Target URL, with `state` added.
        url: String,
        /// The action that redirected.
        action_index: usize,
    },
    /// An MFA challenge or enrolment; the next action runs once it is fulfilled.
    Mfa {
        /// What to do.
        requirement: MfaRequirement,
        /// The action that asked.
        action_index: usize,
    },
    /// `api.prompt.render`; its submission resumes the same action's continue handler.
    Prompt {
        /// Prompt id.
        prompt_id: String,
        /// Render options.
        options: Value,
        /// The action that asked.
        action_index: usize,
    },
}

/// Where a transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the user (see [`TransactionState::suspension`]).
    Suspended,
    /// Every action ran; tokens or assertions may be issued.
    Completed,
    /// The login failed (see [`Outcome::failure`]).
    Failed,
}

/// The whole state of a login transaction; serializable to store between requests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TransactionState {
    /// The trigger being run.
    pub trigger: Trigger,
    /// The event as the next action will see it.
    pub event: Event,
    /// Index of the next action to run.
    pub next_action: usize,
    /// Outcome so far.
    pub outcome: Outcome,
    /// Pending suspension.
    pub suspension: Option<Suspension>,
    /// Opaque value `/continue?state=` must carry; rotated on every resume so it cannot be replayed.
    pub resume_state: String,
}

impl TransactionState {
    /// Where the transaction stands.
    pub fn status(&self) -> Status {
        if self.outcome.failure.is_some() {
            Status::Failed
        } else if self.suspension.is_some() {
            Status::Suspended
        } else {
            Status::Completed
        }
    }
}

/// How the user came back to a suspended transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Resume {
    /// `/continue` after a redirect, with the request's query and body parameters.
    Continue {
        /// Must equal the transaction's `resume_state`.
        state: String,
        /// Query and body parameters (e.g. `session_token`).
        params: JsonMap,
    },
    /// The prompt was submitted.
    PromptSubmitted {
        /// Must equal the transaction's `resume_state`.
        state: String,
        /// Submitted fields.
        fields: JsonMap,
    },
    /// The user completed an MFA factor (challenge or enrolment).
    MfaCompleted {
        /// The factor type used.
        factor: String,
    },
}

/// Why a transaction could not be resumed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResumeError {
    /// The transaction is not waiting for anything.
    #[error("the login transaction is not waiting for the user")]
    NotSuspended,
    /// The resume does not match what the transaction waits for.
    #[error("the login transaction is waiting for {expected}, not for {got}")]
    WrongKind {
        /// What it waits for.
        expected: &'static str,
        /// What came.
        got: &'static str,
    },
    /// `state` is wrong or was already used.
    #[error("invalid or already used state")]
    BadState,
    /// The completed factor is not one the requirement allows.
    #[error("factor '{0}' does not satisfy the pending MFA requirement")]
    WrongFactor(String),
}
