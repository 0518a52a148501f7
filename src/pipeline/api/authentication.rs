//! `api.authentication` (MFA challenge/enrolment, recordMethod, setPrimaryUser) and `api.multifactor`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiCore, ApiError, SuspendRequest, namespace, require_http_url};
use crate::pipeline::Phase;
use crate::pipeline::outcome::FailureKind;
use crate::pipeline::state::{MfaMode, MfaRequirement};

/// Factor types that can be challenged (seed 000, `challengeWith`).
pub const CHALLENGE_FACTORS: &[&str] = &[
    "otp",
    "recovery-code",
    "email",
    "push-notification",
    "phone",
    "webauthn-platform",
    "webauthn-roaming",
];

/// Factor types that can be enrolled (seed 000, `enrollWith`: no `email`).
pub const ENROLL_FACTORS: &[&str] = &[
    "otp",
    "recovery-code",
    "push-notification",
    "phone",
    "webauthn-platform",
    "webauthn-roaming",
];

/// The exact `mfar` message of seed 004.
pub const MFAR_MESSAGE: &str = "An MFA challenge is used in a PostLogin action but the requested factors are not properly set up. To perform MFA, enable the requested factors and ensure the user is enrolled with them.";

/// One MFA factor as the api receives it: `{type, options?}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Factor {
    /// `otp`, `phone`, ...
    #[serde(rename = "type")]
    pub factor_type: String,
    /// Factor options, e.g. `{preferredMethod: "sms"}` or `{otpFallback: false}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
}

impl Factor {
    /// A factor without options.
    pub fn new(factor_type: &str) -> Self {
        Factor {
            factor_type: factor_type.to_string(),
            options: None,
        }
    }
}

namespace!(
    /// `api.authentication` of post-login.
    AuthenticationApi
);
namespace!(
    /// `api.authentication` of the post-challenge triggers: challenges only.
    ChallengeApi
);

fn factors_arg(factors: &[Factor]) -> Value {
    serde_json::to_value(factors).unwrap_or(Value::Null)
}

/// Validates, resolves against the user's enrolments and the tenant's enabled factors, and
/// requests the suspension. Shared by every challenge/enrol method of every trigger.
fn request_mfa(
    core: &mut ApiCore<'_>,
    method: &'static str,
    mode: MfaMode,
    picker: bool,
    factors: Vec<Factor>,
    args: Vec<Value>,
) -> Result<(), ApiError> {
    if let Err(e) = check_factors(core, method, mode, &factors) {
        return Err(core.refuse(method, args, e, true));
    }
    core.record(method, args);
    // Already satisfied in this transaction: nothing to do (seed 001).
    let Some(usable) = usable_factors(core, mode, &factors) else {
        return Ok(());
    };
    if usable.is_empty() {
        match mode {
            MfaMode::Challenge => core.fail(FailureKind::MfaUnavailable, "mfar", MFAR_MESSAGE),
            MfaMode::Enroll => core.fail(
                FailureKind::MfaUnavailable,
                "mfar",
                "An MFA enrollment is used in a PostLogin action but none of the requested factors is enabled and not yet enrolled.",
            ),
        }
        return Ok(());
    }
    let picker = picker && usable.len() > 1;
    let mut usable = usable;
    if mode == MfaMode::Challenge {
        usable.extend(recovery_fallback(core, &factors));
    }
    core.suspend = Some(SuspendRequest::Mfa(MfaRequirement {
        mode,
        picker,
        requested: factors,
        usable,
    }));
    Ok(())
}

/// The factors are known for the mode, and the pipeline may suspend here.
fn check_factors(core: &ApiCore<'_>, method: &'static str, mode: MfaMode, factors: &[Factor]) -> Result<(), ApiError> {
    let allowed = match mode {
        MfaMode::Challenge => CHALLENGE_FACTORS,
        MfaMode::Enroll => ENROLL_FACTORS,
    };
    if factors.is_empty() {
        return Err(ApiError::InvalidArgument {
            method,
            reason: "at least one factor is required".into(),
        });
    }
    if let Some(bad) = factors.iter().find(|f| !allowed.contains(&f.factor_type.as_str())) {
        return Err(ApiError::InvalidArgument {
            method,
            reason: format!("unsupported factor type '{}' (supported: {})", bad.factor_type, allowed.join(", ")),
        });
    }
    super::redirect::check_can_suspend(core, method)
}

/// The requested factors the user can use now (enabled and enrolled for a challenge; enabled
/// and not yet enrolled for an enrolment); `None` when a challenge was already satisfied in
/// this transaction. Challenge factors that are not set up leave a `w` warning.
fn usable_factors(core: &mut ApiCore<'_>, mode: MfaMode, factors: &[Factor]) -> Option<Vec<Factor>> {
    let enabled = |t: &str| core.services.enabled_factors.iter().any(|f| f == t);
    let user = &core.event.user;
    let enrolled = |t: &str| {
        user.enrolled_factors.iter().any(|f| f.factor_type == t)
            || (t == "email" && user.email_verified == Some(true) && user.email.is_some())
    };
    let completed = |t: &str| core.outcome.completed_mfa.iter().any(|c| c == t);
    let mut usable = Vec::new();
    let mut warnings = Vec::new();
    match mode {
        MfaMode::Challenge => {
            // A recovery code used in place of a factor stands for it for the rest of the login.
            if factors.iter().any(|f| completed(&f.factor_type)) || completed("recovery-code") {
                return None;
            }
            for f in factors {
                if enabled(&f.factor_type) && enrolled(&f.factor_type) {
                    usable.push(f.clone());
                } else {
                    warnings.push(format!(
                        "w: An MFA challenge is used in a PostLogin action, but the requested factor {} is not properly set up. Enable the requested factor and ensure the user is enrolled with it.",
                        f.factor_type
                    ));
                }
            }
        }
        // Factors already enrolled, enrolled in this transaction, or disabled are ignored.
        MfaMode::Enroll => usable.extend(
            factors
                .iter()
                .filter(|f| enabled(&f.factor_type) && !enrolled(&f.factor_type) && !completed(&f.factor_type))
                .cloned(),
        ),
    }
    core.trace.warnings.extend(warnings);
    Some(usable)
}

/// The recovery code as "another method" of a challenge that did not list it (as the hosted
/// service offers it): when the tenant enables it and the user has one.
fn recovery_fallback(core: &ApiCore<'_>, factors: &[Factor]) -> Option<Factor> {
    let t = "recovery-code";
    let listed = factors.iter().any(|f| f.factor_type == t);
    let enabled = core.services.enabled_factors.iter().any(|f| f == t);
    let enrolled = core.event.user.enrolled_factors.iter().any(|f| f.factor_type == t);
    (!listed && enabled && enrolled).then(|| Factor::new(t))
}

fn with_additional(factor: Factor, options: Option<&Value>) -> Result<Vec<Factor>, String> {
    let mut all = vec![factor];
    if let Some(extra) = options.and_then(|o| o.get("additionalFactors")) {
        let more: Vec<Factor> =
            serde_json::from_value(extra.clone()).map_err(|e| format!("additionalFactors must be an array of {{type}} objects: {e}"))?;
        all.extend(more);
    }
    Ok(all)
}

macro_rules! challenge_methods {
    ($ty:ident) => {
        impl $ty<'_, '_> {
            /// `api.authentication.challengeWith(factor, {additionalFactors})`: suspends the
            /// pipeline after this action until one of the factors is completed.
            pub fn challenge_with(&mut self, factor: Factor, options: Option<Value>) -> Result<&mut Self, ApiError> {
                const M: &str = "authentication.challengeWith";
                let args = vec![
                    factors_arg(std::slice::from_ref(&factor)),
                    options.clone().unwrap_or(Value::Null),
                ];
                let factors = match with_additional(factor, options.as_ref()) {
                    Ok(f) => f,
                    Err(reason) => {
                        return Err(self
                            .core
                            .refuse(M, args, ApiError::InvalidArgument { method: M, reason }, true));
                    }
                };
                request_mfa(self.core, M, MfaMode::Challenge, false, factors, args)?;
                Ok(self)
            }

            /// `api.authentication.challengeWithAny(factors)`: like challengeWith with a factor picker.
            pub fn challenge_with_any(&mut self, factors: Vec<Factor>) -> Result<&mut Self, ApiError> {
                const M: &str = "authentication.challengeWithAny";
                let args = vec![factors_arg(&factors)];
                request_mfa(self.core, M, MfaMode::Challenge, true, factors, args)?;
                Ok(self)
            }
        }
    };
}
challenge_methods!(AuthenticationApi);
challenge_methods!(ChallengeApi);

impl AuthenticationApi<'_, '_> {
    /// `api.authentication.enrollWith(factor, {additionalFactors})`.
    pub fn enroll_with(&mut self, factor: Factor, options: Option<Value>) -> Result<&mut Self, ApiError> {
        const M: &str = "authentication.enrollWith";
        let args = vec![factors_arg(std::slice::from_ref(&factor)), options.clone().unwrap_or(Value::Null)];
        let factors = match with_additional(factor, options.as_ref()) {
            Ok(f) => f,
            Err(reason) => return Err(self.core.refuse(M, args, ApiError::InvalidArgument { method: M, reason }, true)),
        };
        request_mfa(self.core, M, MfaMode::Enroll, false, factors, args)?;
        Ok(self)
    }

    /// `api.authentication.enrollWithAny(factors)`.
    pub fn enroll_with_any(&mut self, factors: Vec<Factor>) -> Result<&mut Self, ApiError> {
        const M: &str = "authentication.enrollWithAny";
        let args = vec![factors_arg(&factors)];
        request_mfa(self.core, M, MfaMode::Enroll, true, factors, args)?;
        Ok(self)
    }

    /// `api.authentication.recordMethod(provider_url)`: only in `onContinuePostLogin`.
    pub fn record_method(&mut self, provider_url: &str) -> Result<&mut Self, ApiError> {
        const M: &str = "authentication.recordMethod";
        let args = vec![Value::from(provider_url)];
        if self.core.phase != Phase::Continue {
            let e = ApiError::NotAllowed {
                method: M,
                reason: "only available in onContinuePostLogin".into(),
            };
            return Err(self.core.refuse(M, args, e, true));
        }
        if let Err(e) = require_http_url(M, "provider_url", provider_url) {
            return Err(self.core.refuse(M, args, e, true));
        }
        self.core.record(M, args);
        if !self.core.outcome.recorded_methods.iter().any(|m| m == provider_url) {
            self.core.outcome.recorded_methods.push(provider_url.to_string());
        }
        Ok(self)
    }

    /// `api.authentication.setPrimaryUser(primary_user_id)`: the identity used to log in must be
    /// one of the primary user's identities, otherwise the login fails.
    pub fn set_primary_user(&mut self, primary_user_id: &str) -> Result<&mut Self, ApiError> {
        const M: &str = "authentication.setPrimaryUser";
        let args = vec![Value::from(primary_user_id)];
        let check = || -> Result<(), String> {
            let current = self.core.event.current_identity().ok_or("the logged-in user has no identity")?;
            let users = self.core.services.users.as_ref().ok_or("no user directory is configured")?;
            let identities = users
                .identities_of(primary_user_id)
                .ok_or_else(|| format!("user '{primary_user_id}' does not exist"))?;
            let owns = identities
                .iter()
                .any(|i| i.provider == current.provider && i.user_id_string() == current.user_id_string());
            if owns {
                Ok(())
            } else {
                Err(format!(
                    "the identity {}|{} is not linked to user '{primary_user_id}'",
                    current.provider,
                    current.user_id_string()
                ))
            }
        };
        if let Err(reason) = check() {
            return Err(self.core.refuse(M, args, ApiError::PrimaryUser(reason), true));
        }
        self.core.record(M, args);
        self.core.outcome.primary_user_id = Some(primary_user_id.to_string());
        Ok(self)
    }
}
