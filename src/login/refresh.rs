//! The refresh-token exchange: a login without a browser. The issuer (`oidc`) redeems, rotates
//! and signs; this orchestrator builds the event, runs the post-login pipeline, commits what the
//! actions changed (user metadata, like a browser login) and revokes what they revoked.

use crate::oidc::refresh::{RefreshTokenStore, RefreshTokens};
use crate::oidc::{ApiResource, IssuedTokens, JwtSigner, OAuthCode, OAuthError, OidcClient, OidcError, TokenContext, issue_tokens, tokens};
use crate::pipeline::executor::Status;
use crate::pipeline::{Event, Executor, Outcome, Trigger};

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

/// Applies a completed exchange's metadata changes to the grant's user (before any token is
/// issued: a failure fails the exchange).
pub type CommitMetadata<'a> = &'a dyn Fn(&str, &Outcome) -> Result<(), OAuthError>;

/// Redeems a refresh token, runs the post-login pipeline with protocol `oauth2-refresh-token`
/// (no interaction possible: an MFA request or redirect fails the exchange), commits the
/// actions' metadata changes, rotates the token and issues new tokens. `load_user` returns the
/// current profile of the grant's user.
pub fn refresh_grant<S: RefreshTokenStore>(
    executor: &Executor,
    keys: &JwtSigner,
    tokens: &RefreshTokens<S>,
    req: &RefreshRequest<'_>,
    load_user: &dyn Fn(&str) -> Option<crate::pipeline::event::User>,
    commit: CommitMetadata<'_>,
) -> Result<RefreshResult, OAuthError> {
    let rec = tokens.redeem(req.token, &req.client.client_id, req.now_ms)?;
    let api = rec.audience.as_deref().and_then(req.api_for);
    let user = load_user(&rec.user_id).ok_or_else(|| OAuthError::new(crate::oidc::OAuthCode::InvalidGrant, "the user no longer exists"))?;
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
            Err(tokens::failure_to_oauth(o).unwrap_or_else(|| OAuthError::new(crate::oidc::OAuthCode::AccessDenied, "denied")))
        }
        Status::Suspended => Err(OAuthError::new(
            crate::oidc::OAuthCode::AccessDenied,
            "the refresh-token exchange cannot interact with the user",
        )),
        Status::Completed => {
            // Decision: a refresh exchange is a login; `api.user.set*Metadata` sticks like one.
            commit(&rec.user_id, &state.outcome)?;
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
                claims: None,
                acr_values: &[],
            };
            let issued = issue_tokens(keys, &state.event, &state.outcome, &ctx, None).map_err(|e| match e {
                OidcError::Denied(o) => o,
                other => OAuthError::new(crate::oidc::OAuthCode::ServerError, &other.to_string()),
            })?;
            let refresh_token = tokens.rotate(&rec, &state.outcome.refresh_token, req.now_ms)?;
            Ok(RefreshResult {
                tokens: issued,
                refresh_token,
            })
        }
    }
}

impl super::LoginContext {
    /// The refresh-token grant for `app` (already authenticated): the pipeline runs under the
    /// watchdog on the blocking pool, with the store behind [`super::Io`]. The token response
    /// body, or the OAuth error.
    pub async fn refresh_exchange(&self, app: &crate::config::OidcApp, token: String) -> Result<serde_json::Value, OAuthError> {
        let client = super::code_grant::oidc_client(app);
        let result = self
            .pipeline(move |io| {
                let rt = io.refresh_tokens();
                let issuer = io.issuer();
                let api_for = |audience: &str| io.api(Some(audience));
                let req = RefreshRequest {
                    token: &token,
                    client: &client,
                    api_for: &api_for,
                    issuer: &issuer,
                    now_ms: io.now_ms(),
                };
                let load = |id: &str| io.store().user(id).ok().flatten();
                let commit = |user_id: &str, outcome: &Outcome| {
                    io.store().apply_metadata(user_id, outcome).map_err(|e| {
                        tracing::error!(error = %e, "cannot apply the metadata changes of a refresh exchange");
                        OAuthError::new(OAuthCode::TemporarilyUnavailable, "the refresh could not be completed; try again")
                    })
                };
                refresh_grant(&io.tenant.executor, &io.tenant.keys.current, &rt, &req, &load, &commit)
            })
            .await;
        match result {
            Ok(Ok(r)) => {
                let mut out = serde_json::json!({
                    "access_token": r.tokens.access_token,
                    "token_type": "Bearer",
                    "expires_in": r.tokens.expires_in,
                    "scope": r.tokens.scopes.join(" "),
                    "refresh_token": r.refresh_token,
                });
                if let Some(id) = r.tokens.id_token {
                    out["id_token"] = id.into();
                }
                Ok(out)
            }
            Ok(Err(e)) => Err(e),
            Err(super::watchdog::PipelineStop::Abandoned) => {
                Err(OAuthError::new(OAuthCode::AccessDenied, crate::pipeline::executor::GENERIC_FAILURE))
            }
            Err(e) => {
                tracing::error!(error = %e, "the refresh task failed");
                Err(OAuthError::new(OAuthCode::ServerError, "the refresh could not be completed"))
            }
        }
    }
}
