//! `api.samlResponse`: the 24 setters. Each validates its input; a wrong value is refused with a
//! clear message and fails the login (the SAML issuer reads only valid settings).

use openssl::pkey::PKey;
use openssl::x509::X509;
use serde_json::Value;

use super::{ApiError, namespace};
use crate::pipeline::outcome::{DigestAlgorithm, SignatureAlgorithm};
use crate::util::{is_xml_text, normalize_pem};

namespace!(
    /// `api.samlResponse`.
    SamlResponseApi
);

/// Longest accepted lifetime (one year); beyond that an assertion is a configuration mistake.
pub const MAX_LIFETIME_SECONDS: u64 = 365 * 24 * 3600;

type Check<T> = Result<T, String>;

fn non_empty_text(v: &Value) -> Check<String> {
    let s = v.as_str().ok_or("must be a string")?;
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if !is_xml_text(s) {
        return Err("contains characters not allowed in XML".into());
    }
    Ok(s.to_string())
}

fn boolean(v: &Value) -> Check<bool> {
    v.as_bool().ok_or_else(|| "must be a boolean".to_string())
}

fn certificate(v: &Value) -> Check<String> {
    let s = v.as_str().ok_or("must be a PEM certificate string")?;
    let pem = normalize_pem(s);
    X509::from_pem(pem.as_bytes()).map_err(|_| "is not a valid PEM X.509 certificate".to_string())?;
    Ok(pem)
}

fn public_key(v: &Value) -> Check<String> {
    let s = v.as_str().ok_or("must be a PEM public key string")?;
    let pem = normalize_pem(s);
    let ok = PKey::public_key_from_pem(pem.as_bytes()).is_ok() || X509::from_pem(pem.as_bytes()).is_ok();
    if !ok {
        return Err("is not a valid PEM public key or certificate".into());
    }
    Ok(pem)
}

fn private_key(v: &Value) -> Check<String> {
    let s = v.as_str().ok_or("must be a PEM private key string")?;
    let pem = normalize_pem(s);
    let key = PKey::private_key_from_pem(pem.as_bytes()).map_err(|_| "is not a valid PEM private key".to_string())?;
    if key.rsa().is_err() {
        return Err("must be an RSA private key".into());
    }
    Ok(pem)
}

/// Validates a `SAMLValue`: string | number | boolean | null | array of those (no nesting).
pub fn check_saml_value(v: &Value) -> Check<()> {
    fn scalar(v: &Value) -> Check<()> {
        match v {
            Value::String(s) if !is_xml_text(s) => Err("a string contains characters not allowed in XML".into()),
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => Ok(()),
            Value::Array(_) => Err("arrays cannot be nested".into()),
            Value::Object(_) => Err("objects are not allowed (string | number | boolean | null | array)".into()),
        }
    }
    match v {
        Value::Array(items) => items.iter().try_for_each(scalar),
        other => scalar(other),
    }
}

macro_rules! setter {
    ($(#[$m:meta])* $fn:ident, $method:literal, $field:ident, $check:expr) => {
        $(#[$m])*
        pub fn $fn(&mut self, value: impl Into<Value>) -> Result<&mut Self, ApiError> {
            let value: Value = value.into();
            let checked = ($check)(&value);
            self.apply($method, value, checked, |s, v| s.$field = Some(v))
        }
    };
}

impl SamlResponseApi<'_, '_> {
    fn apply<T>(
        &mut self,
        method: &'static str,
        shown: Value,
        checked: Check<T>,
        store: impl FnOnce(&mut crate::pipeline::outcome::SamlOverrides, T),
    ) -> Result<&mut Self, ApiError> {
        let method_name = format!("samlResponse.{method}");
        // Why: setKey's argument is a private key; it must never reach the trace or logs.
        let shown = if method == "setKey" { super::redacted_arg() } else { shown };
        match checked {
            Ok(v) => {
                self.core.record(&method_name, vec![shown]);
                store(&mut self.core.outcome.saml, v);
                Ok(self)
            }
            Err(reason) => {
                let m: &'static str = saml_method_name(method);
                let e = ApiError::InvalidArgument {
                    method: m,
                    reason: format!("the value {reason}"),
                };
                Err(self.core.refuse(&method_name, vec![shown], e, true))
            }
        }
    }

    /// `setAttribute(attribute, value)`: string | number | boolean | null | array; `null` removes.
    pub fn set_attribute(&mut self, attribute: &str, value: impl Into<Value>) -> Result<&mut Self, ApiError> {
        let value: Value = value.into();
        const M: &str = "samlResponse.setAttribute";
        let args = vec![Value::from(attribute), value.clone()];
        let checked = if attribute.is_empty() || !is_xml_text(attribute) {
            Err("the attribute name must be a non-empty XML string".to_string())
        } else {
            check_saml_value(&value)
        };
        if let Err(reason) = checked {
            return Err(self.core.refuse(M, args, ApiError::InvalidArgument { method: M, reason }, true));
        }
        self.core.record(M, args);
        let stored = if value.is_null() { None } else { Some(value) };
        self.core.outcome.saml.attributes.push((attribute.to_string(), stored));
        Ok(self)
    }

    setter!(
        /// `setAudience(audience)`.
        set_audience, "setAudience", audience, non_empty_text);
    setter!(
        /// `setIssuer(issuer)`.
        set_issuer, "setIssuer", issuer, non_empty_text);
    setter!(
        /// `setRecipient(recipient)`.
        set_recipient, "setRecipient", recipient, non_empty_text);
    setter!(
        /// `setDestination(destination)`.
        set_destination, "setDestination", destination, non_empty_text);
    setter!(
    /// `setRelayState(relayState)` (may be empty).
    set_relay_state, "setRelayState", relay_state, |v: &Value| -> Check<String> {
        let s = v.as_str().ok_or("must be a string")?;
        if !is_xml_text(s) {
            return Err("contains characters not allowed".into());
        }
        Ok(s.to_string())
    });
    setter!(
    /// `setLifetimeInSeconds(n)`: a positive integer (0, negative or fractional is an error).
    set_lifetime_in_seconds, "setLifetimeInSeconds", lifetime_in_seconds, |v: &Value| -> Check<u64> {
        let n = v.as_f64().ok_or("must be a number")?;
        if !(n.is_finite() && n >= 1.0 && n.fract() == 0.0 && n <= MAX_LIFETIME_SECONDS as f64) {
            return Err(format!("must be a positive whole number of seconds (at most {MAX_LIFETIME_SECONDS})"));
        }
        Ok(n as u64)
    });
    setter!(
        /// `setSignResponse(bool)`: true signs the Response instead of the Assertion.
        set_sign_response, "setSignResponse", sign_response, boolean);
    setter!(
        /// `setNameIdentifierFormat(format)`.
        set_name_identifier_format, "setNameIdentifierFormat", name_identifier_format, non_empty_text);
    setter!(
    /// `setNameIdentifierProbes([claim, ...])`.
    set_name_identifier_probes, "setNameIdentifierProbes", name_identifier_probes, |v: &Value| -> Check<Vec<String>> {
        let items = v.as_array().ok_or("must be an array of strings")?;
        items.iter().map(|i| i.as_str().map(str::to_string).ok_or_else(|| "must be an array of strings".to_string())).collect()
    });
    setter!(
        /// `setAuthnContextClassRef(uri)`.
        set_authn_context_class_ref, "setAuthnContextClassRef", authn_context_class_ref, non_empty_text);
    setter!(
        /// `setSigningCert(pem)`: AuthnRequests must then be signed with this certificate.
        set_signing_cert, "setSigningCert", signing_cert, certificate);
    setter!(
        /// `setIncludeAttributeNameFormat(bool)`.
        set_include_attribute_name_format, "setIncludeAttributeNameFormat", include_attribute_name_format, boolean);
    setter!(
        /// `setTypedAttributes(bool)`.
        set_typed_attributes, "setTypedAttributes", typed_attributes, boolean);
    setter!(
        /// `setEncryptionCert(pem)`: with setEncryptionPublicKey, encrypts the assertion.
        set_encryption_cert, "setEncryptionCert", encryption_cert, certificate);
    setter!(
        /// `setEncryptionPublicKey(pem)`: the SP key that wraps the AES key.
        set_encryption_public_key, "setEncryptionPublicKey", encryption_public_key, public_key);
    setter!(
        /// `setCert(pem)`: signing certificate (needs setKey too).
        set_cert, "setCert", cert, certificate);
    setter!(
        /// `setKey(pem)`: signing private key (needs setCert too). Redacted in traces.
        set_key, "setKey", key, private_key);
    setter!(
    /// `setSignatureAlgorithm("rsa-sha256" | "rsa-sha1")`.
    set_signature_algorithm, "setSignatureAlgorithm", signature_algorithm, |v: &Value| -> Check<SignatureAlgorithm> {
        v.as_str().and_then(SignatureAlgorithm::parse).ok_or_else(|| "must be 'rsa-sha256' or 'rsa-sha1'".to_string())
    });
    setter!(
    /// `setDigestAlgorithm("sha256" | "sha1")`.
    set_digest_algorithm, "setDigestAlgorithm", digest_algorithm, |v: &Value| -> Check<DigestAlgorithm> {
        v.as_str().and_then(DigestAlgorithm::parse).ok_or_else(|| "must be 'sha256' or 'sha1'".to_string())
    });
    setter!(
        /// `setCreateUpnClaim(bool)`.
        set_create_upn_claim, "setCreateUpnClaim", create_upn_claim, boolean);
    setter!(
        /// `setPassthroughClaimsWithNoMapping(bool)`.
        set_passthrough_claims_with_no_mapping, "setPassthroughClaimsWithNoMapping", passthrough_claims_with_no_mapping, boolean);
    setter!(
        /// `setMapUnknownClaimsAsIs(bool)`.
        set_map_unknown_claims_as_is, "setMapUnknownClaimsAsIs", map_unknown_claims_as_is, boolean);
    setter!(
        /// `setMapIdentities(bool)`.
        set_map_identities, "setMapIdentities", map_identities, boolean);
}

/// The full names of the setters, as `'static` strings for errors.
fn saml_method_name(method: &str) -> &'static str {
    SAML_SETTERS
        .iter()
        .find(|m| m.ends_with(method) && m.len() == "samlResponse.".len() + method.len())
        .copied()
        .unwrap_or("samlResponse")
}

/// Every `api.samlResponse` method of the seeds.
pub const SAML_SETTERS: &[&str] = &[
    "samlResponse.setAttribute",
    "samlResponse.setAudience",
    "samlResponse.setIssuer",
    "samlResponse.setRecipient",
    "samlResponse.setDestination",
    "samlResponse.setRelayState",
    "samlResponse.setLifetimeInSeconds",
    "samlResponse.setSignResponse",
    "samlResponse.setNameIdentifierFormat",
    "samlResponse.setNameIdentifierProbes",
    "samlResponse.setAuthnContextClassRef",
    "samlResponse.setSigningCert",
    "samlResponse.setIncludeAttributeNameFormat",
    "samlResponse.setTypedAttributes",
    "samlResponse.setEncryptionCert",
    "samlResponse.setEncryptionPublicKey",
    "samlResponse.setCert",
    "samlResponse.setKey",
    "samlResponse.setSignatureAlgorithm",
    "samlResponse.setDigestAlgorithm",
    "samlResponse.setCreateUpnClaim",
    "samlResponse.setPassthroughClaimsWithNoMapping",
    "samlResponse.setMapUnknownClaimsAsIs",
    "samlResponse.setMapIdentities",
];
