//! `api.idToken`: custom claims of the ID token.

use serde_json::Value;

use super::claims::{check_claim_name, reserved};
use super::{ApiError, namespace};

namespace!(
    /// `api.idToken`: custom claims of the ID token.
    IdTokenApi
);

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
