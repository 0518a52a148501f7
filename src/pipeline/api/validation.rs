//! `api.validation`: fail the login with a customer-defined error.

use serde_json::Value;

use super::namespace;
use crate::pipeline::outcome::FailureKind;

namespace!(
    /// `api.validation`: fail the login with a customer-defined error.
    ValidationApi
);

impl ValidationApi<'_, '_> {
    /// `api.validation.error(errorCode, errorMessage)`: the login fails with this code and message.
    pub fn error(&mut self, code: &str, message: &str) -> &mut Self {
        self.core.record("validation.error", vec![Value::from(code), Value::from(message)]);
        let code = if code.is_empty() { "invalid_request" } else { code };
        self.core.fail(FailureKind::Validation, code, message);
        self
    }
}
