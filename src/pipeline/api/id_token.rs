//! `api.idToken`: custom claims of the ID token.

use serde_json::Value;

use super::claims::{Token, set_custom_claim};
use super::{ApiError, namespace};

namespace!(
    /// `api.idToken`: custom claims of the ID token.
    IdTokenApi
);

impl IdTokenApi<'_, '_> {
    /// `api.idToken.setCustomClaim(name, value)`; the value keeps its JSON type.
    pub fn set_custom_claim(&mut self, name: &str, value: Value) -> Result<&mut Self, ApiError> {
        set_custom_claim(self.core, Token::Id, name, value)?;
        Ok(self)
    }
}
