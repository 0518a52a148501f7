//! `/u/reset-password`: the password reset (see `login::reset`). Every form is CSRF-protected;
//! the request answers the same whether or not the account exists (the lookup and the email
//! happen after the answer), and requests are rate limited per address and per account.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};

use super::login::{csrf_for, csrf_ok};
use super::reset_pages as view;
use super::{AppState, BrowserBinding, ClientIp, WebError, WebResult, flow, pages};
use crate::login::Answer;
use crate::login::reset::AfterReset;

fn with_cookie(mut r: axum::response::Response, set: Option<axum::http::HeaderValue>) -> axum::response::Response {
    if let Some(c) = set {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

fn reset_enabled(state: &AppState) -> Result<(), WebError> {
    if state.login().tenant.password_reset.email.is_none() {
        return Err(WebError::page(
            StatusCode::NOT_FOUND,
            "not_found",
            "Password reset is not available: no email delivery is configured.",
        ));
    }
    Ok(())
}

/// The application a reset starts from, when it is one of the tenant's.
fn known_client(state: &AppState, client_id: Option<&String>) -> String {
    let t = &state.login().tenant;
    client_id
        .filter(|c| t.oidc_clients.contains_key(c.as_str()) || t.saml_sps.contains_key(c.as_str()))
        .cloned()
        .unwrap_or_default()
}

/// `GET /u/reset-password?client_id=`.
pub async fn request_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> WebResult {
    reset_enabled(&state)?;
    let client = known_client(&state, q.get("client_id"));
    let (csrf, set) = csrf_for(&state, &headers, "reset-request");
    Ok(with_cookie(
        pages::html(StatusCode::OK, &view::request_form(&client, &csrf, None)),
        set,
    ))
}

/// `POST /u/reset-password`: always "check your email".
pub async fn request_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> WebResult {
    reset_enabled(&state)?;
    if !csrf_ok(&state, &headers, "reset-request", f.get("_csrf").map_or("", String::as_str)) {
        return Err(WebError::invalid_csrf());
    }
    let identifier = f.get("identifier").map(|s| s.trim().to_string()).unwrap_or_default();
    if identifier.is_empty() || identifier.len() > 256 {
        let (csrf, _) = csrf_for(&state, &headers, "reset-request");
        let page = view::request_form("", &csrf, Some("Enter your username or email."));
        return Ok(pages::html(StatusCode::BAD_REQUEST, &page));
    }
    let client = known_client(&state, f.get("client_id"));
    let limiter = state.reset_limiter.clone();
    let ctx = state.login().clone();
    let account = format!("account:{}", identifier.to_lowercase());
    let allowed = ctx
        .blocking(move |io| limiter.allow(io.store(), &ip.to_string(), io.now_ms()) && limiter.allow(io.store(), &account, io.now_ms()))
        .await?;
    if !allowed {
        tracing::warn!(%ip, "too many password reset requests");
        return Err(WebError::TooMany {
            json: false,
            description: "Too many password reset requests. Wait a minute and try again.",
        });
    }
    // The answer does not wait for the lookup or the email: it takes the same time for every
    // identifier, known or not.
    let base = ctx.tenant.base_url.clone();
    tokio::spawn(async move {
        let sent = ctx
            .blocking(move |io| -> Result<(), String> {
                let Some((email, token)) = io.request_reset(&identifier, &client).map_err(|e| e.to_string())? else {
                    tracing::info!("password reset asked for an unknown account (no email sent)");
                    return Ok(());
                };
                let Some((from, delivery)) = io.tenant.password_reset.email.clone() else {
                    return Ok(());
                };
                let link = format!("{base}/u/reset-password/confirm?ticket={token}");
                let body = format!(
                    "Someone asked to reset the password of your account at {name}.\n\nTo choose a new password, open this link (it works once, for {min} minutes):\n\n{link}\n\nIf it was not you, ignore this message; your password stays the same.\n",
                    name = io.tenant.name,
                    min = io.tenant.password_reset.link_lifetime_ms / 60_000,
                );
                crate::login::mfa::email::send_message(&from, &delivery, &email, "Reset your password", &body).map_err(|e| e.to_string())
            })
            .await;
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the password reset email could not be sent"),
            Err(e) => tracing::error!(error = %e, "the password reset request failed"),
        }
    });
    let minutes = state.login().tenant.password_reset.link_lifetime_ms / 60_000;
    Ok(pages::html(StatusCode::OK, &view::check_your_email(minutes)))
}

fn link_unusable() -> WebError {
    WebError::bad_request("invalid_request", "This link has expired or was already used. Ask for a new one.")
}

fn ticket_of(q: &HashMap<String, String>) -> Result<String, WebError> {
    q.get("ticket")
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .cloned()
        .ok_or_else(link_unusable)
}

/// `GET /u/reset-password/confirm?ticket=`: the link's page (the link is not used yet).
pub async fn confirm_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> WebResult {
    let ticket = ticket_of(&q)?;
    let t = ticket.clone();
    if !state.login().blocking(move |io| io.reset_link_valid(&t)).await?? {
        return Err(link_unusable());
    }
    let (csrf, set) = csrf_for(&state, &headers, "reset-confirm");
    Ok(with_cookie(pages::html(StatusCode::OK, &view::confirm(&ticket, &csrf)), set))
}

/// `POST /u/reset-password/confirm`: the link is used; the password-reset actions run.
pub async fn confirm_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> WebResult {
    if !csrf_ok(&state, &headers, "reset-confirm", f.get("_csrf").map_or("", String::as_str)) {
        return Err(WebError::invalid_csrf());
    }
    let ticket = ticket_of(&f)?;
    let browser = BrowserBinding::of(&headers);
    let http = flow::http_event("POST", &headers, ip, serde_json::Map::new());
    let answered = state.login().start_reset(ticket, http, browser.hash()).await;
    flow::respond_to_form(&state, answered, &browser)
}

/// `GET /u/reset-password/new?state=`.
pub async fn new_password_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> WebResult {
    let k = WebError::state_key(&q)?;
    let presented = BrowserBinding::presented_hash(&headers);
    let lookup = k.clone();
    state
        .login()
        .blocking(move |io| io.choosing(&lookup, presented.as_deref()))
        .await??;
    let (csrf, set) = csrf_for(&state, &headers, &format!("reset-new:{k}"));
    let min = state.login().tenant.password_reset.min_length;
    Ok(with_cookie(
        pages::html(StatusCode::OK, &view::new_password(&k, &csrf, min, None)),
        set,
    ))
}

/// `POST /u/reset-password/new`.
pub async fn new_password_submit(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> WebResult {
    let k = WebError::state_key(&f)?;
    let csrf = f.get("_csrf").cloned().unwrap_or_default();
    if !csrf_ok(&state, &headers, &format!("reset-new:{k}"), &csrf) {
        return Err(WebError::invalid_csrf());
    }
    let presented = BrowserBinding::presented_hash(&headers);
    let password = f.get("password").cloned().unwrap_or_default();
    let confirm = f.get("confirm").cloned().unwrap_or_default();
    let key = k.clone();
    let done = state
        .login()
        .blocking(move |io| -> Result<_, WebError> {
            let c = io.choosing(&key, presented.as_deref())?;
            Ok(io.set_new_password(&key, &c, &password, &confirm)?)
        })
        .await??;
    match done {
        Err(e) => {
            let min = state.login().tenant.password_reset.min_length;
            let page = view::new_password(&k, &csrf, min, Some(&e.to_string()));
            Ok(pages::html(StatusCode::BAD_REQUEST, &page))
        }
        Ok(AfterReset::ResultUrl(url)) => flow::respond_to_form(&state, Answer::Redirect(url).into(), &BrowserBinding::of(&headers)),
        Ok(AfterReset::Changed { back_to }) => Ok(pages::html(StatusCode::OK, &view::changed(back_to.as_ref()))),
    }
}
