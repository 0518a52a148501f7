//! The `api` object each action receives, one type per trigger.
//!
//! Every trigger's api wraps the same [`ApiCore`], which records each call in the trace and
//! writes its effect into the [`Outcome`]. A trigger exposes only its own namespaces: post-login
//! has all of them, the post-challenge triggers only access, authentication challenges, cache,
//! redirect, prompt and `transaction.setResultUrl` (seeds 002, 003).

mod access;
mod access_token;
mod authentication;
mod cache;
mod claims;
mod id_token;
mod multifactor;
mod prompt;
mod redirect;
mod refresh_token;
mod rules;
mod saml_response;
mod session;
mod transaction;
mod user;
mod validation;

use std::time::Instant;

use serde_json::Value;

pub use access::AccessApi;
pub use access_token::AccessTokenApi;
pub use authentication::{AuthenticationApi, ChallengeApi, Factor, MFAR_MESSAGE};
pub use cache::{CacheApi, CacheRecord, CacheWriteResult};
pub use claims::RESERVED_CLAIMS;
pub use id_token::IdTokenApi;
pub use multifactor::{MULTIFACTOR_PROVIDERS, MultifactorApi};
pub use prompt::PromptApi;
pub use redirect::RedirectApi;
pub use refresh_token::RefreshTokenApi;
pub use rules::RulesApi;
pub use saml_response::{SAML_SETTERS, SamlResponseApi};
pub use session::SessionApi;
pub use transaction::{ResultUrlApi, TransactionApi};
pub use user::UserApi;
pub use validation::ValidationApi;

use super::command::{ActionTrace, Command};
use super::event::{Event, JsonMap};
use super::outcome::{Failure, FailureKind, Outcome, REDACTED};
use super::services::Services;
use super::{Phase, Trigger};

/// Why an api call was refused. JavaScript sees it as a thrown `Error` with this message.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ApiError {
    /// An argument has the wrong type or value.
    #[error("{method}: {reason}")]
    InvalidArgument {
        /// The seed's method name.
        method: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The user would have to be shown something, but the request forbids it (`prompt=none`).
    #[error("{method} needs the user's interaction, which the request forbids (prompt=none)")]
    NeedsInteraction {
        /// The seed's method name.
        method: &'static str,
    },
    /// The method cannot be used in this phase, trigger or protocol.
    #[error("{method} is not allowed here: {reason}")]
    NotAllowed {
        /// The seed's method name.
        method: &'static str,
        /// Why.
        reason: String,
    },
    /// `redirect.validateToken` rejected the token.
    #[error("redirect.validateToken: {0}")]
    InvalidToken(String),
    /// `authentication.setPrimaryUser` to a user that does not own the current identity.
    #[error("authentication.setPrimaryUser: {0}")]
    PrimaryUser(String),
}

/// A suspension an action asked for; the executor acts on it when the action returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SuspendRequest {
    Redirect { url: String },
    Mfa(super::state::MfaRequirement),
    Prompt { prompt_id: String, options: Value },
}

/// State and services shared by every namespace of one action invocation.
pub struct ApiCore<'a> {
    pub(crate) trigger: Trigger,
    pub(crate) phase: Phase,
    pub(crate) event: &'a Event,
    /// The event's JSON, shared by the actions of the run.
    pub(crate) event_json: &'a crate::pipeline::event::EventJson,
    pub(crate) outcome: &'a mut Outcome,
    pub(crate) trace: &'a mut ActionTrace,
    pub(crate) services: &'a Services,
    /// The `/continue` state of this transaction (tokens from encodeToken are bound to it).
    pub(crate) resume_state: &'a str,
    /// The state value that resumed this transaction (continue phase): tokens sent back to
    /// `/continue` must carry it. New redirects use the rotated `resume_state`.
    pub(crate) resumed_with: Option<&'a str>,
    /// Query/body parameters of the `/continue` request, in the continue phase.
    pub(crate) continue_params: Option<&'a JsonMap>,
    pub(crate) deadline: Instant,
    pub(crate) suspend: Option<SuspendRequest>,
}

impl<'a> ApiCore<'a> {
    /// The instant by which the action must return; runtimes that can interrupt use it.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The event as JSON (serialized once per pipeline run while the event stays the same).
    pub fn event_json(&self) -> Result<std::sync::Arc<str>, serde_json::Error> {
        self.event_json.of(self.event)
    }

    /// Current time in ms since the Unix epoch, from the executor's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.services.clock.now_ms()
    }

    /// Records a successful call in the trace.
    pub(crate) fn record(&mut self, method: &str, args: Vec<Value>) {
        self.trace.commands.push(Command {
            method: method.to_string(),
            args,
            error: None,
        });
    }

    /// Records a refused call; when `fails_login`, the login fails even if the action catches it.
    pub(crate) fn refuse(&mut self, method: &str, args: Vec<Value>, err: ApiError, fails_login: bool) -> ApiError {
        let message = err.to_string();
        self.trace.commands.push(Command {
            method: method.to_string(),
            args,
            error: Some(message.clone()),
        });
        if fails_login {
            match err {
                ApiError::PrimaryUser(_) => self.fail(FailureKind::PrimaryUserMismatch, "invalid_request", &message),
                // OIDC Core 3.1.2.6: prompt=none and the login needs the user.
                ApiError::NeedsInteraction { .. } => self.fail(FailureKind::NeedsUser, "interaction_required", &message),
                _ => self.fail(FailureKind::InvalidApiCall, "invalid_request", &message),
            }
        }
        err
    }

    /// Marks the login as failed; the first failure wins, later ones only go to the trace.
    pub(crate) fn fail(&mut self, kind: FailureKind, code: &str, description: &str) {
        if self.outcome.failure.is_none() {
            self.outcome.failure = Some(Failure {
                kind,
                code: code.to_string(),
                description: description.to_string(),
                action: Some(self.trace.action.clone()),
            });
        }
    }

    /// Appends a console line to the trace (used by script runtimes), secrets redacted; returns
    /// the line as recorded, for the server log.
    pub fn log(&mut self, level: &str, message: &str) -> String {
        let message = self.redact(message);
        self.trace.logs.push(super::command::LogLine {
            level: level.to_string(),
            message: message.clone(),
        });
        message
    }

    /// `text` with the values of `event.secrets` replaced (for anything shown to an operator).
    pub fn redact(&self, text: &str) -> String {
        super::redact::Redactor::new(&self.event.secrets).text(text)
    }

    /// The trigger this api belongs to.
    pub fn trigger(&self) -> Trigger {
        self.trigger
    }

    /// Whether this is the `onContinue...` phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }
}

/// A copy of an options object with one secret field replaced, for the trace.
pub(crate) fn redact_field(options: &Value, field: &str) -> Value {
    let mut shown = options.clone();
    if let Some(o) = shown.as_object_mut().filter(|o| o.contains_key(field)) {
        o.insert(field.to_string(), redacted_arg());
    }
    shown
}

/// Replaces a secret argument before it is recorded.
pub(crate) fn redacted_arg() -> Value {
    Value::from(REDACTED)
}

macro_rules! namespace {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        pub struct $name<'c, 'a> {
            pub(crate) core: &'c mut $crate::pipeline::api::ApiCore<'a>,
        }
    };
}
pub(crate) use namespace;

/// The api of the post-login trigger (seeds 000, 001).
pub struct PostLoginApi<'a> {
    /// Shared state; public so that script runtimes can drive logging and deadlines.
    pub core: ApiCore<'a>,
}

impl<'a> PostLoginApi<'a> {
    /// `api.access`.
    pub fn access(&mut self) -> AccessApi<'_, 'a> {
        AccessApi { core: &mut self.core }
    }
    /// `api.accessToken`.
    pub fn access_token(&mut self) -> AccessTokenApi<'_, 'a> {
        AccessTokenApi { core: &mut self.core }
    }
    /// `api.authentication`.
    pub fn authentication(&mut self) -> AuthenticationApi<'_, 'a> {
        AuthenticationApi { core: &mut self.core }
    }
    /// `api.cache`.
    pub fn cache(&mut self) -> CacheApi<'_, 'a> {
        CacheApi { core: &mut self.core }
    }
    /// `api.idToken`.
    pub fn id_token(&mut self) -> IdTokenApi<'_, 'a> {
        IdTokenApi { core: &mut self.core }
    }
    /// `api.multifactor`.
    pub fn multifactor(&mut self) -> MultifactorApi<'_, 'a> {
        MultifactorApi { core: &mut self.core }
    }
    /// `api.prompt`.
    pub fn prompt(&mut self) -> PromptApi<'_, 'a> {
        PromptApi { core: &mut self.core }
    }
    /// `api.redirect`.
    pub fn redirect(&mut self) -> RedirectApi<'_, 'a> {
        RedirectApi { core: &mut self.core }
    }
    /// `api.refreshToken`.
    pub fn refresh_token(&mut self) -> RefreshTokenApi<'_, 'a> {
        RefreshTokenApi { core: &mut self.core }
    }
    /// `api.rules`.
    pub fn rules(&mut self) -> RulesApi<'_, 'a> {
        RulesApi { core: &mut self.core }
    }
    /// `api.samlResponse`.
    pub fn saml_response(&mut self) -> SamlResponseApi<'_, 'a> {
        SamlResponseApi { core: &mut self.core }
    }
    /// `api.session`.
    pub fn session(&mut self) -> SessionApi<'_, 'a> {
        SessionApi { core: &mut self.core }
    }
    /// `api.transaction`.
    pub fn transaction(&mut self) -> TransactionApi<'_, 'a> {
        TransactionApi { core: &mut self.core }
    }
    /// `api.user`.
    pub fn user(&mut self) -> UserApi<'_, 'a> {
        UserApi { core: &mut self.core }
    }
    /// `api.validation`.
    pub fn validation(&mut self) -> ValidationApi<'_, 'a> {
        ValidationApi { core: &mut self.core }
    }
}

/// The api of the post-challenge and password-reset post-challenge triggers (seeds 002, 003).
///
/// `prompt` exists only for password-reset post-challenge; [`PostChallengeApi::prompt`] returns
/// `None` for the other trigger, just as `api.prompt` is `undefined` there.
pub struct PostChallengeApi<'a> {
    /// Shared state.
    pub core: ApiCore<'a>,
}

impl<'a> PostChallengeApi<'a> {
    /// `api.access`.
    pub fn access(&mut self) -> AccessApi<'_, 'a> {
        AccessApi { core: &mut self.core }
    }
    /// `api.authentication` (challenges only).
    pub fn authentication(&mut self) -> ChallengeApi<'_, 'a> {
        ChallengeApi { core: &mut self.core }
    }
    /// `api.cache`.
    pub fn cache(&mut self) -> CacheApi<'_, 'a> {
        CacheApi { core: &mut self.core }
    }
    /// `api.redirect`.
    pub fn redirect(&mut self) -> RedirectApi<'_, 'a> {
        RedirectApi { core: &mut self.core }
    }
    /// `api.transaction` (`setResultUrl` only).
    pub fn transaction(&mut self) -> ResultUrlApi<'_, 'a> {
        ResultUrlApi { core: &mut self.core }
    }
    /// `api.prompt`, only on the password-reset post-challenge trigger.
    pub fn prompt(&mut self) -> Option<PromptApi<'_, 'a>> {
        if self.core.trigger == Trigger::PasswordResetPostChallenge {
            Some(PromptApi { core: &mut self.core })
        } else {
            None
        }
    }
}

/// The api of the send-phone-message trigger: `api.cache` only (as on the hosted service). The
/// message to deliver is `event.message_options`; a thrown error means it was not delivered.
pub struct SendPhoneMessageApi<'a> {
    /// Shared state.
    pub core: ApiCore<'a>,
}

impl<'a> SendPhoneMessageApi<'a> {
    /// `api.cache`.
    pub fn cache(&mut self) -> CacheApi<'_, 'a> {
        CacheApi { core: &mut self.core }
    }
}

/// Checks that an http(s) URL is absolute and well-formed.
pub(crate) fn require_http_url(method: &'static str, what: &str, s: &str) -> Result<url::Url, ApiError> {
    let u = url::Url::parse(s).map_err(|e| ApiError::InvalidArgument {
        method,
        reason: format!("{what} is not a valid URL: {e}"),
    })?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(ApiError::InvalidArgument {
            method,
            reason: format!("{what} must be an http: or https: URL"),
        });
    }
    Ok(u)
}

/// Every MFA factor type idpipe knows (the default set of enabled factors).
pub fn authentication_factors() -> &'static [&'static str] {
    authentication::CHALLENGE_FACTORS
}
