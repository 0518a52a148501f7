//! `/u/login` (the login form) and `/continue` (resuming a redirect action).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::flow;
use super::{
    AppState, BrowserBinding, CSRF_COOKIE, ClientIp, cookie, error_page, foreign_browser, now_ms, pages, set_cookie, store_failure,
};
use crate::login::Pending;
use crate::store::LoginCheck;

/// Query of `GET /u/login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    state: Option<String>,
}

/// Fields of `POST /u/login`.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    state: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

/// The CSRF token bound to the browser's CSRF cookie and to the login's state.
fn csrf_token(state: &AppState, cookie_value: &str, login_state: &str) -> String {
    let sign = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let key = PKey::hmac(state.csrf_key.as_slice())?;
        let mut s = Signer::new(MessageDigest::sha256(), &key)?;
        s.update(cookie_value.as_bytes())?;
        s.update(b"|")?;
        s.update(login_state.as_bytes())?;
        s.sign_to_vec()
    };
    sign().map(hex::encode).unwrap_or_default()
}

/// The pending login of `key`, if it exists and belongs to this browser.
fn pending(state: &AppState, headers: &HeaderMap, key: &str) -> Result<Option<Pending>, Response> {
    let p: Pending = match state.login().pending(key) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(None),
        // Unreadable (e.g. written by another release): logged by the engine, told as expired.
        Err(crate::store::StoreError::Corrupt(_)) => return Ok(None),
        Err(e) => return Err(store_failure(&e)),
    };
    if !BrowserBinding::matches(headers, &p.browser) {
        return Err(foreign_browser());
    }
    Ok(Some(p))
}

fn expired() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "invalid_state",
        "This login link is invalid, has expired or was already used. Go back to the application and start again.",
    )
}

fn app_name(state: &AppState, p: &Pending) -> String {
    let id = p.request.client_id();
    let t = &state.tenant;
    t.saml_sps
        .get(id)
        .map(|s| s.name.clone())
        .or_else(|| t.oidc_clients.get(id).map(|c| c.name.clone()))
        .unwrap_or_else(|| id.to_string())
}

fn render(
    state: &AppState,
    headers: &HeaderMap,
    p: &Pending,
    key: &str,
    username: &str,
    err: Option<&str>,
    status: StatusCode,
) -> Response {
    let existing = cookie(headers, CSRF_COOKIE).filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()));
    let csrf_cookie = existing.clone().unwrap_or_else(|| crate::util::random_hex(16));
    let token = csrf_token(state, &csrf_cookie, key);
    let mut r = pages::html(status, &pages::login_page(&app_name(state, p), key, &token, username, err));
    if existing.is_none() {
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(CSRF_COOKIE, &csrf_cookie, None, state.secure_cookies()),
        );
    }
    r
}

/// `GET /u/login?state=...`: the login form.
pub async fn login_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let Some(key) = q.state.filter(|s| !s.is_empty() && s.len() <= 64) else {
        return expired();
    };
    match pending(&state, &headers, &key) {
        Ok(Some(p)) => render(&state, &headers, &p, &key, "", None, StatusCode::OK),
        Ok(None) => expired(),
        Err(r) => r,
    }
}

/// `POST /u/login`: checks CSRF, the per-IP rate limit, the account lockout and the password;
/// on success the login's pipeline runs.
pub async fn login_submit(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    if f.state.is_empty() || f.state.len() > 64 {
        return expired();
    }
    if !state.limiter.allow(&ip.to_string(), now_ms(&state)) {
        tracing::warn!(%ip, "login rate limit exceeded");
        return super::too_many(false, "Too many login attempts from your network. Wait a minute and try again.");
    }
    let csrf_ok = cookie(&headers, CSRF_COOKIE).is_some_and(|c| {
        let expected = csrf_token(&state, &c, &f.state);
        !expected.is_empty() && crate::util::constant_time_eq(expected.as_bytes(), f.csrf.as_bytes())
    });
    if !csrf_ok {
        return error_page(
            StatusCode::FORBIDDEN,
            "invalid_csrf",
            "The form could not be verified (cookies disabled, or the page is stale). Reload the login page and try again.",
        );
    }
    let p = match pending(&state, &headers, &f.state) {
        Ok(Some(p)) => p,
        Ok(None) => return expired(),
        Err(r) => return r,
    };
    let username = f.username.trim().to_string();
    // The form again, with the username kept and a message.
    let again = |msg: &str, status| render(&state, &headers, &p, &f.state, &username, Some(msg), status);
    if username.is_empty() || f.password.is_empty() || username.len() > 256 || f.password.len() > 1024 {
        return again("Enter your username and password.", StatusCode::BAD_REQUEST);
    }
    let st = state.clone();
    let (u, pw) = (username.clone(), f.password);
    let now = now_ms(&state);
    let policy = state.tenant.login.lockout;
    let check = match tokio::task::spawn_blocking(move || st.store.login(&u, &pw, now, policy)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return store_failure(&e),
        Err(e) => {
            tracing::error!(error = %e, "the password check task failed");
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The login could not be completed.",
            );
        }
    };
    let user = match check {
        LoginCheck::Ok(u) => *u,
        LoginCheck::Invalid => {
            tracing::info!(%ip, "wrong username or password");
            return again("Wrong username or password.", StatusCode::UNAUTHORIZED);
        }
        LoginCheck::Locked(_) => {
            tracing::warn!(%ip, "login to a locked account");
            return again(
                "Your account has been blocked after multiple consecutive login attempts. Try again later.",
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
    };
    // Single use: a second submission of the same form cannot start a second login.
    let ctx = state.login();
    match ctx.take_pending(&f.state) {
        Ok(true) => {}
        Ok(false) => return expired(),
        Err(e) => return store_failure(&e),
    }
    // A password login always starts a new session (no fixation): an older one of this browser ends.
    if let Some(old) = cookie(&headers, super::SESSION_COOKIE)
        && let Err(e) = state.store.delete_session(&super::hash_secret(&old))
    {
        return store_failure(&e);
    }
    tracing::info!(user_id = %user.user_id, client_id = %p.request.client_id(), "password login");
    let session = ctx.new_session(&user.user_id);
    let browser = BrowserBinding::of(&headers);
    let answered = ctx.run(p.request, p.http, user, session, browser.hash()).await;
    flow::respond(&state, answered, &browser)
}

/// `GET /continue?state=...`.
pub async fn continue_get(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    resume(&state, &headers, q).await
}

/// `POST /continue` (form fields, plus `state` in the query or the form).
pub async fn continue_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let mut all = q;
    all.extend(f);
    resume(&state, &headers, all).await
}

async fn resume(state: &AppState, headers: &HeaderMap, params: HashMap<String, String>) -> Response {
    let Some(resume_state) = params.get("state").filter(|s| !s.is_empty() && s.len() <= 128).cloned() else {
        return error_page(StatusCode::BAD_REQUEST, "invalid_request", "The state parameter is missing.");
    };
    let map: Map<String, Value> = params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let browser = BrowserBinding::of(headers);
    let presented = BrowserBinding::presented_hash(headers);
    let answered = state.login().resume(&resume_state, map, presented).await;
    flow::respond(state, answered, &browser)
}
