//! The MFA pages: the factor picker, a challenge (code form), TOTP enrolment (QR code, secret,
//! first code) and the recovery code shown once. Same look, CSP and CSRF as the login page;
//! every input is labelled and the pages work with the keyboard alone.

use super::pages::{esc, layout};

/// What every MFA form carries.
pub struct FormContext<'a> {
    /// The application's name.
    pub app: &'a str,
    /// The MFA step's state key.
    pub state: &'a str,
    /// The CSRF token.
    pub csrf: &'a str,
}

fn hidden(c: &FormContext<'_>) -> String {
    format!(
        "<input type=\"hidden\" name=\"state\" value=\"{}\"><input type=\"hidden\" name=\"_csrf\" value=\"{}\">",
        esc(c.state),
        esc(c.csrf)
    )
}

fn error_line(error: Option<&str>) -> String {
    error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\" id=\"error\">{}</p>", esc(e))
    })
}

fn others(c: &FormContext<'_>, others: &[(&str, &str)]) -> String {
    if others.is_empty() {
        return String::new();
    }
    let buttons: String = others
        .iter()
        .map(|(id, label)| {
            format!(
                "<button type=\"submit\" name=\"factor\" value=\"{}\" class=\"link\">{}</button>",
                esc(id),
                esc(label)
            )
        })
        .collect();
    format!(
        "<form method=\"post\" action=\"/u/mfa\" id=\"others\">{}<input type=\"hidden\" name=\"action\" value=\"choose\"><p class=\"muted\">Try another method:</p>{buttons}</form>",
        hidden(c)
    )
}

/// `challengeWithAny` / `enrollWithAny` with several usable factors: choose one.
pub fn picker(c: &FormContext<'_>, enrol: bool, factors: &[(&str, &str)]) -> String {
    let buttons: String = factors
        .iter()
        .map(|(id, label)| {
            format!(
                "<button type=\"submit\" name=\"factor\" value=\"{}\">{}</button>",
                esc(id),
                esc(label)
            )
        })
        .collect();
    let what = if enrol { "Add a second factor" } else { "Verify it's you" };
    layout(
        what,
        &format!(
            "<h1>{what}</h1><p class=\"muted\">to continue to <strong>{}</strong>. Choose a method:</p>\
<form method=\"post\" action=\"/u/mfa\" id=\"picker\">{}<input type=\"hidden\" name=\"action\" value=\"choose\">{buttons}</form>",
            esc(c.app),
            hidden(c)
        ),
    )
}

/// A code form (authenticator app, email code, recovery code).
pub fn challenge(c: &FormContext<'_>, factor: &str, hint: &str, alternatives: &[(&str, &str)], error: Option<&str>) -> String {
    let (label, mode, resend) = match factor {
        "email" => (
            "Code from the email",
            "numeric",
            format!(
                "<form method=\"post\" action=\"/u/mfa\">{}<button type=\"submit\" name=\"action\" value=\"resend\" class=\"link\">Send a new code</button></form>",
                hidden(c)
            ),
        ),
        "recovery-code" => ("Recovery code", "text", String::new()),
        "phone" => (
            "Code from the text message or call",
            "numeric",
            format!(
                "<form method=\"post\" action=\"/u/mfa\">{}<button type=\"submit\" name=\"action\" value=\"resend\" class=\"link\">Send a new code</button></form>",
                hidden(c)
            ),
        ),
        _ => ("6-digit code from your authenticator app", "numeric", String::new()),
    };
    layout(
        "Verify it's you",
        &format!(
            "<h1>Verify it's you</h1><p class=\"muted\">to continue to <strong>{app}</strong></p><p id=\"hint\">{hint}</p>{err}\
<form method=\"post\" action=\"/u/mfa\" id=\"verify\">{h}<input type=\"hidden\" name=\"action\" value=\"verify\">\
<label for=\"code\">{label}</label><input type=\"text\" id=\"code\" name=\"code\" inputmode=\"{mode}\" autocomplete=\"one-time-code\" required autofocus>\
<button type=\"submit\">Continue</button></form>{resend}{others}",
            app = esc(c.app),
            hint = esc(hint),
            err = error_line(error),
            h = hidden(c),
            others = others(c, alternatives),
        ),
    )
}

/// TOTP enrolment: the QR code (inline SVG), the secret as text, and the first code.
pub fn enroll_otp(c: &FormContext<'_>, qr_svg: &str, secret_b32: &str, uri: &str, error: Option<&str>) -> String {
    // The SVG is made by the QR encoder from our own URI; its XML declaration is dropped.
    let svg = qr_svg.find("<svg").map_or("", |i| &qr_svg[i..]);
    layout(
        "Set up your authenticator app",
        &format!(
            "<h1>Set up your authenticator app</h1><p class=\"muted\">to continue to <strong>{app}</strong></p>\
<p>Scan this code with an authenticator app, or enter the key below.</p><figure id=\"qr\" role=\"img\" aria-label=\"QR code of the key\">{svg}</figure>\
<p>Key: <code id=\"secret\">{secret}</code></p><p class=\"muted\"><a id=\"otpauth\" href=\"{uri}\">Open in an authenticator app on this device</a></p>{err}\
<form method=\"post\" action=\"/u/mfa\" id=\"verify\">{h}<input type=\"hidden\" name=\"action\" value=\"verify\">\
<label for=\"code\">6-digit code from the app</label><input type=\"text\" id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required autofocus>\
<button type=\"submit\">Verify and continue</button></form>",
            app = esc(c.app),
            secret = esc(secret_b32),
            uri = esc(uri),
            err = error_line(error),
            h = hidden(c),
        ),
    )
}

/// The script of the WebAuthn page (allowed by its hash in the pages' CSP): runs the ceremony
/// of the form's `data-options` when the form is submitted, then posts the answer.
pub const WEBAUTHN_SCRIPT: &str = include_str!("webauthn.js");

/// A WebAuthn registration (`enrol`) or authentication: the options for the browser are in
/// the form's `data-options`; the button starts the ceremony. Without script the page says so.
pub fn webauthn(
    c: &FormContext<'_>,
    factor: &str,
    enrol: bool,
    options: &str,
    alternatives: &[(&str, &str)],
    error: Option<&str>,
) -> String {
    let roaming = factor == "webauthn-roaming";
    let (title, hint, button) = match (enrol, roaming) {
        (true, true) => (
            "Add your security key",
            "Insert your security key, then register it.",
            "Register the key",
        ),
        (true, false) => (
            "Use this device to log in",
            "Register this device's fingerprint, face or screen lock.",
            "Register this device",
        ),
        (false, true) => ("Verify it's you", "Insert your security key, then continue.", "Use my security key"),
        (false, false) => (
            "Verify it's you",
            "Use this device's fingerprint, face or screen lock.",
            "Use this device",
        ),
    };
    layout(
        title,
        &format!(
            "<h1>{title}</h1><p class=\"muted\">to continue to <strong>{app}</strong></p><p id=\"hint\">{hint}</p>{err}\
<form method=\"post\" action=\"/u/mfa\" id=\"webauthn\" data-mode=\"{mode}\" data-options=\"{options}\">{h}\
<input type=\"hidden\" name=\"action\" value=\"verify\"><input type=\"hidden\" name=\"credential\" id=\"credential\">\
<p id=\"webauthn-status\" role=\"status\" aria-live=\"polite\"></p>\
<noscript><p class=\"error\">This method needs JavaScript. Use another method.</p></noscript>\
<button type=\"submit\" id=\"webauthn-start\">{button}</button></form>{others}<script>{WEBAUTHN_SCRIPT}</script>",
            app = esc(c.app),
            err = error_line(error),
            mode = if enrol { "create" } else { "get" },
            options = esc(options),
            h = hidden(c),
            others = others(c, alternatives),
        ),
    )
}

/// Phone enrolment: the number and how the code should come.
pub fn enroll_phone(c: &FormContext<'_>, error: Option<&str>) -> String {
    layout(
        "Add your phone",
        &format!(
            "<h1>Add your phone</h1><p class=\"muted\">to continue to <strong>{app}</strong></p>{err}\
<form method=\"post\" action=\"/u/mfa\" id=\"phone\">{h}<input type=\"hidden\" name=\"action\" value=\"phone_number\">\
<label for=\"number\">Phone number, with the country code (e.g. +14155550123)</label>\
<input type=\"tel\" id=\"number\" name=\"number\" autocomplete=\"tel\" required autofocus>\
<fieldset><legend>Send the code by</legend>\
<label><input type=\"radio\" name=\"method\" value=\"sms\" checked> Text message</label>\
<label><input type=\"radio\" name=\"method\" value=\"voice\"> Voice call</label></fieldset>\
<button type=\"submit\">Send a code</button></form>",
            app = esc(c.app),
            err = error_line(error),
            h = hidden(c),
        ),
    )
}

/// The new recovery code, shown once.
pub fn recovery_code(c: &FormContext<'_>, code: &str) -> String {
    let grouped: Vec<String> = code.as_bytes().chunks(4).map(|g| String::from_utf8_lossy(g).into_owned()).collect();
    layout(
        "Save your recovery code",
        &format!(
            "<h1>Save your recovery code</h1><p>If you lose your device, this code lets you log in. It is shown only now; keep it somewhere safe.</p>\
<p><code id=\"recovery-code\">{}</code></p>\
<form method=\"post\" action=\"/u/mfa\" id=\"continue\">{}<input type=\"hidden\" name=\"action\" value=\"continue\">\
<button type=\"submit\">I have saved it, continue</button></form>",
            esc(&grouped.join("-")),
            hidden(c)
        ),
    )
}
