//! OIDC endpoints: discovery, `/authorize` (code flow, PKCE), `/oauth/token`
//! (authorization_code, refresh_token, client_credentials), `/userinfo`, logout.

use std::collections::HashMap;

use axum::Form;
use axum::Json;
use axum::extract::{Query, RawForm, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::flow;
use super::{AppState, ClientIp, WebError, WebResult, now_ms};
use crate::config::OidcApp;
use crate::login::LoginRequest;
use crate::login::authorize::AuthorizeError;
use crate::oidc::token_request::TokenRequest;
use crate::oidc::{OAuthCode, OAuthError};

/// `GET /.well-known/openid-configuration`.
pub async fn discovery(State(state): State<AppState>) -> Response {
    let b = &state.tenant.base_url;
    let doc = json!({
        "issuer": state.issuer(),
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/oauth/token"),
        "userinfo_endpoint": format!("{b}/userinfo"),
        "jwks_uri": format!("{b}/.well-known/jwks.json"),
        "end_session_endpoint": format!("{b}/oidc/logout"),
        "revocation_endpoint": format!("{b}/oauth/revoke"),
        "introspection_endpoint": format!("{b}/oauth/introspect"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access"],
        "claims_supported": claims_supported(),
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "acr_values_supported": [crate::oidc::tokens::ACR_PASSWORD, crate::oidc::tokens::ACR_MFA],
        "display_values_supported": ["page", "popup", "touch", "wap"],
        "claim_types_supported": ["normal"],
        "prompt_values_supported": ["none", "login", "consent"],
    });
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(doc)).into_response()
}

/// Every claim an ID token or `/userinfo` may carry.
fn claims_supported() -> Vec<&'static str> {
    let mut c = vec!["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr", "acr", "azp"];
    c.extend(crate::oidc::claims::STANDARD_CLAIMS.iter().map(|(n, _)| *n).filter(|n| *n != "sub"));
    c
}

/// `GET /authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> WebResult {
    authorization_request(&state, ip, &headers, "GET", q).await
}

/// `POST /authorize` (OIDC Core 3.1.2.1: the same parameters, form-encoded).
pub async fn authorize_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(q): Form<HashMap<String, String>>,
) -> WebResult {
    authorization_request(&state, ip, &headers, "POST", q).await
}

async fn authorization_request(
    state: &AppState,
    ip: std::net::IpAddr,
    headers: &HeaderMap,
    method: &str,
    q: HashMap<String, String>,
) -> WebResult {
    match crate::login::authorize::validate(&state.tenant, &q) {
        Ok(login) => {
            let query: Map<String, Value> = q.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            let http = flow::http_event(method, headers, ip, query);
            flow::begin(state, LoginRequest::Oidc(login), http, headers).await
        }
        Err(AuthorizeError::Page { code, description }) => Err(WebError::bad_request(code, description)),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            form_post,
            code,
            description,
            state: app_state,
        }) => {
            let mut fields = vec![
                ("error".to_string(), code.to_string()),
                ("error_description".to_string(), description),
            ];
            if let Some(s) = app_state {
                fields.push(("state".to_string(), s));
            }
            // RFC 9207: every authorization response names its issuer.
            fields.push(("iss".to_string(), state.issuer()));
            flow::oidc_redirect(&redirect_uri, form_post, &fields)
        }
    }
}

pub(super) fn token_json(v: Value) -> Response {
    let mut r = Json(v).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// Authenticates the client: HTTP Basic or `client_secret` in the body for confidential clients,
/// `client_id` alone for public ones. Failures are throttled per client id and per IP: past
/// the tenant's limit in a minute every attempt is refused before the secret is compared.
pub(super) async fn client(state: &AppState, request: &TokenRequest, ip: std::net::IpAddr) -> Result<OidcApp, WebError> {
    let check = client_check(state, request, ip);
    state.login().blocking(move |io| check.run(io)).await?
}

/// A client authentication to run on the blocking pool (with the throttle's store reads), on
/// its own or in the same task as what the request does next.
pub(super) struct ClientCheck {
    limiter: std::sync::Arc<super::ratelimit::RateLimiter>,
    id: String,
    secret: Option<String>,
    ip: std::net::IpAddr,
}

pub(super) fn client_check(state: &AppState, request: &TokenRequest, ip: std::net::IpAddr) -> ClientCheck {
    let (id, secret) = request.client_credentials();
    ClientCheck {
        limiter: state.client_auth_limiter.clone(),
        id,
        secret,
        ip,
    }
}

impl ClientCheck {
    /// The authenticated client, or the refusal.
    pub(super) fn run(self, io: &crate::login::Io) -> Result<OidcApp, WebError> {
        let ClientCheck { limiter, id, secret, ip } = self;
        let now = io.now_ms();
        let keys = [format!("ip:{ip}"), format!("client:{id}")];
        if limiter.exceeded(io.store(), &[&keys[0], &keys[1]], now) {
            tracing::warn!(%ip, client_id = %id, "client authentication throttled");
            return Err(WebError::TooMany {
                json: true,
                description: "Too many failed client authentications. Wait a minute and try again.",
            });
        }
        let result = authenticate_client(&io.tenant, &id, secret);
        if result.is_err() {
            for k in &keys {
                limiter.record(io.store(), k, now);
            }
        }
        result
    }
}

fn authenticate_client(tenant: &crate::config::Tenant, id: &str, secret: Option<String>) -> Result<OidcApp, WebError> {
    let unauthorized = |d: &str| WebError::oauth_challenge(OAuthError::new(OAuthCode::InvalidClient, d), "Basic realm=\"idpipe\"");
    let Some(app) = tenant.oidc_clients.get(id) else {
        return Err(unauthorized("unknown client"));
    };
    match (&app.client_secret, secret) {
        (Some(expected), Some(given)) if crate::util::constant_time_eq(expected.as_bytes(), given.as_bytes()) => Ok(app.clone()),
        (Some(_), _) => Err(unauthorized("client authentication failed")),
        (None, None) => Ok(app.clone()),
        (None, Some(_)) => Err(unauthorized("this client is public and has no secret")),
    }
}

/// `POST /oauth/token` (form or JSON body).
pub async fn token(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, RawForm(body): RawForm) -> WebResult {
    let h = |n: header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok());
    let request = crate::oidc::token_request::parse(h(header::CONTENT_TYPE), h(header::AUTHORIZATION), &body)?;
    let check = client_check(&state, &request, ip);
    let form = request.params;
    if form.get("grant_type").map(String::as_str) == Some("authorization_code") {
        // The common case in one step off the async worker, on this request's thread
        // (`in_place`: it runs no action): the client, then the code.
        let body = state
            .login()
            .in_place(move |io| -> Result<Value, WebError> { Ok(io.redeem_code(&check.run(io)?, &form)?) })
            .await??;
        return Ok(token_json(body));
    }
    let app = state.login().blocking(move |io| check.run(io)).await??;
    let body = match form.get("grant_type").map(String::as_str) {
        Some("refresh_token") => {
            let token = form
                .get("refresh_token")
                .cloned()
                .ok_or_else(|| OAuthError::new(OAuthCode::InvalidRequest, "refresh_token is missing"))?;
            state.login().refresh_exchange(&app, token).await?
        }
        Some("client_credentials") => client_credentials(&state, &app, &form)?,
        Some(other) => {
            return Err(OAuthError::new(OAuthCode::UnsupportedGrantType, &format!("grant_type '{other}' is not supported")).into());
        }
        None => return Err(OAuthError::new(OAuthCode::InvalidRequest, "grant_type is missing").into()),
    };
    Ok(token_json(body))
}

fn client_credentials(state: &AppState, app: &OidcApp, form: &HashMap<String, String>) -> Result<Value, OAuthError> {
    if app.client_secret.is_none() {
        return Err(OAuthError::new(
            OAuthCode::UnauthorizedClient,
            "client_credentials needs a confidential client",
        ));
    }
    let Some(audience) = form.get("audience") else {
        return Err(OAuthError::new(OAuthCode::InvalidRequest, "audience is missing"));
    };
    let Some(lifetime) = state.tenant.apis.get(audience) else {
        return Err(OAuthError::new(OAuthCode::AccessDenied, &format!("Service not found: {audience}")));
    };
    let now = now_ms(state) / 1000;
    let scope = form.get("scope").cloned().unwrap_or_default();
    let mut claims = Map::new();
    claims.insert("iss".into(), state.issuer().into());
    claims.insert("sub".into(), format!("{}@clients", app.client_id).into());
    claims.insert("aud".into(), audience.clone().into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + *lifetime as i64).into());
    claims.insert("azp".into(), app.client_id.clone().into());
    claims.insert("client_id".into(), app.client_id.clone().into());
    claims.insert("jti".into(), crate::util::random_hex(16).into());
    claims.insert("scope".into(), scope.clone().into());
    claims.insert("gty".into(), "client-credentials".into());
    match state.tenant.keys.current.sign_access_token(&claims) {
        Ok(t) => Ok(json!({"access_token": t, "token_type": "Bearer", "expires_in": lifetime, "scope": scope})),
        Err(e) => {
            tracing::error!(error = %e, "cannot sign an access token");
            Err(OAuthError::new(OAuthCode::ServerError, "the token could not be issued"))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::login::code_grant::pkce_ok;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert!(pkce_ok(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!pkce_ok(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl"
        ));
    }
}
