//! HTTP-POST binding delivery: an auto-submitting HTML form.

use base64::Engine;

use super::xml::escape_html;

/// The one script of every auto-submitting page (SAML POST binding, OIDC form_post). The
/// server's Content-Security-Policy allows exactly this script by its hash, nothing else.
pub const AUTO_SUBMIT_SCRIPT: &str = "document.forms[0].submit();";

/// The HTML page that POSTs `SAMLResponse` (base64 of the XML) and `RelayState` to the ACS URL.
pub fn auto_post_form(acs_url: &str, response_xml: &str, relay_state: Option<&str>) -> String {
    auto_post_form_named(acs_url, "SAMLResponse", response_xml, relay_state)
}

/// The HTML page that POSTs a SAML message as `field` (`SAMLRequest` or `SAMLResponse`).
pub fn auto_post_form_named(acs_url: &str, field: &str, response_xml: &str, relay_state: Option<&str>) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(response_xml.as_bytes());
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Working...</title></head>\
<body><form method=\"post\" name=\"hiddenform\" action=\"{action}\">\
<input type=\"hidden\" name=\"{field}\" value=\"{resp}\">\
<input type=\"hidden\" name=\"RelayState\" value=\"{rs}\">\
<noscript><p>Script is disabled. Click Submit to continue.</p><input type=\"submit\" value=\"Submit\"></noscript>\
</form><script>{AUTO_SUBMIT_SCRIPT}</script></body></html>\n",
        action = escape_html(acs_url),
        field = escape_html(field),
        resp = escape_html(&b64),
        rs = escape_html(relay_state.unwrap_or("")),
    )
}
