//! Runs a trigger's actions in order, suspends for redirects, prompts and MFA, resumes, and keeps
//! the whole transaction state serializable so it can be stored between HTTP requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::api::{ApiCore, PostChallengeApi, PostLoginApi, SendPhoneMessageApi, SuspendRequest};
use super::command::ActionTrace;
use super::event::{AuthenticationMethod, Event, EventJson, JsonMap};
use super::outcome::{Failure, FailureKind, Outcome};
use super::{Phase, Trigger};

pub use super::services::{Clock, FixedClock, Limits, Services, SystemClock, UserDirectory};
pub use super::state::{MfaMode, MfaRequirement, Resume, ResumeError, Status, Suspension, TransactionState};

/// What the end user sees when an action fails internally (details go to the trace and the log).
pub const GENERIC_FAILURE: &str = "The login could not be completed because of an error in a login action.";

/// An error thrown by an action.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ActionError {
    /// The error's message.
    pub message: String,
}

impl ActionError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ActionError { message: message.into() }
    }
}

impl From<super::api::ApiError> for ActionError {
    fn from(e: super::api::ApiError) -> Self {
        ActionError::new(e.to_string())
    }
}

/// User code run by the pipeline: native Rust, or a script runtime behind the same trait.
///
/// Handlers a trigger does not use keep their defaults: execute handlers do nothing, continue
/// handlers fail (a redirect needs an `onContinue...` handler).
pub trait Action: Send + Sync {
    /// The action's name (for traces and logs).
    fn name(&self) -> &str;

    /// `onExecutePostLogin(event, api)`.
    fn on_execute_post_login(&self, _event: &Event, _api: &mut PostLoginApi<'_>) -> Result<(), ActionError> {
        Ok(())
    }

    /// `onContinuePostLogin(event, api)`.
    fn on_continue_post_login(&self, _event: &Event, _api: &mut PostLoginApi<'_>) -> Result<(), ActionError> {
        Err(ActionError::new("the action has no onContinuePostLogin handler"))
    }

    /// `onExecutePostChallenge(event, api)` for both post-challenge triggers.
    fn on_execute_post_challenge(&self, _event: &Event, _api: &mut PostChallengeApi<'_>) -> Result<(), ActionError> {
        Ok(())
    }

    /// `onContinuePostChallenge(event, api)` for both post-challenge triggers.
    fn on_continue_post_challenge(&self, _event: &Event, _api: &mut PostChallengeApi<'_>) -> Result<(), ActionError> {
        Err(ActionError::new("the action has no onContinuePostChallenge handler"))
    }

    /// `onExecuteSendPhoneMessage(event, api)`.
    fn on_execute_send_phone_message(&self, _event: &Event, _api: &mut SendPhoneMessageApi<'_>) -> Result<(), ActionError> {
        Ok(())
    }
}

/// Runs the configured actions of each trigger.
#[derive(Clone, Default)]
pub struct Executor {
    actions: HashMap<Trigger, Vec<Arc<dyn Action>>>,
    services: Services,
}

impl Executor {
    /// An executor with no actions.
    pub fn new(services: Services) -> Self {
        Executor {
            actions: HashMap::new(),
            services,
        }
    }

    /// Appends an action to a trigger's ordered list.
    pub fn add(&mut self, trigger: Trigger, action: Arc<dyn Action>) -> &mut Self {
        self.actions.entry(trigger).or_default().push(action);
        self
    }

    /// Replaces the actions cache (the server plugs in its database here).
    pub fn set_cache(&mut self, cache: Arc<dyn crate::pipeline::cache::ActionCache>) {
        self.services.cache = cache;
    }

    /// Whether a trigger has at least one action.
    pub fn has_actions(&self, trigger: Trigger) -> bool {
        self.actions.get(&trigger).is_some_and(|a| !a.is_empty())
    }

    /// The MFA factors the tenant enables (the others are ignored by MFA requests, seed 004).
    pub fn set_enabled_factors(&mut self, factors: Vec<String>) {
        self.services.enabled_factors = factors;
    }

    /// Replaces the user directory (`api.authentication.setPrimaryUser` checks against it).
    pub fn set_users(&mut self, users: Arc<dyn UserDirectory>) {
        self.services.users = Some(users);
    }

    /// The services in use.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Starts a transaction and runs until it completes, fails or suspends.
    pub fn start(&self, trigger: Trigger, event: Event) -> TransactionState {
        let outcome = Outcome {
            transaction_metadata: event.transaction.metadata.clone(),
            ..Default::default()
        };
        let mut state = TransactionState {
            trigger,
            event,
            next_action: 0,
            outcome,
            suspension: None,
            resume_state: crate::util::random_hex(16),
        };
        self.run(&mut state, None);
        state
    }

    /// Resumes a suspended transaction.
    pub fn resume(&self, mut state: TransactionState, resume: Resume) -> Result<TransactionState, ResumeError> {
        let suspension = state.suspension.clone().ok_or(ResumeError::NotSuspended)?;
        let check_state = |s: &str, expected: &str| {
            if crate::util::constant_time_eq(s.as_bytes(), expected.as_bytes()) {
                Ok(())
            } else {
                Err(ResumeError::BadState)
            }
        };
        match (suspension, resume) {
            (Suspension::Redirect { action_index, .. }, Resume::Continue { state: s, params }) => {
                check_state(&s, &state.resume_state)?;
                state.suspension = None;
                state.next_action = action_index;
                self.run(&mut state, Some(params));
            }
            (
                Suspension::Prompt {
                    action_index, prompt_id, ..
                },
                Resume::PromptSubmitted { state: s, fields },
            ) => {
                check_state(&s, &state.resume_state)?;
                state.suspension = None;
                state.next_action = action_index;
                state.event.prompt = Some(json!({"id": prompt_id, "fields": fields}));
                self.run(&mut state, Some(fields));
            }
            (Suspension::Mfa { requirement, action_index }, Resume::MfaCompleted { factor }) => {
                if !requirement.usable.iter().any(|f| f.factor_type == factor) {
                    return Err(ResumeError::WrongFactor(factor));
                }
                state.suspension = None;
                let ts = chrono::DateTime::from_timestamp_millis(self.services.clock.now_ms()).unwrap_or_default();
                // Seed 004: the next action sees {name: "mfa", type: <factor>} in methods.
                state.event.authentication.methods.push(AuthenticationMethod {
                    name: "mfa".into(),
                    timestamp: ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    method_type: Some(factor.clone()),
                });
                state.outcome.completed_mfa.push(factor);
                state.next_action = action_index + 1;
                self.run(&mut state, None);
            }
            (s, r) => {
                let expected = match s {
                    Suspension::Redirect { .. } => "a /continue request",
                    Suspension::Mfa { .. } => "an MFA completion",
                    Suspension::Prompt { .. } => "a prompt submission",
                };
                let got = match r {
                    Resume::Continue { .. } => "a /continue request",
                    Resume::PromptSubmitted { .. } => "a prompt submission",
                    Resume::MfaCompleted { .. } => "an MFA completion",
                };
                return Err(ResumeError::WrongKind { expected, got });
            }
        }
        Ok(state)
    }

    fn run(&self, state: &mut TransactionState, mut continue_params: Option<JsonMap>) {
        // A resumed transaction gets a fresh state value: the old one can never be replayed.
        let mut resumed_with = None;
        if continue_params.is_some() {
            resumed_with = Some(std::mem::replace(&mut state.resume_state, crate::util::random_hex(16)));
        }
        let actions = self.actions.get(&state.trigger).map(Vec::as_slice).unwrap_or(&[]);
        let mut shared = RunShared {
            redactor: super::redact::Redactor::new(&state.event.secrets),
            event_json: EventJson::default(),
        };
        while state.next_action < actions.len() {
            let index = state.next_action;
            let params = continue_params.take();
            let phase = if params.is_some() { Phase::Continue } else { Phase::Execute };
            let resumed = if phase == Phase::Continue { resumed_with.as_deref() } else { None };
            let suspend = self.run_action(state, actions[index].as_ref(), phase, params.as_ref(), resumed, &mut shared);
            if state.outcome.failure.is_some() {
                // deny / validation.error / revoke: later actions do not run.
                state.next_action = index + 1;
                state.suspension = None;
                return;
            }
            if !settle(state, index, suspend) {
                return;
            }
        }
    }

    /// Runs one action handler with its deadline, records its trace (secrets redacted) and any
    /// failure in the outcome; returns the suspension it asked for.
    fn run_action(
        &self,
        state: &mut TransactionState,
        action: &dyn Action,
        phase: Phase,
        params: Option<&JsonMap>,
        resumed_with: Option<&str>,
        shared: &mut RunShared,
    ) -> Option<SuspendRequest> {
        // Seed: transaction metadata is visible at once to the following actions.
        sync_metadata(state, &mut shared.event_json);
        let RunShared { redactor, event_json } = shared;
        let (exec_name, cont_name) = state.trigger.handler_names();
        let mut trace = ActionTrace {
            action: action.name().to_string(),
            handler: if phase == Phase::Execute { exec_name } else { cont_name }.to_string(),
            ..Default::default()
        };
        let started = Instant::now();
        let limit = self.services.limits.action_timeout;
        let core = ApiCore {
            trigger: state.trigger,
            phase,
            event: &state.event,
            event_json,
            outcome: &mut state.outcome,
            trace: &mut trace,
            services: &self.services,
            resume_state: &state.resume_state,
            resumed_with,
            continue_params: params,
            deadline: started + limit,
            suspend: None,
        };
        super::watch::report(Some(started + limit));
        let (result, suspend) = invoke(action, state.trigger, phase, &state.event, core);
        super::watch::report(None);
        let elapsed = started.elapsed();
        trace.duration_us = elapsed.as_micros() as u64;
        if let Err(e) = result {
            let message = redactor.text(&e.message);
            tracing::warn!(action = %trace.action, error = %message, "action failed");
            trace.error = Some(message);
            set_failure(
                &mut state.outcome,
                FailureKind::ActionError,
                "access_denied",
                GENERIC_FAILURE,
                &trace.action,
            );
        }
        if elapsed > limit {
            trace
                .error
                .get_or_insert(format!("the action exceeded its time limit of {} ms", limit.as_millis()));
            set_failure(
                &mut state.outcome,
                FailureKind::Timeout,
                "access_denied",
                GENERIC_FAILURE,
                &trace.action,
            );
        }
        redactor.trace(&mut trace);
        state.outcome.trace.push(trace);
        sync_metadata(state, event_json);
        suspend
    }
}

/// What the actions of one run share: the redaction of its secrets, the event's JSON.
struct RunShared {
    redactor: super::redact::Redactor,
    event_json: EventJson,
}

/// Copies the transaction metadata the actions set into the event; the event's JSON is
/// serialized again (by the next action that needs it) only when that changed it.
fn sync_metadata(state: &mut TransactionState, event_json: &mut EventJson) {
    if state.event.transaction.metadata != state.outcome.transaction_metadata {
        state.event.transaction.metadata = state.outcome.transaction_metadata.clone();
        *event_json = EventJson::default();
    }
}

/// Records the suspension an action asked for; false when the transaction stops here.
fn settle(state: &mut TransactionState, index: usize, suspend: Option<SuspendRequest>) -> bool {
    match suspend {
        Some(SuspendRequest::Redirect { url }) => {
            state.suspension = Some(Suspension::Redirect { url, action_index: index });
            state.next_action = index;
            false
        }
        Some(SuspendRequest::Prompt { prompt_id, options }) => {
            state.suspension = Some(Suspension::Prompt {
                prompt_id,
                options,
                action_index: index,
            });
            state.next_action = index;
            false
        }
        Some(SuspendRequest::Mfa(requirement)) => {
            state.suspension = Some(Suspension::Mfa {
                requirement,
                action_index: index,
            });
            state.next_action = index + 1;
            false
        }
        None => {
            state.next_action = index + 1;
            true
        }
    }
}

fn set_failure(outcome: &mut Outcome, kind: FailureKind, code: &str, description: &str, action: &str) {
    if outcome.failure.is_none() {
        outcome.failure = Some(Failure {
            kind,
            code: code.into(),
            description: description.into(),
            action: Some(action.into()),
        });
    }
}

fn invoke(
    action: &dyn Action,
    trigger: Trigger,
    phase: Phase,
    event: &Event,
    core: ApiCore<'_>,
) -> (Result<(), ActionError>, Option<SuspendRequest>) {
    match trigger {
        Trigger::PostLogin => {
            let mut api = PostLoginApi { core };
            let r = match phase {
                Phase::Execute => action.on_execute_post_login(event, &mut api),
                Phase::Continue => action.on_continue_post_login(event, &mut api),
            };
            (r, api.core.suspend.take())
        }
        Trigger::PostChallenge | Trigger::PasswordResetPostChallenge => {
            let mut api = PostChallengeApi { core };
            let r = match phase {
                Phase::Execute => action.on_execute_post_challenge(event, &mut api),
                Phase::Continue => action.on_continue_post_challenge(event, &mut api),
            };
            (r, api.core.suspend.take())
        }
        Trigger::SendPhoneMessage => {
            let mut api = SendPhoneMessageApi { core };
            let r = match phase {
                Phase::Execute => action.on_execute_send_phone_message(event, &mut api),
                Phase::Continue => Err(ActionError::new("send-phone-message has no continue phase")),
            };
            (r, api.core.suspend.take())
        }
    }
}
