//! What the custom-claim setters of `api.accessToken` and `api.idToken` share.

use serde_json::Value;

use super::{ApiCore, ApiError};

/// Claims an action can never set on a token: they are the issuer's (idpipe decision, README).
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "azp",
    "nonce",
    "auth_time",
    "at_hash",
    "c_hash",
    "amr",
    "acr",
    "sid",
    "scope",
];

/// Records an attempt to set a reserved claim as an error in the trace, without throwing and
/// without failing the login: the claim is simply not set.
fn reserved(core: &mut super::ApiCore<'_>, method: &'static str, name: &str, args: Vec<Value>) -> bool {
    if RESERVED_CLAIMS.contains(&name) {
        let e = ApiError::NotAllowed {
            method,
            reason: format!("'{name}' is a reserved claim and was ignored"),
        };
        core.refuse(method, args, e, false);
        return true;
    }
    false
}

fn check_claim_name(method: &'static str, name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::InvalidArgument {
            method,
            reason: "the claim name must not be empty".into(),
        });
    }
    Ok(())
}

/// Which token a custom claim goes on.
pub(super) enum Token {
    /// The access token.
    Access,
    /// The ID token.
    Id,
}

/// The one body of `api.accessToken.setCustomClaim` and `api.idToken.setCustomClaim`: a bad
/// name throws and fails the login; a reserved one is recorded as an error and ignored.
pub(super) fn set_custom_claim(core: &mut ApiCore<'_>, token: Token, name: &str, value: Value) -> Result<(), ApiError> {
    let m: &'static str = match token {
        Token::Access => "accessToken.setCustomClaim",
        Token::Id => "idToken.setCustomClaim",
    };
    let args = vec![Value::from(name), value.clone()];
    if let Err(e) = check_claim_name(m, name) {
        return Err(core.refuse(m, args, e, true));
    }
    if reserved(core, m, name, args.clone()) {
        return Ok(());
    }
    core.record(m, args);
    let claims = match token {
        Token::Access => &mut core.outcome.access_token_claims,
        Token::Id => &mut core.outcome.id_token_claims,
    };
    claims.insert(name.to_string(), value);
    Ok(())
}
