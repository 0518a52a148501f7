//! `api.access`: reject the login.

use serde_json::Value;

use super::namespace;
use crate::pipeline::outcome::FailureKind;

namespace!(
    /// `api.access`: reject the login.
    AccessApi
);

impl AccessApi<'_, '_> {
    /// `api.access.deny(reason)`: the login fails after this action; metadata changes still apply.
    pub fn deny(&mut self, reason: &str) -> &mut Self {
        self.core.record("access.deny", vec![Value::from(reason)]);
        self.core.fail(FailureKind::AccessDenied, "access_denied", reason);
        self
    }
}
