//! Calls the core api by the seed's method name with JSON arguments: how script runtimes drive
//! the same typed api as native actions.

use serde_json::{Value, json};

use crate::pipeline::api::{ApiError, CacheWriteResult, Factor};
use crate::pipeline::{PostChallengeApi, PostLoginApi, SendPhoneMessageApi};

/// Why a dispatched call failed: thrown into the script as an `Error` with this message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DispatchError {
    /// The core api refused the call.
    #[error("{0}")]
    Api(#[from] ApiError),
    /// No such method on this trigger's api.
    #[error("api.{0} is not a function")]
    Unknown(String),
    /// An argument has a type the method cannot take.
    #[error("{0}")]
    Type(String),
}

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

/// JavaScript `String(x)` for the scalar arguments the seeds call strings.
fn string(args: &[Value], i: usize) -> String {
    match arg(args, i) {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn number(args: &[Value], i: usize) -> f64 {
    match arg(args, i) {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn opt(args: &[Value], i: usize) -> Option<Value> {
    args.get(i).filter(|v| !v.is_null()).cloned()
}

fn factor(v: &Value, method: &str) -> Result<Factor, DispatchError> {
    serde_json::from_value(v.clone()).map_err(|_| DispatchError::Type(format!("{method}: a factor is an object with a string `type`")))
}

fn factors(v: &Value, method: &str) -> Result<Vec<Factor>, DispatchError> {
    serde_json::from_value(v.clone())
        .map_err(|_| DispatchError::Type(format!("{method}: factors must be an array of objects with a string `type`")))
}

fn cache_result(r: CacheWriteResult) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

/// Dispatches one post-login api call. `Null` results mean "returns nothing" (or the api
/// itself, which the script side returns).
pub fn post_login(api: &mut PostLoginApi<'_>, method: &str, a: &[Value]) -> Result<Value, DispatchError> {
    match method {
        "accessToken.setCustomClaim" => {
            api.access_token().set_custom_claim(&string(a, 0), arg(a, 1).clone())?;
            Ok(Value::Null)
        }
        "accessToken.addScope" => {
            api.access_token().add_scope(&string(a, 0))?;
            Ok(Value::Null)
        }
        "accessToken.removeScope" => {
            api.access_token().remove_scope(&string(a, 0))?;
            Ok(Value::Null)
        }
        "idToken.setCustomClaim" => {
            api.id_token().set_custom_claim(&string(a, 0), arg(a, 1).clone())?;
            Ok(Value::Null)
        }
        "authentication.enrollWith" => {
            let f = factor(arg(a, 0), method)?;
            api.authentication().enroll_with(f, opt(a, 1))?;
            Ok(Value::Null)
        }
        "authentication.enrollWithAny" => {
            let f = factors(arg(a, 0), method)?;
            api.authentication().enroll_with_any(f)?;
            Ok(Value::Null)
        }
        "authentication.recordMethod" => {
            api.authentication().record_method(&string(a, 0))?;
            Ok(Value::Null)
        }
        "authentication.setPrimaryUser" => {
            api.authentication().set_primary_user(&string(a, 0))?;
            Ok(Value::Null)
        }
        "multifactor.enable" => {
            api.multifactor().enable(&string(a, 0), opt(a, 1))?;
            Ok(Value::Null)
        }
        "refreshToken.revoke" => {
            api.refresh_token().revoke(&string(a, 0))?;
            Ok(Value::Null)
        }
        "refreshToken.setExpiresAt" => {
            api.refresh_token().set_expires_at(number(a, 0))?;
            Ok(Value::Null)
        }
        "refreshToken.setIdleExpiresAt" => {
            api.refresh_token().set_idle_expires_at(number(a, 0))?;
            Ok(Value::Null)
        }
        "rules.wasExecuted" => Ok(Value::Bool(api.rules().was_executed(&string(a, 0)))),
        "session.revoke" => {
            api.session().revoke(&string(a, 0), opt(a, 1).as_ref());
            Ok(Value::Null)
        }
        "session.setCookieMode" => {
            api.session().set_cookie_mode(&string(a, 0))?;
            Ok(Value::Null)
        }
        "session.setExpiresAt" => {
            api.session().set_expires_at(number(a, 0))?;
            Ok(Value::Null)
        }
        "session.setIdleExpiresAt" => {
            api.session().set_idle_expires_at(number(a, 0))?;
            Ok(Value::Null)
        }
        "session.setMetadata" => {
            api.session().set_metadata(&string(a, 0), arg(a, 1).clone())?;
            Ok(Value::Null)
        }
        "session.deleteMetadata" => {
            api.session().delete_metadata(&string(a, 0));
            Ok(Value::Null)
        }
        "session.evictMetadata" => {
            api.session().evict_metadata();
            Ok(Value::Null)
        }
        "transaction.setMetadata" => {
            api.transaction().set_metadata(&string(a, 0), arg(a, 1).clone())?;
            Ok(Value::Null)
        }
        "user.setAppMetadata" => {
            api.user().set_app_metadata(&string(a, 0), arg(a, 1).clone())?;
            Ok(Value::Null)
        }
        "user.setUserMetadata" => {
            api.user().set_user_metadata(&string(a, 0), arg(a, 1).clone())?;
            Ok(Value::Null)
        }
        "validation.error" => {
            api.validation().error(&string(a, 0), &string(a, 1));
            Ok(Value::Null)
        }
        "prompt.render" => {
            api.prompt().render(&string(a, 0), arg(a, 1).clone())?;
            Ok(Value::Null)
        }
        m if m.starts_with("samlResponse.") => saml(api, m, a),
        m if is_shared(m) => shared_post_login(api, m, a),
        _ => Err(DispatchError::Unknown(method.to_string())),
    }
}

fn saml(api: &mut PostLoginApi<'_>, method: &str, a: &[Value]) -> Result<Value, DispatchError> {
    let v = arg(a, 0).clone();
    let mut s = api.saml_response();
    match method {
        "samlResponse.setAttribute" => s.set_attribute(&string(a, 0), arg(a, 1).clone()).map(|_| ()),
        "samlResponse.setAudience" => s.set_audience(v).map(|_| ()),
        "samlResponse.setIssuer" => s.set_issuer(v).map(|_| ()),
        "samlResponse.setRecipient" => s.set_recipient(v).map(|_| ()),
        "samlResponse.setDestination" => s.set_destination(v).map(|_| ()),
        "samlResponse.setRelayState" => s.set_relay_state(v).map(|_| ()),
        "samlResponse.setLifetimeInSeconds" => s.set_lifetime_in_seconds(v).map(|_| ()),
        "samlResponse.setSignResponse" => s.set_sign_response(v).map(|_| ()),
        "samlResponse.setNameIdentifierFormat" => s.set_name_identifier_format(v).map(|_| ()),
        "samlResponse.setNameIdentifierProbes" => s.set_name_identifier_probes(v).map(|_| ()),
        "samlResponse.setAuthnContextClassRef" => s.set_authn_context_class_ref(v).map(|_| ()),
        "samlResponse.setSigningCert" => s.set_signing_cert(v).map(|_| ()),
        "samlResponse.setIncludeAttributeNameFormat" => s.set_include_attribute_name_format(v).map(|_| ()),
        "samlResponse.setTypedAttributes" => s.set_typed_attributes(v).map(|_| ()),
        "samlResponse.setEncryptionCert" => s.set_encryption_cert(v).map(|_| ()),
        "samlResponse.setEncryptionPublicKey" => s.set_encryption_public_key(v).map(|_| ()),
        "samlResponse.setCert" => s.set_cert(v).map(|_| ()),
        "samlResponse.setKey" => s.set_key(v).map(|_| ()),
        "samlResponse.setSignatureAlgorithm" => s.set_signature_algorithm(v).map(|_| ()),
        "samlResponse.setDigestAlgorithm" => s.set_digest_algorithm(v).map(|_| ()),
        "samlResponse.setCreateUpnClaim" => s.set_create_upn_claim(v).map(|_| ()),
        "samlResponse.setPassthroughClaimsWithNoMapping" => s.set_passthrough_claims_with_no_mapping(v).map(|_| ()),
        "samlResponse.setMapUnknownClaimsAsIs" => s.set_map_unknown_claims_as_is(v).map(|_| ()),
        "samlResponse.setMapIdentities" => s.set_map_identities(v).map(|_| ()),
        _ => return Err(DispatchError::Unknown(method.to_string())),
    }?;
    Ok(Value::Null)
}

macro_rules! shared {
    ($name:ident, $api:ty) => {
        /// The methods every trigger has: `access.deny`, the MFA challenges, `api.cache.*`, `api.redirect.*`.
        fn $name(api: &mut $api, method: &str, a: &[Value]) -> Result<Value, DispatchError> {
            match method {
                "access.deny" => {
                    api.access().deny(&string(a, 0));
                    Ok(Value::Null)
                }
                "authentication.challengeWith" => {
                    let f = factor(arg(a, 0), method)?;
                    api.authentication().challenge_with(f, opt(a, 1))?;
                    Ok(Value::Null)
                }
                "authentication.challengeWithAny" => {
                    let f = factors(arg(a, 0), method)?;
                    api.authentication().challenge_with_any(f)?;
                    Ok(Value::Null)
                }
                "cache.get" => Ok(api.cache().get(&string(a, 0)).map_or(Value::Null, |r| json!({"value": r.value, "expires_at": r.expires_at}))),
                "cache.set" => Ok(cache_result(api.cache().set(&string(a, 0), arg(a, 1), args_opt(a, 2).as_ref()))),
                "cache.delete" => Ok(cache_result(api.cache().delete(&string(a, 0)))),
                "redirect.sendUserTo" => api.redirect().send_user_to(&string(a, 0), args_opt(a, 1).as_ref()).map(|_| Value::Null).map_err(Into::into),
                "redirect.encodeToken" => api.redirect().encode_token(arg(a, 0)).map(Value::from).map_err(Into::into),
                "redirect.validateToken" => api.redirect().validate_token(arg(a, 0)).map_err(Into::into),
                "redirect.canRedirect" => Ok(Value::Bool(api.redirect().can_redirect())),
                _ => Err(DispatchError::Unknown(method.to_string())),
            }
        }
    };
}

/// Whether every trigger's api has this method (see `shared!`).
fn is_shared(method: &str) -> bool {
    method.starts_with("cache.")
        || method.starts_with("redirect.")
        || matches!(
            method,
            "access.deny" | "authentication.challengeWith" | "authentication.challengeWithAny"
        )
}

fn args_opt(a: &[Value], i: usize) -> Option<Value> {
    opt(a, i)
}

shared!(shared_post_login, PostLoginApi<'_>);
shared!(shared_post_challenge, PostChallengeApi<'_>);

/// Dispatches one call of the post-challenge triggers' api.
pub fn post_challenge(api: &mut PostChallengeApi<'_>, method: &str, a: &[Value]) -> Result<Value, DispatchError> {
    match method {
        "transaction.setResultUrl" => {
            api.transaction().set_result_url(&string(a, 0), opt(a, 1).as_ref())?;
            Ok(Value::Null)
        }
        "prompt.render" => match api.prompt() {
            Some(mut p) => {
                p.render(&string(a, 0), arg(a, 1).clone())?;
                Ok(Value::Null)
            }
            None => Err(DispatchError::Unknown(method.to_string())),
        },
        m if is_shared(m) => shared_post_challenge(api, m, a),
        _ => Err(DispatchError::Unknown(method.to_string())),
    }
}

/// Dispatches one call of the send-phone-message api (`api.cache` only).
pub fn send_phone_message(api: &mut SendPhoneMessageApi<'_>, method: &str, a: &[Value]) -> Result<Value, DispatchError> {
    match method {
        "cache.get" => Ok(api
            .cache()
            .get(&string(a, 0))
            .map_or(Value::Null, |r| json!({"value": r.value, "expires_at": r.expires_at}))),
        "cache.set" => Ok(cache_result(api.cache().set(&string(a, 0), arg(a, 1), opt(a, 2).as_ref()))),
        "cache.delete" => Ok(cache_result(api.cache().delete(&string(a, 0)))),
        _ => Err(DispatchError::Unknown(method.to_string())),
    }
}
