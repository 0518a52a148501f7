//! `api.accessToken`: custom claims and scopes of the access token.

use serde_json::Value;

use super::claims::{Token, set_custom_claim};
use super::{ApiError, namespace};
use crate::pipeline::outcome::ScopeChange;

namespace!(
    /// `api.accessToken`: custom claims and scopes of the access token.
    AccessTokenApi
);

impl AccessTokenApi<'_, '_> {
    /// `api.accessToken.setCustomClaim(name, value)`; the value keeps its JSON type.
    pub fn set_custom_claim(&mut self, name: &str, value: Value) -> Result<&mut Self, ApiError> {
        set_custom_claim(self.core, Token::Access, name, value)?;
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
