//! `/u/login` (the login form) and `/continue` (resuming a redirect action).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::flow;
use super::{AppState, BrowserBinding, CSRF_COOKIE, ClientIp, WebError, WebResult, cookie, pages, set_cookie};
use crate::login::{Authenticated, AwaitingPassword, PasswordRefused, StateError};

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

/// The CSRF token bound to the browser's CSRF cookie and to the login's state (or a form's
/// purpose).
pub(super) fn csrf_token(state: &AppState, cookie_value: &str, login_state: &str) -> String {
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

fn app_name(state: &AppState, p: &AwaitingPassword) -> String {
    let id = p.request().client_id();
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
    p: &AwaitingPassword,
    username: &str,
    err: Option<&str>,
    status: StatusCode,
) -> axum::response::Response {
    let (token, set) = csrf_for(state, headers, p.key());
    // OIDC `login_hint` pre-fills the username the first time the form is shown.
    let username = if username.is_empty() {
        p.request().login_hint().unwrap_or_default()
    } else {
        username
    };
    // "Forgot your password?" when reset links can be sent.
    let reset = state.login().tenant.password_reset.email.is_some().then(|| {
        let client: String = url::form_urlencoded::byte_serialize(p.request().client_id().as_bytes()).collect();
        format!("/u/reset-password?client_id={client}")
    });
    let page = pages::login_page(&app_name(state, p), p.key(), &token, username, err, reset.as_deref());
    let mut r = pages::html(status, &page);
    if let Some(c) = set {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// A CSRF token for a form of `purpose`, and the CSRF cookie to set when the browser has none.
pub(super) fn csrf_for(state: &AppState, headers: &HeaderMap, purpose: &str) -> (String, Option<axum::http::HeaderValue>) {
    let existing = cookie(headers, CSRF_COOKIE).filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()));
    let csrf_cookie = existing.clone().unwrap_or_else(|| crate::util::random_hex(16));
    let token = csrf_token(state, &csrf_cookie, purpose);
    let set = existing
        .is_none()
        .then(|| set_cookie(CSRF_COOKIE, &csrf_cookie, None, state.secure_cookies()));
    (token, set)
}

/// Whether a form's CSRF token matches the browser's CSRF cookie for `purpose` (constant time).
pub(super) fn csrf_ok(state: &AppState, headers: &HeaderMap, purpose: &str, presented: &str) -> bool {
    cookie(headers, CSRF_COOKIE).is_some_and(|c| {
        let expected = csrf_token(state, &c, purpose);
        !expected.is_empty() && crate::util::constant_time_eq(expected.as_bytes(), presented.as_bytes())
    })
}

fn expired() -> WebError {
    StateError::Expired.into()
}

/// `GET /u/login?state=...`: the login form.
pub async fn login_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> WebResult {
    let key = q.state.filter(|s| !s.is_empty() && s.len() <= 64).ok_or_else(expired)?;
    let presented = BrowserBinding::presented_hash(&headers);
    let p = state
        .login()
        .blocking(move |io| io.awaiting_password(&key, presented.as_deref()))
        .await??;
    Ok(render(&state, &headers, &p, "", None, StatusCode::OK))
}

/// What the password step decided.
enum Checked {
    Throttled,
    Run(Box<Authenticated>),
    Refused(Box<AwaitingPassword>, PasswordRefused),
}

/// `POST /u/login`: checks CSRF, the per-IP rate limit, the account lockout and the password;
/// on success the login's pipeline runs.
pub async fn login_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> WebResult {
    if f.state.is_empty() || f.state.len() > 64 {
        return Err(expired());
    }
    let csrf_ok = csrf_ok(&state, &headers, &f.state, &f.csrf);
    let username = f.username.trim().to_string();
    let well_formed = !username.is_empty() && !f.password.is_empty() && username.len() <= 256 && f.password.len() <= 1024;
    let presented = BrowserBinding::presented_hash(&headers);
    let old_session = cookie(&headers, super::SESSION_COOKIE);
    let limiter = state.limiter.clone();
    let (key, user, password) = (f.state.clone(), username.clone(), f.password);
    // One trip to the blocking pool: the rate limit, the state, the password, and (right) the
    // state consumed and the old session ended.
    let checked = state
        .login()
        .blocking(move |io| -> Result<Result<Checked, WebError>, StateError> {
            if !limiter.allow(io.store(), &ip.to_string(), io.now_ms()) {
                return Ok(Ok(Checked::Throttled));
            }
            if !csrf_ok {
                return Ok(Err(WebError::page(
                    StatusCode::FORBIDDEN,
                    "invalid_csrf",
                    "The form could not be verified (cookies disabled, or the page is stale). Reload the login page and try again.",
                )));
            }
            let p = io.awaiting_password(&key, presented.as_deref())?;
            if !well_formed {
                return Ok(Ok(Checked::Refused(Box::new(p), PasswordRefused::Invalid)));
            }
            Ok(Ok(match p.check_password(io, &user, &password, old_session.as_deref())? {
                Ok(a) => Checked::Run(Box::new(a)),
                Err((p, why)) => Checked::Refused(Box::new(p), why),
            }))
        })
        .await???;
    let (p, why) = match checked {
        Checked::Run(a) => {
            let browser = BrowserBinding::of(&headers);
            let answered = state.login().run(*a).await;
            return flow::respond_to_form(&state, answered, &browser);
        }
        Checked::Throttled => {
            tracing::warn!(%ip, "login rate limit exceeded");
            return Err(WebError::TooMany {
                json: false,
                description: "Too many login attempts from your network. Wait a minute and try again.",
            });
        }
        Checked::Refused(p, why) => (p, why),
    };
    // The form again, with the username kept and a message.
    let (msg, status) = match why {
        _ if !well_formed => ("Enter your username and password.", StatusCode::BAD_REQUEST),
        PasswordRefused::Invalid => {
            tracing::info!(%ip, "wrong username or password");
            ("Wrong username or password.", StatusCode::UNAUTHORIZED)
        }
        PasswordRefused::Locked => {
            tracing::warn!(%ip, "login to a locked account");
            (
                "Your account has been blocked after multiple consecutive login attempts. Try again later.",
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
    };
    Ok(render(&state, &headers, &p, &username, Some(msg), status))
}

/// `GET /continue?state=...`.
pub async fn continue_get(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> WebResult {
    resume(&state, &headers, q, false).await
}

/// `POST /continue` (form fields, plus `state` in the query or the form).
pub async fn continue_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Form(f): Form<HashMap<String, String>>,
) -> WebResult {
    let mut all = q;
    all.extend(f);
    resume(&state, &headers, all, true).await
}

async fn resume(state: &AppState, headers: &HeaderMap, params: HashMap<String, String>, form: bool) -> WebResult {
    let Some(resume_state) = params.get("state").filter(|s| !s.is_empty() && s.len() <= 128).cloned() else {
        return Err(WebError::bad_request("invalid_request", "The state parameter is missing."));
    };
    let map: Map<String, Value> = params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let browser = BrowserBinding::of(headers);
    let presented = BrowserBinding::presented_hash(headers);
    let ctx = state.login();
    let redirected = ctx.blocking(move |io| io.redirected(&resume_state, presented.as_deref())).await??;
    let answered = ctx.resume(redirected, map).await;
    if form {
        flow::respond_to_form(state, answered, &browser)
    } else {
        flow::respond(state, answered, &browser)
    }
}
