//! ID and access tokens from the pipeline outcome.

use serde_json::{Map, Value};

use super::keys::JwtSigner;
use super::{OAuthError, OidcError};
use crate::pipeline::api::RESERVED_CLAIMS;
use crate::pipeline::{Event, Outcome};

/// Default ID-token lifetime (seconds).
pub const DEFAULT_ID_TOKEN_LIFETIME: u64 = 36_000;
/// Default access-token lifetime (seconds).
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: u64 = 86_400;

/// An OIDC application.
#[derive(Debug, Clone)]
pub struct OidcClient {
    /// Client id (the ID token's `aud`).
    pub client_id: String,
    /// ID-token lifetime in seconds.
    pub id_token_lifetime: u64,
}

/// An API (resource server).
#[derive(Debug, Clone)]
pub struct ApiResource {
    /// Identifier (the access token's `aud`).
    pub identifier: String,
    /// Access-token lifetime in seconds.
    pub token_lifetime: u64,
}

/// Per-request facts.
#[derive(Debug, Clone)]
pub struct TokenContext<'a> {
    /// Tenant base URL with a trailing slash (`iss`).
    pub issuer: &'a str,
    /// The application.
    pub client: &'a OidcClient,
    /// The API, when an audience was requested.
    pub api: Option<&'a ApiResource>,
    /// Scopes the application requested.
    pub requested_scopes: &'a [String],
    /// `nonce` of the authorization request.
    pub nonce: Option<&'a str>,
    /// Session id (`sid`).
    pub session_id: Option<&'a str>,
    /// When the user authenticated (seconds).
    pub auth_time: i64,
    /// Now (seconds).
    pub now: i64,
    /// The `claims` request parameter, if any.
    pub claims: Option<&'a super::claims::ClaimsRequest>,
    /// `acr_values` of the authorization request.
    pub acr_values: &'a [String],
}

/// The issued tokens.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// ID token (when `openid` was requested).
    pub id_token: Option<String>,
    /// Access token.
    pub access_token: String,
    /// Access-token lifetime (seconds).
    pub expires_in: u64,
    /// Final access-token scopes.
    pub scopes: Vec<String>,
    /// The ID token's claims.
    pub id_claims: Map<String, Value>,
    /// The access token's claims.
    pub access_claims: Map<String, Value>,
}

/// The OAuth error for a failed login (actions' reasons become `error_description`).
pub fn failure_to_oauth(outcome: &Outcome) -> Option<OAuthError> {
    use crate::pipeline::outcome::FailureKind as K;
    let f = outcome.failure.as_ref()?;
    use super::OAuthCode as C;
    let code = match f.kind {
        // Whatever code an action chose, its refusal is a 403: it cannot pick an HTTP status.
        K::Validation => C::Action(f.code.clone()),
        // Set by the engine only (never from an action's text).
        K::NeedsUser if f.code == "login_required" => C::LoginRequired,
        K::NeedsUser => C::InteractionRequired,
        // Revoked by an action during a refresh exchange: the grant is gone (RFC 6749 5.2), 403.
        K::RefreshTokenRevoked => C::Action("invalid_grant".into()),
        // Seed 004: no usable factor fails the login with `mfar` (set by the pipeline).
        K::MfaUnavailable => C::Action(f.code.clone()),
        _ => C::AccessDenied,
    };
    Some(OAuthError::new(code, &f.description))
}

/// The standard claims of the profile the scopes ask for (also served by `/userinfo`).
pub fn profile_claims(event: &Event, scopes: &[String], claims: &mut Map<String, Value>) {
    super::claims::profile_claims(event, scopes, &[], claims);
}

/// The access token's claim that carries the standard claims an authorization request asked
/// `/userinfo` for by name (the `claims` parameter), so that `/userinfo` can serve them.
pub const USERINFO_CLAIMS: &str = "https://idpipe.dev/userinfo_claims";

/// `acr` of a multi-factor login (the value the hosted service uses).
pub const ACR_MFA: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";
/// `acr` of a password login.
pub const ACR_PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";

/// `amr` from the authentication methods (`pwd`, `mfa`, custom URLs), de-duplicated.
fn amr(event: &Event, outcome: &Outcome) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let names = event.authentication.methods.iter().map(|m| m.name.clone());
    let mfa = (!outcome.completed_mfa.is_empty()).then(|| "mfa".to_string());
    // RFC 8176 values of the factors used, where one exists.
    let factors = event
        .authentication
        .methods
        .iter()
        .filter_map(|m| m.method_type.as_deref())
        .chain(outcome.completed_mfa.iter().map(String::as_str))
        .filter_map(|f| match f {
            "otp" => Some("otp"),
            "phone" => Some("sms"),
            "webauthn-roaming" => Some("hwk"),
            "webauthn-platform" => Some("swk"),
            _ => None,
        })
        .map(str::to_string)
        .collect::<Vec<_>>();
    for n in names.chain(mfa).chain(factors) {
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Signs the ID token (if any) and the access token: the ID token on another thread when
/// `beside` starts it there, else one after the other here.
fn sign_both(
    keys: &JwtSigner,
    id_claims: Option<&Map<String, Value>>,
    access_claims: &Map<String, Value>,
    beside: Option<Beside<'_>>,
) -> Result<(Option<String>, String), OidcError> {
    let Some(id_claims) = id_claims else {
        return Ok((None, keys.sign_access_token(access_claims)?));
    };
    if let Some(start) = beside {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (signer, claims) = (keys.clone(), id_claims.clone());
        if start(Box::new(move || {
            let _ = tx.send(signer.sign(&claims));
        })) {
            let access_token = keys.sign_access_token(access_claims)?;
            // A job dropped before it ran (the runtime shutting down) is signed here.
            let id_token = rx.recv().unwrap_or_else(|_| keys.sign(id_claims))?;
            return Ok((Some(id_token), access_token));
        }
    }
    Ok((Some(keys.sign(id_claims)?), keys.sign_access_token(access_claims)?))
}

fn add_custom(custom: &Map<String, Value>, claims: &mut Map<String, Value>) {
    for (k, v) in custom {
        // Defence in depth: the api already refuses reserved names.
        if !RESERVED_CLAIMS.contains(&k.as_str()) {
            claims.insert(k.clone(), v.clone());
        }
    }
}

/// Starts a job on another thread and says whether it did (see [`issue_tokens`]): the ID
/// token's signature, while the calling thread signs the access token.
pub type Beside<'a> = &'a dyn Fn(Box<dyn FnOnce() + Send>) -> bool;

/// Builds and signs the ID token (if `openid`) and the access token. With `beside`, the ID
/// token may be signed on another thread at the same time as the access token (the caller
/// decides when a core is free for it); the tokens are the same either way.
pub fn issue_tokens(
    keys: &JwtSigner,
    event: &Event,
    outcome: &Outcome,
    ctx: &TokenContext<'_>,
    beside: Option<Beside<'_>>,
) -> Result<IssuedTokens, OidcError> {
    if let Some(e) = failure_to_oauth(outcome) {
        return Err(OidcError::Denied(e));
    }
    let sub = outcome.primary_user_id.clone().unwrap_or_else(|| event.user.user_id.clone());
    let openid = ctx.requested_scopes.iter().any(|s| s == "openid");
    let scopes = outcome.access_token_scopes(ctx.requested_scopes);

    let mut id_claims = Map::new();
    if openid {
        id_claims.insert("iss".into(), ctx.issuer.into());
        id_claims.insert("sub".into(), sub.clone().into());
        id_claims.insert("aud".into(), ctx.client.client_id.clone().into());
        id_claims.insert("iat".into(), ctx.now.into());
        id_claims.insert("exp".into(), (ctx.now + ctx.client.id_token_lifetime as i64).into());
        id_claims.insert("auth_time".into(), ctx.auth_time.into());
        if let Some(n) = ctx.nonce {
            id_claims.insert("nonce".into(), n.into());
        }
        if let Some(sid) = ctx.session_id {
            id_claims.insert("sid".into(), sid.into());
        }
        let amr = amr(event, outcome);
        if !amr.is_empty() {
            id_claims.insert("amr".into(), amr.into());
        }
        let named = ctx.claims.map_or(&[][..], |c| c.id_token.as_slice());
        super::claims::profile_claims(event, ctx.requested_scopes, named, &mut id_claims);
        // `acr` when the application asked (acr_values, or by name) or MFA happened.
        let mfa = !outcome.completed_mfa.is_empty();
        if mfa || !ctx.acr_values.is_empty() || named.iter().any(|n| n == "acr") {
            id_claims.insert("acr".into(), if mfa { ACR_MFA } else { ACR_PASSWORD }.into());
        }
        add_custom(&outcome.id_token_claims, &mut id_claims);
    }

    let userinfo = format!("{}userinfo", ctx.issuer);
    let mut aud: Vec<Value> = Vec::new();
    if let Some(api) = ctx.api {
        aud.push(api.identifier.clone().into());
    }
    if openid {
        aud.push(userinfo.into());
    }
    let lifetime = ctx.api.map_or(DEFAULT_ACCESS_TOKEN_LIFETIME, |a| a.token_lifetime);
    let mut access_claims = Map::new();
    access_claims.insert("iss".into(), ctx.issuer.into());
    access_claims.insert("sub".into(), sub.into());
    access_claims.insert("aud".into(), if aud.len() == 1 { aud.remove(0) } else { Value::Array(aud) });
    access_claims.insert("iat".into(), ctx.now.into());
    access_claims.insert("exp".into(), (ctx.now + lifetime as i64).into());
    access_claims.insert("azp".into(), ctx.client.client_id.clone().into());
    // RFC 9068: client_id and a unique jti (typ at+jwt in the header).
    access_claims.insert("client_id".into(), ctx.client.client_id.clone().into());
    access_claims.insert("jti".into(), crate::util::random_hex(16).into());
    access_claims.insert("scope".into(), scopes.join(" ").into());
    if let Some(c) = ctx.claims.filter(|c| !c.userinfo.is_empty()) {
        access_claims.insert(USERINFO_CLAIMS.into(), c.userinfo.clone().into());
    }
    add_custom(&outcome.access_token_claims, &mut access_claims);
    let (id_token, access_token) = sign_both(keys, openid.then_some(&id_claims), &access_claims, beside)?;
    Ok(IssuedTokens {
        id_token,
        access_token,
        expires_in: lifetime,
        scopes,
        id_claims,
        access_claims,
    })
}
