//! The authorization-code grant: redeem the code once (a replay revokes what it granted), check
//! the client, redirect URI and PKCE verifier, then issue the tokens the login's outcome allows.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Value, json};

use super::records::CodeRecord;
use super::session::hash_secret;
use super::{Io, LoginContext};
use crate::config::OidcApp;
use crate::oidc::refresh::{Grant, RefreshLimits, RefreshTokens};
use crate::oidc::{ApiResource, OAuthError, OidcClient, OidcError, TokenContext};
use crate::store::{CodeRedemption, Store};

/// RFC 7636 S256: the verifier's SHA-256, base64url, equals the challenge (constant time).
pub fn pkce_ok(challenge: &str, verifier: &str) -> bool {
    if !(43..=128).contains(&verifier.len()) {
        return false;
    }
    let digest = openssl::sha::sha256(verifier.as_bytes());
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    crate::util::constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// The issuer's view of a configured application.
pub fn oidc_client(app: &OidcApp) -> OidcClient {
    OidcClient {
        client_id: app.client_id.clone(),
        id_token_lifetime: app.id_token_lifetime,
    }
}

fn server_error(what: &str) -> OAuthError {
    OAuthError::new(crate::oidc::OAuthCode::ServerError, what)
}

impl LoginContext {
    /// The API a token's audience names, if it is configured.
    pub fn api(&self, audience: Option<&str>) -> Option<ApiResource> {
        audience.and_then(|a| {
            self.tenant.apis.get(a).map(|l| ApiResource {
                identifier: a.to_string(),
                token_lifetime: *l,
            })
        })
    }

    /// The OIDC issuer (`base_url/`).
    pub fn issuer(&self) -> String {
        format!("{}/", self.tenant.base_url)
    }

    fn code_tokens(&self, app: &OidcApp, rec: &CodeRecord, now: i64) -> Result<Value, OAuthError> {
        let o = &rec.login;
        let client = oidc_client(app);
        let api = self.api(o.audience.as_deref());
        let issuer = self.issuer();
        let ctx = TokenContext {
            issuer: &issuer,
            client: &client,
            api: api.as_ref(),
            requested_scopes: &o.scopes,
            nonce: o.nonce.as_deref(),
            session_id: Some(&rec.sid),
            auth_time: rec.auth_time,
            now: now / 1000,
            claims: Some(&o.claims),
            acr_values: &o.acr_values,
        };
        let beside = |job: Box<dyn FnOnce() + Send>| self.beside(job);
        let issued = match crate::oidc::issue_tokens(&self.tenant.keys.current, &rec.event, &rec.outcome, &ctx, Some(&beside)) {
            Ok(i) => i,
            Err(OidcError::Denied(e)) => return Err(e),
            Err(e) => {
                tracing::error!(error = %e, "cannot sign tokens");
                return Err(server_error("the tokens could not be issued"));
            }
        };
        let mut out = json!({
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scopes.join(" "),
        });
        if let Some(id) = issued.id_token {
            out["id_token"] = id.into();
        }
        Ok(out)
    }
}

impl Io {
    /// The tenant's refresh-token issuer over the store.
    pub fn refresh_tokens(&self) -> RefreshTokens<std::sync::Arc<dyn Store>> {
        let l = self.tenant.refresh_tokens;
        RefreshTokens {
            store: self.store_arc(),
            limits: RefreshLimits {
                absolute_ms: l.absolute as i64 * 1000,
                idle_ms: l.idle as i64 * 1000,
            },
        }
    }

    /// Redeems an authorization code for `app` (already authenticated): the token response body.
    pub fn redeem_code(&self, app: &OidcApp, form: &HashMap<String, String>) -> Result<Value, OAuthError> {
        let bad = |d: &str| OAuthError::new(crate::oidc::OAuthCode::InvalidGrant, d);
        let code = form
            .get("code")
            .ok_or_else(|| OAuthError::new(crate::oidc::OAuthCode::InvalidRequest, "code is missing"))?;
        let code_hash = hash_secret(code);
        let now = self.now_ms();
        let rec: CodeRecord = match self.store.redeem_code(&code_hash, now) {
            Ok(CodeRedemption::Fresh(json)) => serde_json::from_str(&json).map_err(|e| {
                tracing::error!(error = %e, "a stored authorization code cannot be read");
                server_error("the authorization code could not be read")
            })?,
            Ok(CodeRedemption::Reused(family)) => {
                tracing::warn!("authorization code reused; revoking what it granted");
                if let Some(f) = family
                    && let Err(e) = self.refresh_tokens().revoke_family(&f)
                {
                    tracing::error!(error = %e, "cannot revoke the refresh tokens of a replayed code");
                }
                return Err(bad("the authorization code was already used"));
            }
            Ok(CodeRedemption::Unknown) => return Err(bad("invalid or expired authorization code")),
            Err(e) => {
                tracing::error!(error = %e, "store failure while redeeming a code");
                return Err(OAuthError::new(
                    crate::oidc::OAuthCode::TemporarilyUnavailable,
                    "the code could not be redeemed; try again",
                ));
            }
        };
        let o = &rec.login;
        if !crate::util::constant_time_eq(o.client_id.as_bytes(), app.client_id.as_bytes()) {
            return Err(bad("the authorization code was issued to another client"));
        }
        if form.get("redirect_uri") != Some(&o.redirect_uri) {
            return Err(bad("redirect_uri does not match the authorization request"));
        }
        if let Some(ch) = &o.code_challenge {
            match form.get("code_verifier") {
                Some(v) if pkce_ok(ch, v) => {}
                Some(_) => return Err(bad("the code_verifier does not match the code_challenge")),
                None => return Err(OAuthError::new(crate::oidc::OAuthCode::InvalidRequest, "code_verifier is missing")),
            }
        }
        let mut out = self.code_tokens(app, &rec, now)?;
        if out["scope"].as_str().is_some_and(|s| s.split(' ').any(|x| x == "offline_access")) {
            out["refresh_token"] = self.first_refresh_token(app, &rec, &code_hash, now)?.into();
        }
        tracing::info!(client_id = %app.client_id, "tokens issued for an authorization code");
        Ok(out)
    }

    /// The first refresh token of a grant, linked to its code so that a replay of the code can
    /// revoke it.
    fn first_refresh_token(&self, app: &OidcApp, rec: &CodeRecord, code_hash: &str, now: i64) -> Result<String, OAuthError> {
        let o = &rec.login;
        let rt = self.refresh_tokens();
        let grant = Grant {
            user_id: &rec.event.user.user_id,
            client_id: &app.client_id,
            scopes: &o.scopes,
            audience: o.audience.as_deref(),
            session_id: Some(&rec.sid),
            auth_time: Some(rec.auth_time),
        };
        let token = rt.issue(&grant, &rec.outcome.refresh_token, now)?;
        let linked = rt
            .family_of(&token)
            .and_then(|f| f.map_or(Ok(()), |f| self.store.set_code_family(code_hash, &f)));
        if let Err(e) = linked {
            tracing::error!(error = %e, "cannot link the refresh token to its code");
            return Err(server_error("the tokens could not be issued"));
        }
        Ok(token)
    }
}
