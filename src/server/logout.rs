//! Ending the SSO session from an application: `GET /v2/logout` (the hosted service's endpoint:
//! immediate) and OpenID Connect RP-Initiated Logout 1.0 (`GET|POST /oidc/logout`).
//!
//! `/oidc/logout`: an `id_token_hint` must be one of our ID tokens (a modified one is refused
//! and nothing changes); `post_logout_redirect_uri` must be one of the client's
//! `allowed_logout_urls` (the client from `client_id` or the hint's audience), else no redirect;
//! `state` goes back with it (a query already on the URI is kept). Without a valid hint the user
//! confirms on a page first (a CSRF-protected form), so a third-party page cannot log them out.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::login::{csrf_for, csrf_ok};
use super::slo;
use super::{AppState, BrowserBinding, SESSION_COOKIE, WebError, WebResult, cookie, hash_secret, pages, set_cookie};
use crate::login::logout::LogoutFinish;

/// The CSRF purpose of the logout confirmation form.
const CONFIRM: &str = "logout-confirmation";

/// Ends the browser's session (if any) and clears its cookie on `resp`.
async fn end_session_now(state: &AppState, headers: &HeaderMap, mut resp: Response) -> WebResult {
    if let Some(raw) = cookie(headers, SESSION_COOKIE) {
        state
            .login()
            .blocking(move |io| io.store().delete_session(&hash_secret(&raw)))
            .await??;
    }
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0), state.secure_cookies()));
    Ok(resp)
}

/// Ends the browser's session (if any); its SAML participants are told (single logout) before
/// the browser goes where `finish` says.
async fn end_session(state: &AppState, headers: &HeaderMap, finish: LogoutFinish) -> WebResult {
    let ended = match cookie(headers, SESSION_COOKIE) {
        Some(raw) => state.login().blocking(move |io| slo::end_session(io, &raw)).await??,
        None => None,
    };
    if let Some(s) = &ended {
        super::channels::backchannel(state, s);
    }
    let browser = BrowserBinding::of(headers);
    match ended
        .as_ref()
        .and_then(|s| slo::chain_for(state, &browser, s, None, finish.clone()))
    {
        Some(chain) => slo::next_step(state, chain, &browser).await,
        None => slo::finish_without_chain(state, finish),
    }
}

/// `url` with `state` added to its query (an existing query is kept).
fn with_state(url: &str, state: Option<&String>) -> String {
    match state {
        Some(s) => url::Url::parse_with_params(url, &[("state", s)]).map_or(url.to_string(), |u| u.to_string()),
        None => url.to_string(),
    }
}

/// The registered logout URL `url` of `client_id`, or why it cannot be used.
fn allowed_target(state: &AppState, client_id: Option<&str>, url: &str) -> Result<String, WebError> {
    let app = client_id.and_then(|c| state.tenant.oidc_clients.get(c));
    match app {
        Some(app) if app.allowed_logout_urls.iter().any(|u| u == url) => Ok(url.to_string()),
        Some(_) => Err(WebError::bad_request(
            "invalid_request",
            format!("'{url}' is not an allowed logout URL of the application. You are still logged in."),
        )),
        None => Err(WebError::bad_request(
            "invalid_request",
            "A post_logout_redirect_uri needs the application (client_id or id_token_hint). You are still logged in.",
        )),
    }
}

/// `GET /v2/logout?client_id=&returnTo=`: ends the session at once, as the hosted service does
/// (a logout is never refused); goes back only to a URL in the client's `allowed_logout_urls`,
/// else an error page says the user is logged out but not sent back.
pub async fn v2_logout(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> WebResult {
    let finish = match q.get("returnTo") {
        Some(url) => match allowed_target(&state, q.get("client_id").map(String::as_str), url) {
            Ok(target) => LogoutFinish::Redirect { url: target },
            Err(_) => {
                let page = super::error_page(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    &format!("You are logged out, but '{url}' is not an allowed logout URL of the application."),
                );
                return end_session_now(&state, &headers, page).await;
            }
        },
        None => LogoutFinish::Page,
    };
    end_session(&state, &headers, finish).await
}

/// `GET /oidc/logout`.
pub async fn oidc_logout(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> WebResult {
    rp_logout(&state, &headers, q).await
}

/// `POST /oidc/logout` (the same parameters form-encoded, and the confirmation form).
pub async fn oidc_logout_post(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> WebResult {
    // A form POST (the confirmation page) must not be redirected to another origin.
    Ok(super::flow::navigate_after_form(rp_logout(&state, &headers, f).await?))
}

async fn rp_logout(state: &AppState, headers: &HeaderMap, p: HashMap<String, String>) -> WebResult {
    let get = |k: &str| p.get(k).filter(|v| !v.is_empty());
    // A hint must be one of our ID tokens, unmodified (signature of a current or retired key).
    let hint = match get("id_token_hint") {
        Some(t) => match state.tenant.keys.verify(t) {
            Some(c) if c.get("iss").and_then(Value::as_str) == Some(state.issuer().as_str()) => Some(c),
            _ => {
                return Err(WebError::bad_request(
                    "invalid_request",
                    "The id_token_hint is not a valid ID token of this server. You are still logged in.",
                ));
            }
        },
        None => None,
    };
    let hinted_client = hint.as_ref().and_then(|c| match c.get("aud") {
        Some(Value::String(a)) => Some(a.clone()),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    });
    let client_id = match (get("client_id"), hinted_client) {
        (Some(c), Some(h)) if *c != h => {
            return Err(WebError::bad_request(
                "invalid_request",
                "client_id is not the audience of the id_token_hint. You are still logged in.",
            ));
        }
        (Some(c), _) => Some(c.clone()),
        (None, h) => h,
    };
    let target = match get("post_logout_redirect_uri") {
        Some(url) => Some(allowed_target(state, client_id.as_deref(), url)?),
        None => None,
    };
    let confirmed = get("confirm").is_some_and(|c| c == "yes") && csrf_ok(state, headers, CONFIRM, get("_csrf").map_or("", |s| s.as_str()));
    if hint.is_none() && !confirmed {
        return Ok(confirmation(state, headers, client_id.as_deref(), target.as_deref(), get("state")));
    }
    let finish = match target {
        Some(url) => LogoutFinish::Redirect {
            url: with_state(&url, get("state")),
        },
        None => LogoutFinish::Page,
    };
    tracing::info!(client_id = ?client_id, "RP-initiated logout");
    end_session(state, headers, finish).await
}

/// "Log out?" with a CSRF-protected form that posts the validated request back.
fn confirmation(
    state: &AppState,
    headers: &HeaderMap,
    client_id: Option<&str>,
    target: Option<&str>,
    app_state: Option<&String>,
) -> Response {
    let (token, set) = csrf_for(state, headers, CONFIRM);
    let mut fields: Vec<(&str, &str)> = vec![("confirm", "yes"), ("_csrf", &token)];
    if let Some(c) = client_id {
        fields.push(("client_id", c));
    }
    if let Some(t) = target {
        fields.push(("post_logout_redirect_uri", t));
    }
    if let Some(s) = app_state {
        fields.push(("state", s));
    }
    let app = client_id.and_then(|c| state.tenant.oidc_clients.get(c)).map(|a| a.name.clone());
    let mut r = pages::html(StatusCode::OK, &pages::logout_confirmation(app.as_deref(), &fields));
    if let Some(c) = set {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}
