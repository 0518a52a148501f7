//! Action implementations: native Rust closures here; the JavaScript runtime plugs in behind the
//! same [`crate::pipeline::Action`] trait.

pub mod dispatch;
pub mod js;
pub mod npm;

use crate::pipeline::{Action, ActionError, Event, PostChallengeApi, PostLoginApi};

type PostLoginFn = Box<dyn Fn(&Event, &mut PostLoginApi<'_>) -> Result<(), ActionError> + Send + Sync>;
type PostChallengeFn = Box<dyn Fn(&Event, &mut PostChallengeApi<'_>) -> Result<(), ActionError> + Send + Sync>;

/// A native action made of closures, one per handler.
pub struct FnAction {
    name: String,
    execute: Option<PostLoginFn>,
    continue_: Option<PostLoginFn>,
    challenge: Option<PostChallengeFn>,
}

impl FnAction {
    /// A post-login action with an `onExecutePostLogin` handler.
    pub fn post_login(name: &str, f: impl Fn(&Event, &mut PostLoginApi<'_>) -> Result<(), ActionError> + Send + Sync + 'static) -> Self {
        FnAction {
            name: name.to_string(),
            execute: Some(Box::new(f)),
            continue_: None,
            challenge: None,
        }
    }

    /// Adds an `onContinuePostLogin` handler.
    pub fn on_continue(mut self, f: impl Fn(&Event, &mut PostLoginApi<'_>) -> Result<(), ActionError> + Send + Sync + 'static) -> Self {
        self.continue_ = Some(Box::new(f));
        self
    }

    /// A post-challenge action with an `onExecutePostChallenge` handler.
    pub fn post_challenge(
        name: &str,
        f: impl Fn(&Event, &mut PostChallengeApi<'_>) -> Result<(), ActionError> + Send + Sync + 'static,
    ) -> Self {
        FnAction {
            name: name.to_string(),
            execute: None,
            continue_: None,
            challenge: Some(Box::new(f)),
        }
    }
}

impl Action for FnAction {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_execute_post_login(&self, event: &Event, api: &mut PostLoginApi<'_>) -> Result<(), ActionError> {
        self.execute.as_ref().map_or(Ok(()), |f| f(event, api))
    }

    fn on_continue_post_login(&self, event: &Event, api: &mut PostLoginApi<'_>) -> Result<(), ActionError> {
        match &self.continue_ {
            Some(f) => f(event, api),
            None => Err(ActionError::new("the action has no onContinuePostLogin handler")),
        }
    }

    fn on_execute_post_challenge(&self, event: &Event, api: &mut PostChallengeApi<'_>) -> Result<(), ActionError> {
        self.challenge.as_ref().map_or(Ok(()), |f| f(event, api))
    }
}
