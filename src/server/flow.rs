//! The HTTP side of a login: extract what the login needs from the request, call the login
//! engine ([`crate::login`]), and turn its typed [`Answer`] into a response.

use std::sync::{Arc, OnceLock};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

use super::error::page_status;
use super::pages;
use super::{AppState, BrowserBinding, SESSION_COOKIE, WebError, WebResult, cookie, set_cookie};
use crate::login::{Answer, Answered, CookieChange, Io, LoginRequest, NewLogin, PageError, Start};
use crate::pipeline::event;

/// Query parameters that carry protocol payloads, kept out of `event.request.query` (and so out
/// of stored pending logins): they can be 64 KiB and actions have the parsed request instead.
const PROTOCOL_PAYLOAD_PARAMS: [&str; 3] = ["SAMLRequest", "Signature", "SigAlg"];

/// What the blocking step that begins a login decided.
enum Begun {
    Answered(Answered),
    Throttled,
}

/// Starts a login: with a live session (and no `prompt=login`/`ForceAuthn`/expired `max_age`)
/// the pipeline runs at once; otherwise the browser goes to the login page.
pub async fn begin(state: &AppState, request: LoginRequest, http: event::Request, headers: &HeaderMap) -> WebResult {
    begin_with(state, move |_| Ok(request), http, headers).await
}

/// [`begin`] for a request that is read on the blocking pool first (`make`: parsing, signature
/// and replay checks). The whole step (`make`, the session lookup, the pipeline and the
/// delivery of its end) is one task off the async workers, under the watchdog.
pub async fn begin_with(
    state: &AppState,
    make: impl FnOnce(&Io) -> Result<LoginRequest, WebError> + Send + 'static,
    http: event::Request,
    headers: &HeaderMap,
) -> WebResult {
    let ctx = state.login();
    let browser = BrowserBinding::of(headers);
    let binding = browser.hash();
    let session_cookie = cookie(headers, SESSION_COOKIE);
    let remembered = cookie(headers, super::MFA_REMEMBER_COOKIE);
    // The request, for the answer when the watchdog abandons the pipeline.
    let fallback = Arc::new(OnceLock::new());
    let slot = fallback.clone();
    let limiter = state.pending_limiter.clone();
    let begun = ctx
        .pipeline(move |io| -> Result<Begun, WebError> {
            let request = make(io)?;
            let _ = slot.set(request.clone());
            let login = NewLogin::new(request, http, binding).with_remembered(remembered);
            Ok(match io.start(login, session_cookie.as_deref())? {
                Start::Session(a) => Begun::Answered(io.run(*a)),
                Start::Refused(a) => Begun::Answered(a),
                // Pending logins are stored before anyone authenticated: their number per IP is
                // limited, and so is their size (RelayState is bounded at intake).
                Start::NeedsPassword(n) if !limiter.allow(io.store(), n.ip(), io.now_ms()) => {
                    tracing::warn!(ip = %n.ip(), "too many logins started from one address");
                    Begun::Throttled
                }
                Start::NeedsPassword(n) => Begun::Answered(
                    match n.await_password(io)? {
                        Some(key) => Answer::Redirect(format!("/u/login?state={key}")),
                        None => Answer::error(PageError::TooLarge, "invalid_request", "The login request is too large."),
                    }
                    .into(),
                ),
            })
        })
        .await;
    let answered = match begun {
        Ok(Ok(Begun::Answered(a))) => a,
        Ok(Ok(Begun::Throttled)) => {
            return Err(WebError::TooMany {
                json: false,
                description: "Too many logins were started from your network. Wait a minute and try again.",
            });
        }
        Ok(Err(e)) => return Err(e),
        Err(stop) => match fallback.get() {
            Some(request) => ctx.stopped(request, &stop).into(),
            None => {
                tracing::error!(error = %stop, "a login task ended before its request was read");
                Answer::error(PageError::Internal, "server_error", "The login could not be completed.").into()
            }
        },
    };
    respond(state, answered, &browser)
}

/// The response to a form POST of this server's pages (/u/login, /u/mfa, /continue): like
/// [`respond`], but a redirect to another origin becomes a page that navigates there, because
/// the pages' CSP (`form-action 'self'`) forbids redirecting a form submission elsewhere.
pub fn respond_to_form(state: &AppState, answered: Answered, browser: &BrowserBinding) -> WebResult {
    Ok(navigate_after_form(respond(state, answered, browser)?))
}

/// A redirect to another origin, answered to a form POST, as a page that navigates there.
pub fn navigate_after_form(mut resp: axum::response::Response) -> axum::response::Response {
    let target = (resp.status() == StatusCode::FOUND)
        .then(|| {
            resp.headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .flatten()
        .filter(|l| !l.starts_with('/'));
    if let Some(url) = target {
        let mut page = pages::continue_to(&url);
        for c in resp.headers_mut().get_all(header::SET_COOKIE) {
            page.headers_mut().append(header::SET_COOKIE, c.clone());
        }
        resp = page;
    }
    resp
}

/// The response for a login step's answer (with its session cookie change, and the browser's
/// transaction cookie when it was minted for this request and the answer sends the browser on).
pub fn respond(state: &AppState, answered: Answered, browser: &BrowserBinding) -> WebResult {
    let secure = state.secure_cookies();
    let mut resp = match answered.answer {
        Answer::SamlPost { acs_url, xml, relay_state } => pages::auto_post(
            StatusCode::OK,
            &crate::saml::form::auto_post_form(&acs_url, &xml, relay_state.as_deref()),
            &acs_url,
        ),
        Answer::OidcCallback {
            redirect_uri,
            form_post,
            fields,
        } => oidc_redirect(&redirect_uri, form_post, &fields)?,
        Answer::Redirect(url) => {
            let mut r = super::found(&url)?;
            browser.attach(&mut r, secure);
            r
        }
        Answer::Error { kind, code, description } => return Err(WebError::page(page_status(kind), code, description)),
        Answer::StoreFailure(e) => return Err(WebError::Store(e)),
    };
    match answered.session_cookie {
        Some(CookieChange::Set { value, max_age }) => {
            resp.headers_mut()
                .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &value, max_age, secure));
        }
        Some(CookieChange::Clear) => {
            resp.headers_mut()
                .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0), secure));
        }
        None => {}
    }
    if let Some((token, max_age)) = answered.remember_browser {
        resp.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(super::MFA_REMEMBER_COOKIE, &token, Some(max_age), secure),
        );
    }
    Ok(resp)
}

/// Sends the browser back to the application's redirect URI with `fields` (query or form_post).
pub fn oidc_redirect(redirect_uri: &str, form_post: bool, fields: &[(String, String)]) -> WebResult {
    if form_post {
        let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        return Ok(pages::auto_post(StatusCode::OK, &pages::form_post(redirect_uri, &f), redirect_uri));
    }
    let mut url = url::Url::parse(redirect_uri).map_err(|_| WebError::bad_request("invalid_request", "The redirect URI is not a URL."))?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in fields {
            q.append_pair(k, v);
        }
    }
    let mut r = super::found(url.as_str())?;
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `event.request` from an HTTP request.
pub fn http_event(
    method: &str,
    headers: &HeaderMap,
    ip: std::net::IpAddr,
    query: serde_json::Map<String, serde_json::Value>,
) -> event::Request {
    let h = |n: header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    event::Request {
        ip: ip.to_string(),
        hostname: h(header::HOST).map(|v| v.split(':').next().unwrap_or_default().to_string()),
        method: method.to_string(),
        user_agent: h(header::USER_AGENT),
        language: h(header::ACCEPT_LANGUAGE).and_then(|l| l.split([',', ';']).next().map(str::to_string)),
        query: query
            .into_iter()
            .filter(|(k, _)| !PROTOCOL_PAYLOAD_PARAMS.contains(&k.as_str()))
            .collect(),
        ..Default::default()
    }
}
