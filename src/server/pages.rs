//! Server-rendered HTML: the login page, error pages, the logged-out page, form_post.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::saml::form::AUTO_SUBMIT_SCRIPT;

// HTML escaping for element content and double-quoted attributes.
pub(super) use crate::saml::xml::escape_html as esc;

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}\
main{max-width:360px;margin:10vh auto;background:#fff;padding:2em;border-radius:8px;box-shadow:0 1px 4px #0002}\
h1{font-size:1.3em;margin-top:0}label{display:block;margin:.8em 0 .2em}input[type=text],input[type=password]\
{width:100%;box-sizing:border-box;padding:.6em;font-size:1em}button{margin-top:1.2em;width:100%;padding:.7em;\
font-size:1em;background:#2b59c3;color:#fff;border:0;border-radius:4px}.error{color:#b00020}.muted{color:#666;font-size:.9em}";

pub(super) fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>{t}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        t = esc(title)
    )
}

fn sha256_source(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(openssl::sha::sha256(text.as_bytes()))
    )
}

/// The Content-Security-Policy of every page, without `form-action`: nothing may load, the one
/// style block, the auto-submit script and the WebAuthn script are allowed by hash, no framing, no `<base>`.
static CSP_BASE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src {}; script-src {} {}; frame-ancestors 'none'; base-uri 'none'",
        sha256_source(STYLE),
        sha256_source(AUTO_SUBMIT_SCRIPT),
        sha256_source(super::mfa_pages::WEBAUTHN_SCRIPT)
    )
});

fn with_headers(status: StatusCode, body: &str, csp: &str) -> Response {
    let mut r = (status, body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

/// The script of the front-channel logout page: when every iframe has loaded, go on.
const CONTINUE_ON_LOAD_SCRIPT: &str =
    "window.addEventListener('load',function(){location.replace(document.getElementById('next').href);});";

/// OpenID Connect Front-Channel Logout 1.0: each application's logout URI in a hidden iframe,
/// then (once they loaded) on to `next`. Frames may load only those origins.
pub fn frontchannel_logout(urls: &[String], next: &str) -> Response {
    let frames: String = urls
        .iter()
        .map(|u| format!("<iframe src=\"{}\" style=\"display:none\" title=\"logout\"></iframe>", esc(u)))
        .collect();
    let body = layout(
        "Logging out",
        &format!(
            "<h1>Logging out&hellip;</h1>{frames}<p><a id=\"next\" href=\"{}\">Continue</a></p><script>{CONTINUE_ON_LOAD_SCRIPT}</script>",
            esc(next)
        ),
    );
    let origins: Vec<String> = urls
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .map(|u| u.origin())
        .filter(url::Origin::is_tuple)
        .map(|o| o.ascii_serialization().replace(';', ""))
        .collect();
    let csp = format!(
        "default-src 'none'; style-src {}; script-src {}; frame-src {}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        sha256_source(STYLE),
        sha256_source(CONTINUE_ON_LOAD_SCRIPT),
        if origins.is_empty() {
            "'none'".to_string()
        } else {
            origins.join(" ")
        },
    );
    with_headers(StatusCode::OK, &body, &csp)
}

/// After a form POST: a page that goes on to `next` by a navigation (not a redirect of the
/// POST, which the pages' `form-action 'self'` would block in browsers that apply it to
/// redirects). The link works without script.
pub fn continue_to(next: &str) -> Response {
    let body = layout(
        "Continuing",
        &format!(
            "<h1>Continuing&hellip;</h1><p><a id=\"next\" href=\"{}\">Continue</a></p><script>{CONTINUE_ON_LOAD_SCRIPT}</script>",
            esc(next)
        ),
    );
    let csp = format!(
        "default-src 'none'; style-src {}; script-src {}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        sha256_source(STYLE),
        sha256_source(CONTINUE_ON_LOAD_SCRIPT),
    );
    with_headers(StatusCode::OK, &body, &csp)
}

/// An HTML page of this server (forms post only to this server).
pub fn html(status: StatusCode, body: &str) -> Response {
    with_headers(status, body, &format!("{}; form-action 'self'", *CSP_BASE))
}

/// An auto-submitting page that posts to `target` (an ACS URL or a redirect URI already checked
/// against the client's registration): forms may post to that origin only.
pub fn auto_post(status: StatusCode, body: &str, target: &str) -> Response {
    let origin = url::Url::parse(target)
        .ok()
        .map(|u| u.origin())
        .filter(url::Origin::is_tuple)
        .map(|o| o.ascii_serialization());
    let form_action = origin.map_or_else(|| "*".to_string(), |o| o.replace(';', ""));
    with_headers(status, body, &format!("{}; form-action {form_action}", *CSP_BASE))
}

/// The login form.
pub fn login_page(app_name: &str, state: &str, csrf: &str, username: &str, error: Option<&str>, reset: Option<&str>) -> String {
    let reset = reset.map_or(String::new(), |u| {
        format!(
            "<p class=\"muted\"><a id=\"forgot\" href=\"{}\">Forgot your password?</a></p>",
            esc(u)
        )
    });
    let err = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\" id=\"error\">{}</p>", esc(e))
    });
    layout(
        "Log in",
        &format!(
            "<h1>Log in</h1><p class=\"muted\">to continue to <strong>{app}</strong></p>{err}\
<form method=\"post\" action=\"/u/login\">\
<input type=\"hidden\" name=\"state\" value=\"{state}\"><input type=\"hidden\" name=\"_csrf\" value=\"{csrf}\">\
<label for=\"username\">Username or email</label><input type=\"text\" id=\"username\" name=\"username\" value=\"{user}\" autocomplete=\"username\" required autofocus>\
<label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\" name=\"action\" value=\"default\">Continue</button></form>{reset}",
            app = esc(app_name),
            state = esc(state),
            csrf = esc(csrf),
            user = esc(username),
        ),
    )
}

/// An error page.
pub fn error_page(code: &str, description: &str) -> String {
    layout(
        "Error",
        &format!(
            "<h1>Something went wrong</h1><p class=\"error\" id=\"error-code\">{}</p><p id=\"error-description\">{}</p>",
            esc(code),
            esc(description)
        ),
    )
}

/// The page shown after a logout without a return URL.
pub fn logged_out_page() -> String {
    layout("Logged out", "<h1>You are logged out</h1><p>You can close this window.</p>")
}

/// "Log out?": a form that posts the (already validated) logout request back with `confirm`.
pub fn logout_confirmation(app_name: Option<&str>, fields: &[(&str, &str)]) -> String {
    let inputs: String = fields
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(k), esc(v)))
        .collect();
    let from = app_name.map_or(String::new(), |a| format!(" <strong>{}</strong> asks to log you out.", esc(a)));
    layout(
        "Log out?",
        &format!(
            "<h1>Log out?</h1><p>Do you want to log out of your account?{from}</p>\
<form method=\"post\" action=\"/oidc/logout\" id=\"logout\">{inputs}<button type=\"submit\">Log out</button></form>"
        ),
    )
}

/// OAuth `response_mode=form_post`: an auto-submitting form to the redirect URI.
pub fn form_post(action: &str, fields: &[(&str, &str)]) -> String {
    let inputs: String = fields
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(k), esc(v)))
        .collect();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Submit This Form</title></head>\
<body><form method=\"post\" action=\"{}\">{inputs}\
<noscript><button type=\"submit\">Continue</button></noscript></form><script>{AUTO_SUBMIT_SCRIPT}</script></body></html>\n",
        esc(action)
    )
}
