//! A refresh-token exchange is a login without a browser: its actions' metadata changes are
//! committed like a browser login's (a decision where the seeds are silent; README).

mod common;

use common::idp::*;
use serde_json::Value;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A password login of jane through `/authorize` (PKCE, offline_access) and the code redeemed:
/// the token response.
fn code_flow_tokens(base: &str, b: &mut Browser, extra: &str) -> Value {
    let (_, page) = b.follow(
        base,
        &format!("{base}/authorize?client_id=spa&response_type=code&redirect_uri={APP_CALLBACK}&scope=openid%20offline_access&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"),
    );
    let done = b.login(base, &page, "jane.doe@example.com", "jane-demo-password");
    let code = query(&done.location.expect("callback"))["code"].clone();
    let p = Browser::new().post(
        &format!("{base}/oauth/token"),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &code),
            ("redirect_uri", APP_CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(p.status, 200, "{}", p.body);
    serde_json::from_str(&p.body).expect("json")
}

#[test]
fn metadata_set_during_a_refresh_exchange_is_stored() {
    let dir = tempfile::tempdir().expect("dir");
    let action = dir.path().join("refresh-meta.js");
    std::fs::write(
        &action,
        "exports.onExecutePostLogin = async (event, api) => { if (event.transaction.protocol === 'oauth2-refresh-token') { api.user.setAppMetadata('refresh_seen', 'during-refresh'); api.user.setUserMetadata('theme', 'dark-from-refresh'); } };",
    )
    .expect("write");
    let idp = Idp::start_with_actions(&[action], 5000);
    let base = idp.base.clone();
    let first = code_flow_tokens(&base, &mut Browser::new(), "");
    let token = |form: &[(&str, &str)]| -> Value {
        let p = Browser::new().post(&format!("{base}/oauth/token"), form);
        assert_eq!(p.status, 200, "{}", p.body);
        serde_json::from_str(&p.body).expect("json")
    };
    assert!(!idp.database_text().contains("during-refresh"), "not before a refresh");
    let rt = first["refresh_token"].as_str().expect("refresh token").to_string();
    token(&[("grant_type", "refresh_token"), ("client_id", "spa"), ("refresh_token", &rt)]);
    let stored = idp.database_text();
    assert!(stored.contains("\"refresh_seen\":\"during-refresh\""), "app_metadata committed");
    assert!(stored.contains("\"theme\":\"dark-from-refresh\""), "user_metadata committed");
}

#[test]
fn an_action_code_cannot_choose_the_http_or_saml_status() {
    let dir = tempfile::tempdir().expect("dir");
    let action = dir.path().join("codes.js");
    std::fs::write(
        &action,
        "exports.onExecutePostLogin = async (event, api) => { if (event.transaction.protocol === 'oauth2-refresh-token') return api.validation.error('server_error', 'an action picked this code'); if (event.transaction.protocol === 'samlp') return api.validation.error('interaction_required', 'an action picked this code'); };",
    )
    .expect("write");
    let idp = Idp::start_with_actions(&[action], 5000);
    let base = idp.base.clone();
    // SAML: the code is the action's, the status is RequestDenied (not AuthnFailed / NoPassive,
    // which only the engine sets).
    let mut b = Browser::new();
    let (_, page) = b.follow(&base, &format!("{base}/samlp/sp-py"));
    let done = b.login(&base, &page, "jane.doe@example.com", "jane-demo-password");
    let b64 = done.field("SAMLResponse").expect("SAMLResponse");
    use base64::Engine;
    let xml = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).expect("b64")).expect("utf8");
    assert!(xml.contains("status:RequestDenied"), "{xml}");
    assert!(!xml.contains("AuthnFailed") && !xml.contains("NoPassive"), "{xml}");
    // OIDC refresh: the action's "server_error" is a 403 refusal, not an HTTP 500.
    let tokens = code_flow_tokens(&base, &mut b, "&prompt=login");
    let rt = tokens["refresh_token"].as_str().expect("refresh token");
    let p = Browser::new().post(
        &format!("{base}/oauth/token"),
        &[("grant_type", "refresh_token"), ("client_id", "spa"), ("refresh_token", rt)],
    );
    assert_eq!(p.status, 403, "{}", p.body);
    assert!(p.body.contains("\"error\":\"server_error\""), "the code passes through: {}", p.body);
}
