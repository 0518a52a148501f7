//! `api.access`, `api.accessToken`, `api.idToken`, `api.validation`, `api.rules`, `api.prompt`.

use serde_json::Value;

use super::{ApiError, SuspendRequest, namespace};
use crate::pipeline::outcome::{FailureKind, ScopeChange};

namespace!(
    /// `api.access`: reject the login.
    AccessApi
);
namespace!(
    /// `api.accessToken`: custom claims and scopes of the access token.
    AccessTokenApi
);
namespace!(
    /// `api.idToken`: custom claims of the ID token.
    IdTokenApi
);
namespace!(
    /// `api.validation`: fail the login with a customer-defined error.
    ValidationApi
);
namespace!(
    /// `api.rules`: which legacy Rules already ran.
    RulesApi
);
namespace!(
    /// `api.prompt`: render a custom prompt (suspends like a redirect).
    PromptApi
);

impl AccessApi<'_, '_> {
    /// `api.access.deny(reason)`: the login fails after this action; metadata changes still apply.
    pub fn deny(&mut self, reason: &str) -> &mut Self {
        self.core.record("access.deny", vec![Value::from(reason)]);
        self.core.fail(FailureKind::AccessDenied, "access_denied", reason);
        self
    }
}

/// Claims an action can never set on a token: they are the issuer's (idpipe decision, README).
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "azp",
    "nonce",
    "auth_time",
    "at_hash",
    "c_hash",
    "amr",
    "acr",
    "sid",
    "scope",
];

/// Records an attempt to set a reserved claim as an error in the trace, without throwing and
/// without failing the login: the claim is simply not set.
fn reserved(core: &mut super::ApiCore<'_>, method: &'static str, name: &str, args: Vec<Value>) -> bool {
    if RESERVED_CLAIMS.contains(&name) {
        let e = ApiError::NotAllowed {
            method,
            reason: format!("'{name}' is a reserved claim and was ignored"),
        };
        core.refuse(method, args, e, false);
        return true;
    }
    false
}

fn check_claim_name(method: &'static str, name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::InvalidArgument {
            method,
            reason: "the claim name must not be empty".into(),
        });
    }
    Ok(())
}

impl AccessTokenApi<'_, '_> {
    /// `api.accessToken.setCustomClaim(name, value)`; the value keeps its JSON type.
    pub fn set_custom_claim(&mut self, name: &str, value: Value) -> Result<&mut Self, ApiError> {
        const M: &str = "accessToken.setCustomClaim";
        let args = vec![Value::from(name), value.clone()];
        if let Err(e) = check_claim_name(M, name) {
            return Err(self.core.refuse(M, args, e, true));
        }
        if reserved(self.core, M, name, args.clone()) {
            return Ok(self);
        }
        self.core.record(M, args);
        self.core.outcome.access_token_claims.insert(name.to_string(), value);
        Ok(self)
    }

    /// `api.accessToken.addScope(scope)`.
    pub fn add_scope(&mut self, scope: &str) -> Result<&mut Self, ApiError> {
        self.scope("accessToken.addScope", scope, ScopeChange::Add(scope.to_string()))
    }

    /// `api.accessToken.removeScope(scope)`.
    pub fn remove_scope(&mut self, scope: &str) -> Result<&mut Self, ApiError> {
        self.scope("accessToken.removeScope", scope, ScopeChange::Remove(scope.to_string()))
    }

    fn scope(&mut self, method: &'static str, scope: &str, change: ScopeChange) -> Result<&mut Self, ApiError> {
        let args = vec![Value::from(scope)];
        if scope.is_empty() || scope.chars().any(char::is_whitespace) {
            let e = ApiError::InvalidArgument {
                method,
                reason: "a scope is one non-empty word".into(),
            };
            return Err(self.core.refuse(method, args, e, true));
        }
        self.core.record(method, args);
        self.core.outcome.scope_changes.push(change);
        Ok(self)
    }
}

impl IdTokenApi<'_, '_> {
    /// `api.idToken.setCustomClaim(name, value)`; the value keeps its JSON type.
    pub fn set_custom_claim(&mut self, name: &str, value: Value) -> Result<&mut Self, ApiError> {
        const M: &str = "idToken.setCustomClaim";
        let args = vec![Value::from(name), value.clone()];
        if let Err(e) = check_claim_name(M, name) {
            return Err(self.core.refuse(M, args, e, true));
        }
        if reserved(self.core, M, name, args.clone()) {
            return Ok(self);
        }
        self.core.record(M, args);
        self.core.outcome.id_token_claims.insert(name.to_string(), value);
        Ok(self)
    }
}

impl ValidationApi<'_, '_> {
    /// `api.validation.error(errorCode, errorMessage)`: the login fails with this code and message.
    pub fn error(&mut self, code: &str, message: &str) -> &mut Self {
        self.core.record("validation.error", vec![Value::from(code), Value::from(message)]);
        let code = if code.is_empty() { "invalid_request" } else { code };
        self.core.fail(FailureKind::Validation, code, message);
        self
    }
}

impl RulesApi<'_, '_> {
    /// `api.rules.wasExecuted(ruleId)`: whether the legacy Rule ran earlier in this transaction.
    pub fn was_executed(&mut self, rule_id: &str) -> bool {
        self.core.record("rules.wasExecuted", vec![Value::from(rule_id)]);
        self.core.event.executed_rules.iter().any(|r| r == rule_id)
    }
}

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
