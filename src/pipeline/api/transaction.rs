//! `api.transaction`: setMetadata (post-login) and setResultUrl (post-challenge triggers).

use serde_json::Value;

use super::{ApiError, namespace, require_http_url};

/// Most keys in `event.transaction.metadata`.
pub const MAX_TRANSACTION_METADATA_KEYS: usize = 25;
/// Longest metadata key, in bytes.
pub const MAX_TRANSACTION_METADATA_KEY_BYTES: usize = 256;
/// Longest string value, in bytes.
pub const MAX_TRANSACTION_METADATA_VALUE_BYTES: usize = 1024;

namespace!(
    /// `api.transaction` of post-login.
    TransactionApi
);
namespace!(
    /// `api.transaction` of the post-challenge triggers.
    ResultUrlApi
);

impl TransactionApi<'_, '_> {
    /// `api.transaction.setMetadata(key, value)`: string, number or boolean, `null` removes.
    /// Visible at once in `event.transaction.metadata` of this and the following actions.
    pub fn set_metadata(&mut self, key: &str, value: Value) -> Result<&mut Self, ApiError> {
        const M: &str = "transaction.setMetadata";
        let args = vec![Value::from(key), value.clone()];
        let meta = &self.core.outcome.transaction_metadata;
        let reason = if key.is_empty() || key.len() > MAX_TRANSACTION_METADATA_KEY_BYTES {
            Some(format!("key must be 1 to {MAX_TRANSACTION_METADATA_KEY_BYTES} bytes"))
        } else {
            match &value {
                Value::Null | Value::Number(_) | Value::Bool(_) => None,
                Value::String(s) if s.len() <= MAX_TRANSACTION_METADATA_VALUE_BYTES => None,
                Value::String(_) => Some(format!("a string value is at most {MAX_TRANSACTION_METADATA_VALUE_BYTES} bytes")),
                _ => Some("value must be a string, number, boolean or null".into()),
            }
        }
        .or_else(|| {
            (!value.is_null() && !meta.contains_key(key) && meta.len() >= MAX_TRANSACTION_METADATA_KEYS)
                .then(|| format!("at most {MAX_TRANSACTION_METADATA_KEYS} keys"))
        });
        if let Some(reason) = reason {
            return Err(self.core.refuse(M, args, ApiError::InvalidArgument { method: M, reason }, true));
        }
        self.core.record(M, args);
        let meta = &mut self.core.outcome.transaction_metadata;
        if value.is_null() {
            meta.shift_remove(key);
        } else {
            meta.insert(key.to_string(), value);
        }
        Ok(self)
    }
}

impl ResultUrlApi<'_, '_> {
    /// `api.transaction.setResultUrl(url, {query})`: where the user goes after the flow.
    pub fn set_result_url(&mut self, url: &str, options: Option<&Value>) -> Result<&mut Self, ApiError> {
        const M: &str = "transaction.setResultUrl";
        let args = vec![Value::from(url), options.cloned().unwrap_or(Value::Null)];
        let built = require_http_url(M, "url", url).and_then(|mut u| {
            if let Some(q) = options.and_then(|o| o.get("query")) {
                let q = q.as_object().ok_or(ApiError::InvalidArgument {
                    method: M,
                    reason: "options.query must be an object".into(),
                })?;
                let mut pairs = u.query_pairs_mut();
                for (k, v) in q {
                    match v {
                        Value::String(s) => pairs.append_pair(k, s),
                        Value::Null => continue,
                        other => pairs.append_pair(k, &other.to_string()),
                    };
                }
            }
            Ok(u.to_string())
        });
        match built {
            Ok(u) => {
                self.core.record(M, args);
                self.core.outcome.result_url = Some(u);
                Ok(self)
            }
            Err(e) => Err(self.core.refuse(M, args, e, true)),
        }
    }
}
