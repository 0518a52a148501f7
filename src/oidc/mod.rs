//! The OIDC issuer: ID tokens, access tokens and refresh tokens from the same pipeline outcome.

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

/// An OAuth 2.0 error response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}: {error_description}")]
pub struct OAuthError {
    /// `access_denied`, `invalid_grant`, or an action's validation code.
    pub error: String,
    /// Human-readable reason (an action's reason when an action denied).
    pub error_description: String,
    /// The HTTP status class (not part of the body).
    #[serde(skip)]
    pub status: OAuthStatus,
}

impl OAuthError {
    /// An error with this code and description; its status follows the RFC code it names
    /// (`invalid_client` 401, `server_error` 500, `temporarily_unavailable` 503, others 400).
    /// Errors made from an action's refusal are set to 403 with [`OAuthError::with_status`].
    pub fn new(error: &str, description: &str) -> Self {
        let status = match error {
            "invalid_client" => OAuthStatus::Unauthorized,
            "server_error" => OAuthStatus::Internal,
            "temporarily_unavailable" => OAuthStatus::Unavailable,
            "access_denied" => OAuthStatus::Forbidden,
            _ => OAuthStatus::BadRequest,
        };
        OAuthError {
            error: error.to_string(),
            error_description: description.to_string(),
            status,
        }
    }

    /// The same error with another status class.
    pub fn with_status(mut self, status: OAuthStatus) -> Self {
        self.status = status;
        self
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
