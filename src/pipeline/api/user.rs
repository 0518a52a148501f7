//! `api.user`: metadata changes, aggregated across actions and applied once at the end.

use serde_json::Value;

use super::{ApiError, namespace};

namespace!(
    /// `api.user`.
    UserApi
);

impl UserApi<'_, '_> {
    /// `api.user.setAppMetadata(name, value)`; `null` removes the key.
    pub fn set_app_metadata(&mut self, name: &str, value: Value) -> Result<&mut Self, ApiError> {
        self.set("user.setAppMetadata", name, value, true)
    }

    /// `api.user.setUserMetadata(name, value)`; `null` removes the key.
    pub fn set_user_metadata(&mut self, name: &str, value: Value) -> Result<&mut Self, ApiError> {
        self.set("user.setUserMetadata", name, value, false)
    }

    fn set(&mut self, method: &'static str, name: &str, value: Value, app: bool) -> Result<&mut Self, ApiError> {
        let args = vec![Value::from(name), value.clone()];
        if name.is_empty() {
            let e = ApiError::InvalidArgument {
                method,
                reason: "name must not be empty".into(),
            };
            return Err(self.core.refuse(method, args, e, true));
        }
        self.core.record(method, args);
        let changes = if app {
            &mut self.core.outcome.app_metadata_changes
        } else {
            &mut self.core.outcome.user_metadata_changes
        };
        // Why shift_remove first: the change order must follow the latest call.
        changes.shift_remove(name);
        changes.insert(name.to_string(), value);
        Ok(self)
    }
}
