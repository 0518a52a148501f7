//! SAML SSO end to end through a running server, with python3-saml as the SP: it reads
//! idpipe's metadata, builds the AuthnRequest, and validates the Response in strict mode.

mod common;

use common::idp::*;
use common::read;
use serde_json::json;

const JANE: (&str, &str) = ("jane.doe@example.com", "jane-demo-password");

fn job(client_id: &str) -> serde_json::Value {
    json!({"client_id": client_id, "username": JANE.0, "password": JANE.1})
}

fn assert_jane(out: &serde_json::Value) {
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["nameid"], "auth0|5f7c8ec7c33c6c004bbafe82", "{out}");
    assert_eq!(out["form_action"], format!("{SP_BASE}/acs"));
    // Set by fixtures/cli-actions/saml-attributes.js from app_metadata.plan.
    assert_eq!(
        out["attributes"]["http://schemas.example.com/claims/plan"],
        json!(["gold"]),
        "{out}"
    );
    assert_eq!(
        out["attributes"]["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"],
        json!(["jane.doe@example.com"])
    );
}

#[test]
fn redirect_binding_unsigned_request_then_sso_without_password() {
    let idp = Idp::start("");
    let mut j = job("sp-py");
    j["then_sso_again"] = true.into();
    let out = idp.python("saml_e2e.py", j);
    assert_jane(&out);
    assert_eq!(out["saw_login_page"], true);
    assert_eq!(out["relay_state"], "relay-123");
    assert!(out["in_response_to"].as_str().is_some_and(|s| s.starts_with("ONELOGIN_")), "{out}");
    assert_eq!(out["second_login_page"], false, "the session cookie gives SSO: {out}");
    assert_eq!(out["second_valid"], true, "{out}");
}

#[test]
fn post_binding_unsigned_request() {
    let idp = Idp::start("");
    let mut j = job("sp-py");
    j["binding"] = "post".into();
    let out = idp.python("saml_e2e.py", j);
    assert_jane(&out);
    assert!(out["in_response_to"].as_str().is_some_and(|s| s.starts_with("ONELOGIN_")), "{out}");
}

fn signed(binding: &str) -> serde_json::Value {
    let mut j = job("sp-py-signed");
    j["binding"] = binding.into();
    j["sign"] = true.into();
    j["sp_cert"] = read("certs/sp-test.crt").into();
    j["sp_key"] = read("certs/sp-test.key").into();
    j
}

#[test]
fn redirect_binding_signed_request() {
    let idp = Idp::start("");
    assert_jane(&idp.python("saml_e2e.py", signed("redirect")));
}

#[test]
fn post_binding_signed_request() {
    let idp = Idp::start("");
    assert_jane(&idp.python("saml_e2e.py", signed("post")));
}

#[test]
fn an_sp_that_signs_refuses_unsigned_and_tampered_requests() {
    let idp = Idp::start("");
    // Unsigned request to an SP whose settings carry a signing cert.
    let mut j = job("sp-py-signed");
    j["sign"] = false.into();
    let out = idp.python("saml_e2e.py", j);
    assert_eq!(out["ok"], false);
    assert_eq!(out["stage"], "after_login", "{out}");
    assert_eq!(out["detail"]["status"], 403, "{out}");
    assert!(
        out["detail"]["body"].as_str().unwrap_or_default().contains("MUST be signed"),
        "{out}"
    );
    // Signed, then the signed query altered.
    let mut j = signed("redirect");
    j["tamper"] = true.into();
    let out = idp.python("saml_e2e.py", j);
    assert_eq!(out["status"], 403, "{out}");
    assert!(out["body"].as_str().unwrap_or_default().contains("Signature check errors"), "{out}");
}

#[test]
fn idp_initiated_login() {
    let idp = Idp::start("");
    let mut j = job("sp-py");
    j["idp_initiated"] = true.into();
    j["relay_state"] = "https://sp.example.com/deep/link".into();
    let out = idp.python("saml_e2e.py", j);
    assert_jane(&out);
    assert_eq!(out["in_response_to"], serde_json::Value::Null, "unsolicited: {out}");
    assert_eq!(out["relay_state"], "https://sp.example.com/deep/link");
}

#[test]
fn encrypted_assertion_is_decrypted_by_the_sp() {
    let idp = Idp::start("");
    let mut j = job("sp-py-enc");
    j["encrypted"] = true.into();
    j["sp_cert"] = read("certs/sp-test.crt").into();
    j["sp_key"] = read("certs/sp-test.key").into();
    let out = idp.python("saml_e2e.py", j);
    assert_jane(&out);
    assert_eq!(out["encrypted"], true, "{out}");
}

#[test]
fn a_denied_login_is_a_signed_saml_error_response() {
    let idp = Idp::start("");
    let out = idp.python("saml_e2e.py", job("sp-deny"));
    assert_eq!(out["ok"], false);
    assert_eq!(out["form_action"], format!("{SP_BASE}/acs"), "{out}");
    assert_eq!(out["status"]["code"], "urn:oasis:names:tc:SAML:2.0:status:Responder", "{out}");
    assert_eq!(out["status"]["msg"], "This application is closed for maintenance.", "{out}");
}

#[test]
fn single_logout_ends_the_session() {
    let idp = Idp::start("");
    let mut j = job("sp-py");
    j["then_logout"] = true.into();
    let out = idp.python("saml_e2e.py", j);
    assert_jane(&out);
    assert_eq!(out["logout_form_action"], format!("{SP_BASE}/sls"), "{out}");
    assert_eq!(out["logout_valid"], true, "{out}");
    assert_eq!(out["logout_status"], "urn:oasis:names:tc:SAML:2.0:status:Success");
    assert_eq!(out["logout_relay_state"], "bye");
    assert_eq!(out["login_page_after_logout"], true, "{out}");
}
