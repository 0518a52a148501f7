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
        // The standard base64 alphabet (A-Z a-z 0-9 + / =) has nothing HTML escapes.
        resp = b64,
        rs = escape_html(relay_state.unwrap_or("")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_posted_as_its_base64_and_the_other_values_are_escaped() {
        // Bytes whose base64 holds `+`, `/` and `=`.
        let xml = "<a>>>?~~~</a>";
        let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
        assert!(b64.contains('+') && b64.contains('/') && b64.ends_with('='), "{b64}");
        let page = auto_post_form("https://sp.example.com/acs?a=1&b=\"2\"", xml, Some("<rs>'"));
        assert!(page.contains(&format!("name=\"SAMLResponse\" value=\"{b64}\"")), "{page}");
        assert!(
            page.contains("action=\"https://sp.example.com/acs?a=1&amp;b=&#34;2&#34;\""),
            "{page}"
        );
        assert!(page.contains("name=\"RelayState\" value=\"&lt;rs&gt;&#39;\""), "{page}");
    }
}
