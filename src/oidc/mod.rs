//! The OIDC issuer: ID tokens, access tokens and refresh tokens from the same pipeline outcome.

pub mod keys;
pub mod refresh;
pub mod token_request;
pub mod tokens;

use serde::Serialize;

pub use keys::{JwtSigner, KeySet};
pub use tokens::{ApiResource, IssuedTokens, OidcClient, TokenContext, issue_tokens};

/// An OAuth 2.0 error response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}: {error_description}")]
pub struct OAuthError {
    /// `access_denied`, `invalid_grant`, or an action's validation code.
    pub error: String,
    /// Human-readable reason (an action's reason when an action denied).
    pub error_description: String,
}

impl OAuthError {
    /// An error with this code and description.
    pub fn new(error: &str, description: &str) -> Self {
        OAuthError {
            error: error.to_string(),
            error_description: description.to_string(),
        }
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
