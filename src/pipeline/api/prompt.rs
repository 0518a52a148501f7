//! `api.prompt`: render a custom prompt (suspends like a redirect).

use serde_json::Value;

use super::{ApiError, SuspendRequest, namespace};

namespace!(
    /// `api.prompt`: render a custom prompt (suspends like a redirect).
    PromptApi
);

impl PromptApi<'_, '_> {
    /// `api.prompt.render(promptId, promptOptions)`: suspends the pipeline after this action to show
    /// the custom prompt; its submission resumes the same action's `onContinue...` handler with
    /// `event.prompt = {id, fields}`.
    pub fn render(&mut self, prompt_id: &str, options: Value) -> Result<&mut Self, ApiError> {
        const M: &str = "prompt.render";
        let args = vec![Value::from(prompt_id), options.clone()];
        if prompt_id.is_empty() {
            let e = ApiError::InvalidArgument {
                method: M,
                reason: "promptId must not be empty".into(),
            };
            return Err(self.core.refuse(M, args, e, true));
        }
        if !(options.is_null() || options.is_object()) {
            let e = ApiError::InvalidArgument {
                method: M,
                reason: "promptOptions must be an object".into(),
            };
            return Err(self.core.refuse(M, args, e, true));
        }
        if let Err(e) = super::redirect::check_can_suspend(self.core, M) {
            return Err(self.core.refuse(M, args, e, true));
        }
        self.core.record(M, args);
        self.core.suspend = Some(SuspendRequest::Prompt {
            prompt_id: prompt_id.to_string(),
            options,
        });
        Ok(self)
    }
}
