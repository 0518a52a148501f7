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

use crate::pipeline::executor::Status;
use crate::pipeline::{Event, Executor, Trigger};
use refresh::{RefreshTokenStore, RefreshTokens};

/// A refresh-token exchange request.
pub struct RefreshRequest<'a> {
    /// The presented refresh token.
    pub token: &'a str,
    /// The authenticated client.
    pub client: &'a OidcClient,
    /// Looks up the API a grant's audience names (the audience is read from the token's record).
    pub api_for: &'a dyn Fn(&str) -> Option<ApiResource>,
    /// Tenant base URL with trailing slash.
    pub issuer: &'a str,
    /// Now (ms).
    pub now_ms: i64,
}

/// The result of a successful exchange.
pub struct RefreshResult {
    /// New ID/access tokens.
    pub tokens: IssuedTokens,
    /// The rotated refresh token.
    pub refresh_token: String,
}

/// Redeems a refresh token, runs the post-login pipeline with protocol `oauth2-refresh-token`
/// (no interaction possible: an MFA request or redirect fails the exchange), rotates the token
/// and issues new tokens. `load_user` returns the current profile of the grant's user.
pub fn refresh_grant<S: RefreshTokenStore>(
    executor: &Executor,
    keys: &JwtSigner,
    tokens: &RefreshTokens<S>,
    req: &RefreshRequest<'_>,
    load_user: &dyn Fn(&str) -> Option<crate::pipeline::event::User>,
) -> Result<RefreshResult, OAuthError> {
    let rec = tokens.redeem(req.token, &req.client.client_id, req.now_ms)?;
    let api = rec.audience.as_deref().and_then(req.api_for);
    let user = load_user(&rec.user_id).ok_or_else(|| OAuthError::new("invalid_grant", "the user no longer exists"))?;
    let mut event = Event {
        user,
        ..Default::default()
    };
    event.transaction.protocol = "oauth2-refresh-token".into();
    event.transaction.requested_scopes = rec.scopes.clone();
    event.client.client_id = req.client.client_id.clone();
    let created = chrono::DateTime::from_timestamp_millis(rec.created_at).unwrap_or_default();
    event.refresh_token =
        Some(serde_json::json!({"id": rec.family, "created_at": created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}));
    if let Some(sid) = &rec.session_id {
        event.session = Some(crate::pipeline::event::Session {
            id: sid.clone(),
            ..Default::default()
        });
    }
    let state = executor.start(Trigger::PostLogin, event);
    match state.status() {
        Status::Failed => {
            let o = &state.outcome;
            let preserve = o.session.revoke.as_ref().is_some_and(|r| r.preserve_refresh_tokens);
            if o.refresh_token.revoke.is_some() || (o.session.revoke.is_some() && !preserve) {
                tokens.revoke_family(&rec.family)?;
            }
            Err(tokens::failure_to_oauth(o).unwrap_or_else(|| OAuthError::new("access_denied", "denied")))
        }
        Status::Suspended => Err(OAuthError::new(
            "access_denied",
            "the refresh-token exchange cannot interact with the user",
        )),
        Status::Completed => {
            let ctx = TokenContext {
                issuer: req.issuer,
                client: req.client,
                api: api.as_ref(),
                requested_scopes: &rec.scopes,
                nonce: None,
                session_id: rec.session_id.as_deref(),
                // OIDC Core 12.2: the time of the original authentication, not of this exchange.
                auth_time: rec.auth_time.unwrap_or(rec.created_at / 1000),
                now: req.now_ms / 1000,
            };
            let issued = issue_tokens(keys, &state.event, &state.outcome, &ctx).map_err(|e| match e {
                OidcError::Denied(o) => o,
                other => OAuthError::new("server_error", &other.to_string()),
            })?;
            let refresh_token = tokens.rotate(&rec, &state.outcome.refresh_token, req.now_ms)?;
            Ok(RefreshResult {
                tokens: issued,
                refresh_token,
            })
        }
    }
}
