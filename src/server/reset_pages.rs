//! The password-reset pages: the request form, "check your email", the link's page, the new
//! password form and "password changed". Same look, CSP and CSRF as the login page.

use super::pages::{esc, layout};

fn error_line(error: Option<&str>) -> String {
    error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\" id=\"error\">{}</p>", esc(e))
    })
}

/// "Forgot your password?": the login name or email.
pub fn request_form(client_id: &str, csrf: &str, error: Option<&str>) -> String {
    layout(
        "Reset your password",
        &format!(
            "<h1>Reset your password</h1><p class=\"muted\">Enter your username or email. If it belongs to an account, we will send a link to reset the password.</p>{err}\
<form method=\"post\" action=\"/u/reset-password\" id=\"reset-request\">\
<input type=\"hidden\" name=\"client_id\" value=\"{client}\"><input type=\"hidden\" name=\"_csrf\" value=\"{csrf}\">\
<label for=\"identifier\">Username or email</label><input type=\"text\" id=\"identifier\" name=\"identifier\" autocomplete=\"username\" required autofocus>\
<button type=\"submit\">Send the link</button></form>",
            err = error_line(error),
            client = esc(client_id),
            csrf = esc(csrf),
        ),
    )
}

/// The same answer whether or not the account exists.
pub fn check_your_email(minutes: i64) -> String {
    layout(
        "Check your email",
        &format!(
            "<h1>Check your email</h1><p id=\"sent\">If the account exists and has an email address, we sent it a link to reset the password. The link works once, for {minutes} minutes.</p>"
        ),
    )
}

/// The link's page: a button, so that mail scanners fetching the link do not use it.
pub fn confirm(ticket: &str, csrf: &str) -> String {
    layout(
        "Reset your password",
        &format!(
            "<h1>Reset your password</h1><p>Continue to choose a new password.</p>\
<form method=\"post\" action=\"/u/reset-password/confirm\" id=\"reset-confirm\">\
<input type=\"hidden\" name=\"ticket\" value=\"{t}\"><input type=\"hidden\" name=\"_csrf\" value=\"{c}\">\
<button type=\"submit\">Continue</button></form>",
            t = esc(ticket),
            c = esc(csrf),
        ),
    )
}

/// The new password, twice.
pub fn new_password(state: &str, csrf: &str, min_length: usize, error: Option<&str>) -> String {
    layout(
        "Choose a new password",
        &format!(
            "<h1>Choose a new password</h1><p class=\"muted\">At least {min_length} characters; avoid your name, email and common words.</p>{err}\
<form method=\"post\" action=\"/u/reset-password/new\" id=\"new-password\">\
<input type=\"hidden\" name=\"state\" value=\"{s}\"><input type=\"hidden\" name=\"_csrf\" value=\"{c}\">\
<label for=\"password\">New password</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"new-password\" minlength=\"{min_length}\" required autofocus>\
<label for=\"confirm\">Repeat the new password</label><input type=\"password\" id=\"confirm\" name=\"confirm\" autocomplete=\"new-password\" required>\
<button type=\"submit\">Change the password</button></form>",
            err = error_line(error),
            s = esc(state),
            c = esc(csrf),
        ),
    )
}

/// Done, with a link back to the application when known.
pub fn changed(back_to: Option<&(String, String)>) -> String {
    let back = back_to.map_or(String::new(), |(name, url)| {
        format!("<p><a id=\"back\" href=\"{}\">Back to {}</a></p>", esc(url), esc(name))
    });
    layout(
        "Password changed",
        &format!("<h1>Password changed</h1><p id=\"changed\">Your password was changed. Log in with the new one.</p>{back}"),
    )
}
