//! Validating an authorization request (`/authorize`) into the login it starts. Until the client
//! and its redirect URI are known, a refusal is shown to the user (never a redirect to an
//! unregistered URL); after that it goes back to the application as an OAuth error.

use std::collections::HashMap;

use super::OidcLogin;
use crate::config::Tenant;

/// Why an authorization request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizeError {
    /// The client or its redirect URI is unknown: an error page, no redirect.
    #[error("{code}: {description}")]
    Page {
        /// `invalid_request` or `unknown_client`.
        code: &'static str,
        /// What the user is told.
        description: String,
    },
    /// The request is wrong: told to the application on its registered redirect URI.
    #[error("{code}: {description}")]
    Redirect {
        /// Registered redirect URI.
        redirect_uri: String,
        /// `response_mode=form_post`.
        form_post: bool,
        /// RFC 6749 4.1.2.1 code.
        code: &'static str,
        /// `error_description`.
        description: String,
        /// The application's `state`.
        state: Option<String>,
    },
}

/// The prompts idpipe accepts.
const PROMPTS: [&str; 3] = ["none", "login", "consent"];

/// Checks the query of `/authorize` against the tenant and returns the login it asks for.
pub fn validate(tenant: &Tenant, q: &HashMap<String, String>) -> Result<OidcLogin, AuthorizeError> {
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let page = |code, description: &str| AuthorizeError::Page {
        code,
        description: description.to_string(),
    };
    let client_id = get("client_id").ok_or_else(|| page("invalid_request", "client_id is missing."))?;
    let app = tenant
        .oidc_clients
        .get(client_id)
        .ok_or_else(|| page("unknown_client", "There is no application with this client_id."))?;
    let redirect_uri = match get("redirect_uri") {
        Some(r) if app.redirect_uris.iter().any(|u| u == r) => r.to_string(),
        Some(r) => {
            tracing::warn!(client_id, redirect_uri = r, "redirect_uri not registered");
            let d = format!("The redirect_uri '{r}' is not an allowed callback URL of this application.");
            return Err(page("invalid_request", &d));
        }
        None if app.redirect_uris.len() == 1 => app.redirect_uris[0].clone(),
        None => return Err(page("invalid_request", "redirect_uri is missing.")),
    };
    let state = get("state").map(str::to_string);
    let response_mode = get("response_mode").unwrap_or("query").to_string();
    let fail = |code: &'static str, description: &str| {
        tracing::info!(client_id, code, description, "authorization request refused");
        AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            form_post: response_mode == "form_post",
            code,
            description: description.to_string(),
            state: state.clone(),
        }
    };
    if response_mode != "query" && response_mode != "form_post" {
        return Err(fail("invalid_request", "response_mode must be query or form_post"));
    }
    match get("response_type") {
        Some("code") => {}
        Some(_) => {
            let d = "only the authorization code flow (response_type=code) is supported";
            return Err(fail("unsupported_response_type", d));
        }
        None => return Err(fail("invalid_request", "response_type is missing")),
    }
    let code_challenge = get("code_challenge").map(str::to_string);
    check_pkce(code_challenge.as_deref(), get("code_challenge_method"), app.client_secret.is_none())
        .map_err(|d| fail("invalid_request", d))?;
    let audience = get("audience").map(str::to_string);
    if let Some(a) = audience.as_ref().filter(|a| !tenant.apis.contains_key(*a)) {
        return Err(fail("access_denied", &format!("Service not found: {a}")));
    }
    let prompt = get("prompt").map(str::to_string);
    if prompt.as_deref().is_some_and(|p| !PROMPTS.contains(&p)) {
        return Err(fail("invalid_request", "prompt must be none, login or consent"));
    }
    // OIDC Core 6: request objects are not supported (said in discovery).
    if get("request").is_some() {
        return Err(fail("request_not_supported", "request objects are not supported"));
    }
    if get("request_uri").is_some() {
        return Err(fail("request_uri_not_supported", "request_uri is not supported"));
    }
    let claims = match get("claims") {
        Some(c) => crate::oidc::claims::ClaimsRequest::parse(c).map_err(|d| fail("invalid_request", &d))?,
        None => Default::default(),
    };
    let display = get("display");
    if display.is_some_and(|d| !["page", "popup", "touch", "wap"].contains(&d)) {
        return Err(fail("invalid_request", "display must be page, popup, touch or wap"));
    }
    let bounded = |k: &str| get(k).filter(|v| v.len() <= 256).map(str::to_string);
    // OIDC Core 3.1.2.1: the session's authentication may be at most max_age seconds old.
    let max_age = match get("max_age").map(str::parse::<u64>) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(_)) => return Err(fail("invalid_request", "max_age must be a non-negative integer")),
    };
    Ok(OidcLogin {
        max_age,
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        nonce: get("nonce").map(str::to_string),
        scopes: get("scope").unwrap_or("openid").split_whitespace().map(str::to_string).collect(),
        audience,
        code_challenge,
        response_mode: response_mode.clone(),
        prompt,
        claims,
        acr_values: get("acr_values")
            .unwrap_or_default()
            .split_whitespace()
            .take(16)
            .map(str::to_string)
            .collect(),
        login_hint: bounded("login_hint"),
        ui_locales: bounded("ui_locales"),
    })
}

/// PKCE: S256 only; required for public clients.
fn check_pkce(challenge: Option<&str>, method: Option<&str>, public_client: bool) -> Result<(), &'static str> {
    match (challenge, method) {
        (Some(_), Some("S256")) => {}
        (Some(_), _) => return Err("code_challenge_method must be S256"),
        (None, Some(_)) => return Err("code_challenge is missing"),
        (None, None) if public_client => return Err("public clients must use PKCE (code_challenge with S256)"),
        (None, None) => {}
    }
    match challenge {
        Some(c) if c.len() != 43 || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
            Err("code_challenge must be a base64url SHA-256 (43 characters)")
        }
        _ => Ok(()),
    }
}
