//! `api.redirect`: sendUserTo, encodeToken, validateToken, canRedirect.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use super::{ApiCore, ApiError, SuspendRequest, namespace, require_http_url};
use crate::pipeline::Phase;

namespace!(
    /// `api.redirect`.
    RedirectApi
);

/// Default lifetime of an `encodeToken` JWT, in seconds.
pub const DEFAULT_TOKEN_LIFETIME_S: i64 = 900;
/// Default parameter that carries the token back to `/continue`.
pub const DEFAULT_TOKEN_PARAMETER: &str = "session_token";

/// Protocols whose transactions cannot redirect the user (seed 001).
pub const NON_INTERACTIVE_PROTOCOLS: &[&str] = &[
    "oauth2-resource-owner",
    "oauth2-refresh-token",
    "oauth2-password",
    "oauth2-client-credentials",
];

/// Whether the transaction can show the user anything (redirect, MFA, prompt).
pub(crate) fn can_redirect(core: &ApiCore<'_>) -> bool {
    let tx = &core.event.transaction;
    !NON_INTERACTIVE_PROTOCOLS.contains(&tx.protocol.as_str()) && tx.prompt.as_deref() != Some("none")
}

/// Refuses a suspension the transaction cannot have, or one that conflicts with another
/// suspension requested by the same action (seed 004: redirects and MFA belong in separate actions).
pub(crate) fn check_can_suspend(core: &ApiCore<'_>, method: &'static str) -> Result<(), ApiError> {
    if !can_redirect(core) {
        let tx = &core.event.transaction;
        if tx.prompt.as_deref() == Some("none") {
            return Err(ApiError::NeedsInteraction { method });
        }
        let reason = format!("protocol {} cannot interact with the user", tx.protocol);
        return Err(ApiError::NotAllowed { method, reason });
    }
    let kind = |m: &str| match m {
        "redirect.sendUserTo" => 0,
        "prompt.render" => 2,
        _ => 1,
    };
    let existing = match &core.suspend {
        None => None,
        Some(SuspendRequest::Redirect { .. }) => Some(0),
        Some(SuspendRequest::Mfa(_)) => Some(1),
        Some(SuspendRequest::Prompt { .. }) => Some(2),
    };
    if existing.is_some_and(|k| k != kind(method)) {
        return Err(ApiError::NotAllowed {
            method,
            reason: "a redirect, a prompt and an MFA request must be in separate actions".into(),
        });
    }
    Ok(())
}

impl RedirectApi<'_, '_> {
    /// `api.redirect.canRedirect()`.
    pub fn can_redirect(&mut self) -> bool {
        self.core.record("redirect.canRedirect", vec![]);
        can_redirect(self.core)
    }

    /// `api.redirect.sendUserTo(url, {query})`: after this action the browser goes to `url` with
    /// the query parameters and `state` added; `/continue?state=...` resumes the login.
    pub fn send_user_to(&mut self, url: &str, options: Option<&Value>) -> Result<&mut Self, ApiError> {
        const M: &str = "redirect.sendUserTo";
        let args = vec![Value::from(url), options.cloned().unwrap_or(Value::Null)];
        let built = (|| {
            let mut u = require_http_url(M, "url", url)?;
            check_can_suspend(self.core, M)?;
            let query = options.and_then(|o| o.get("query"));
            {
                let mut pairs = u.query_pairs_mut();
                if let Some(q) = query {
                    let q = q.as_object().ok_or(ApiError::InvalidArgument {
                        method: M,
                        reason: "options.query must be an object".into(),
                    })?;
                    for (k, v) in q {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            Value::Null => continue,
                            other => other.to_string(),
                        };
                        pairs.append_pair(k, &text);
                    }
                }
                pairs.append_pair("state", self.core.resume_state);
            }
            Ok(u.to_string())
        })();
        match built {
            Ok(target) => {
                self.core.record(M, args);
                self.core.suspend = Some(SuspendRequest::Redirect { url: target });
                Ok(self)
            }
            Err(e) => Err(self.core.refuse(M, args, e, true)),
        }
    }

    /// `api.redirect.encodeToken({secret, payload, expiresInSeconds})`: an HS256 JWT carrying the
    /// payload plus `sub`, `state` (this transaction), `iat` and `exp` (default 900 s).
    pub fn encode_token(&mut self, options: &Value) -> Result<String, ApiError> {
        const M: &str = "redirect.encodeToken";
        let args = vec![super::redact_field(options, "secret")];
        let result = (|| {
            let secret = secret_of(M, options)?;
            let payload = match options.get("payload") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(m)) => m.clone(),
                Some(_) => {
                    return Err(ApiError::InvalidArgument {
                        method: M,
                        reason: "payload must be an object".into(),
                    });
                }
            };
            let lifetime = match options.get("expiresInSeconds") {
                None | Some(Value::Null) => DEFAULT_TOKEN_LIFETIME_S,
                Some(v) => match v.as_f64() {
                    Some(n) if n.is_finite() && n > 0.0 => n as i64,
                    _ => {
                        return Err(ApiError::InvalidArgument {
                            method: M,
                            reason: "expiresInSeconds must be a positive number".into(),
                        });
                    }
                },
            };
            let now_s = self.core.now_ms() / 1000;
            let mut claims = payload;
            // Why after the payload: the payload must not be able to forge the binding claims.
            claims.insert("sub".into(), Value::from(self.core.event.user.user_id.clone()));
            claims.insert("state".into(), Value::from(self.core.resume_state));
            claims.insert("iat".into(), Value::from(now_s));
            claims.insert("exp".into(), Value::from(now_s + lifetime));
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .map_err(|e| ApiError::InvalidArgument {
                method: M,
                reason: format!("cannot sign the token: {e}"),
            })
        })();
        match result {
            Ok(t) => {
                self.core.record(M, args);
                Ok(t)
            }
            Err(e) => Err(self.core.refuse(M, args, e, false)),
        }
    }

    /// `api.redirect.validateToken({secret, tokenParameterName})`: verifies the HS256 signature,
    /// expiry and that the token's `state` is this transaction's; returns the payload.
    /// Only in the continue phase. Throws (without failing the login) on a bad token.
    pub fn validate_token(&mut self, options: &Value) -> Result<Value, ApiError> {
        const M: &str = "redirect.validateToken";
        let args = vec![super::redact_field(options, "secret")];
        let result = (|| {
            if self.core.phase != Phase::Continue {
                return Err(ApiError::NotAllowed {
                    method: M,
                    reason: "only available in the onContinue handler".into(),
                });
            }
            let secret = secret_of(M, options)?;
            let param = match options.get("tokenParameterName") {
                None | Some(Value::Null) => DEFAULT_TOKEN_PARAMETER,
                Some(Value::String(s)) => s.as_str(),
                Some(_) => {
                    return Err(ApiError::InvalidArgument {
                        method: M,
                        reason: "tokenParameterName must be a string".into(),
                    });
                }
            };
            let token = self
                .core
                .continue_params
                .and_then(|p| p.get(param))
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::InvalidToken(format!("no '{param}' parameter was sent to /continue")))?;
            let mut validation = Validation::new(Algorithm::HS256);
            // Why by hand: expiry is checked against the executor's clock, not the system's.
            validation.validate_exp = false;
            validation.required_spec_claims.clear();
            let data = jsonwebtoken::decode::<Map<String, Value>>(token, &DecodingKey::from_secret(secret.as_bytes()), &validation)
                .map_err(|e| ApiError::InvalidToken(format!("invalid token: {e}")))?;
            let claims = data.claims;
            let exp = claims
                .get("exp")
                .and_then(Value::as_f64)
                .ok_or_else(|| ApiError::InvalidToken("the token has no exp".into()))?;
            if (exp as i64) * 1000 <= self.core.now_ms() {
                return Err(ApiError::InvalidToken("the token has expired".into()));
            }
            let expected = self.core.resumed_with.unwrap_or(self.core.resume_state);
            match claims.get("state").and_then(Value::as_str) {
                Some(s) if crate::util::constant_time_eq(s.as_bytes(), expected.as_bytes()) => {}
                _ => {
                    return Err(ApiError::InvalidToken(
                        "the token does not belong to this transaction (state mismatch)".into(),
                    ));
                }
            }
            Ok(Value::Object(claims))
        })();
        match result {
            Ok(v) => {
                self.core.record(M, args);
                Ok(v)
            }
            Err(e) => Err(self.core.refuse(M, args, e, false)),
        }
    }
}

fn secret_of<'v>(method: &'static str, options: &'v Value) -> Result<&'v str, ApiError> {
    match options.get("secret").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ApiError::InvalidArgument {
            method,
            reason: "options.secret must be a non-empty string".into(),
        }),
    }
}
