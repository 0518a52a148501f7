//! The OAuth resource-side endpoints: `/userinfo` (OIDC Core 5.3), token revocation (RFC 7009)
//! and token introspection (RFC 7662).

use axum::body::Bytes;
use axum::extract::{RawForm, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};

use super::oidc::{client, token_json};
use super::{AppState, ClientIp, WebResult, error, now_ms};
use crate::oidc::tokens::USERINFO_CLAIMS;
use crate::oidc::{OAuthCode, OAuthError};

/// The claims of one of our access tokens, checked: signature (current or retired key), `typ`
/// `at+jwt` (an ID token is not an access token), issuer and expiry.
fn access_token_claims(state: &AppState, token: &str) -> Result<Map<String, Value>, &'static str> {
    let header_typ = token
        .split('.')
        .next()
        .and_then(|h| base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, h).ok())
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .and_then(|h| h.get("typ").and_then(Value::as_str).map(str::to_ascii_lowercase));
    let claims = state.tenant.keys.verify(token).ok_or("the access token is invalid")?;
    if header_typ.as_deref() != Some("at+jwt") {
        return Err("the token is not an access token");
    }
    let now = now_ms(state) / 1000;
    if claims.get("exp").and_then(Value::as_i64).is_none_or(|e| e <= now) {
        return Err("the access token has expired");
    }
    if claims.get("iss").and_then(Value::as_str) != Some(state.issuer().as_str()) {
        return Err("the access token has another issuer");
    }
    Ok(claims)
}

/// The bearer token of a request: the `Authorization` header, or (RFC 6750 2.2) the
/// `access_token` field of a form-encoded POST body.
fn bearer(method: &Method, headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string());
    if from_header.is_some() {
        return from_header;
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if *method != Method::POST || !form {
        return None;
    }
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

/// `GET|POST /userinfo` with a bearer access token whose audience includes this endpoint: the
/// standard claims its scopes (and the authorization request's `claims.userinfo`) ask for.
pub async fn userinfo(State(state): State<AppState>, method: Method, headers: HeaderMap, body: Bytes) -> WebResult {
    let deny = |d: &str| -> WebResult {
        let mut r = error(StatusCode::UNAUTHORIZED, "invalid_token", d);
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
        Ok(r)
    };
    let Some(token) = bearer(&method, &headers, &body) else {
        let mut r = error(StatusCode::UNAUTHORIZED, "invalid_request", "a bearer access token is required");
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"idpipe\""));
        return Ok(r);
    };
    let claims = match access_token_claims(&state, &token) {
        Ok(c) => c,
        Err(d) => return deny(d),
    };
    let userinfo_url = format!("{}userinfo", state.issuer());
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == userinfo_url,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(&userinfo_url)),
        _ => false,
    };
    if !aud_ok {
        return deny("the access token is not for /userinfo (its audience does not include it)");
    }
    let Some(sub) = claims.get("sub").and_then(Value::as_str) else {
        return deny("the access token has no subject");
    };
    let id = sub.to_string();
    let Some(user) = state.login().blocking(move |io| io.store().user(&id)).await?? else {
        return deny("the user no longer exists");
    };
    let words = |k: &str| -> Vec<String> {
        match claims.get(k) {
            Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        }
    };
    let event = crate::pipeline::Event {
        user,
        ..Default::default()
    };
    let mut out = Map::new();
    out.insert("sub".into(), sub.into());
    crate::oidc::claims::profile_claims(&event, &words("scope"), &words(USERINFO_CLAIMS), &mut out);
    Ok(token_json(Value::Object(out)))
}

/// The token of a revocation or introspection request.
fn token_param(request: &crate::oidc::token_request::TokenRequest) -> Result<String, OAuthError> {
    request
        .params
        .get("token")
        .filter(|t| !t.is_empty() && t.len() <= 8192)
        .cloned()
        .ok_or_else(|| OAuthError::new(OAuthCode::InvalidRequest, "token is missing"))
}

/// `POST /oauth/revoke` (RFC 7009): a refresh token revokes its whole family (only the client
/// it was issued to may revoke it). Unknown or foreign tokens get 200 as the RFC asks (the
/// client learns nothing); access tokens are self-contained JWTs that cannot be revoked
/// before they expire (`unsupported_token_type`).
pub async fn revoke(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, RawForm(body): RawForm) -> WebResult {
    let h = |n: header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok());
    let request = crate::oidc::token_request::parse(h(header::CONTENT_TYPE), h(header::AUTHORIZATION), &body)?;
    let app = client(&state, &request, ip).await?;
    let token = token_param(&request)?;
    if access_token_claims(&state, &token).is_ok() {
        return Err(OAuthError::new(
            OAuthCode::UnsupportedTokenType,
            "access tokens are self-contained and expire on their own; revoke the refresh token",
        )
        .into());
    }
    let revoked = state
        .login()
        .blocking(move |io| -> Result<bool, OAuthError> {
            let rt = io.refresh_tokens();
            match rt.active(&token, io.now_ms()) {
                Ok(Some(rec)) if crate::util::constant_time_eq(rec.client_id.as_bytes(), app.client_id.as_bytes()) => {
                    rt.revoke_family(&rec.family)?;
                    Ok(true)
                }
                Ok(_) => Ok(false),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read a refresh token to revoke");
                    Err(OAuthError::new(OAuthCode::TemporarilyUnavailable, "try again"))
                }
            }
        })
        .await??;
    tracing::info!(revoked, "token revocation request");
    Ok(token_json(json!({})))
}

/// `POST /oauth/introspect` (RFC 7662), for confidential clients: `{active, ...}` for one of our
/// access tokens (any confidential client, as the protected resource it calls), or a refresh
/// token of the calling client; `{"active": false}` for anything else.
pub async fn introspect(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, RawForm(body): RawForm) -> WebResult {
    let h = |n: header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok());
    let request = crate::oidc::token_request::parse(h(header::CONTENT_TYPE), h(header::AUTHORIZATION), &body)?;
    let app = client(&state, &request, ip).await?;
    if app.client_secret.is_none() {
        return Err(OAuthError::new(OAuthCode::UnauthorizedClient, "introspection needs a confidential client").into());
    }
    let token = token_param(&request)?;
    if let Ok(c) = access_token_claims(&state, &token) {
        let mut out = Map::new();
        out.insert("active".into(), true.into());
        out.insert("token_type".into(), "access_token".into());
        for k in ["scope", "client_id", "sub", "exp", "iat", "aud", "iss", "jti"] {
            if let Some(v) = c.get(k) {
                out.insert(k.into(), v.clone());
            }
        }
        return Ok(token_json(Value::Object(out)));
    }
    let issuer = state.issuer();
    let found = state
        .login()
        .blocking(move |io| io.refresh_tokens().active(&token, io.now_ms()))
        .await??;
    let body = match found {
        Some(r) if crate::util::constant_time_eq(r.client_id.as_bytes(), app.client_id.as_bytes()) => json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": r.scopes.join(" "),
            "client_id": r.client_id,
            "sub": r.user_id,
            "exp": r.expires_at.min(r.idle_expires_at) / 1000,
            "iat": r.created_at / 1000,
            "iss": issuer,
        }),
        _ => json!({"active": false}),
    };
    Ok(token_json(body))
}
