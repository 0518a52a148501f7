//! The OIDC issuer: ID tokens, access tokens and refresh tokens from the same pipeline outcome.

pub mod claims;
pub mod keys;
pub mod refresh;
pub mod token_request;
pub mod tokens;

use serde::Serialize;

pub use keys::{JwtSigner, KeySet};
pub use tokens::{ApiResource, IssuedTokens, OidcClient, TokenContext, issue_tokens};

/// The HTTP status class of an OAuth error, chosen where the error is made (never derived from
/// its code string, which an action may choose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OAuthStatus {
    /// 400: the request or the grant is wrong (RFC 6749 5.2).
    BadRequest,
    /// 401: client authentication failed.
    Unauthorized,
    /// 403: refused (by an action, or a policy).
    Forbidden,
    /// 500: the server failed.
    Internal,
    /// 503: try again later (the store is unavailable).
    Unavailable,
}

/// The error codes of RFC 6749 (5.2, 4.1.2.1), RFC 6750 and OpenID Connect Core (3.1.2.6) that
/// idpipe answers with, plus an action's own code. The HTTP status follows the variant, never
/// a string comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthCode {
    /// `invalid_request`.
    InvalidRequest,
    /// `invalid_client` (401).
    InvalidClient,
    /// `invalid_grant`.
    InvalidGrant,
    /// `unauthorized_client`.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope,
    /// `unsupported_token_type` (RFC 7009).
    UnsupportedTokenType,
    /// `request_not_supported` (OIDC Core 3.1.2.6).
    RequestNotSupported,
    /// `request_uri_not_supported` (OIDC Core 3.1.2.6).
    RequestUriNotSupported,
    /// `access_denied` (403).
    AccessDenied,
    /// `server_error` (500).
    ServerError,
    /// `temporarily_unavailable` (503).
    TemporarilyUnavailable,
    /// `login_required` (OIDC, `prompt=none` without a session).
    LoginRequired,
    /// `interaction_required` (OIDC).
    InteractionRequired,
    /// An action's refusal with its own code (`api.validation.error`, `api.access.deny`'s
    /// hosted-service codes): always 403, whatever the code says.
    Action(String),
}

impl OAuthCode {
    /// The code as sent in `error`.
    pub fn as_str(&self) -> &str {
        match self {
            OAuthCode::InvalidRequest => "invalid_request",
            OAuthCode::InvalidClient => "invalid_client",
            OAuthCode::InvalidGrant => "invalid_grant",
            OAuthCode::UnauthorizedClient => "unauthorized_client",
            OAuthCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthCode::InvalidScope => "invalid_scope",
            OAuthCode::UnsupportedTokenType => "unsupported_token_type",
            OAuthCode::RequestNotSupported => "request_not_supported",
            OAuthCode::RequestUriNotSupported => "request_uri_not_supported",
            OAuthCode::AccessDenied => "access_denied",
            OAuthCode::ServerError => "server_error",
            OAuthCode::TemporarilyUnavailable => "temporarily_unavailable",
            OAuthCode::LoginRequired => "login_required",
            OAuthCode::InteractionRequired => "interaction_required",
            OAuthCode::Action(c) => c,
        }
    }

    /// The HTTP status class of this code.
    pub fn status(&self) -> OAuthStatus {
        match self {
            OAuthCode::InvalidClient => OAuthStatus::Unauthorized,
            OAuthCode::ServerError => OAuthStatus::Internal,
            OAuthCode::TemporarilyUnavailable => OAuthStatus::Unavailable,
            OAuthCode::AccessDenied | OAuthCode::Action(_) | OAuthCode::LoginRequired | OAuthCode::InteractionRequired => {
                OAuthStatus::Forbidden
            }
            _ => OAuthStatus::BadRequest,
        }
    }
}

impl std::fmt::Display for OAuthCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OAuthCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An OAuth 2.0 error response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}: {error_description}")]
pub struct OAuthError {
    /// The code.
    pub error: OAuthCode,
    /// Human-readable reason (an action's reason when an action denied).
    pub error_description: String,
}

impl OAuthError {
    /// An error with this code and description.
    pub fn new(error: OAuthCode, description: &str) -> Self {
        OAuthError {
            error,
            error_description: description.to_string(),
        }
    }

    /// The HTTP status class (from the code).
    pub fn status(&self) -> OAuthStatus {
        self.error.status()
    }
}

/// Why tokens could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The login was refused (by an action, or the grant is invalid).
    #[error("{0}")]
    Denied(OAuthError),
    /// A key problem.
    #[error("{0}")]
    Key(String),
    /// OpenSSL failed.
    #[error("crypto error: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}
