//! `api.multifactor`: MFA at the end of the flow (the legacy Rules API).

use serde_json::Value;

use super::{ApiError, namespace};
use crate::pipeline::outcome::MultifactorRequest;

namespace!(
    /// `api.multifactor`.
    MultifactorApi
);

/// Providers accepted by `api.multifactor.enable`.
pub const MULTIFACTOR_PROVIDERS: &[&str] = &["any", "duo", "google-authenticator", "guardian", "none"];

impl MultifactorApi<'_, '_> {
    /// `api.multifactor.enable(provider, {allowRememberBrowser, providerOptions})`: MFA at the end
    /// of the flow (`none` switches it off). A later call replaces an earlier one.
    pub fn enable(&mut self, provider: &str, options: Option<Value>) -> Result<&mut Self, ApiError> {
        const M: &str = "multifactor.enable";
        // Why: duo's skey is a secret; the trace must not show it.
        let mut shown = options.clone().unwrap_or(Value::Null);
        if let Some(po) = shown.get("providerOptions") {
            let po = super::redact_field(po, "skey");
            shown["providerOptions"] = po;
        }
        let args = vec![Value::from(provider), shown];
        if !MULTIFACTOR_PROVIDERS.contains(&provider) {
            let e = ApiError::InvalidArgument {
                method: M,
                reason: format!("unknown provider '{provider}' (allowed: {})", MULTIFACTOR_PROVIDERS.join(", ")),
            };
            return Err(self.core.refuse(M, args, e, true));
        }
        let allow_remember_browser = options
            .as_ref()
            .and_then(|o| o.get("allowRememberBrowser"))
            .map(|v| v.as_bool().ok_or(()))
            .transpose();
        let Ok(allow_remember_browser) = allow_remember_browser else {
            let e = ApiError::InvalidArgument {
                method: M,
                reason: "allowRememberBrowser must be a boolean".into(),
            };
            return Err(self.core.refuse(M, args, e, true));
        };
        self.core.record(M, args);
        self.core.outcome.multifactor = Some(MultifactorRequest {
            provider: provider.to_string(),
            allow_remember_browser: allow_remember_browser.unwrap_or(false),
            provider_options: options.as_ref().and_then(|o| o.get("providerOptions")).cloned(),
        });
        Ok(self)
    }
}
