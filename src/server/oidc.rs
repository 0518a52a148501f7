//! OIDC endpoints: discovery, `/authorize` (code flow, PKCE), `/oauth/token`
//! (authorization_code, refresh_token, client_credentials), `/userinfo`, logout.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, RawForm, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::flow;
use super::{AppState, ClientIp, SESSION_COOKIE, cookie, error, error_page, hash_secret, now_ms, pages, set_cookie, store_failure};
use crate::config::OidcApp;
use crate::login::LoginRequest;
use crate::login::authorize::AuthorizeError;
use crate::oidc::OAuthError;
use crate::oidc::token_request::TokenRequest;

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
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "phone", "offline_access"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr", "name", "given_name",
            "family_name", "nickname", "preferred_username", "picture", "updated_at", "email", "email_verified", "phone_number"],
        "prompt_values_supported": ["none", "login"],
    });
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(doc)).into_response()
}

/// `GET /authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match crate::login::authorize::validate(&state.tenant, &q) {
        Ok(login) => {
            let query: Map<String, Value> = q.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            let http = flow::http_event("GET", &headers, ip, query);
            flow::begin(&state, LoginRequest::Oidc(login), http, &headers).await
        }
        Err(AuthorizeError::Page { code, description }) => error_page(StatusCode::BAD_REQUEST, code, &description),
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
            flow::oidc_redirect(&redirect_uri, form_post, &fields)
        }
    }
}

fn oauth_error(status: StatusCode, e: &OAuthError) -> Response {
    error(status, &e.error, &e.error_description)
}

fn token_json(v: Value) -> Response {
    let mut r = Json(v).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// The HTTP status of an OAuth error's class.
fn http_status(s: crate::oidc::OAuthStatus) -> StatusCode {
    use crate::oidc::OAuthStatus as S;
    match s {
        S::BadRequest => StatusCode::BAD_REQUEST,
        S::Unauthorized => StatusCode::UNAUTHORIZED,
        S::Forbidden => StatusCode::FORBIDDEN,
        S::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        S::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Authenticates the client: HTTP Basic or `client_secret` in the body for confidential clients,
/// `client_id` alone for public ones. Failures are throttled per client id and per IP: past
/// the tenant's limit in a minute every attempt is refused before the secret is compared.
fn client<'a>(state: &'a AppState, request: &TokenRequest, ip: std::net::IpAddr) -> Result<&'a OidcApp, Response> {
    let now = now_ms(state);
    let limiter = &state.client_auth_limiter;
    let (id, secret) = request.client_credentials();
    let keys = [format!("ip:{ip}"), format!("client:{id}")];
    if keys.iter().any(|k| limiter.exceeded(k, now)) {
        tracing::warn!(%ip, client_id = %id, "client authentication throttled");
        return Err(super::too_many(
            true,
            "Too many failed client authentications. Wait a minute and try again.",
        ));
    }
    let result = authenticate_client(state, &id, secret);
    if result.is_err() {
        for k in &keys {
            limiter.record(k, now);
        }
    }
    result
}

fn authenticate_client<'a>(state: &'a AppState, id: &str, secret: Option<String>) -> Result<&'a OidcApp, Response> {
    let unauthorized = |d: &str| {
        let mut r = error(StatusCode::UNAUTHORIZED, "invalid_client", d);
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"idpipe\""));
        r
    };
    let Some(app) = state.tenant.oidc_clients.get(id) else {
        return Err(unauthorized("unknown client"));
    };
    match (&app.client_secret, secret) {
        (Some(expected), Some(given)) if crate::util::constant_time_eq(expected.as_bytes(), given.as_bytes()) => Ok(app),
        (Some(_), _) => Err(unauthorized("client authentication failed")),
        (None, None) => Ok(app),
        (None, Some(_)) => Err(unauthorized("this client is public and has no secret")),
    }
}

/// `POST /oauth/token` (form or JSON body).
pub async fn token(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, RawForm(body): RawForm) -> Response {
    let h = |n: header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok());
    let request = match crate::oidc::token_request::parse(h(header::CONTENT_TYPE), h(header::AUTHORIZATION), &body) {
        Ok(r) => r,
        Err(e) => return error(http_status(e.status), &e.error, &e.error_description),
    };
    let app = match client(&state, &request, ip) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let form = &request.params;
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(&state, app, form),
        Some("refresh_token") => refresh(&state, app, form).await,
        Some("client_credentials") => client_credentials(&state, app, form),
        Some(other) => error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type '{other}' is not supported"),
        ),
        None => error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is missing"),
    }
}

fn code_grant(state: &AppState, app: &OidcApp, form: &HashMap<String, String>) -> Response {
    match state.login().redeem_code(app, form) {
        Ok(body) => token_json(body),
        Err(e) => oauth_error(http_status(e.status), &e),
    }
}

async fn refresh(state: &AppState, app: &OidcApp, form: &HashMap<String, String>) -> Response {
    let Some(token) = form.get("refresh_token").cloned() else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token is missing");
    };
    let st = state.clone();
    let client = crate::login::code_grant::oidc_client(app);
    let result = crate::login::watchdog::run_pipeline(move || {
        let ctx = st.login();
        let rt = ctx.refresh_tokens();
        let issuer = st.issuer();
        let api_for = |audience: &str| ctx.api(Some(audience));
        let req = crate::login::RefreshRequest {
            token: &token,
            client: &client,
            api_for: &api_for,
            issuer: &issuer,
            now_ms: now_ms(&st),
        };
        let store = st.store.clone();
        let load = move |id: &str| store.user(id).ok().flatten();
        let commit = |user_id: &str, outcome: &crate::pipeline::Outcome| {
            st.store.apply_metadata(user_id, outcome).map_err(|e| {
                tracing::error!(error = %e, "cannot apply the metadata changes of a refresh exchange");
                OAuthError::new("temporarily_unavailable", "the refresh could not be completed; try again")
            })
        };
        crate::login::refresh_grant(&st.tenant.executor, &st.tenant.keys.current, &rt, &req, &load, &commit)
    })
    .await;
    match result {
        Ok(Ok(r)) => {
            let mut out = json!({
                "access_token": r.tokens.access_token,
                "token_type": "Bearer",
                "expires_in": r.tokens.expires_in,
                "scope": r.tokens.scopes.join(" "),
                "refresh_token": r.refresh_token,
            });
            if let Some(id) = r.tokens.id_token {
                out["id_token"] = id.into();
            }
            token_json(out)
        }
        Ok(Err(e)) => {
            let status = http_status(e.status);
            oauth_error(status, &e)
        }
        Err(crate::login::watchdog::PipelineStop::Abandoned) => {
            error(StatusCode::FORBIDDEN, "access_denied", crate::pipeline::executor::GENERIC_FAILURE)
        }
        Err(e) => {
            tracing::error!(error = %e, "the refresh task failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the refresh could not be completed",
            )
        }
    }
}

fn client_credentials(state: &AppState, app: &OidcApp, form: &HashMap<String, String>) -> Response {
    if app.client_secret.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "client_credentials needs a confidential client",
        );
    }
    let Some(audience) = form.get("audience") else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "audience is missing");
    };
    let Some(lifetime) = state.tenant.apis.get(audience) else {
        return error(StatusCode::FORBIDDEN, "access_denied", &format!("Service not found: {audience}"));
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
    claims.insert("scope".into(), scope.clone().into());
    claims.insert("gty".into(), "client-credentials".into());
    match state.tenant.keys.current.sign(&claims) {
        Ok(t) => token_json(json!({"access_token": t, "token_type": "Bearer", "expires_in": lifetime, "scope": scope})),
        Err(e) => {
            tracing::error!(error = %e, "cannot sign an access token");
            error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the token could not be issued")
        }
    }
}

/// `GET|POST /userinfo` with a bearer access token whose audience includes this endpoint.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let deny = |d: &str| {
        let mut r = error(StatusCode::UNAUTHORIZED, "invalid_token", d);
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
        r
    };
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return deny("a bearer access token is required");
    };
    let Some(claims) = state.tenant.keys.current.verify(token.trim()) else {
        return deny("the access token is invalid");
    };
    let now = now_ms(&state) / 1000;
    if claims.get("exp").and_then(Value::as_i64).is_none_or(|e| e <= now) {
        return deny("the access token has expired");
    }
    if claims.get("iss").and_then(Value::as_str) != Some(state.issuer().as_str()) {
        return deny("the access token has another issuer");
    }
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
    let user = match state.store.user(sub) {
        Ok(Some(u)) => u,
        Ok(None) => return deny("the user no longer exists"),
        Err(e) => return store_failure(&e),
    };
    let scopes: Vec<String> = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let event = crate::pipeline::Event {
        user,
        ..Default::default()
    };
    let mut out = Map::new();
    out.insert("sub".into(), sub.into());
    crate::oidc::tokens::profile_claims(&event, &scopes, &mut out);
    token_json(Value::Object(out))
}

/// `GET /v2/logout?client_id=&returnTo=` and `GET /oidc/logout?client_id=&post_logout_redirect_uri=&state=`:
/// ends the session; goes back only to a URL in the client's `allowed_logout_urls`.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(raw) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = state.store.delete_session(&hash_secret(&raw))
    {
        return store_failure(&e);
    }
    let clear = set_cookie(SESSION_COOKIE, "", Some(0), state.secure_cookies());
    let return_to = q.get("returnTo").or_else(|| q.get("post_logout_redirect_uri"));
    let client_id = q.get("client_id").cloned().or_else(|| {
        // /oidc/logout: the client is the ID token's audience (its signature is checked).
        q.get("id_token_hint")
            .and_then(|t| state.tenant.keys.current.verify(t))
            .and_then(|c| c.get("aud").and_then(Value::as_str).map(str::to_string))
    });
    let mut resp = match (return_to, client_id.and_then(|c| state.tenant.oidc_clients.get(&c))) {
        (Some(url), Some(app)) if app.allowed_logout_urls.iter().any(|u| u == url) => {
            let target = match q.get("state") {
                Some(s) => url::Url::parse_with_params(url, &[("state", s)]).map_or(url.clone(), |u| u.to_string()),
                None => url.clone(),
            };
            super::found(&target)
        }
        (Some(url), _) => {
            let mut r = error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("You are logged out, but '{url}' is not an allowed logout URL of the application."),
            );
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        (None, _) => pages::html(StatusCode::OK, &pages::logged_out_page()),
    };
    resp.headers_mut().append(header::SET_COOKIE, clear);
    resp
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
