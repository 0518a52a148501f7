//! What the custom-claim setters of `api.accessToken` and `api.idToken` share.

use serde_json::Value;

use super::ApiError;

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
pub(super) fn reserved(core: &mut super::ApiCore<'_>, method: &'static str, name: &str, args: Vec<Value>) -> bool {
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

pub(super) fn check_claim_name(method: &'static str, name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::InvalidArgument {
            method,
            reason: "the claim name must not be empty".into(),
        });
    }
    Ok(())
}
