//! Reading a token-endpoint request: the body (form or JSON, like the hosted service accepts)
//! and HTTP Basic client credentials. Untrusted input: every malformed part is an OAuth error.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Map, Value};

use super::OAuthError;

/// What a token request carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// Body parameters (string values only; a JSON body's other values are ignored).
    pub params: HashMap<String, String>,
    /// `Authorization: Basic` client id and secret (each form-urlencoded, RFC 6749 2.3.1).
    pub basic: Option<(String, String)>,
}

impl TokenRequest {
    /// The client id and secret: Basic credentials when given, else `client_id` and
    /// `client_secret` from the body.
    pub fn client_credentials(&self) -> (String, Option<String>) {
        match &self.basic {
            Some((id, secret)) => (id.clone(), Some(secret.clone())),
            None => (
                self.params.get("client_id").cloned().unwrap_or_default(),
                self.params.get("client_secret").cloned(),
            ),
        }
    }
}

fn form_decode(x: &str) -> String {
    url::form_urlencoded::parse(format!("x={x}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Parses a token request from its `Content-Type`, `Authorization` header and body.
pub fn parse(content_type: Option<&str>, authorization: Option<&str>, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    let is_json = content_type.is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    let params: HashMap<String, String> = if is_json {
        match serde_json::from_slice::<Map<String, Value>>(body) {
            Ok(m) => m.into_iter().filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string()))).collect(),
            Err(_) => {
                return Err(OAuthError::new(
                    crate::oidc::OAuthCode::InvalidRequest,
                    "the body is not a JSON object",
                ));
            }
        }
    } else {
        url::form_urlencoded::parse(body).into_owned().collect()
    };
    let basic = match authorization.and_then(|v| v.strip_prefix("Basic ")) {
        None => None,
        Some(b) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    OAuthError::new(
                        crate::oidc::OAuthCode::InvalidClient,
                        "the Basic credentials are not valid base64 UTF-8",
                    )
                })?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| OAuthError::new(crate::oidc::OAuthCode::InvalidClient, "the Basic credentials have no ':'"))?;
            Some((form_decode(id), form_decode(secret)))
        }
    };
    Ok(TokenRequest { params, basic })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_json_and_basic_credentials() {
        let r = parse(None, Some("Basic d2ViOnMlM0FjcmV0"), b"grant_type=client_credentials&x=1").expect("form");
        assert_eq!(r.client_credentials(), ("web".to_string(), Some("s:cret".to_string())));
        assert_eq!(r.params["grant_type"], "client_credentials");
        let r = parse(Some("application/json; charset=utf-8"), None, br#"{"client_id":"a","n":1}"#).expect("json");
        assert_eq!(r.client_credentials(), ("a".to_string(), None));
        assert!(parse(Some("application/json"), None, b"[1]").is_err());
        assert!(parse(None, Some("Basic %%%"), b"").is_err());
        assert!(parse(None, Some("Basic bm9jb2xvbg=="), b"").is_err(), "no colon");
    }
}
