//! The time of authentication as relying parties read it, checked by independent libraries:
//! SAML `AuthnInstant` on SSO through a session (python3-saml), OIDC `auth_time` after a
//! refresh and `max_age` on `/authorize` (PyJWT).

mod common;

use base64::Engine;
use common::idp::*;
use serde_json::{Value, json};

fn sp_verdict(page: &Page) -> Value {
    let b64 = page
        .field("SAMLResponse")
        .unwrap_or_else(|| panic!("no SAMLResponse in {}", page.body));
    let job = json!({
        "response_b64": b64,
        "acs_url": format!("{SP_BASE}/acs"),
        "sp_entity_id": format!("{SP_BASE}/metadata"),
        "idp_entity_id": "urn:e2e",
        "idp_cert": common::read("certs/idp-test.crt"),
    });
    let v = common::python_sp(&job);
    assert_eq!(
        v["valid"],
        true,
        "{v}\n{}",
        String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default())
    );
    v
}

#[test]
fn sso_through_a_session_keeps_the_original_authn_instant() {
    let idp = Idp::start("");
    let mut b = Browser::new();
    let (_, page) = b.follow(&idp.base, &format!("{}/samlp/sp-py", idp.base));
    let first = sp_verdict(&b.login(&idp.base, &page, "jane.doe@example.com", "jane-demo-password"));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let second = sp_verdict(&b.get(&format!("{}/samlp/sp-py", idp.base)));
    assert_eq!(second["authn_instant"], first["authn_instant"], "{first} {second}");
    assert_ne!(
        second["issue_instant"], first["issue_instant"],
        "a new response, the same authentication"
    );
}

#[test]
fn refreshed_id_tokens_keep_auth_time_and_max_age_forces_a_new_login() {
    let idp = Idp::start("");
    let out = idp.python(
        "oidc_auth_time.py",
        json!({"redirect_uri": APP_CALLBACK, "username": "jane.doe@example.com", "password": "jane-demo-password"}),
    );
    let first = &out["first"];
    assert_eq!(out["refreshed"]["auth_time"], first["auth_time"], "{out}");
    assert!(out["refreshed"]["iat"].as_i64() > first["iat"].as_i64(), "{out}");
    assert!(out["max_age_1"].as_str().is_some_and(|l| l.starts_with("/u/login")), "{out}");
    assert_eq!(out["max_age_1_prompt_none"], "login_required", "{out}");
    assert_eq!(out["max_age_3600"]["auth_time"], first["auth_time"], "{out}");
    assert_eq!(
        out["refreshed_from_sso"]["auth_time"], first["auth_time"],
        "not the time the refresh token was minted: {out}"
    );
    assert_eq!(out["max_age_invalid"], "invalid_request", "{out}");
}
